"""The rotation state machine: every transition, and the reconciler that applies them.

    IDLE --open (calendar / emergency / first submission)--> AWAITING_KEY
    AWAITING_KEY --reminder / escalation / overdue--> AWAITING_KEY
    AWAITING_KEY --submission rejected or inconclusive--> AWAITING_KEY (current untouched)
    AWAITING_KEY --emergency--> AWAITING_KEY (upgraded, never a second rotation)
    AWAITING_KEY --verified submission, promoted--> PROMOTED (grace period runs)
    PROMOTED --old key still accepted--> PROMOTED (tell, remind, escalate)
    PROMOTED --old key refused (or unprobeable after grace)--> IDLE (closed)
    PROMOTED --emergency--> PROMOTED (grace ends now; an emergency rotation follows the close)
    any --current version changed under us--> repaired (crash after promotion) or flagged

The transitions are pure functions of (state, facts, time, policy). `Engine` reads
a snapshot, applies one, and writes it back with compare-and-swap; on a lost race
it re-reads and re-decides. Notices are queued in the same write (an outbox) and
delivered after it, so a crash can delay a notice but never lose or invent one.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Literal

from rotation import audit, runbook
from rotation import conventions as cv
from rotation.clock import Clock
from rotation.credentials import Credential, Kind, parse_credential
from rotation.errors import (
    AwaitingOperatorKey,
    KeyRejected,
    MalformedKey,
    RollbackRefused,
    StateConflict,
    VerificationInconclusive,
)
from rotation.notify import Notifier
from rotation.policy import (
    KeyFollowup,
    Policy,
    RevokeFollowup,
    deadline_for,
    grace_until,
    key_followup,
    revoke_followup,
    rotation_due,
)
from rotation.state import Mode, Phase, RotationState, format_time, parse_time, tag_safe
from rotation.stores.base import SecretStore, Snapshot, Submission
from rotation.verify import Accepted, Inconclusive, Rejected, VerifiedKey, Verifier

log = logging.getLogger(__name__)

# How long a claimed notice is left to its sender before another invocation resends it.
SEND_LEASE = timedelta(minutes=5)
RevocationOutcome = Literal["revoked", "alive", "unknown", "unprobeable"]


# ----------------------------------------------------------------------------
# Transitions: pure functions. Each returns the new state, or None for "nothing to do".
# ----------------------------------------------------------------------------


def without_refusal(st: RotationState) -> RotationState:
    """A new rotation, a promotion or a rollback starts with no refusal on record."""
    return replace(st, rejection="", rejection_fp="", rejection_detail="", inconclusive="")


def new_rotation_id(credential_id: str, now: datetime, current_version: str) -> str:
    digest = hashlib.sha256(f"{credential_id}|{current_version}|{now}".encode()).hexdigest()
    return f"r{now:%y%m%d%H%M}-{digest[:4]}"


def opened(
    st: RotationState,
    *,
    rotation_id: str,
    now: datetime,
    policy: Policy,
    mode: Mode,
    reason: str,
    actor: str,
    revoke_first: bool,
    has_current: bool,
    current_since: datetime | None,
    notify: bool = True,
) -> RotationState | None:
    """Open a rotation, or upgrade the open one to an emergency. Never opens a second."""
    emergency = mode is Mode.EMERGENCY
    if st.phase is Phase.IDLE:
        if not has_current:
            mode, revoke_first = Mode.BOOTSTRAP, False
        new = replace(
            without_refusal(st),
            phase=Phase.AWAITING_KEY,
            rotation_id=rotation_id,
            mode=mode,
            revoke_first=revoke_first,
            reason=tag_safe(reason),
            actor=tag_safe(actor),
            opened_at=now,
            deadline=deadline_for(mode, now, current_since, policy),
            followups=0,
            last_notice_at=now,
            escalated=emergency,
            overdue=False,
            rejections=0,
            follow_up_emergency=False,
            previous_revoked=False,
        )
        return new.with_notice("opened") if notify else new
    if not emergency:
        return None
    if st.phase is Phase.AWAITING_KEY:
        if st.mode is Mode.EMERGENCY and (st.revoke_first or not revoke_first):
            return None
        deadline = deadline_for(Mode.EMERGENCY, now, None, policy)
        upgraded = replace(
            st,
            mode=Mode.EMERGENCY,
            revoke_first=st.revoke_first or revoke_first,
            reason=tag_safe(reason),
            actor=tag_safe(actor),
            deadline=min(st.deadline, deadline) if st.deadline else deadline,
            escalated=True,
            last_notice_at=now,  # reminders keep their numbering: each id stays unique
        )
        return upgraded.with_notice("upgraded.revoke" if revoke_first else "upgraded")
    # PROMOTED: the old key must die first; the emergency rotation opens when it has.
    if st.follow_up_emergency:
        return None
    queued = replace(
        st,
        follow_up_emergency=True,
        mode=Mode.EMERGENCY,
        reason=tag_safe(reason),
        actor=tag_safe(actor),
        grace_until=min(st.grace_until, now) if st.grace_until else now,
    )
    # This notice itself says "delete the old key now"; later reminders keep their numbering.
    return queued.with_notice("emergency_queued")


def key_followed_up(st: RotationState, now: datetime, policy: Policy) -> RotationState | None:
    """While waiting for a key: remind, escalate to on-call, or mark overdue."""
    if st.phase is not Phase.AWAITING_KEY:
        return None
    step = key_followup(st, now, policy)
    if step is KeyFollowup.NONE:
        return None
    if step is KeyFollowup.OVERDUE:
        return replace(st, overdue=True, escalated=True, last_notice_at=now).with_notice("overdue")
    if step is KeyFollowup.ESCALATE:
        return replace(st, escalated=True, last_notice_at=now).with_notice("escalated")
    n = st.followups + 1
    return replace(st, followups=n, last_notice_at=now).with_notice(f"reminder.{n}")


def deadline_passed(
    st: RotationState, *, rotation_id: str, now: datetime, policy: Policy, has_current: bool
) -> RotationState | None:
    """The cloud's own schedule fired with no key: open if needed; overdue if it is time.

    AWS runs a scheduled rotation within a day-long window, so "due" here means
    the deadline is less than a day away; an early, hand-started rotation only opens.
    """
    if st.phase is Phase.PROMOTED or st.overdue:
        return None
    if st.phase is Phase.IDLE:
        base = opened(
            st,
            rotation_id=rotation_id,
            now=now,
            policy=policy,
            mode=Mode.SCHEDULED,
            reason="native rotation schedule",
            actor="schedule",
            revoke_first=False,
            has_current=has_current,
            current_since=st.current_since,
        )
        assert base is not None
        st = base
    if st.deadline is not None and now < st.deadline - timedelta(days=1):
        return st if st.phase is not Phase.AWAITING_KEY or st.outbox else None
    return replace(st, overdue=True, escalated=True, last_notice_at=now).with_notice("overdue")


def rejected(st: RotationState, *, reason: str, fp: str, detail: str) -> RotationState | None:
    """A submission failed verification: record why, tell once, keep the rotation open."""
    if st.phase is not Phase.AWAITING_KEY:
        return None
    if st.rejection == reason and st.rejection_fp == fp:
        return None
    n = st.rejections + 1
    new = replace(
        st,
        rejection=reason,
        rejection_fp=fp,
        rejection_detail=tag_safe(detail),
        rejections=n,
        inconclusive="",
    )
    return new.with_notice(f"rejected.{fp}.{n}")


def inconclusive(st: RotationState, *, reason: str) -> RotationState | None:
    """Customer.io could not answer: keep waiting. Only an IP allowlist needs a person."""
    if st.phase is not Phase.AWAITING_KEY or st.inconclusive == reason:
        return None
    new = replace(st, inconclusive=reason)
    return new.with_notice(f"inconclusive.{reason}") if reason == "forbidden" else new


def promoted(
    st: RotationState,
    *,
    rotation_id: str,
    now: datetime,
    policy: Policy,
    new_version: str,
    new_fp: str,
    workspace: str,
    old_version: str | None,
    old_fp: str,
    kind: Kind,
) -> RotationState:
    """A verified key became current. With no old key (bootstrap) the rotation closes."""
    rid = st.rotation_id or rotation_id
    mode = st.mode or (Mode.SCHEDULED if old_version else Mode.BOOTSTRAP)
    new = replace(
        without_refusal(st),
        phase=Phase.PROMOTED,
        rotation_id=rid,
        mode=mode,
        opened_at=st.opened_at or now,
        current_version=new_version,
        current_fp=new_fp,
        current_since=now,
        workspace=workspace or st.workspace,
        previous_version=old_version or "",
        previous_fp=old_fp if old_version else "",
        promoted_at=now,
        grace_until=grace_until(mode, st.revoke_first, now, policy),
        followups=0,
        last_notice_at=now,
        escalated=False,
        overdue=False,
        previous_revoked=False,
    ).with_notice("promoted")
    if not old_version:
        return _closed(new, now, revoked=False)
    return new


def _closed(st: RotationState, now: datetime, *, revoked: bool) -> RotationState:
    closed = replace(
        st,
        phase=Phase.IDLE,
        last_rotation_id=st.rotation_id,
        last_closed_at=now,
        rotation_id="",
        previous_revoked=revoked,
        followups=0,
        escalated=False,
        overdue=False,
        deadline=None,
        grace_until=None,
        revoke_first=False,
    )
    return closed.with_notice("closed") if st.previous_version else closed


def revocation_checked(
    st: RotationState, *, now: datetime, policy: Policy, outcome: RevocationOutcome
) -> RotationState | None:
    """After the grace period: close when the old key is dead, otherwise chase it."""
    if st.phase is not Phase.PROMOTED or st.grace_until is None or now < st.grace_until:
        return None
    if outcome in ("revoked", "unprobeable"):
        return _closed(st, now, revoked=outcome == "revoked")
    if outcome == "unknown":
        return None
    step = revoke_followup(st, now, policy)
    if step is RevokeFollowup.NONE:
        return None
    n = st.followups + 1
    base = replace(st, followups=n, last_notice_at=now)
    if step is RevokeFollowup.TELL:
        return base.with_notice("revoke_now")
    if step is RevokeFollowup.ESCALATE:
        return replace(base, escalated=True).with_notice("revoke_escalated")
    return base.with_notice(f"revoke_reminder.{n - 1}")


def adopted(
    st: RotationState,
    *,
    rotation_id: str,
    now: datetime,
    policy: Policy,
    version: str,
    fp: str,
    workspace: str,
    since: datetime | None,
    kind: Kind,
) -> RotationState:
    """The store's current version is not the one we recorded: repair or flag it."""
    if st.phase is Phase.AWAITING_KEY:
        # A crash between the promotion and its state write: finish the bookkeeping.
        return promoted(
            st,
            rotation_id=rotation_id,
            now=now,
            policy=policy,
            new_version=version,
            new_fp=fp,
            workspace=workspace,
            old_version=st.current_version or None,
            old_fp=st.current_fp,
            kind=kind,
        )
    first_sight = not (st.current_version or st.rotation_id or st.last_rotation_id)
    new = replace(
        st,
        current_version=version,
        current_fp=fp,
        current_since=since or now,
        workspace=workspace or st.workspace,
    )
    if first_sight:
        return new
    return replace(new, last_rotation_id=st.rotation_id or st.last_rotation_id).with_notice(
        "external_change"
    )


