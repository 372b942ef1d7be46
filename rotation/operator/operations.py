"""What each command decides, written against `Backend` only (no cloud, no terminal).

Every text here is built from rotation state (fingerprints, times, reasons) and
the runbook module's own wording; no function ever sees a key except
`submit_key`, which receives the validated credential and only reads its
fingerprint and last-4 label.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from rotation import conventions as cv
from rotation import intake, runbook
from rotation.credentials import Credential, Kind
from rotation.drain import NO_EVIDENCE
from rotation.errors import KeyInFreeText
from rotation.operator import drain_view
from rotation.operator.backend import (
    ALIVE_EVENT,
    EXIT_OK,
    EXIT_QUEUED,
    EXIT_REJECTED,
    EXIT_WAITING,
    AuditEntry,
    Backend,
    Details,
    NotFound,
    Rejected,
    entry_time,
)
from rotation.operator.config import CredentialRef
from rotation.operator.drain_view import DrainView
from rotation.origin import Origin
from rotation.policy import Policy, opens_at
from rotation.state import Phase, RotationState, format_time
from rotation.stores.base import Snapshot

CLI = cv.CLI_NAME


def plural(count: int, word: str) -> str:
    """'1 day', '2 days': no '(s)' in anything an operator reads."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def age(since: datetime | None, now: datetime) -> str:
    if since is None:
        return "unknown"
    delta = now - since
    if delta < timedelta(hours=1):
        return f"{max(int(delta.total_seconds() // 60), 0)}m"
    if delta < timedelta(days=2):
        return f"{int(delta.total_seconds() // 3600)}h"
    return f"{delta.days}d"


@dataclass(frozen=True)
class CredentialStatus:
    """One row of `status`: metadata only."""

    name: str
    cloud: str
    kind: str
    region: str
    current_fp: str
    current_since: datetime | None
    key_age: str
    next_rotation: datetime | None
    native_deadline: datetime | None
    phase: str
    mode: str
    rotation_id: str
    opened_at: datetime | None
    waiting_on: str
    deadline: datetime | None
    previous_fp: str
    previous_revoked: str  # "yes" | "no" | "n/a"
    problem: str = ""
    # Keys by their dashboard names: the current one, and the name the open rotation asked
    # the new key to be given (as the runbook quotes it; "" when no rotation asks for one).
    current_key_name: str = ""
    requested_key_name: str = ""
    # During the grace period after a promotion: when the old key is to be deleted.
    # (`deadline` is the rotation's own deadline, in every phase.)
    grace_until: datetime | None = None
    # The daily liveness check of the current key (state.live_*): when Customer.io last
    # confirmed it working (recorded at promotion, rollback and whenever the outcome
    # changes), what the last check found, and since when checks are inconclusive.
    live_checked_at: datetime | None = None
    live_outcome: str = ""  # accepted | rejected | the inconclusive cause | "" (none yet)
    live_unknown_since: datetime | None = None
    # From the audit trail (an accepted daily check writes no state, only `key.alive`):
    # the last check logged and what it found, and the last one that found the key working.
    # `live_trail` says why the trail gave nothing ("" when it was read and had them).
    last_check_at: datetime | None = None
    last_check_outcome: str = ""  # accepted | the inconclusive cause
    last_alive_at: datetime | None = None
    live_trail: str = ""
    reason: str = ""  # why the open rotation (emergency) or retirement began, as written
    exit_code: int = 0  # what this row alone would make `status` exit with (a read failure)
    # After a promotion: who still uses the old key, as the rotator last measured it
    # (None: not measured yet, or no promotion in flight; `drain_measured` tells which).
    drain: DrainView | None = None
    drain_measured: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            if key == "drain":
                out[key] = value.to_json() if value is not None else None
                continue
            out[key] = format_time(value) if isinstance(value, datetime) else value
        return out


def waiting_on(st: RotationState, now: datetime) -> str:
    """Who the open rotation waits for, and for what."""
    if st.phase is Phase.AWAITING_KEY:
        who = "on-call" if st.escalated else "operator"
        # `inconclusive` is newer than `rejection` whenever both are set (a refusal clears
        # it): after an outage the last word is the pending verification, not an older refusal.
        if st.inconclusive:
            return (
                f"Customer.io: the last key could not be verified yet ({st.inconclusive}); "
                "the rotator retries on its own"
            )
        if st.rejection:
            return f"{who}: a new key (last one, fingerprint {st.rejection_fp}, {st.rejection})"
        return f"{who}: submit a new key"
    if st.phase is Phase.PROMOTED:
        if st.follow_up_emergency:
            return f"operator: delete old key {st.previous_fp} (emergency queued)"
        if st.grace_until is not None and now < st.grace_until:
            return "consumers: grace period"
        return f"operator: delete old key {st.previous_fp}, then `{CLI} check`"
    if st.phase is Phase.RETIRING:
        return f"operator: switch consumers, delete key {st.current_fp}, then `{CLI} check`"
    if st.phase is Phase.RETIRED:
        return f"nobody: retired {when(st.retired_at)}; set `retired: true` in the stack config"
    if not st.current_fp:
        return "operator: the first key (create it in the dashboard and submit it)"
    return "-"


