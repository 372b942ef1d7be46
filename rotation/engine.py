"""The reconciler: read a credential once, take the next safe step, write it back.

Every entry point (the schedule, a submission, the daily sweep, the CLI) comes
here. An invocation works inside one store session: the snapshot is read once
and carried, a write hands back what it wrote, and a lost compare-and-swap is
the only reason to read again. The steps themselves are the pure transitions of
transitions.py; notices go through the outbox (outbox.py); the checks a key
must pass are verify.py's.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from rotation import audit, intake, outbox
from rotation import conventions as cv
from rotation.clock import Clock
from rotation.credentials import SECRET_FIELD, Credential, Kind, parse_credential
from rotation.drain import AUDIT_LOOKBACK, after_promotion, holder_entries
from rotation.errors import (
    AwaitingOperatorKey,
    KeyRejected,
    MalformedKey,
    NativeRotationEarly,
    ReasonTooLong,
    RetireRefused,
    RollbackRefused,
    StateConflict,
    VerificationInconclusive,
    reason_of,
)
from rotation.notify import Notifier
from rotation.origin import Origin
from rotation.policy import Policy, delete_due, drain_check_due, next_due, opens_at, rotation_due
from rotation.state import (
    Mode,
    Phase,
    RotationState,
    format_time,
    key_name_stem,
    reason_problem,
    tag_safe,
)
from rotation.stores.base import SecretStore, Snapshot, Submission
from rotation.transitions import (
    ENDED,
    Event,
    Moment,
    RetireOutcome,
    RevocationOutcome,
    new_rotation_id,
    step,
)
from rotation.verify import (
    Accepted,
    Inconclusive,
    ProbeResult,
    Rejected,
    VerifiedKey,
    Verifier,
)

if TYPE_CHECKING:
    from rotation.runbook import Context
    from rotation.stores.usage import UsageReader

log = logging.getLogger(__name__)

Decide = Callable[[Snapshot], RotationState | None]
# A moment still due after the wake-up that came for it (Customer.io did not answer, a
# write conflicted) is tried again this much later, never in a tight loop.
WAKE_RETRY = timedelta(minutes=15)


def rollback_refusal(
    st: RotationState, kind: Kind, name: str, store_previous: str | None, cli: str = cv.CLI_NAME
) -> str | None:
    """Why the previous key may not become current again, or None when it may."""
    fix = f"Fix forward instead: `{cli} emergency {name} --reason ...` opens a new rotation."
    if st.phase in ENDED:
        return f"{name} is {st.phase.value}: its keys are never made current again."
    if st.previous_revoked:
        return (
            f"Customer.io already refuses the previous key of {name} (fingerprint "
            f"{st.previous_fp or 'unknown'}): it was deleted, so making it current would break "
            f"every application. {fix}"
        )
    if kind is Kind.WEBHOOK_SIGNING:
        return (
            "Regenerating a webhook signing key replaces it in Customer.io: the old one no "
            f"longer signs anything. {fix}"
        )
    if st.phase is Phase.AWAITING_KEY:
        return (
            f"No new key of {name} has been promoted in the open rotation: the current key "
            f"(fingerprint {st.current_fp or 'unknown'}) is already the old one."
        )
    if st.phase is Phase.IDLE or not st.previous_version:
        return (
            f"{name} has no previous key that is still being retired (the last rotation is "
            f"closed, or the current key is the first one). {fix}"
        )
    if st.follow_up_emergency:
        return (
            f"An emergency is queued for {name}: the old key must die, not come back. Delete it, "
            f"run `{cli} check {name}`, and the emergency rotation opens."
        )
    if store_previous != st.previous_version:
        return (
            f"The store's previous version of {name} is not the one the rotator recorded: run "
            f"`{cli} check {name}` first, then try again."
        )
    return None


def _probeable(snap: Snapshot) -> bool:
    """Whether Customer.io can be asked about this credential's key (a signing key: no)."""
    return snap.config.kind is not Kind.WEBHOOK_SIGNING


def tombstone(retired_at: datetime) -> bytes:
    """The live document of a retired credential (never a key)."""
    doc = {cv.TOMBSTONE_FIELD: True, "retired_at": format_time(retired_at)}
    return json.dumps(doc, separators=(",", ":")).encode("utf-8")


def is_tombstone(raw: bytes) -> bool:
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        return False
    return isinstance(doc, dict) and cv.TOMBSTONE_FIELD in doc


def key_material(raw: bytes, kind: Kind) -> list[str]:
    """The key a stored document holds (its secret field), for the free-text check; a
    document that is not a credential yields each of its strings, a non-JSON one itself."""
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        return [raw.decode("utf-8", "replace")]
    if not isinstance(doc, dict):
        return [doc] if isinstance(doc, str) else []
    secret = doc.get(SECRET_FIELD[kind])
    if isinstance(secret, str):
        return [secret]
    return [v for v in doc.values() if isinstance(v, str)]


def _check_reason(reason: str) -> None:
    """A reason is recorded as written or not at all (state.reason_problem)."""
    problem = reason_problem(reason)
    if problem:
        raise ReasonTooLong(f"Nothing was changed: {problem}")


# How close the next scheduled opening must be before the daily sweep re-arms its timer.
OPENING_REARM = timedelta(days=1)