def rollback_refusal(
    st: RotationState, kind: Kind, name: str, store_previous: str | None, cli: str = cv.CLI_NAME
) -> str | None:
    """Why the previous key may not become current again, or None when it may."""
    fix = f"Fix forward instead: `{cli} emergency {name} --reason ...` opens a new rotation."
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


def rolled_back(
    st: RotationState, *, now: datetime, version: str, previous_version: str | None
) -> RotationState:
    """The previous key is current again: the rotation is open again, waiting for a new key."""
    return replace(
        without_refusal(st),
        phase=Phase.AWAITING_KEY,
        current_version=version,
        current_fp=st.previous_fp,
        current_since=None,  # the old key's age is not recorded; the open rotation's deadline holds
        previous_version=previous_version or "",
        previous_fp=st.current_fp,
        promoted_at=None,
        grace_until=None,
        followups=0,
        last_notice_at=now,
        overdue=False,
        follow_up_emergency=False,
        previous_revoked=False,
    ).with_notice("rolled_back")


def notice_claimed(st: RotationState, entry: str, now: datetime) -> RotationState | None:
    """Claim the next outbox entry for sending, unless another sender holds a fresh claim."""
    if entry not in st.outbox:
        return None
    if st.sending:
        held, _, at = st.sending.rpartition("@")
        claimed_at = parse_time(at)
        if held in st.outbox and claimed_at is not None and now < claimed_at + SEND_LEASE:
            return None
    return replace(st, sending=f"{entry}@{format_time(now)}")