def describe(
    ref: CredentialRef, snap: Snapshot, details: Details, now: datetime, policy: Policy
) -> CredentialStatus:
    st, cfg = snap.state, snap.config
    next_rotation = None
    if st.phase is Phase.IDLE and st.current_since is not None:
        next_rotation = opens_at(st.current_since, policy)
    if st.phase is Phase.IDLE and snap.current_version is None:
        next_rotation = None
    requested = st.key_name if st.phase is Phase.AWAITING_KEY else ""
    return CredentialStatus(
        name=cfg.name or ref.name,
        cloud=ref.cloud,
        kind=cfg.kind.value,
        region=cfg.region.value if cfg.region else "",
        current_fp=st.current_fp,
        current_since=st.current_since,
        key_age=age(st.current_since, now) if snap.current_version else "no key yet",
        next_rotation=next_rotation,
        native_deadline=details.native_next_rotation,
        phase=st.phase.value,
        mode=st.mode.value if st.mode and st.phase is not Phase.IDLE else "",
        reason=st.reason if st.phase is not Phase.IDLE else "",
        rotation_id=st.rotation_id,
        opened_at=st.opened_at if st.phase is not Phase.IDLE else None,
        waiting_on=waiting_on(st, now),
        deadline=st.deadline if st.phase is not Phase.IDLE else None,
        previous_fp=st.previous_fp,
        previous_revoked=previous_revoked(st),
        current_key_name=st.current_name if st.current_fp else "",
        requested_key_name=requested if cfg.kind is not Kind.WEBHOOK_SIGNING else "",
        grace_until=st.grace_until if st.phase is Phase.PROMOTED else None,
        live_checked_at=st.live_checked_at,
        live_outcome=st.live_outcome,
        live_unknown_since=st.live_unknown_since,
        drain=drain_view.recorded(st) if drain_view.in_flight(st) else None,
        drain_measured=drain_view.in_flight(st),
    )


def previous_revoked(st: RotationState) -> str:
    """Whether Customer.io is known to refuse the previous key: "yes", "no" or "n/a".

    Opening a rotation clears the state's flag for the rotation to come, while the
    previous key is still the one the last rotation retired: a rotation closes only once
    Customer.io refuses its old key, so a previous key older than the current one, with
    a close recorded after the current key went live, is dead. (After a rollback the
    previous key is the newer one, and only the flag speaks for it.)
    """
    if not st.previous_fp:
        return "n/a"
    if st.previous_revoked:
        return "yes"
    closed_since_current = (
        st.last_closed_at is not None
        and st.current_since is not None
        and st.last_closed_at >= st.current_since
    )
    older = st.previous_since is None or (
        st.current_since is not None and st.previous_since <= st.current_since
    )
    if st.phase is Phase.AWAITING_KEY and closed_since_current and older:
        return f"yes (when {st.last_rotation_id or 'the last rotation'} closed)"
    return "no"


# How far back `status` looks for daily checks: the sweep runs daily, so a few days
# survive a missed sweep or two while keeping the read to a handful of lines.
TRAIL_DAYS = 3


def wants_trail(r: CredentialStatus) -> bool:
    """Whether the audit trail can add to the row: a live key the daily check probes,
    whose last outcome was not a refusal (a refusal is written to the state at once)."""
    return (
        not r.problem
        and bool(r.current_fp)
        and r.kind != Kind.WEBHOOK_SIGNING.value
        and r.phase not in (Phase.RETIRING.value, Phase.RETIRED.value)
        and r.live_outcome != "rejected"
    )


def trail_since(r: CredentialStatus, now: datetime) -> datetime:
    """The start of the window to read: the state's own record covers what is older."""
    floor = now - timedelta(days=TRAIL_DAYS)
    return max(r.live_checked_at, floor) if r.live_checked_at else floor


def with_trail(
    r: CredentialStatus, entries: list[AuditEntry] | None, since: datetime, problem: str = ""
) -> CredentialStatus:
    """The row with what the trail says (`entries` newest first), or why it says nothing."""
    if problem:
        return replace(r, live_trail=f"audit trail not read: {problem}")
    # The read may start earlier (one window for several credentials): keep this row's.
    entries = [e for e in entries or [] if (entry_time(e) or since) >= since]
    if not entries:
        return replace(r, live_trail=f"no daily check in the audit trail since {when(since)}")
    last = entries[0]
    alive = next((e for e in entries if e.event == ALIVE_EVENT), None)
    return replace(
        r,
        last_check_at=entry_time(last),
        last_check_outcome="accepted" if last.event == ALIVE_EVENT else last.outcome,
        last_alive_at=entry_time(alive) if alive else None,
    )