class Engine:
    def __init__(
        self,
        store: SecretStore,
        verifier: Verifier,
        notifier: Notifier,
        clock: Clock,
        policy: Policy | None = None,
        cli: str = cv.CLI_NAME,
        max_attempts: int = 8,
        via: str = "",
        origin: Origin | None = None,
        usage: UsageReader | None = None,
        rotator_principals: tuple[str, ...] = (),
    ) -> None:
        self.store = store
        self.verifier = verifier
        self.notifier = notifier
        self.clock = clock
        if hasattr(verifier, "pace_with"):
            verifier.pace_with(clock)
        self.policy = policy or Policy()
        # The drain's evidence (rotation/drain.py), read through the store's cloud; without a
        # reader the delete notice keeps the grace timer (the policy says so, so that the
        # wake-ups it names are the ones this engine keeps).
        self.usage = usage
        if usage is None and self.policy.drain_quiet_minutes:
            self.policy = replace(self.policy, drain_quiet_minutes=0)
        self.rotator_principals = rotator_principals  # its own reads are nobody's old key
        self.drain_checks = 0  # drain checks this engine made, and the cloud reads they took
        self.drain_reads = 0  # (tests and benches count them)
        self.cli = cli
        self.max_attempts = max_attempts
        # The cloud service that carries requests to this engine (secretsmanager, pubsub):
        # the audit trail's `via`, while `actor` names the person a step is owed to.
        self.via = via
        # Where notices say they come from (cloud, stack, account/region or project).
        self.origin = origin or Origin()
        # The outbox claims this invocation made: credential -> (session, claim written).
        self._claims: dict[str, tuple[int, str]] = {}
        # The wake-ups this invocation armed: credential -> (session, moment).
        self._armed: dict[str, tuple[int, datetime | None]] = {}

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str],
        *,
        store: SecretStore,
        notifier: Notifier,
        clock: Clock,
        via: str,
        verifier: Verifier | None = None,
        origin: Origin | None = None,
    ) -> Engine:
        """The engine a function entry point runs, configured by the function's environment
        (the policy and CLI name the stack set; Customer.io endpoints for tests and probes)."""
        policy = Policy.from_env(env)
        principal = env.get(cv.ENV_ROTATOR_PRINCIPAL, "").strip()
        return cls(
            store=store,
            verifier=verifier or Verifier(env=env),
            notifier=notifier,
            clock=clock,
            policy=policy,
            cli=env.get(cv.ENV_CLI_NAME, cv.CLI_NAME),
            via=via,
            origin=origin,
            usage=store.usage_reader(env) if policy.drain_quiet_minutes else None,
            rotator_principals=(principal,) if principal else (),
        )

    # -- the compare-and-swap loop --------------------------------------------

    def _apply(self, credential_id: str, decide: Decide) -> tuple[Snapshot, RotationState | None]:
        """Decide on the session's snapshot, write if still unchanged; on a lost race read
        afresh and decide again. Notices the step queues are claimed in the same write."""
        for attempt in range(self.max_attempts):
            snap = self.store.snapshot(credential_id, fresh=attempt > 0)
            new = decide(snap)
            if snap.partial and new is not None and new != snap.state:
                # Decided on the cheap read: read the rest and decide again before writing.
                snap = self.store.complete(credential_id)
                new = decide(snap)
            if new is None or new == snap.state:
                return snap, None
            new = replace(new, wake_at=next_due(new, self.policy, _probeable(snap)))
            if new.outbox != snap.state.outbox:
                now = self.clock.now()
                mine = bool(new.sending) and self._holds(credential_id, new.sending)
                entries = new.outbox if mine else outbox.claimable(new, now)
                new = outbox.claimed(new, entries, now) or new
            try:
                self.store.save_state(credential_id, new, snap.revision)
            except StateConflict:
                log.info("state of %s changed under us; deciding again", credential_id)
                continue
            if new.sending and new.sending != snap.state.sending:
                self._claims[credential_id] = (self._session(), new.sending)
            if new.wake_at != snap.state.wake_at:
                self._arm(credential_id, new.wake_at)
            return snap, new
        raise StateConflict(
            f"{credential_id} kept changing during {self.max_attempts} attempts; "
            "the next event or the daily sweep will take the step."
        )

    def _arm(self, credential_id: str, at: datetime | None) -> None:
        """Arm the credential's one wake-up with the cloud's timer. A failure costs at most
        a day (the daily sweep arms it again), never a step: it is logged, not raised."""
        try:
            self.store.arm_wakeup(credential_id, at)
        except Exception as err:  # the step is written; only its timer is late
            log.warning(
                "wake-up of %s not armed (%s); the daily sweep arms it",
                credential_id,
                type(err).__name__,
            )
            return
        self._armed[credential_id] = (self._session(), at)

    def _keep_armed(self, credential_id: str, *, fired: bool) -> None:
        """After a wake-up (`fired`) or the daily sweep: the next moment has a timer.

        A wake-up that found nothing to do (it fired early, or another event took the
        step) consumed its one-time timer without a write to arm the next one; a timer
        deleted by hand is found by the sweep. Either way it is armed again here, unless
        this invocation armed it already. A moment that is still due after this
        invocation (Customer.io did not answer) is tried again in WAKE_RETRY, not at once.
        """
        snap = self.store.snapshot(credential_id)
        state = snap.state
        at = next_due(state, self.policy, _probeable(snap))
        if at is None and state.wake_at is None and not fired:
            return  # nothing is owed to the minute: the calendar is the sweep's
        now = self.clock.now()
        if not fired and state.phase is Phase.IDLE and at is not None and at > now + OPENING_REARM:
            # The next opening was armed when the rotation closed; the sweep repairs a lost
            # one only the day before, so an idle day costs no call.
            return
        if at is not None and at <= now:
            at = now + WAKE_RETRY
        if self._armed.get(credential_id) == (self._session(), at):
            return
        self._arm(credential_id, at)

    def _session(self) -> int:
        return int(getattr(self.store, "session_serial", 0))

    def _holds(self, credential_id: str, claim: str) -> bool:
        """Whether this invocation wrote `claim` (a claim left by a failed invocation on
        the same warm instance is not ours: it waits for its lease like any other)."""
        return self._claims.get(credential_id) == (self._session(), claim)

    def _state(self, credential_id: str) -> RotationState:
        return self.store.snapshot(credential_id).state

    def _step(
        self,
        credential_id: str,
        event: Event,
        *,
        unless: Callable[[Snapshot], bool] | None = None,
        **facts: Any,
    ) -> tuple[Snapshot, RotationState | None]:
        """Take `event` through the transition table with compare-and-swap; `unless`
        tells from the snapshot that the step was already taken (by a racing invocation)."""
        return self._apply(credential_id, self._deciding(event, unless=unless, **facts))

    def _deciding(
        self, event: Event, *, unless: Callable[[Snapshot], bool] | None = None, **facts: Any
    ) -> Decide:
        now = self.clock.now()

        def decide(snap: Snapshot) -> RotationState | None:
            if unless is not None and unless(snap):
                return None
            moment = Moment(
                now=now,
                policy=self.policy,
                rotation_id=new_rotation_id(snap.config.id, now, snap.current_version or ""),
                has_current=snap.current_version is not None,
                name=key_name_stem(snap.config.name, self.origin.cloud),
                kind=snap.config.kind,
                current_since=snap.state.current_since or snap.current_created,
            )
            return step(snap.state, event, moment, **facts)

        return decide

    def _opening(
        self, mode: Mode, reason: str, actor: str, revoke_first: bool, notify: bool
    ) -> Decide:
        return self._deciding(
            Event.OPEN,
            mode=mode,
            reason=reason,
            actor=actor,
            revoke_first=revoke_first,
            notify=notify,
        )

    def _audit(
        self, event: str, snap: Snapshot, state: RotationState, actor: str, outcome: str, **kw: str
    ) -> None:
        audit.record(
            event,
            credential=snap.config.name,
            rotation_id=state.rotation_id or state.last_rotation_id,
            mode=state.mode.value if state.mode else "",
            actor=actor,
            outcome=outcome,
            at=self.clock.now(),
            versions={
                "current": state.current_version,
                "previous": state.previous_version,
                "pending": kw.pop("pending", ""),
            },
            fingerprints={
                "current": state.current_fp,
                "previous": state.previous_fp,
                "candidate": kw.pop("candidate", ""),
            },
            detail=kw.pop("detail", ""),
            via=self.via,
            names={
                "current": state.current_name,
                "previous": state.previous_name,
                "new": state.key_name if state.phase is Phase.AWAITING_KEY else "",
            },
        )

    def refuse_keys_in_free_text(self, credential_id: str, fields: dict[str, str]) -> None:
        """KeyInFreeText when a person's text (by field name) holds the credential's current,
        previous or pending key, or the submission waiting in its inbox, or their base64, or
        a piece of one (intake.refuse_keys_in_text). Reads those once per session; writes,
        publishes and records nothing, so a refused text is kept nowhere."""
        texts = {field: text for field, text in fields.items() if text}
        if not texts:
            return
        snap = self.store.snapshot(credential_id)
        versions = [snap.current_version, snap.previous_version, snap.pending_version]
        raws = [self.store.read_value(credential_id, v) for v in dict.fromkeys(versions) if v]
        submission = self.store.read_submission(credential_id)
        if submission is not None:
            raws.append(submission.raw)
        keys = [key for raw in raws if raw for key in key_material(raw, snap.config.kind)]
        intake.refuse_keys_in_text(texts, keys)

    # -- entry points ------------------------------------------------------------

    def open_rotation(
        self,
        credential_id: str,
        mode: Mode = Mode.SCHEDULED,
        *,
        reason: str = "",
        actor: str = "schedule",
        revoke_first: bool = False,
    ) -> tuple[RotationState, bool]:
        """Open a rotation (or upgrade the open one to an emergency), then reconcile.
        Returns the state and whether anything changed: a second emergency for a rotation
        already open as one changes nothing, and its caller says so.

        An emergency's reason and actor are a person's words: refused (KeyInFreeText)
        before anything is written when they hold one of the credential's keys.
        """
        _check_reason(reason)
        with self.store.session():
            if mode is Mode.EMERGENCY:
                self.refuse_keys_in_free_text(credential_id, {"--reason": reason, "actor": actor})
            decide = self._opening(mode, reason, actor, revoke_first, notify=True)
            snap, new = self._apply(credential_id, decide)
            if new is not None:
                event = "rotation.opened" if snap.state.phase is Phase.IDLE else "rotation.upgraded"
                self._audit(event, snap, new, actor, "ok", detail=new.reason)
            return self.reconcile(credential_id), new is not None

    def reconcile(
        self, credential_id: str, *, liveness: bool = False, wake: bool = False
    ) -> RotationState:
        """Take every step that is due for this credential now, then deliver notices.

        With `liveness` (the daily sweep) the current key is also checked against
        Customer.io: one call, unless the revocation check already asked about it.
        `wake`: the credential's own timer fired. After either, the next moment owed to
        the minute has a timer again (see `_keep_armed`).
        """
        with self.store.session():
            state = self._reconcile(credential_id, liveness=liveness)
            if liveness or wake:
                self._keep_armed(credential_id, fired=wake)
                state = self._state(credential_id)
            return state

    def _reconcile(self, credential_id: str, *, liveness: bool) -> RotationState:
        with self.store.session():
            probed = False
            snap = self.store.snapshot(credential_id, quick=liveness)
            if snap.state.phase is Phase.RETIRED:
                # Nothing to rotate, check or page about: keep the tombstone in place.
                self._keep_tombstone(credential_id)
                self.deliver_notices(credential_id)
                return self._state(credential_id)
            if snap.current_version and snap.current_version != snap.state.current_version:
                self._repair(credential_id, snap)
                snap = self.store.snapshot(credential_id)
            state = snap.state
            if state.phase is Phase.IDLE and (
                snap.current_version is None
                or rotation_due(
                    state.current_since or snap.current_created, self.clock.now(), self.policy
                )
            ):
                opened_state, _ = self.open_rotation(
                    credential_id, Mode.SCHEDULED, actor="calendar"
                )
                if liveness and snap.current_version is not None:
                    self._check_liveness(credential_id)
                    self.deliver_notices(credential_id)
                    return self._state(credential_id)
                return opened_state
            if state.phase is Phase.AWAITING_KEY:
                snap2, new = self._step(credential_id, Event.FOLLOW_UP)
                if new is not None:
                    self._audit("rotation.followup", snap2, new, "calendar", new.outbox[-1])
            elif state.phase is Phase.PROMOTED:
                self._check_drain(credential_id, snap)
                probed = self._check_revocation(credential_id, self.store.snapshot(credential_id))
            elif state.phase is Phase.RETIRING:
                self._check_retirement(credential_id, snap)
                probed = True
            if liveness and not probed:
                self._check_liveness(credential_id)
            self.deliver_notices(credential_id)
            return self._state(credential_id)

    def deadline_reached(self, credential_id: str) -> RotationState:
        """The native schedule fired and nobody submitted a key: escalate, once.

        NativeRotationEarly when the stack's calendar owes no rotation yet (see
        `_native_early`): acknowledged in the audit trail, nothing opened.
        """
        with self.store.session():
            self._refuse_early_native_rotation(credential_id)
            snap, new = self._step(credential_id, Event.DEADLINE)
            if new is not None:
                self._audit("rotation.overdue", snap, new, "schedule", "escalated")
            self.deliver_notices(credential_id)
            return self._state(credential_id)

    def _refuse_early_native_rotation(self, credential_id: str) -> None:
        """The calendar counts from the last promotion, whatever path made it. Secrets
        Manager's schedule counts from its own last completed rotation (LastRotatedDate), which
        a promotion it did not start (a rotation the rotator resumed, a rollback) does not
        move, so its tick can come early, e.g. 30 days after such a promotion. With no
        rotation open and a current key younger than the calendar's opening age, the tick
        opens nothing: recorded (`rotation.native_early`), then refused, and the calendar
        (the daily sweep, the wake-ups) opens the rotation when it is due."""
        snap = self.store.snapshot(credential_id)
        st = snap.state
        since = st.current_since or snap.current_created
        if st.phase not in (Phase.IDLE, Phase.PROMOTED) or since is None:
            return
        now = self.clock.now()
        if rotation_due(since, now, self.policy):
            return
        opens = opens_at(since, self.policy)
        detail = (
            f"current key since {format_time(since)}; the calendar opens the next rotation "
            f"on {format_time(opens)}"
        )
        self._audit("rotation.native_early", snap, st, "schedule", "acknowledged", detail=detail)
        raise NativeRotationEarly(
            f"Nothing to do: Secrets Manager's schedule started a rotation of "
            f"{snap.config.name}, whose key became current on {format_time(since)}, outside a "
            "rotation Secrets Manager started (its schedule counts from those only). No "
            f"rotation was opened: the stack's calendar opens the next one on "
            f"{format_time(opens)}. Secrets Manager records this attempt as failed."
        )

    def retire(self, credential_id: str, reason: str, actor: str = "operator") -> RotationState:
        """Start the end of a credential's life (`cio-rotate retire`), then reconcile.

        Refused while a rotation is open: its new key is not current yet, or its old key
        is not deleted yet, and retiring either would leave applications a key nobody
        tracks. Retiring one that is already retiring or retired changes nothing.
        """
        _check_reason(reason)
        with self.store.session():
            self.refuse_keys_in_free_text(credential_id, {"--reason": reason, "actor": actor})
            snap = self.store.snapshot(credential_id)
            st, name = snap.state, snap.config.name
            if st.phase is Phase.AWAITING_KEY:
                raise RetireRefused(
                    f"{name} has an open rotation ({st.rotation_id}) waiting for a new key: "
                    f"finish it (`{self.cli} submit {name}`) before retiring {name}, or "
                    "retire it once the rotation is closed."
                )
            if st.phase is Phase.PROMOTED:
                raise RetireRefused(
                    f"{name} is still retiring the previous key of rotation {st.rotation_id}: "
                    f"delete it, run `{self.cli} check {name}`, then retire {name}."
                )
            snap2, new = self._step(credential_id, Event.RETIRE, reason=reason, actor=actor)
            if new is not None:
                self._audit("retire.opened", snap2, new, actor, "ok", detail=new.reason)
            return self.reconcile(credential_id)

    def verify_submission(
        self, credential_id: str, actor: str = "operator"
    ) -> tuple[VerifiedKey, Submission]:
        """Verify the inbox submission; a refusal is recorded, told once and retired.

        The hand-over is recorded in the same write that may open the rotation: who
        submitted (the audit trail names them) and what the key is called in the
        dashboard, when the operator said.
        """
        with self.store.session():
            snap = self.store.snapshot(credential_id)
            submission = self.store.read_submission(credential_id)
            name = snap.config.name
            if submission is None:
                raise AwaitingOperatorKey(
                    f"No key has been submitted for {name} yet: run `{self.cli} submit {name}`."
                )
            actor = submission.actor or actor
            if snap.state.phase in ENDED:
                self.store.consume_submission(credential_id, submission, "refused")
                raise KeyRejected(
                    f"{name} is {snap.state.phase.value}: it takes no new key. Submit the key "
                    "to the credential that replaces it.",
                    "busy",
                )
            if snap.state.phase is Phase.IDLE:
                # An operator may rotate at any time: the submission opens the rotation
                # (before verifying, so that a refusal is recorded against it).
                snap0, new = self._apply(credential_id, self._handed_over(actor, submission))
                if new is not None:
                    self._audit("rotation.opened", snap0, new, actor, "ok", detail="by submission")
                snap = self.store.snapshot(credential_id)
            if snap.state.phase is Phase.PROMOTED:
                busy = KeyRejected(
                    f"{name} is still retiring its previous key: delete the old key, run "
                    f"`{self.cli} check {name}`, then submit again.",
                    "busy",
                )
                try:
                    fp = parse_credential(submission.raw, snap.config.kind).fingerprint
                except MalformedKey:
                    fp = hashlib.sha256(submission.raw).hexdigest()[:8]
                self._refuse(credential_id, submission, "busy", fp, "", actor)
                raise busy
            raw_fp = hashlib.sha256(submission.raw).hexdigest()[:8]
            try:
                candidate = parse_credential(submission.raw, snap.config.kind, snap.config.region)
            except MalformedKey as err:
                self._refuse(credential_id, submission, "malformed", raw_fp, "", actor)
                raise KeyRejected(f"The submission was refused: {err}", "malformed") from None
            try:
                verified = self._verify(snap, candidate)
            except KeyRejected as err:
                self._refuse(
                    credential_id, submission, err.reason, candidate.fingerprint, err.detail, actor
                )
                raise
            except VerificationInconclusive as err:
                self._inconclusive(credential_id, snap, candidate, err, actor)
                raise
            self._audit(
                "key.verified", snap, snap.state, actor, "accepted", candidate=candidate.fingerprint
            )
            return verified, submission

    def handle_submission(self, credential_id: str, actor: str = "operator") -> RotationState:
        """Verify the inbox submission and make it current, in one session: what a GCP inbox
        event and an AWS bootstrap (or a refusal while the old key retires) both do.

        A crash after a promotion is recorded first, so that key is not verified again as
        if it were new. Refusals raise KeyRejected / VerificationInconclusive /
        AwaitingOperatorKey after they are recorded and told.
        """
        with self.store.session():
            snap = self.store.snapshot(credential_id)
            if snap.current_version and snap.current_version != snap.state.current_version:
                self.reconcile(credential_id)
            verified, submission = self.verify_submission(credential_id, actor=actor)
            return self.promote(credential_id, verified, None, actor=actor, submission=submission)

    def submission_waiting(self, credential_id: str) -> bool:
        """A submission sits in the inbox while a rotation waits for it (the sweep's check
        for a hand-over whose event was lost)."""
        with self.store.session():
            if self._state(credential_id).phase is not Phase.AWAITING_KEY:
                return False
            return self.store.read_submission(credential_id) is not None

    def _handed_over(self, actor: str, submission: Submission) -> Decide:
        """Open the rotation if none is (a submission may come at any time), and record
        who handed the key over and its dashboard name."""
        opening = self._opening(Mode.SCHEDULED, "operator submission", actor, False, False)

        def decide(snap: Snapshot) -> RotationState | None:
            st = snap.state
            if st.phase is Phase.IDLE:
                st = opening(snap) or st
            if st.phase is not Phase.AWAITING_KEY:
                return None
            return replace(
                st,
                submitted_by=tag_safe(actor),
                key_name=tag_safe(submission.key_name) if submission.key_name else st.key_name,
            )

        return decide

    def verify_value(
        self, credential_id: str, raw: bytes, actor: str = "secretsmanager"
    ) -> VerifiedKey:
        """Verify a staged value again (an AWS rotation retried after a crash) in this attempt."""
        with self.store.session():
            snap = self.store.snapshot(credential_id)
            actor = snap.state.submitted_by or actor  # the person, not the service that retried
            try:
                candidate = parse_credential(raw, snap.config.kind, snap.config.region)
            except MalformedKey as err:
                raise KeyRejected(
                    f"The staged value is not a valid credential: {err}", "malformed"
                ) from None
            try:
                return self._verify(snap, candidate)
            except KeyRejected as err:
                self._refuse(
                    credential_id, None, err.reason, candidate.fingerprint, err.detail, actor
                )
                raise
            except VerificationInconclusive as err:
                self._inconclusive(credential_id, snap, candidate, err, actor)
                raise

    def promote(
        self,
        credential_id: str,
        verified: VerifiedKey,
        pending_version: str | None,
        actor: str = "rotator",
        submission: Submission | None = None,
    ) -> RotationState:
        """Make a verified key current (compare-and-swap), record it, retire the inbox copy."""
        with self.store.session():
            snap = self.store.snapshot(credential_id)
            value = verified.credential.to_json().encode("utf-8")
            new_version = self._promote_once(
                credential_id, value, pending_version, snap.current_version, verified.credential
            )
            cred = verified.credential
            by = (submission.actor if submission else "") or snap.state.submitted_by or actor
            if submission is not None:
                self.store.consume_submission(credential_id, submission, "promoted")
            return self._record_promotion(
                credential_id,
                snap,
                new_version=new_version,
                fp=cred.fingerprint,
                last4=cred.secret[-4:],
                workspace=verified.workspace,
                by=by,
                key_name=submission.key_name if submission else "",
                pending=pending_version or "",
            )

    def _promote_once(
        self,
        credential_id: str,
        value: bytes,
        pending_version: str | None,
        expected_current: str | None,
        credential: Credential | None = None,
    ) -> str:
        """Promote with compare-and-swap; a duplicate delivery that lost the race to its own
        outcome (the same version, or the same key, is current now) returns that version:
        it succeeded. Only another key becoming current is a conflict."""
        try:
            return self.store.promote(
                credential_id, value, pending_version, expected_current=expected_current
            )
        except StateConflict:
            fresh = self.store.snapshot(credential_id, fresh=True)
            current = fresh.current_version
            if current is not None and current == pending_version:
                log.info("%s: %s was made current by a racing delivery", credential_id, current)
                return current
            if current is not None and credential is not None and pending_version is None:
                raw = self.store.read_value(credential_id, current)
                if raw is not None and credential.secret in key_material(raw, credential.kind):
                    log.info(
                        "%s: the same key was made current by a racing delivery", credential_id
                    )
                    return current
            raise

    def staged(
        self,
        credential_id: str,
        token: str,
        submission: Submission | None,
        verified: VerifiedKey,
    ) -> None:
        """AWS createSecret put a verified key into AWSPENDING: record what finishSecret needs
        (so it promotes without reading the key again), who handed it over and its name,
        and retire the inbox copy."""
        cred = verified.credential
        actor = submission.actor if submission else ""
        name = submission.key_name if submission else ""
        with self.store.session():
            self._apply(
                credential_id,
                lambda s: replace(
                    s.state,
                    staged_token=token,
                    staged_fp=cred.fingerprint,
                    staged_last4=cred.secret[-4:],
                    staged_workspace=verified.workspace,
                    submitted_by=tag_safe(actor) if actor else s.state.submitted_by,
                    key_name=tag_safe(name) if name else s.state.key_name,
                ),
            )
            if submission is not None:
                self.store.consume_submission(credential_id, submission, "staged")

    def promote_staged(self, credential_id: str, token: str) -> RotationState:
        """AWS finishSecret: make the key createSecret verified in this attempt current."""
        with self.store.session():
            snap = self.store.snapshot(credential_id)
            st = snap.state
            if st.current_version == token:
                # A racing delivery promoted it and recorded it: the outcome holds.
                log.info("finishSecret: %s was promoted by a racing delivery", token)
                return st
            if st.staged_token != token or not st.staged_fp:
                raise AwaitingOperatorKey(
                    f"version {token} holds no verified key: createSecret did not stage one."
                )
            self._promote_once(credential_id, b"", token, snap.current_version)
            return self._record_promotion(
                credential_id,
                snap,
                new_version=token,
                fp=st.staged_fp,
                last4=st.staged_last4,
                workspace=st.staged_workspace,
                by=st.submitted_by or "secretsmanager",
                key_name="",
                pending=token,
            )

    def _record_promotion(
        self,
        credential_id: str,
        snap: Snapshot,
        *,
        new_version: str,
        fp: str,
        last4: str,
        workspace: str,
        by: str,
        key_name: str,
        pending: str,
    ) -> RotationState:
        old_fp = snap.state.current_fp
        if snap.current_version and not old_fp:
            current = self._current_credential(snap)
            old_fp = current.fingerprint if current else ""
        snap2, new = self._step(
            credential_id,
            Event.PROMOTED,
            unless=lambda s: s.state.current_version == new_version,
            new_version=new_version,
            new_fp=fp,
            workspace=workspace,
            old_version=snap.current_version,
            old_fp=old_fp,
            key_name=tag_safe(key_name),
            last4=last4,
            submitted_by=tag_safe(by),
        )
        if new is not None:
            self._audit("key.promoted", snap2, new, by, "promoted", pending=pending)
        self.deliver_notices(credential_id)
        return self._state(credential_id)

    def rollback(self, credential_id: str, actor: str = "operator") -> RotationState:
        """Make the previous key current again while Customer.io still accepts it.

        For a new key that broke consumers during the grace period. The old value is
        verified again in this attempt (invariant 2) and put back with compare-and-swap;
        the rotation stays open so a working key can be submitted.
        """
        with self.store.session():
            self.refuse_keys_in_free_text(credential_id, {"actor": actor})
            snap = self.store.snapshot(credential_id)
            st, name = snap.state, snap.config.name
            refusal = rollback_refusal(st, snap.config.kind, name, snap.previous_version, self.cli)
            if refusal:
                raise RollbackRefused(refusal)
            raw = self.store.read_value(credential_id, st.previous_version)
            try:
                old = parse_credential(raw, snap.config.kind) if raw is not None else None
            except MalformedKey:
                old = None
            if old is None or old.fingerprint != st.previous_fp:
                raise RollbackRefused(
                    f"The previous version of {name} no longer holds the recorded key "
                    f"(fingerprint {st.previous_fp}): it cannot be restored."
                )
            result = self.verifier.probe(old)
            if isinstance(result, Rejected):
                raise RollbackRefused(
                    f"Customer.io refuses the previous key of {name} (fingerprint "
                    f"{old.fingerprint}, {result.reason}): it was deleted, so it cannot come "
                    f"back. Fix forward: `{self.cli} emergency {name} --reason ...`."
                )
            if isinstance(result, Inconclusive):
                raise RollbackRefused(
                    f"Customer.io could not be asked whether the previous key of {name} still "
                    f"works ({result.reason}): nothing was changed; try again in a few minutes."
                )
            assert raw is not None
            new_version = self.store.promote(
                credential_id, raw, st.previous_version, expected_current=snap.current_version
            )
            snap2, new = self._step(
                credential_id,
                Event.ROLLED_BACK,
                unless=lambda s: s.state.current_version == new_version,
                version=new_version,
                previous_version=snap.current_version,
            )
            if new is not None:
                self._audit(
                    "rotation.rolled_back",
                    snap2,
                    new,
                    actor,
                    "rolled back",
                    detail=f"{new.current_fp} current again",
                )
            self.deliver_notices(credential_id)
            return self._state(credential_id)

    def deliver_notices(self, credential_id: str) -> int:
        """Send queued notices: claimed in one write (often the step's own), removed in one."""
        with self.store.session():
            now = self.clock.now()
            snap = self.store.snapshot(credential_id)
            if not snap.state.outbox:
                return 0
            if snap.partial:
                snap = self.store.complete(credential_id)
            state = snap.state
            if not state.sending or not self._holds(credential_id, state.sending):
                _, claim = self._apply(
                    credential_id,
                    lambda s: outbox.claimed(s.state, outbox.claimable(s.state, now), now),
                )
                if claim is None:
                    return 0  # another invocation holds a fresh claim: it sends them
                state = claim
            # The prose loads here, on the first notice: most cold starts (a sweep of idle
            # credentials) never render one, and the handler's import stays near boto3's.
            from rotation.runbook import render

            entries = tuple(state.sending.rpartition("@")[0].split())
            delivered: list[str] = []
            for entry in entries:
                if entry not in state.outbox:
                    continue
                notification = render(entry, self._context(snap, state, now))
                try:
                    self.notifier.send(notification)
                except Exception as err:
                    log.warning(
                        "notice %s not delivered (%s); will retry",
                        notification.id,
                        type(err).__name__,
                    )
                    break
                delivered.append(entry)
                self._audit("notification.sent", snap, state, "rotator", notification.notice)
            if delivered:
                done = tuple(delivered)
                self._apply(credential_id, lambda s: outbox.sent(s.state, done))
            self._claims.pop(credential_id, None)
            return len(delivered)

    # -- helpers -----------------------------------------------------------------

    def _context(self, snap: Snapshot, state: RotationState, now: datetime) -> Context:
        from rotation.runbook import Context  # loaded on first use, as in deliver_notices

        cfg = snap.config
        return Context(
            name=cfg.name,
            kind=cfg.kind,
            region=cfg.region.value if cfg.region else "",
            workspace=state.workspace or cfg.workspace,
            state=state,
            policy=self.policy,
            now=now,
            cli=self.cli,
            webhook_endpoint=cfg.webhook_endpoint,
            origin=self.origin,
        )

    def _current_credential(self, snap: Snapshot) -> Credential | None:
        if snap.current_version is None:
            return None
        raw = self.store.read_value(snap.config.id, snap.current_version)
        if raw is None:
            return None
        try:
            return parse_credential(raw, snap.config.kind)
        except MalformedKey as err:
            log.warning("current value of %s does not parse: %s", snap.config.name, err)
            return None

    def _verify(self, snap: Snapshot, candidate: Credential) -> VerifiedKey:
        """The four checks. What they compare with comes from the recorded state (the
        current key's fingerprint and workspace); the current key itself is read only
        for a state that predates those records."""
        st = snap.state
        expected = st.workspace
        current: Credential | None = None
        probes_workspace = snap.config.kind is not Kind.WEBHOOK_SIGNING
        if snap.current_version and (not st.current_fp or (probes_workspace and not expected)):
            current = self._current_credential(snap)
            if not expected and current is not None and probes_workspace:
                expected = self.verifier.workspace_of(current) or ""
        if not expected and snap.current_version is None:
            expected = snap.config.workspace
        return self.verifier.verify(
            candidate, current, expected, snap.config.region, current_fp=st.current_fp
        )

    def _refuse(
        self,
        credential_id: str,
        submission: Submission | None,
        reason: str,
        fp: str,
        detail: str,
        actor: str,
    ) -> None:
        snap2, _ = self._step(
            credential_id, Event.REJECTED, reason=reason, fp=fp, detail=detail[:120]
        )
        self._audit("key.rejected", snap2, self._state(credential_id), actor, reason, candidate=fp)
        if submission is not None:
            self.store.consume_submission(credential_id, submission, "rejected")
        self.deliver_notices(credential_id)

    def _inconclusive(
        self,
        credential_id: str,
        snap: Snapshot,
        candidate: Credential,
        err: VerificationInconclusive,
        actor: str,
    ) -> None:
        reason = "forbidden" if err.reason == "forbidden" or "403" in str(err) else "unavailable"
        fp, detail = candidate.fingerprint, tag_safe(err.detail or err.reason)[:80]
        self._step(credential_id, Event.INCONCLUSIVE, reason=reason, fp=fp, detail=detail)
        self._audit(
            "key.inconclusive", snap, snap.state, actor, reason, candidate=candidate.fingerprint
        )
        self.deliver_notices(credential_id)

    def _repair(self, credential_id: str, snap: Snapshot) -> None:
        """The store's current version is not the recorded one: a crash after promoting
        (finish the bookkeeping, retire the inbox copy) or a change behind our back."""
        assert snap.current_version is not None
        raw = self.store.read_value(credential_id, snap.current_version)
        fp, workspace = "", ""
        if raw is not None:
            try:
                cred = parse_credential(raw, snap.config.kind)
                fp = cred.fingerprint
                if (
                    snap.state.phase is not Phase.AWAITING_KEY
                    and cred.kind is not Kind.WEBHOOK_SIGNING
                ):
                    workspace = self.verifier.workspace_of(cred) or ""
            except MalformedKey:
                fp = hashlib.sha256(raw).hexdigest()[:8]
        version = snap.current_version
        snap2, new = self._step(
            credential_id,
            Event.ADOPTED,
            unless=lambda s: s.current_version != version or s.state.current_version == version,
            version=version,
            fp=fp,
            workspace=workspace,
            since=snap.current_created,
        )
        if new is not None:
            self._audit("state.repaired", snap2, new, "rotator", "adopted current version")
            self._retire_promoted_submission(credential_id, fp)

    def _retire_promoted_submission(self, credential_id: str, current_fp: str) -> None:
        """A crash after promotion can leave the inbox copy: retire it once it is current."""
        if not current_fp:
            return
        submission = self.store.read_submission(credential_id)
        if submission is None:
            return
        try:
            candidate = parse_credential(
                submission.raw, self.store.snapshot(credential_id).config.kind
            )
        except MalformedKey:
            return
        if candidate.fingerprint == current_fp:
            self.store.consume_submission(credential_id, submission, "promoted")

    def _check_retirement(self, credential_id: str, snap: Snapshot) -> None:
        """While retiring: is the key gone? Customer.io refusing it is the only proof for
        a key it can check; a signing key counts as gone after the grace period."""
        outcome: RetireOutcome
        if snap.config.kind is Kind.WEBHOOK_SIGNING:
            outcome = "unprobeable"
        elif snap.current_version is None:
            outcome = "absent"
        else:
            result = self._probe_current(snap)
            if isinstance(result, Rejected):
                outcome = "revoked"
            elif isinstance(result, Accepted):
                outcome = "alive"
            else:
                outcome = "unknown"
        snap2, new = self._step(credential_id, Event.RETIRE_CHECKED, outcome=outcome)
        if new is None:
            return
        if new.phase is Phase.RETIRED:
            detail = {
                "revoked": "Customer.io refuses the key",
                "absent": "the credential never held a key",
                "unprobeable": "no API checks a signing key: retired after the grace period",
            }.get(outcome, outcome)
            self._audit(
                "credential.retired", snap2, new, new.actor or "rotator", outcome, detail=detail
            )
            self._keep_tombstone(credential_id)
        else:
            self._audit("retire.reminder", snap2, new, "calendar", "key still accepted")

    def _keep_tombstone(self, credential_id: str) -> None:
        """A retired credential's live value is a tombstone (`{"retired": true, ...}`), so
        an application still reading it gets `CredentialRetired` from the consumer library
        instead of a dead key. Written once; the state records its version."""
        snap = self.store.snapshot(credential_id)
        st = snap.state
        if st.phase is not Phase.RETIRED:
            return
        if snap.current_version is not None:
            raw = self.store.read_value(credential_id, snap.current_version)
            if raw is not None and is_tombstone(raw):
                if st.current_version != snap.current_version:
                    version = snap.current_version
                    self._apply(credential_id, lambda s: replace(s.state, current_version=version))
                return
        value = tombstone(st.retired_at or self.clock.now())
        try:
            version = self.store.write_tombstone(
                credential_id, value, expected_current=snap.current_version
            )
        except StateConflict:
            return  # the next reconcile writes it
        snap2, new = self._apply(credential_id, lambda s: replace(s.state, current_version=version))
        self._audit(
            "credential.tombstoned",
            snap2,
            new or st,
            "rotator",
            "ok",
            detail=f"version {version} holds the retirement tombstone",
        )

    def _check_drain(self, credential_id: str, snap: Snapshot) -> None:
        """After a promotion, when the drain is due (policy.drain_check_due): read who may
        still use the old key (the store's cloud: key-usage reports and the audit trail of
        reads) and record it. Drained -> the delete notice is owed at once; anything the
        check could not read or find is recorded as unconfirmed, never as drained."""
        st = snap.state
        now = self.clock.now()
        due = drain_check_due(st, self.policy)
        if self.usage is None or due is None or now < due or st.promoted_at is None:
            return
        fingerprints = [fp for fp in (st.previous_fp, st.current_fp) if fp]
        since = st.promoted_at - AUDIT_LOOKBACK
        self.drain_checks += 1
        try:
            evidence = self.usage.evidence(snap.config.id, fingerprints, since, now)
        except Exception as err:  # no grant, an API error: say so, wait for the maximum
            # Recorded in the state and the audit trail, and told in the delete notice.
            log.info("drain of %s not read (%s)", snap.config.name, reason_of(err))
            self._record_drain(
                credential_id,
                on_new=0,
                holders=(),
                more=0,
                unconfirmed=f"the key-usage reports could not be read ({reason_of(err)})",
            )
            return
        self.drain_reads += evidence.calls
        result, problems = after_promotion(
            st,
            evidence.reports,
            evidence.reads,
            now=now,
            quiet=timedelta(minutes=self.policy.drain_quiet_minutes),
            audit_problem=""
            if evidence.audit_read
            else (evidence.audit_problem or "the audit trail of reads could not be read"),
            ignore_principals=self.rotator_principals,
        )
        holders, more = holder_entries(result.stragglers)
        self._record_drain(
            credential_id,
            on_new=result.reporters_on_new,
            holders=holders,
            more=more,
            unconfirmed="; ".join(problems),
        )

    def _record_drain(
        self,
        credential_id: str,
        *,
        on_new: int,
        holders: tuple[str, ...],
        more: int,
        unconfirmed: str,
    ) -> None:
        snap2, new = self._step(
            credential_id,
            Event.DRAIN_CHECKED,
            on_new=on_new,
            holders=holders,
            more=more,
            unconfirmed=unconfirmed,
        )
        if new is None:
            return
        waiting = len(holders) + more
        detail = f"{on_new} on the new key, {waiting} may hold the old one"
        if unconfirmed:
            detail += f"; unconfirmed: {unconfirmed}"
        if new.drained_at is not None:
            self._audit("drain.drained", snap2, new, "rotator", "drained", detail=detail)
        elif new.grace_until is not None and self.clock.now() >= new.grace_until:
            self._audit("drain.timed_out", snap2, new, "rotator", "grace maximum", detail=detail)
        else:
            self._audit("drain.waiting", snap2, new, "rotator", "waiting", detail=detail)

    def _check_revocation(self, credential_id: str, snap: Snapshot) -> bool:
        """Once the old key is drained or the grace period is over, both keys: the old one
        must be refused, the new one still accepted. Returns whether the current key was
        probed."""
        state = snap.state
        now = self.clock.now()
        due = delete_due(state)
        if due is None or now < due:
            return False
        outcome = self._probe_previous(snap)
        probed = False
        if outcome in ("revoked", "alive"):
            probed = True
            current = self._probe_current(snap)
            if isinstance(current, Rejected):
                # Refused new key: the wrong key was deleted (old one alive), or both were.
                self._on_current_refused(credential_id, previous_alive=outcome == "alive")
                return True
            if isinstance(current, Inconclusive) and outcome == "revoked":
                outcome = "unknown"  # close only once the new key is known to work
        snap2, new = self._step(credential_id, Event.REVOCATION_CHECKED, outcome=outcome)
        if new is None:
            return probed
        if new.phase is Phase.IDLE:
            self._audit("revocation.confirmed", snap2, new, "rotator", outcome)
            if snap2.state.follow_up_emergency:
                self.deliver_notices(credential_id)
                self.open_rotation(
                    credential_id,
                    Mode.EMERGENCY,
                    reason=snap2.state.reason,
                    actor=snap2.state.actor or "on-call",
                )
        else:
            self._audit("revocation.pending", snap2, new, "rotator", outcome)
        return probed

    def _probe_current(self, snap: Snapshot) -> ProbeResult | None:
        """One short attempt: an inconclusive answer is asked again by the next wake-up."""
        current = self._current_credential(snap)
        return None if current is None else self.verifier.probe(current, short=True)

    def _check_liveness(self, credential_id: str) -> None:
        """The daily check of the live key: one Customer.io call per credential."""
        snap = self.store.snapshot(credential_id)
        if snap.config.kind is Kind.WEBHOOK_SIGNING or snap.current_version is None:
            return  # no API can check a signing key: only a real delivery proves it
        if snap.state.phase in (Phase.RETIRING, Phase.RETIRED):
            return
        result = self._probe_current(snap)
        if result is None:
            return
        if isinstance(result, Rejected):
            self._on_current_refused(credential_id, previous_alive=None)
            return
        if isinstance(result, Accepted):
            self._audit("key.alive", snap, snap.state, "rotator", "accepted")
            self._step(credential_id, Event.LIVENESS_CHECKED, outcome="accepted")
            return
        reason = f"{result.reason}:{result.detail}" if result.detail else result.reason
        self._audit("key.unverified", snap, snap.state, "rotator", reason)
        self._step(credential_id, Event.LIVENESS_CHECKED, outcome="inconclusive", reason=reason)

    def _on_current_refused(self, credential_id: str, *, previous_alive: bool | None) -> None:
        """Customer.io refuses the current key: roll back to the previous one where that is
        safe (it passed verification when promoted, was never confirmed revoked and still
        works), page on-call, and open the rotation that replaces the dead key."""
        snap = self.store.snapshot(credential_id, fresh=True)  # act on today's config only
        st = snap.state
        current = self._probe_current(snap)
        if not isinstance(current, Rejected):
            return  # with the configuration read afresh it is not refused after all
        restored: str | None = None
        old = self._previous_credential(snap)
        if previous_alive is None and old is not None and not st.previous_revoked:
            previous_alive = isinstance(self.verifier.probe(old), Accepted)
        if old is not None and previous_alive and not st.previous_revoked:
            raw = old.to_json().encode("utf-8")
            try:
                restored = self.store.promote(
                    credential_id, raw, st.previous_version, expected_current=snap.current_version
                )
            except StateConflict:
                return  # someone else changed the current key: the next check decides
        refused = snap.current_version or ""
        snap2, new = self._step(
            credential_id,
            Event.CURRENT_REFUSED,
            restored_version=restored,
            refused_version=refused,
            previous_refused=previous_alive is False or st.previous_revoked,
        )
        if new is not None:
            event = "rotation.rolled_back" if restored else "key.refused"
            detail = f"{new.current_fp} current again" if restored else "no working key"
            self._audit(event, snap2, new, "rotator", "current key refused", detail=detail)
        self.deliver_notices(credential_id)

    def _previous_credential(self, snap: Snapshot) -> Credential | None:
        """The previous key, if the store still holds exactly the recorded one."""
        st = snap.state
        if snap.config.kind is Kind.WEBHOOK_SIGNING or not st.previous_version:
            return None
        raw = self.store.read_value(snap.config.id, st.previous_version)
        if raw is None:
            return None
        try:
            old = parse_credential(raw, snap.config.kind)
        except MalformedKey:
            return None
        return old if old.fingerprint == st.previous_fp else None

    def _probe_previous(self, snap: Snapshot) -> RevocationOutcome:
        if snap.config.kind is Kind.WEBHOOK_SIGNING:
            return "unprobeable"
        version = snap.state.previous_version
        raw = self.store.read_value(snap.config.id, version) if version else None
        if raw is None:
            return "unknown"
        try:
            old = parse_credential(raw, snap.config.kind)
        except MalformedKey:
            return "unknown"
        if old.fingerprint != snap.state.previous_fp and snap.state.previous_fp:
            return "unknown"
        result = self.verifier.probe(old, short=True)
        if isinstance(result, Rejected):
            return "revoked"
        if isinstance(result, Accepted):
            return "alive"
        return "unknown"