def notice_sent(st: RotationState, entry: str) -> RotationState | None:
    if entry not in st.outbox:
        return None
    held = st.sending.rpartition("@")[0]
    return replace(
        st,
        outbox=tuple(e for e in st.outbox if e != entry),
        sending="" if held == entry else st.sending,
    )


# ----------------------------------------------------------------------------
# The engine: reads, decides with the functions above, writes with compare-and-swap.
# ----------------------------------------------------------------------------


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
    ) -> None:
        self.store = store
        self.verifier = verifier
        self.notifier = notifier
        self.clock = clock
        self.policy = policy or Policy()
        self.cli = cli
        self.max_attempts = max_attempts

    # -- the compare-and-swap loop --------------------------------------------

    def _apply(
        self, credential_id: str, decide: Callable[[Snapshot], RotationState | None]
    ) -> tuple[Snapshot, RotationState | None]:
        """Read, decide, write if still unchanged; on a lost race read and decide again."""
        for _ in range(self.max_attempts):
            snap = self.store.snapshot(credential_id)
            new = decide(snap)
            if new is None or new == snap.state:
                return snap, None
            try:
                self.store.save_state(credential_id, new, snap.revision)
            except StateConflict:
                log.info("state of %s changed under us; deciding again", credential_id)
                continue
            return snap, new
        raise StateConflict(
            f"{credential_id} kept changing during {self.max_attempts} attempts; "
            "the next event or the daily sweep will take the step."
        )

    def _opening(
        self, mode: Mode, reason: str, actor: str, revoke_first: bool, notify: bool
    ) -> Callable[[Snapshot], RotationState | None]:
        now = self.clock.now()
        return lambda snap: opened(
            snap.state,
            rotation_id=self._rotation_id(snap),
            now=now,
            policy=self.policy,
            mode=mode,
            reason=reason,
            actor=actor,
            revoke_first=revoke_first,
            has_current=snap.current_version is not None,
            current_since=snap.state.current_since or snap.current_created,
            notify=notify,
        )

    def _rotation_id(self, snap: Snapshot) -> str:
        return new_rotation_id(snap.config.id, self.clock.now(), snap.current_version or "")

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
        )

    # -- entry points ------------------------------------------------------------

    def open_rotation(
        self,
        credential_id: str,
        mode: Mode = Mode.SCHEDULED,
        *,
        reason: str = "",
        actor: str = "schedule",
        revoke_first: bool = False,
    ) -> RotationState:
        """Open a rotation (or upgrade the open one to an emergency), then reconcile."""
        decide = self._opening(mode, reason, actor, revoke_first, notify=True)
        snap, new = self._apply(credential_id, decide)
        if new is not None:
            event = "rotation.opened" if snap.state.phase is Phase.IDLE else "rotation.upgraded"
            self._audit(event, snap, new, actor, "ok", detail=new.reason)
        return self.reconcile(credential_id)

    def reconcile(self, credential_id: str) -> RotationState:
        """Take every step that is due for this credential now, then deliver notices."""
        snap = self.store.snapshot(credential_id)
        if snap.current_version and snap.current_version != snap.state.current_version:
            self._repair(credential_id, snap)
            snap = self.store.snapshot(credential_id)
        self._retire_promoted_submission(credential_id, snap)
        state = snap.state
        if state.phase is Phase.IDLE and (
            snap.current_version is None
            or rotation_due(
                state.current_since or snap.current_created, self.clock.now(), self.policy
            )
        ):
            self.open_rotation(credential_id, Mode.SCHEDULED, actor="calendar")
            return self.store.snapshot(credential_id).state
        if state.phase is Phase.AWAITING_KEY:
            snap2, new = self._apply(
                credential_id, lambda s: key_followed_up(s.state, self.clock.now(), self.policy)
            )
            if new is not None:
                self._audit("rotation.followup", snap2, new, "calendar", new.outbox[-1])
        elif state.phase is Phase.PROMOTED:
            self._check_revocation(credential_id, snap)
        self.deliver_notices(credential_id)
        return self.store.snapshot(credential_id).state

    def deadline_reached(self, credential_id: str) -> RotationState:
        """The native schedule fired and nobody submitted a key: escalate, once."""
        now = self.clock.now()
        snap, new = self._apply(
            credential_id,
            lambda s: deadline_passed(
                s.state,
                rotation_id=self._rotation_id(s),
                now=now,
                policy=self.policy,
                has_current=s.current_version is not None,
            ),
        )
        if new is not None:
            self._audit("rotation.overdue", snap, new, "schedule", "escalated")
        self.deliver_notices(credential_id)
        return self.store.snapshot(credential_id).state

    def verify_submission(
        self, credential_id: str, actor: str = "operator"
    ) -> tuple[VerifiedKey, Submission]:
        """Verify the inbox submission; a refusal is recorded, told once and retired."""
        snap = self.store.snapshot(credential_id)
        submission = self.store.read_submission(credential_id)
        name = snap.config.name
        if submission is None:
            raise AwaitingOperatorKey(
                f"No key has been submitted for {name} yet: run `{self.cli} submit {name}`."
            )
        if snap.state.phase is Phase.PROMOTED:
            self.store.consume_submission(credential_id, submission, "refused")
            raise KeyRejected(
                f"{name} is still retiring its previous key: delete the old key, run "
                f"`{self.cli} check {name}`, then submit again.",
                "busy",
            )
        if snap.state.phase is Phase.IDLE:
            # An operator may rotate at any time: the submission opens the rotation.
            decide = self._opening(Mode.SCHEDULED, "operator submission", actor, False, False)
            snap, new = self._apply(credential_id, decide)
            if new is not None:
                self._audit("rotation.opened", snap, new, actor, "ok", detail="by submission")
            snap = self.store.snapshot(credential_id)
        raw_fp = hashlib.sha256(submission.raw).hexdigest()[:8]
        try:
            candidate = parse_credential(submission.raw, snap.config.kind, snap.config.region)
        except MalformedKey as err:
            self._refuse(credential_id, snap, submission, "malformed", raw_fp, "", actor)
            raise KeyRejected(f"The submission was refused: {err}", "malformed") from None
        try:
            verified = self._verify(snap, candidate)
        except KeyRejected as err:
            self._refuse(
                credential_id,
                snap,
                submission,
                err.reason,
                candidate.fingerprint,
                err.detail,
                actor,
            )
            raise
        except VerificationInconclusive as err:
            self._inconclusive(credential_id, snap, candidate, err, actor)
            raise
        self._audit(
            "key.verified", snap, snap.state, actor, "accepted", candidate=candidate.fingerprint
        )
        return verified, submission

    def verify_value(
        self, credential_id: str, raw: bytes, actor: str = "secretsmanager"
    ) -> VerifiedKey:
        """Verify a staged value again (AWS testSecret / finishSecret) in this attempt."""
        snap = self.store.snapshot(credential_id)
        try:
            candidate = parse_credential(raw, snap.config.kind, snap.config.region)
        except MalformedKey as err:
            raise KeyRejected(
                f"The staged value is not a valid credential: {err}", "malformed"
            ) from None
        try:
            verified = self._verify(snap, candidate)
        except KeyRejected as err:
            self._refuse(
                credential_id, snap, None, err.reason, candidate.fingerprint, err.detail, actor
            )
            raise
        except VerificationInconclusive as err:
            self._inconclusive(credential_id, snap, candidate, err, actor)
            raise
        return verified

    def promote(
        self,
        credential_id: str,
        verified: VerifiedKey,
        pending_version: str | None,
        actor: str = "rotator",
    ) -> RotationState:
        """Make a verified key current (compare-and-swap), record it, retire the inbox copy."""
        snap = self.store.snapshot(credential_id)
        value = verified.credential.to_json().encode("utf-8")
        new_version = self.store.promote(
            credential_id, value, pending_version, expected_current=snap.current_version
        )
        old_fp = snap.state.current_fp
        if snap.current_version and not old_fp:
            current = self._current_credential(snap)
            old_fp = current.fingerprint if current else ""
        now = self.clock.now()
        snap2, new = self._apply(
            credential_id,
            lambda s: (
                None
                if s.state.current_version == new_version
                else promoted(
                    s.state,
                    rotation_id=self._rotation_id(s),
                    now=now,
                    policy=self.policy,
                    new_version=new_version,
                    new_fp=verified.credential.fingerprint,
                    workspace=verified.workspace,
                    old_version=snap.current_version,
                    old_fp=old_fp,
                    kind=snap.config.kind,
                )
            ),
        )
        if new is not None:
            self._audit(
                "key.promoted", snap2, new, actor, "promoted", pending=pending_version or ""
            )
        self._retire_promoted_submission(credential_id, self.store.snapshot(credential_id))
        self.deliver_notices(credential_id)
        return self.store.snapshot(credential_id).state

    def rollback(self, credential_id: str, actor: str = "operator") -> RotationState:
        """Make the previous key current again while Customer.io still accepts it.

        For a new key that broke consumers during the grace period. The old value is
        verified again in this attempt (invariant 2) and put back with compare-and-swap;
        the rotation stays open so a working key can be submitted.
        """
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
                f"Customer.io refuses the previous key of {name} (fingerprint {old.fingerprint}, "
                f"{result.reason}): it was deleted, so it cannot come back. Fix forward: "
                f"`{self.cli} emergency {name} --reason ...`."
            )
        if isinstance(result, Inconclusive):
            raise RollbackRefused(
                f"Customer.io could not be asked whether the previous key of {name} still works "
                f"({result.reason}): nothing was changed; try again in a few minutes."
            )
        new_version = self.store.promote(
            credential_id, raw or b"", st.previous_version, expected_current=snap.current_version
        )
        now = self.clock.now()
        snap2, new = self._apply(
            credential_id,
            lambda s: (
                None
                if s.state.current_version == new_version
                else rolled_back(
                    s.state, now=now, version=new_version, previous_version=snap.current_version
                )
            ),
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
        return self.store.snapshot(credential_id).state

    def deliver_notices(self, credential_id: str) -> int:
        """Send queued notices, each claimed first so racing invocations send it once."""
        sent = 0
        for _ in range(4 * self.max_attempts):
            now = self.clock.now()
            snap = self.store.snapshot(credential_id)
            if not snap.state.outbox:
                return sent
            entry = snap.state.outbox[0]
            claimed = notice_claimed(snap.state, entry, now)
            if claimed is None:
                return sent  # another invocation is sending it
            try:
                self.store.save_state(credential_id, claimed, snap.revision)
            except StateConflict:
                continue
            notification = runbook.render(entry, self._context(snap, claimed, now))
            try:
                self.notifier.send(notification)
            except Exception as err:
                log.warning(
                    "notice %s not delivered (%s); will retry", notification.id, type(err).__name__
                )
                return sent
            self._apply(credential_id, _mark_sent(entry))
            sent += 1
            self._audit("notification.sent", snap, claimed, "rotator", notification.notice)
        return sent

    # -- helpers -----------------------------------------------------------------

    def _context(self, snap: Snapshot, state: RotationState, now: datetime) -> runbook.Context:
        cfg = snap.config
        return runbook.Context(
            name=cfg.name,
            kind=cfg.kind,
            region=cfg.region.value if cfg.region else "",
            workspace=state.workspace or cfg.workspace,
            state=state,
            policy=self.policy,
            now=now,
            cli=self.cli,
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
        current = self._current_credential(snap)
        expected = snap.state.workspace
        if not expected and current is not None and snap.config.kind is not Kind.WEBHOOK_SIGNING:
            expected = self.verifier.workspace_of(current) or ""
        if not expected and current is None:
            expected = snap.config.workspace
        return self.verifier.verify(candidate, current, expected, snap.config.region)

    def _refuse(
        self,
        credential_id: str,
        snap: Snapshot,
        submission: Submission | None,
        reason: str,
        fp: str,
        detail: str,
        actor: str,
    ) -> None:
        snap2, _ = self._apply(
            credential_id, lambda s: rejected(s.state, reason=reason, fp=fp, detail=detail[:120])
        )
        self._audit("key.rejected", snap2, snap2.state, actor, reason, candidate=fp)
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
        reason = "forbidden" if "403" in str(err) else "unavailable"
        self._apply(credential_id, lambda s: inconclusive(s.state, reason=reason))
        self._audit(
            "key.inconclusive", snap, snap.state, actor, reason, candidate=candidate.fingerprint
        )
        self.deliver_notices(credential_id)

    def _repair(self, credential_id: str, snap: Snapshot) -> None:
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
        now = self.clock.now()
        version = snap.current_version
        snap2, new = self._apply(
            credential_id,
            lambda s: (
                None
                if s.current_version != version or s.state.current_version == version
                else adopted(
                    s.state,
                    rotation_id=self._rotation_id(s),
                    now=now,
                    policy=self.policy,
                    version=version,
                    fp=fp,
                    workspace=workspace,
                    since=s.current_created,
                    kind=s.config.kind,
                )
            ),
        )
        if new is not None:
            self._audit("state.repaired", snap2, new, "rotator", "adopted current version")

    def _retire_promoted_submission(self, credential_id: str, snap: Snapshot) -> None:
        """A crash after promotion can leave the inbox copy: retire it once it is current."""
        if not snap.state.current_fp:
            return
        submission = self.store.read_submission(credential_id)
        if submission is None:
            return
        try:
            candidate = parse_credential(submission.raw, snap.config.kind)
        except MalformedKey:
            return
        if candidate.fingerprint == snap.state.current_fp:
            self.store.consume_submission(credential_id, submission, "promoted")

    def _check_revocation(self, credential_id: str, snap: Snapshot) -> None:
        state = snap.state
        now = self.clock.now()
        if state.grace_until is None or now < state.grace_until:
            return
        outcome = self._probe_previous(snap)
        snap2, new = self._apply(
            credential_id,
            lambda s: revocation_checked(s.state, now=now, policy=self.policy, outcome=outcome),
        )
        if new is None:
            return
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
        result = self.verifier.probe(old)
        if isinstance(result, Rejected):
            return "revoked"
        if isinstance(result, Accepted):
            return "alive"
        return "unknown"


def _mark_sent(entry: str) -> Callable[[Snapshot], RotationState | None]:
    return lambda snap: notice_sent(snap.state, entry)