def liveness(r: CredentialStatus) -> str:
    """Whether Customer.io last accepted the current key, and when: the last daily check
    from the audit trail, else the state's record of the last change of outcome."""
    if r.kind == Kind.WEBHOOK_SIGNING.value:
        return "n/a (no API checks a signing key; a delivery proves it)"
    if r.phase == Phase.RETIRED.value:
        return "n/a (retired: Customer.io is to refuse its key)"
    if not r.current_fp:
        return "-"
    if r.phase == Phase.RETIRING.value and r.live_outcome == "rejected":
        return f"refused by Customer.io, as a retirement wants (`{CLI} check` records it)"
    if r.live_outcome == "rejected":
        return f"REFUSED by Customer.io (seen {when(r.live_checked_at)}); see `{CLI} runbook`"
    working = max((t for t in (r.last_alive_at, r.live_checked_at) if t), default=None)
    confirmed = f"confirmed working {when(working)}" if working else ""
    if r.live_unknown_since is not None:
        cause = r.live_outcome or "inconclusive"
        head = f"unknown since {when(r.live_unknown_since)} ({cause})"
        if r.last_check_at and r.last_check_outcome != "accepted":
            head += f"; last check {when(r.last_check_at)}"
        return f"{head}; last {confirmed}" if confirmed else head
    if r.last_check_at and r.last_check_outcome == "accepted":
        return f"confirmed working {when(r.last_check_at)} (last daily check)"
    if r.last_check_at:
        # The state has not caught up with an inconclusive check yet (or raced it).
        head = f"last check {when(r.last_check_at)} inconclusive ({r.last_check_outcome})"
        return f"{head}; last {confirmed}" if confirmed else head
    if not confirmed:
        return "no check recorded yet"
    why = f"; {r.live_trail}" if r.live_trail else ""
    return f"{confirmed} (last change of outcome recorded{why})"


def unavailable(ref: CredentialRef, problem: str, exit_code: int) -> CredentialStatus:
    """A row for a credential whose metadata could not be read (and the exit code it earns)."""
    return CredentialStatus(
        name=ref.name,
        cloud=ref.cloud,
        kind=ref.kind,
        region=ref.region,
        current_fp="",
        current_since=None,
        key_age="?",
        next_rotation=None,
        native_deadline=None,
        phase="?",
        mode="",
        rotation_id="",
        opened_at=None,
        waiting_on="?",
        deadline=None,
        previous_fp="",
        previous_revoked="?",
        problem=problem,
        exit_code=exit_code,
    )


# -- submit ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What a command reports: an exit code and lines of text (never a key)."""

    code: int
    headline: str
    lines: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """What `--json` prints: the same facts as the text, keyed."""
        return {
            "exit_code": self.code,
            "headline": self.headline,
            "lines": [line for line in self.lines if line],
            **self.data,
        }


def context(
    snap: Snapshot, now: datetime, policy: Policy, origin: Origin | None = None
) -> runbook.Context:
    """What the runbook texts see of a credential, as the rotator builds it for notices;
    with `origin`, its commands name the cloud and stack as the notices' do."""
    st, cfg = snap.state, snap.config
    return runbook.Context(
        name=cfg.name,
        kind=cfg.kind,
        region=cfg.region.value if cfg.region else "",
        workspace=st.workspace or cfg.workspace,
        state=st,
        policy=policy,
        now=now,
        cli=CLI,
        webhook_endpoint=cfg.webhook_endpoint,
        origin=origin or Origin(),
    )


def _promoted_lines(snap: Snapshot, now: datetime, policy: Policy) -> list[str]:
    """What is left to do: the very text of the promoted notice (runbook.after_promotion)."""
    if snap.state.phase is Phase.IDLE:
        if not snap.state.previous_fp:
            return ["This is the first key: there is no old key to delete. Nothing left to do."]
        return ["The rotation is closed: nothing left to do."]
    return runbook.after_promotion(context(snap, now, policy))


def refuse_free_text(fields: dict[str, str], keys: list[str]) -> None:
    """The CLI's own check of what an operator typed, against the keys it holds (the one
    being handed over): Rejected before anything is written. The rotator checks again
    against the keys only it may read (current, previous, pending, the inbox)."""
    try:
        intake.refuse_keys_in_text(fields, keys)
    except KeyInFreeText as err:
        raise Rejected(str(err)) from None


def submit_key(
    backend: Backend,
    ref: CredentialRef,
    credential: Credential,
    raw: bytes,
    *,
    actor: str,
    timeout: float,
    poll: float,
    key_name: str = "",
    wait: bool = True,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    clock: Callable[[], datetime] | None = None,
    policy: Policy | None = None,
    before: Snapshot | None = None,
) -> Outcome:
    """Hand a locally validated key over and wait for the rotator's verdict.

    `key_name` is what the operator called the key in the dashboard (empty: the
    rotation's suggested name stands); it travels with the key in the inbox envelope.
    Without `wait` it returns once the key is handed over, unless the hand-over itself
    brought a verdict.
    """
    refuse_free_text({"--key-name": key_name, "actor": actor}, [credential.secret])
    now = clock or (lambda: datetime.now(UTC))
    policy = policy or Policy()
    before = before or backend.snapshot(ref, quick=True)  # the caller's read, when it had one
    name, st = before.config.name, before.state
    fp, label = credential.fingerprint, credential.label
    page = runbook.DASHBOARD[before.config.kind][0]
    if st.phase is Phase.PROMOTED:
        if st.current_fp == fp and credential.kind is Kind.TRACK:
            # The fingerprint covers the API key only, and the CLI never reads the live secret,
            # so it cannot tell whether the Site ID matches: never answer "already current".
            raise Rejected(
                f"field 'api_key' is the API key already current for {name} (fingerprint {fp}); "
                "its Site ID cannot be compared from here. Nothing was written. A Site ID and its "
                "API key are created together: to change either, create a new Tracking API key "
                f"in {page} and submit both fields.",
                code="same_as_current",
            )
        if st.current_fp == fp:
            return Outcome(
                EXIT_OK,
                f"Key {label} is already current for {name}.",
                _promoted_lines(before, now(), policy),
            )
        raise Rejected(
            f"{name} is still retiring its previous key (fingerprint {st.previous_fp}); a new "
            f"key cannot be taken until then. Delete the old key; once the rotator has seen "
            f"Customer.io refuse it (by itself, or at once with `{CLI} check {name}`), "
            "submit again. Nothing was written."
        )
    if st.current_fp == fp:
        # The old key pasted again: the rotator would refuse it too, so do not hand it over.
        raise Rejected(
            runbook.rejection_text("same_as_current", label) + " Nothing was written.",
            code="same_as_current",
        )
    summary = backend.hand_over(ref, raw, actor, key_name) or {}
    if not wait and summary.get("outcome") in (None, "started"):
        # Asked not to look, and no verdict came back with the hand-over (AWS: a state
        # read, the inbox write and RotateSecret; GCP: the inbox write starts the rotator).
        return Outcome(
            EXIT_WAITING,
            f"Key {label} is handed over for {name}; its rotation has started.",
            [
                "The rotator verifies it, promotes it and announces the outcome to the "
                "operators' channel.",
                f"Follow it with `{CLI} status` or `{CLI} history {name}`; do not delete the "
                "old key until it says the new one is current.",
            ],
            {"outcome": "started", "fingerprint": fp},
        )
    polls = 0
    deadline = monotonic() + timeout
    while True:
        # The first look reads the state document alone; later ones also the stages,
        # which tell a promotion the rotator did not live to record.
        snap = backend.snapshot(ref, quick=polls == 0)
        polls += 1
        now_st = snap.state
        moved = _promoted_by_stage(before, snap, summary)
        if moved is not None and now_st.current_fp != fp:
            return _stage_verdict(name, label, fp, snap, mine=moved)
        if now_st.current_fp == fp:
            return Outcome(
                EXIT_OK,
                f"Key {label} passed verification and is now current for {name}.",
                _promoted_lines(snap, now(), policy),
                {"outcome": "promoted", "fingerprint": fp},
            )
        if summary.get("outcome") == "rejected" or now_st.rejection_fp == fp:
            reason = now_st.rejection if now_st.rejection_fp == fp else ""
            text = (
                runbook.rejection_text(reason, label, detail=now_st.rejection_detail)
                if reason and reason != "malformed"
                else str(summary.get("message") or f"Key {label} was not accepted.")
            )
            return Outcome(
                EXIT_REJECTED,
                f"Key {label} was NOT accepted for {name}.",
                [
                    text,
                    "The current key is unchanged and still works; the rotation stays open.",
                    f"Fix it and run `{CLI} submit {name}` again (`{CLI} runbook {name}` "
                    "shows the steps).",
                ],
                {"outcome": "rejected", "fingerprint": fp, "reason": reason or "rejected"},
            )
        inconclusive = summary.get("outcome") == "inconclusive" or (
            now_st.inconclusive and now_st.inconclusive != st.inconclusive
        )
        if inconclusive:
            reason = now_st.inconclusive or "unavailable"
            return Outcome(
                EXIT_WAITING,
                f"Key {label} could not be verified yet for {name}.",
                [
                    _inconclusive_line(
                        reason, label, str(summary.get("message") or ""), now_st.inconclusive_detail
                    ),
                    f"The rotator retries on its own; follow it with `{CLI} status`.",
                ],
                {"outcome": "inconclusive", "fingerprint": fp, "reason": reason},
            )
        if summary.get("outcome") == "waiting":
            return Outcome(
                EXIT_WAITING,
                f"Key {label} is in the inbox of {name}, but the rotator has not taken it yet.",
                [str(summary.get("message") or ""), f"Follow it with `{CLI} status`."],
                {"outcome": "waiting", "fingerprint": fp},
            )
        if monotonic() >= deadline:
            return Outcome(
                EXIT_WAITING,
                f"No verdict on key {label} for {name} within {timeout:g}s.",
                [
                    "The key is in the inbox and the rotation has been started; the rotator "
                    "may still be verifying it.",
                    f"Follow it with `{CLI} status` or `{CLI} history {name}`; "
                    "do not delete the old key.",
                ],
                {"outcome": "waiting", "fingerprint": fp},
            )
        sleep(poll)


def _inconclusive_line(reason: str, label: str, message: str, detail: str = "") -> str:
    """The rotator's own words when it answered, else the state's record of what it saw
    (the HTTP status among it)."""
    if message:
        return message
    if detail:
        return runbook.inconclusive_text(reason, detail, label)
    detail = "no HTTP status recorded: a 5xx, a 429 or a time-out; `cio-rotate history` has "
    detail += "the attempts"
    return runbook.inconclusive_text(reason, detail if reason == "unavailable" else reason, label)


def _promoted_by_stage(before: Snapshot, snap: Snapshot, summary: dict[str, Any]) -> bool | None:
    """Did the live secret's current version move while the state did not record it?

    That is a rotator that crashed after promoting (it moved AWSCURRENT, then failed
    before saving its state). None: no such move; True: the version it started for
    this submission; False: some other version.
    """
    current = snap.current_version
    if not current or current == before.current_version:
        return None
    if snap.state.current_version == current:
        return None  # recorded: the state's fingerprint says whose key it is
    return current == str(summary.get("version") or "")


def _stage_verdict(name: str, label: str, fp: str, snap: Snapshot, *, mine: bool) -> Outcome:
    check = f"Run `{CLI} check {name}` so the rotator records it, then `{CLI} status`."
    if mine:
        return Outcome(
            EXIT_OK,
            f"Key {label} is now current for {name} (the secret's current version is the one "
            "started for it).",
            [
                "The rotator stopped before recording the promotion: its state still shows "
                "the old key.",
                check,
                "Do NOT delete the old key until the rotator has recorded the promotion.",
            ],
            {"outcome": "promoted", "fingerprint": fp, "recorded": False},
        )
    return Outcome(
        EXIT_WAITING,
        f"A new version became current for {name}, but the rotator did not record whose key it is.",
        [check, "Do not delete the old key until `status` shows the new fingerprint."],
        {"outcome": "unrecorded", "fingerprint": fp, "version": snap.current_version or ""},
    )


# -- the other commands ---------------------------------------------------------------


_STEP = re.compile(r"^\s*(\d+)\.\s+(.*)$")
_COMMAND = re.compile(r"`([^`]+)`")


def structured(outcome: Outcome, snap: Snapshot) -> Outcome:
    """`--json` fields beside the prose: the credential, where its rotation stands, and
    each numbered step as {number, text, commands} (the commands as quoted in the text)."""
    st = snap.state
    steps = []
    for line in outcome.lines:
        found = _STEP.match(line)
        if found:
            text = found.group(2)
            steps.append(
                {"number": int(found.group(1)), "text": text, "commands": _COMMAND.findall(text)}
            )
    data = {
        "credential": snap.config.name,
        "kind": snap.config.kind.value,
        "phase": st.phase.value,
        "mode": st.mode.value if st.mode and st.phase is not Phase.IDLE else "",
        "rotation_id": st.rotation_id,
        "deadline": format_time(st.deadline) if st.phase is not Phase.IDLE else "",
        "grace_until": format_time(st.grace_until) if st.phase is Phase.PROMOTED else "",
        "current_fp": st.current_fp,
        "current_key_name": st.current_name,
        "previous_fp": st.previous_fp,
        "requested_key_name": st.key_name if st.phase is Phase.AWAITING_KEY else "",
        "steps": steps,
        "commands": [c for line in outcome.lines for c in _COMMAND.findall(line)],
        **outcome.data,
    }
    return replace(outcome, data=data)


def runbook_text(
    snap: Snapshot, now: datetime, policy: Policy, origin: Origin | None = None
) -> Outcome:
    """The instructions of the open rotation, from the runbook module's own text."""
    return structured(_runbook_text(snap, now, policy, origin), snap)


def _runbook_text(
    snap: Snapshot, now: datetime, policy: Policy, origin: Origin | None = None
) -> Outcome:
    st, cfg = snap.state, snap.config
    ctx = context(snap, now, policy, origin)
    rid = st.rotation_id or st.last_rotation_id
    if st.phase is Phase.IDLE:
        raise NotFound(
            f"No rotation of {cfg.name} is open (last closed {when(st.last_closed_at)}). "
            f"To rotate now anyway, create a key and run `{CLI} submit {cfg.name}`; for a leak, "
            f"`{CLI} emergency {cfg.name} --reason ...`."
        )
    head = f"Rotation {rid} of {cfg.name} ({st.mode.value if st.mode else 'scheduled'})"
    lines: list[str] = []
    if st.reason:
        lines.append(f"Reason: {st.reason}")
    if st.phase in (Phase.RETIRING, Phase.RETIRED):
        what = "retired" if st.phase is Phase.RETIRED else "being retired"
        head = f"{cfg.name} is {what} ({rid})"
        if st.phase is Phase.RETIRED:
            lines.append(f"Retired since {when(st.retired_at)}; only the last step is left.")
        lines += [f"{i}. {step}" for i, step in enumerate(runbook.steps(ctx), 1)]
        return Outcome(EXIT_OK, head, lines)
    if st.phase is Phase.AWAITING_KEY:
        lines.append(f"Deadline: {when(st.deadline)}.")
        if st.rejection:
            lines.append(
                runbook.rejection_text(
                    st.rejection, f"with fingerprint {st.rejection_fp}", detail=st.rejection_detail
                )
            )
        lines += [f"{i}. {step}" for i, step in enumerate(runbook.steps(ctx), 1)]
        return Outcome(EXIT_OK, head, lines)
    if st.follow_up_emergency:
        notice = "emergency_queued"
    elif st.grace_until is not None and now < st.grace_until:
        notice = "promoted"
    else:
        notice = "revoke_now"
    body = runbook.render(f"{notice}/{rid}", ctx).body
    lines += [line for line in body.split("\n")[1:] if not line.startswith("(notification ")]
    return Outcome(EXIT_OK, head, [line for line in lines if line.strip()])


def check_result(snap: Snapshot, now: datetime) -> Outcome:
    """What a reconcile left behind, in an operator's words (and, for --json, in fields)."""
    return structured(_check_result(snap, now), snap)


def _check_result(snap: Snapshot, now: datetime) -> Outcome:
    st, name = snap.state, snap.config.name
    page = runbook.DASHBOARD[snap.config.kind][0]
    if st.phase is Phase.IDLE:
        if not st.last_closed_at:
            return Outcome(EXIT_OK, f"{name}: no rotation is open; nothing to check.", [])
        closed = f"{st.last_rotation_id}, {when(st.last_closed_at)}"
        if st.previous_revoked and st.previous_fp:
            text = f"Customer.io refuses the old key (fingerprint {st.previous_fp}): it is dead."
            return Outcome(EXIT_OK, f"{name}: rotation closed ({closed}). {text}", [])
        return Outcome(EXIT_OK, f"{name}: no rotation is open (the last one closed: {closed}).", [])
    if st.phase is Phase.RETIRED:
        return Outcome(
            EXIT_OK,
            f"{name}: retired since {when(st.retired_at)}.",
            [
                f"Its live value is a tombstone: applications still reading {name} get "
                "CredentialRetired. Mark it `retired: true` in the stack config and run "
                "`pulumi up`; then remove its entry."
            ],
        )
    if st.phase is Phase.RETIRING:
        return Outcome(
            EXIT_WAITING,
            f"{name}: being retired; its key (fingerprint {st.current_fp}) is not confirmed "
            "deleted yet.",
            [
                f"Switch every consumer, delete the key in {page}, then run "
                f"`{CLI} check {name}` again (`{CLI} runbook {name}` shows the steps)."
            ],
        )
    if st.phase is Phase.AWAITING_KEY and st.live_outcome == "rejected":
        return Outcome(
            EXIT_WAITING,
            f"{name}: Customer.io refuses the current key (fingerprint {st.current_fp}): "
            "applications have no working key. On-call has been paged.",
            [f"Create a new key and submit it now: `{CLI} runbook {name}` shows the steps."],
        )
    if st.phase is Phase.AWAITING_KEY and st.previous_revoked and st.previous_fp:
        # Only a refused current key re-opens a rotation with its previous key recorded
        # as refused: the rotator rolled back to the key that still works.
        dead = f'"{st.previous_name}"' if st.previous_name else "the new key"
        alive = f'"{st.current_name}"' if st.current_name else "the previous key"
        return Outcome(
            EXIT_WAITING,
            f"{name}: Customer.io refuses {dead} (fingerprint {st.previous_fp}): it was "
            f"deleted. The rotator made {alive} (fingerprint {st.current_fp}) current again.",
            [
                f"Do NOT delete {alive}: it is the only key that works. On-call has been paged.",
                f"The rotation is open again (deadline {when(st.deadline)}): create a new key "
                f"and submit it; `{CLI} runbook {name}` shows the steps.",
            ],
        )
    if st.phase is Phase.AWAITING_KEY:
        return Outcome(
            EXIT_WAITING,
            f"{name}: the rotation waits for a new key (deadline {when(st.deadline)}).",
            [f"See what to do: `{CLI} runbook {name}`."],
        )
    if st.grace_until is not None and now < st.grace_until:
        return Outcome(
            EXIT_WAITING,
            f"{name}: the grace period runs until {when(st.grace_until)}.",
            [
                f"Keep the old key (fingerprint {st.previous_fp}) until then; the rotator "
                "checks it afterwards. Run this command again after deleting it."
            ],
        )
    return Outcome(
        EXIT_WAITING,
        f"{name}: Customer.io still accepts the old key (fingerprint {st.previous_fp}).",
        [
            f"Delete it in {page} (not the new key, fingerprint {st.current_fp}), then run "
            f"`{CLI} check {name}` again.",
        ],
    )


def emergency_queued(summary: dict[str, Any]) -> bool:
    """The emergency waits behind a rotation whose old key is still being retired."""
    return summary.get("phase") == Phase.PROMOTED.value


def emergency_result(summary: dict[str, Any], name: str) -> Outcome:
    if summary.get("outcome") == "refused":  # e.g. a key in --reason: nothing was done
        raise Rejected(f"Emergency refused: {summary.get('message', 'the rotator refused it.')}")
    mode = summary.get("mode", "")
    phase = summary.get("phase", "")
    lines = [f"Rotation {summary.get('rotation_id', '')}: phase {phase}, mode {mode}."]
    if summary.get("outcome") == cv.OUTCOME_ALREADY_OPEN:
        return _emergency_unchanged(summary, name, lines)
    data = {"outcome": "queued" if emergency_queued(summary) else "declared", **summary}
    if emergency_queued(summary):
        lines.append(
            f"The old key (fingerprint {summary.get('previous_fp', '')}) is still being retired: "
            "delete it now: the emergency rotation opens as soon as the rotator sees "
            f"Customer.io refuse it (by itself, or at once with `{CLI} check {name}`)."
        )
        return Outcome(
            EXIT_QUEUED, f"Emergency QUEUED for {name} (not open yet).", lines, dict(data)
        )
    lines.append(f"On-call has the runbook; `{CLI} runbook {name}` shows it again.")
    return Outcome(EXIT_OK, f"Emergency declared for {name}.", lines, dict(data))


def _emergency_unchanged(summary: dict[str, Any], name: str, lines: list[str]) -> Outcome:
    """A second emergency: the rotator changed nothing, and nothing was sent again."""
    phase = str(summary.get("phase", ""))
    if phase in (Phase.RETIRING.value, Phase.RETIRED.value):
        raise Rejected(
            f"Emergency refused: {name} is {phase}, and no rotation opens for it again. "
            f"`{CLI} status {name}` shows where its retirement stands."
        )
    queued = emergency_queued(summary)
    where = "queued behind the promotion" if queued else "open"
    lines.append(f"Nothing was sent again; its runbook: `{CLI} runbook {name}`.")
    return Outcome(
        EXIT_QUEUED if queued else EXIT_OK,
        f"{name} already has an emergency rotation {where}: nothing changed.",
        lines,
        {**summary, "outcome": cv.OUTCOME_ALREADY_OPEN},
    )


def emergency_line(summary: dict[str, Any], name: str) -> str:
    """One row of `emergency --all`: what the credential needs now."""
    rid = summary.get("rotation_id", "")
    if emergency_queued(summary):
        return (
            f"queued behind {rid}: delete old key {summary.get('previous_fp', '')} first, "
            f"then `{CLI} check {name}`"
        )
    return f"open {rid}: waiting for a new key"


def rollback_check(snap: Snapshot) -> None:
    """Refuse locally what the rotator would refuse (saves a call; the rotator checks again)."""
    # Imported here: the engine pulls in requests, which `--help` and `status` do not need.
    from rotation.engine import rollback_refusal

    refusal = rollback_refusal(
        snap.state, snap.config.kind, snap.config.name, snap.previous_version, CLI
    )
    if refusal:
        raise Rejected(f"Rollback refused: {refusal}")


def rollback_result(summary: dict[str, Any], name: str, before: RotationState) -> Outcome:
    if summary.get("outcome") != "rolled_back":
        raise Rejected(f"Rollback refused: {summary.get('message', 'the rotator refused it.')}")
    return Outcome(
        EXIT_OK,
        f"{name}: the previous key (fingerprint {summary.get('current_fp', '')}) is current again.",
        [
            f"The key with fingerprint {before.current_fp} is no longer used: delete it in the "
            "dashboard once nothing depends on it.",
            f"The rotation is open again: create a working key and run `{CLI} submit {name}` "
            f"(`{CLI} runbook {name}` shows the steps).",
        ],
        dict(summary),
    )


def probe_report(snap: Snapshot, candidate: Credential, verifier: Any = None) -> Any:
    """`probe`: judge a key as the rotator would, from the recorded state (an operator
    cannot read the live key: its fingerprint and workspace are enough). Writes nothing."""
    # Imported here: verify pulls in requests, which `--help` and `status` do not need.
    from rotation.operator.probe import probe_key
    from rotation.verify import Verifier

    st, cfg = snap.state, snap.config
    has_current = snap.current_version is not None
    expected = st.workspace or ("" if has_current else cfg.workspace)
    return probe_key(
        verifier or Verifier(),
        candidate.to_json(),
        cfg.kind,
        cfg.region,
        None,
        expected,
        current_fp=st.current_fp if has_current else "",
    )


def probe_outcome(report: Any, name: str) -> Outcome:
    from rotation.operator.probe import Decision

    code = {
        Decision.ACCEPT: EXIT_OK,
        Decision.INCONCLUSIVE: EXIT_WAITING,
    }.get(report.decision, EXIT_REJECTED)
    return Outcome(
        code,
        f"{name}: the rotator would {report.decision.value} this key.",
        report.lines(),
        {"credential": name, **report.to_json()},
    )


def retire_check(snap: Snapshot) -> None:
    """Refuse locally what the rotator would refuse (it checks again)."""
    st, name = snap.state, snap.config.name
    if st.phase is Phase.AWAITING_KEY:
        raise Rejected(
            f"Retirement refused: {name} has an open rotation ({st.rotation_id}) waiting for "
            f"a new key. Finish it (`{CLI} submit {name}`) first, then retire {name}."
        )
    if st.phase is Phase.PROMOTED:
        raise Rejected(
            f"Retirement refused: {name} is still retiring the previous key of rotation "
            f"{st.rotation_id}. Delete it; once the rotator has seen Customer.io refuse it "
            f"(by itself, or at once with `{CLI} check {name}`), retire {name}."
        )


def retire_result(summary: dict[str, Any], name: str) -> Outcome:
    phase = summary.get("phase", "")
    if summary.get("outcome") == "refused" or phase not in (
        Phase.RETIRING.value,
        Phase.RETIRED.value,
    ):
        raise Rejected(f"Retirement refused: {summary.get('message', 'the rotator refused it.')}")
    if phase == Phase.RETIRED.value:
        return Outcome(
            EXIT_OK,
            f"{name} is retired: Customer.io already refuses its key.",
            [
                f"Mark {name} `retired: true` in the stack config and run `pulumi up`; "
                "then remove its entry."
            ],
            dict(summary),
        )
    # The request succeeded (exit 0): what is left is the operators' part, in the lines.
    return Outcome(
        EXIT_OK,
        f"{name} is being retired (fingerprint {summary.get('current_fp', '')}).",
        [
            f"Switch every application that reads {name} to its replacement, then delete "
            "the key in the dashboard: the rotator sees Customer.io refuse it by itself and "
            f'says "retired" (`{CLI} check {name}` confirms it at once). '
            f"`{CLI} runbook {name}` shows the steps. The operators were told.",
        ],
        dict(summary),
    )


def emergency_event(reason: str, actor: str, revoke_first: bool) -> dict[str, Any]:
    return {"reason": reason, "actor": actor, "revoke_first": revoke_first}


# -- drain ------------------------------------------------------------------------------


def nothing_to_drain(snap: Snapshot) -> Outcome:
    """`drain` on a credential with no promotion in flight: said plainly, exit 0."""
    st, name = snap.state, snap.config.name
    why = {
        Phase.IDLE: "no rotation is open",
        Phase.AWAITING_KEY: "its rotation waits for a new key; the current key is still in use",
        Phase.RETIRING: "it is being retired, not rotated",
        Phase.RETIRED: "it is retired",
    }.get(st.phase, "no promotion is recorded")
    return Outcome(
        EXIT_OK,
        f"{name}: nothing to drain: {why}, so no old key is being replaced.",
        [f"`{CLI} drain {name}` measures who still uses the old key after a promotion."],
        {"credential": name, "in_flight": False, "phase": st.phase.value, "drained": None},
    )


def drain_outcome(snap: Snapshot, view: DrainView, reading_calls: int = 0) -> Outcome:
    """What `drain` says of the evidence read now: the holders, by name, or that nobody
    holds the old key, or what could not be read (then nothing is claimed)."""
    st, name = snap.state, snap.config.name
    old = f'"{st.previous_name}" ' if st.previous_name else ""
    lines = [
        f"Old key {old}(fingerprint {st.previous_fp}), replaced {when(st.promoted_at)} by "
        f"fingerprint {st.current_fp}."
    ]
    lines += [f"- {h.describe()}" for h in view.holders]
    reporting = f"{view.on_new} reporting process" + "es" * (view.on_new != 1)
    last = (
        f"the old key was last reported {when(view.quiet_since)}"
        if view.quiet_since
        else "no report of the old key was found"
    )
    lines.append(f"{reporting} on the new key; {last}.")
    unread = [problem for problem in view.problems if problem != NO_EVIDENCE]
    lines += [f"Could not read {problem}" for problem in unread]
    code = drain_view.exit_code(view)
    if view.holders:
        headline = f"{name}: the old key is still in use: {plural(len(view.holders), 'holder')}."
        if st.revoke_first or st.previous_revoked:
            # Revoke-first: the old key is already gone; its holders are failing now.
            lines.append(
                "The old key is already revoked, so these fail now. Restart or redeploy each "
                f"so it reads the new key, then run `{CLI} drain {name}` again."
            )
        else:
            lines.append(
                "Do not delete the old key yet: these would fail. Restart or redeploy each so "
                f"it reads the new key, then run `{CLI} drain {name}` again."
            )
    elif unread:
        headline = f"{name}: the drain is unknown: part of the evidence could not be read."
        lines.append(
            "Nothing is claimed from a partial reading: do not delete the old key on it. "
            "Grant what is named above, or wait for the rotator's delete notice."
        )
    elif view.problems:
        headline = f"{name}: the drain is unknown: there is no evidence either way."
        lines.append(
            f"Not confirmed: {NO_EVIDENCE}. Nothing is claimed from no evidence: do not "
            "delete the old key on it. Applications that use the consumer library report "
            "the key they use; without them the rotator's delete notice comes at the end "
            "of the grace period."
        )
    else:
        headline = f"{name}: the old key is drained: nothing seen still uses it."
        lines.append(
            "No reporting process used it within the quiet period, and every principal that "
            "read the secret before the promotion has read it since."
        )
    data = {
        "credential": name,
        "in_flight": True,
        "old_fingerprint": st.previous_fp,
        "new_fingerprint": st.current_fp,
        "promoted_at": format_time(st.promoted_at),
        "calls": reading_calls,
        **view.to_json(),
    }
    return Outcome(code, headline, lines, data)
