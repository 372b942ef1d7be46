"""The rotation state machine: every transition as a pure function, and the table of them.

Each transition is a function of (state, facts, time, policy) that returns the new
state, or None for "nothing to do". Notices are queued in the same state (the
outbox), so the write that decides a step also records what people must be told.
`TABLE` is the machine a reader looks for: for each phase, the events it answers
and the transition that answers them; `tests/unit/test_transitions.py` drives
every row. The engine (engine.py) reads, applies one of these, and writes back
with compare-and-swap.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal, TypedDict

from rotation.credentials import Kind
from rotation.notices import Notice as N
from rotation.policy import (
    KeyFollowup,
    Policy,
    RevokeFollowup,
    deadline_for,
    delete_due,
    drain_applies,
    drains,
    grace_until,
    key_followup,
    revoke_followup,
)
from rotation.state import (
    Mode,
    Phase,
    RotationState,
    key_name_base,
    suggested_key_name,
    tag_safe,
)

RevocationOutcome = Literal["revoked", "alive", "unknown", "unprobeable"]
# The end of a credential's life: no rotation opens, no deadline fires, no liveness page.
ENDED = (Phase.RETIRING, Phase.RETIRED)


def without_refusal(st: RotationState) -> RotationState:
    """A new rotation, a promotion or a rollback starts with no refusal on record."""
    return replace(
        st,
        rejection="",
        rejection_fp="",
        rejection_detail="",
        inconclusive="",
        inconclusive_fp="",
        inconclusive_detail="",
    )


def new_rotation_id(credential_id: str, now: datetime, current_version: str) -> str:
    digest = hashlib.sha256(f"{credential_id}|{current_version}|{now}".encode()).hexdigest()
    return f"r{now:%y%m%d%H%M}-{digest[:4]}"


def _name_after(current_name: str, now: datetime) -> str:
    """The name for a key that replaces `current_name` (state.suggested_key_name)."""
    return suggested_key_name(
        key_name_base(current_name) or current_name or "key", now, current_name
    )


def emergency_changes(st: RotationState, revoke_first: bool) -> bool:
    """Whether declaring an emergency changes anything (`opened` decides with it; the GCP
    operator CLI, which sees no answer, tells "already open" with it): not for an ended
    credential, a rotation already open as an emergency at least as strong, or an
    emergency already queued behind a promotion."""
    if st.phase in ENDED:
        return False
    if st.phase is Phase.AWAITING_KEY:
        return not (st.mode is Mode.EMERGENCY and (st.revoke_first or not revoke_first))
    if st.phase is Phase.PROMOTED:
        return not st.follow_up_emergency
    return True


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
    name: str = "",
) -> RotationState | None:
    """Open a rotation, or upgrade the open one to an emergency. Never opens a second."""
    if st.phase in ENDED:
        return None  # a retiring or retired credential is never rotated again
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
            reason=reason,
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
            key_name=suggested_key_name(name, now, st.current_name) if name else st.key_name,
            submitted_by="",
        )
        return new.with_notice(N.OPENED) if notify else new
    if not emergency or not emergency_changes(st, revoke_first):
        return None
    if st.phase is Phase.AWAITING_KEY:
        deadline = deadline_for(Mode.EMERGENCY, now, None, policy)
        upgraded = replace(
            st,
            mode=Mode.EMERGENCY,
            revoke_first=st.revoke_first or revoke_first,
            reason=reason,
            actor=tag_safe(actor),
            deadline=min(st.deadline, deadline) if st.deadline else deadline,
            escalated=True,
            last_notice_at=now,  # reminders keep their numbering: each id stays unique
        )
        return upgraded.with_notice(N.UPGRADED_REVOKE if revoke_first else N.UPGRADED)
    # PROMOTED: the old key must die first; the emergency rotation opens when it has.
    queued = replace(
        st,
        follow_up_emergency=True,
        mode=Mode.EMERGENCY,
        reason=reason,
        actor=tag_safe(actor),
        grace_until=min(st.grace_until, now) if st.grace_until else now,
    )
    # This notice itself says "delete the old key now"; later reminders keep their numbering.
    return queued.with_notice(N.EMERGENCY_QUEUED)


def key_followed_up(st: RotationState, now: datetime, policy: Policy) -> RotationState | None:
    """While waiting for a key: remind, escalate to on-call, or mark overdue."""
    if st.phase is not Phase.AWAITING_KEY:
        return None
    step = key_followup(st, now, policy)
    if step is KeyFollowup.NONE:
        return None
    if step is KeyFollowup.OVERDUE:
        return replace(st, overdue=True, escalated=True, last_notice_at=now).with_notice(N.OVERDUE)
    if step is KeyFollowup.ESCALATE:
        return replace(st, escalated=True, last_notice_at=now).with_notice(N.ESCALATED)
    n = st.followups + 1
    return replace(st, followups=n, last_notice_at=now).with_notice(N.REMINDER, n)


def deadline_passed(
    st: RotationState, *, rotation_id: str, now: datetime, policy: Policy, has_current: bool
) -> RotationState | None:
    """The cloud's own schedule fired with no key: open if needed; overdue if it is time.

    AWS runs a scheduled rotation within a day-long window, so "due" here means
    the deadline is less than a day away; an early, hand-started rotation only opens.
    """
    if st.phase is Phase.PROMOTED or st.phase in ENDED or st.overdue:
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
    return replace(st, overdue=True, escalated=True, last_notice_at=now).with_notice(N.OVERDUE)


def rejected(st: RotationState, *, reason: str, fp: str, detail: str) -> RotationState | None:
    """A submission failed verification: record why, tell once, keep the rotation open.

    While the old key is still being retired (PROMOTED) a new submission is refused
    as "busy": recorded, so the submitter's CLI reads its verdict, but not announced
    (nothing changed for anyone else).
    """
    if st.phase not in (Phase.AWAITING_KEY, Phase.PROMOTED):
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
        inconclusive_fp="",
        inconclusive_detail="",
    )
    if st.phase is Phase.PROMOTED:
        return new
    return new.with_notice(N.REJECTED, f"{fp}.{n}")


def inconclusive(
    st: RotationState, *, reason: str, fp: str = "", detail: str = ""
) -> RotationState | None:
    """Customer.io could not answer: keep waiting. Only an IP allowlist needs a person."""
    if st.phase is not Phase.AWAITING_KEY:
        return None
    if st.inconclusive == reason and st.inconclusive_fp == fp:
        return None
    new = replace(st, inconclusive=reason, inconclusive_fp=fp, inconclusive_detail=detail)
    told = st.inconclusive == reason  # the same cause for another key: told already
    return new.with_notice(N.INCONCLUSIVE, reason) if reason == "forbidden" and not told else new


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
    key_name: str = "",
    last4: str = "",
    submitted_by: str = "",
) -> RotationState:
    """A verified key became current. With no old key (bootstrap) the rotation closes.

    The new key keeps the name its rotation gave it (or the one the operator recorded
    at submission), and the old key's name moves to `previous_name`, so the notice that
    asks for the old key's deletion names exactly the key the dashboard shows.
    """
    rid = st.rotation_id or rotation_id
    mode = st.mode or (Mode.SCHEDULED if old_version else Mode.BOOTSTRAP)
    shows_key = kind in (Kind.TRACK, Kind.WEBHOOK_SIGNING)
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
        key_name=key_name or st.key_name,
        current_name=key_name or st.key_name,
        current_last4=last4 if shows_key else "",
        previous_name=st.current_name if old_version else "",
        previous_last4=st.current_last4 if old_version else "",
        previous_since=st.current_since if old_version else None,
        current_opened_at=st.opened_at or now,
        previous_opened_at=st.current_opened_at if old_version else None,
        submitted_by=submitted_by or st.submitted_by,
        live_checked_at=now,
        live_outcome="accepted",
        live_unknown_since=None,
        live_unknown_told=False,
        staged_token="",  # nothing is staged once the key is current
        staged_fp="",
        staged_last4="",
        staged_workspace="",
        revoke_probes=0,
        revoke_probed_at=None,
        drain_waits=bool(old_version)
        and drains(policy, revoke_first=st.revoke_first, signing_key=kind is Kind.WEBHOOK_SIGNING),
        drain_checked_at=None,  # each promotion drains its own old key
        drain_on_new=0,
        drain_holders=(),
        drain_more=0,
        drain_unconfirmed="",
        drained_at=None,
    ).with_notice(N.PROMOTED)
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
        revoke_probes=0,
        revoke_probed_at=None,
    )
    return closed.with_notice(N.CLOSED) if st.previous_version else closed


def revocation_checked(
    st: RotationState, *, now: datetime, policy: Policy, outcome: RevocationOutcome
) -> RotationState | None:
    """Once the old key is drained, or the grace period is over: close when the old key is
    dead, otherwise chase it (the first time, "delete the old key now")."""
    due = delete_due(st)
    if st.phase is not Phase.PROMOTED or due is None or now < due:
        return None
    if outcome in ("revoked", "unprobeable"):
        return _closed(st, now, revoked=outcome == "revoked")
    # Every probe is recorded: the next one backs off from it (policy.next_due).
    probed = replace(st, revoke_probes=st.revoke_probes + 1, revoke_probed_at=now)
    if outcome == "unknown":
        return probed
    step = revoke_followup(st, now, policy)
    if step is RevokeFollowup.NONE:
        return probed
    n = st.followups + 1
    base = replace(probed, followups=n, last_notice_at=now)
    if step is RevokeFollowup.TELL:
        return base.with_notice(N.REVOKE_NOW)
    if step is RevokeFollowup.ESCALATE:
        return replace(base, escalated=True).with_notice(N.REVOKE_ESCALATED)
    return base.with_notice(N.REVOKE_REMINDER, n - 1)


# What a drain check could not confirm is machine-made text (never a secret): kept short.
UNCONFIRMED_MAX = 300


def drain_checked(
    st: RotationState,
    *,
    now: datetime,
    policy: Policy,
    on_new: int,
    holders: tuple[str, ...],
    more: int,
    unconfirmed: str,
) -> RotationState | None:
    """The drain was checked (rotation/drain.py): record what was seen. Nobody left on the
    old key, and nothing unconfirmed, means drained: "delete the old key now" is owed at
    once (policy.delete_due). Anything unconfirmed (an unreadable audit trail, no evidence
    at all) never counts as drained: the grace period's maximum decides, and its notice
    says what could not be confirmed."""
    if not drain_applies(st, policy):
        return None
    drained = not holders and not more and not unconfirmed
    return replace(
        st,
        drain_checked_at=now,
        drain_on_new=on_new,
        drain_holders=holders,
        drain_more=more,
        drain_unconfirmed=unconfirmed.strip()[:UNCONFIRMED_MAX],
        drained_at=now if drained else None,
    )


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
        N.EXTERNAL_CHANGE
    )


def rolled_back(
    st: RotationState, *, now: datetime, version: str, previous_version: str | None
) -> RotationState:
    """The previous key is current again: the rotation is open again, waiting for a new key."""
    return replace(
        without_refusal(st),
        phase=Phase.AWAITING_KEY,
        current_version=version,
        current_fp=st.previous_fp,
        current_since=st.previous_since,  # None for keys older than this record: the deadline holds
        previous_version=previous_version or "",
        previous_fp=st.current_fp,
        current_name=st.previous_name,
        current_last4=st.previous_last4,
        previous_name=st.current_name,
        previous_last4=st.current_last4,
        previous_since=st.current_since,
        current_opened_at=st.previous_opened_at,
        previous_opened_at=st.current_opened_at,
        promoted_at=None,
        grace_until=None,
        followups=0,
        last_notice_at=now,
        overdue=False,
        follow_up_emergency=False,
        previous_revoked=False,
    ).with_notice(N.ROLLED_BACK)


def liveness_checked(
    st: RotationState, *, now: datetime, policy: Policy, outcome: str, reason: str = ""
) -> RotationState | None:
    """The daily check of the current key, when Customer.io accepted it or could not answer.

    An accepted key changes the state only when it ends a run of failed checks (every
    check is in the audit trail anyway), so an idle credential costs no write. A run of
    inconclusive checks longer than `liveness_alert_hours` is told once, with its cause.
    """
    if outcome == "accepted":
        if st.live_outcome in ("", "accepted") and st.live_unknown_since is None:
            return None
        return replace(
            st,
            live_checked_at=now,
            live_outcome="accepted",
            live_unknown_since=None,
            live_unknown_told=False,
        )
    since = st.live_unknown_since or now
    new = replace(st, live_outcome=tag_safe(reason or "inconclusive"), live_unknown_since=since)
    if not st.live_unknown_told and now - since >= timedelta(hours=policy.liveness_alert_hours):
        return replace(new, live_unknown_told=True, last_notice_at=now).with_notice(
            N.LIVENESS_UNKNOWN
        )
    return None if new == st else new


def current_refused(
    st: RotationState,
    *,
    rotation_id: str,
    now: datetime,
    policy: Policy,
    restored_version: str | None,
    refused_version: str,
    previous_refused: bool,
) -> RotationState | None:
    """Customer.io refuses the current key: page on-call, and open (or re-open) a rotation.

    With `restored_version` the previous key, which passed verification when it was
    promoted and still works, is current again (the wrong key was deleted, or the live
    key was deleted behind the rotator's back): applications read a working key, and the
    refused one is recorded as revoked so nothing ever rolls back to it. Without it,
    nothing works: an emergency rotation that needs a new key now.
    """
    if st.phase is Phase.RETIRING or st.phase is Phase.RETIRED:
        return None
    if restored_version is None and st.live_outcome == "rejected":
        return None  # already told; the open emergency rotation waits for its key
    notice = (
        N.WRONG_KEY_DELETED
        if st.phase is Phase.PROMOTED and restored_version
        else (N.BOTH_KEYS_REFUSED if previous_refused else N.CURRENT_REFUSED)
    )
    base = without_refusal(st)
    if st.phase is not Phase.IDLE:
        opened_state = base
    else:
        opened_state = replace(
            base,
            rotation_id=rotation_id,
            opened_at=now,
            key_name=st.key_name or _name_after(st.current_name, now),
            reason="Customer.io refuses the current key",
            actor="rotator",
            submitted_by="",
        )
    if restored_version is not None:
        mode = opened_state.mode or Mode.EMERGENCY
        new = replace(
            opened_state,
            # The refused key's name is taken (and its key gone): the next key gets its own.
            key_name=_name_after(st.current_name, now)
            if st.phase is Phase.PROMOTED
            else opened_state.key_name,
            phase=Phase.AWAITING_KEY,
            mode=mode if st.phase is Phase.PROMOTED else Mode.EMERGENCY,
            current_version=restored_version,
            current_fp=st.previous_fp,
            current_name=st.previous_name,
            current_last4=st.previous_last4,
            current_since=st.previous_since,
            previous_version=refused_version,
            previous_fp=st.current_fp,
            previous_name=st.current_name,
            previous_last4=st.current_last4,
            previous_since=st.current_since,
            current_opened_at=st.previous_opened_at,
            previous_opened_at=st.current_opened_at,
            previous_revoked=True,  # Customer.io refuses it: it never comes back
            promoted_at=None,
            grace_until=None,
            deadline=deadline_for(Mode.EMERGENCY, now, None, policy)
            if st.phase is Phase.IDLE
            else (st.deadline or deadline_for(Mode.EMERGENCY, now, None, policy)),
            followups=0,
            escalated=True,
            overdue=False,
            follow_up_emergency=False,
            last_notice_at=now,
            live_checked_at=now,
            live_outcome="accepted",
            live_unknown_since=None,
            live_unknown_told=False,
        )
        return new.with_notice(notice)
    new = replace(
        opened_state,
        phase=Phase.AWAITING_KEY,
        mode=Mode.EMERGENCY,
        revoke_first=True,  # the live key is dead already: no grace for it
        promoted_at=None,
        grace_until=None,
        deadline=deadline_for(Mode.EMERGENCY, now, None, policy),
        followups=0,
        escalated=True,
        overdue=False,
        follow_up_emergency=False,
        previous_revoked=previous_refused or st.previous_revoked,
        last_notice_at=now,
        live_outcome="rejected",
    )
    return new.with_notice(notice)


def retire_opened(
    st: RotationState,
    *,
    rotation_id: str,
    now: datetime,
    policy: Policy,
    reason: str,
    actor: str,
) -> RotationState | None:
    """`retire`: the end of a credential's life begins. Only from IDLE: an open rotation
    is finished (or rolled back) first, so no half-promoted key is ever retired.

    `grace_until` is when a key no API can check (a webhook signing key) counts as gone.
    """
    if st.phase is not Phase.IDLE:
        return None
    return replace(
        without_refusal(st),
        phase=Phase.RETIRING,
        rotation_id=rotation_id,
        mode=None,
        revoke_first=False,
        reason=reason,
        actor=tag_safe(actor),
        opened_at=now,
        deadline=None,
        grace_until=now + timedelta(hours=policy.grace_hours),
        followups=0,
        last_notice_at=now,
        escalated=False,
        overdue=False,
        follow_up_emergency=False,
        submitted_by="",
        revoke_probes=0,
        revoke_probed_at=None,
    ).with_notice(N.RETIRE_OPENED)


RetireOutcome = Literal["revoked", "alive", "unknown", "unprobeable", "absent"]


def retire_checked(
    st: RotationState, *, now: datetime, policy: Policy, outcome: RetireOutcome
) -> RotationState | None:
    """While retiring, the current key was probed: Customer.io refuses it (or there is no
    key, or none can be checked and the grace period is over) -> RETIRED; still accepted
    -> a reminder at the policy's reminder cadence; no answer -> wait."""
    if st.phase is not Phase.RETIRING:
        return None
    if outcome == "unprobeable" and st.grace_until is not None and now < st.grace_until:
        return None
    if outcome in ("revoked", "absent", "unprobeable"):
        retired = replace(
            st,
            phase=Phase.RETIRED,
            retired_at=now,
            rotation_id="",
            last_rotation_id=st.rotation_id,
            last_closed_at=now,
            followups=0,
            escalated=False,
            grace_until=None,
            live_outcome="rejected" if outcome == "revoked" else st.live_outcome,
            revoke_probes=0,
            revoke_probed_at=None,
        )
        return retired.with_notice(N.RETIRED)
    # Every probe is recorded: the next one backs off from it (policy.next_due).
    probed = replace(st, revoke_probes=st.revoke_probes + 1, revoke_probed_at=now)
    if outcome != "alive":
        return probed
    last = st.last_notice_at or st.opened_at or now
    if now < last + timedelta(days=policy.reminder_days):
        return probed
    n = st.followups + 1
    return replace(probed, followups=n, last_notice_at=now).with_notice(N.RETIRE_REMINDER, n)


class Event(StrEnum):
    """What can happen to a credential: the columns of the table."""

    OPEN = "open"  # the calendar, an operator's submission, or on-call's emergency
    FOLLOW_UP = "follow_up"  # the calendar while waiting for a key: remind, escalate, overdue
    DEADLINE = "deadline"  # AWS's native schedule fired with nothing submitted
    REJECTED = "rejected"  # a submission failed verification
    INCONCLUSIVE = "inconclusive"  # Customer.io could not answer
    PROMOTED = "promoted"  # a verified key became current
    REVOCATION_CHECKED = "revocation_checked"  # the old key was probed after the grace period
    DRAIN_CHECKED = "drain_checked"  # who may still use the old key was read (the drain)
    ADOPTED = "adopted"  # the store's current version is not the recorded one
    ROLLED_BACK = "rolled_back"  # the previous key is current again
    LIVENESS_CHECKED = "liveness_checked"  # the daily probe of the current key
    CURRENT_REFUSED = "current_refused"  # Customer.io refuses the current key
    RETIRE = "retire"  # an operator starts the end of the credential's life
    RETIRE_CHECKED = "retire_checked"  # the retiring key was probed (reconciler, check)


class Moment(TypedDict):
    """What the reconciler knows at every step, whichever the event."""

    now: datetime  # the clock, read once per decision
    policy: Policy  # the stack's rotation policy
    rotation_id: str  # the id a rotation opened now would get (deterministic: races agree)
    has_current: bool  # whether the store holds a current key
    name: str  # what the credential's suggested key names start with (state.key_name_stem)
    kind: Kind  # the credential's kind
    current_since: datetime | None  # when the current key became current (record, else store)


# (phase, event) -> transition. A pair that is not here is not a step the machine takes.
TABLE: dict[tuple[Phase, Event], Any] = {
    (Phase.IDLE, Event.OPEN): opened,
    (Phase.IDLE, Event.DEADLINE): deadline_passed,
    (Phase.IDLE, Event.PROMOTED): promoted,  # bootstrap, or a submission at any time
    (Phase.IDLE, Event.ADOPTED): adopted,
    (Phase.AWAITING_KEY, Event.OPEN): opened,  # an emergency upgrades; never a second one
    (Phase.AWAITING_KEY, Event.FOLLOW_UP): key_followed_up,
    (Phase.AWAITING_KEY, Event.DEADLINE): deadline_passed,
    (Phase.AWAITING_KEY, Event.REJECTED): rejected,
    (Phase.AWAITING_KEY, Event.INCONCLUSIVE): inconclusive,
    (Phase.AWAITING_KEY, Event.PROMOTED): promoted,
    (Phase.AWAITING_KEY, Event.ADOPTED): adopted,  # a crash after promoting: finish it
    (Phase.PROMOTED, Event.OPEN): opened,  # an emergency is queued behind the old key
    (Phase.PROMOTED, Event.REJECTED): rejected,  # "busy": the old key must die first
    (Phase.PROMOTED, Event.REVOCATION_CHECKED): revocation_checked,
    (Phase.PROMOTED, Event.DRAIN_CHECKED): drain_checked,  # the old key's users, measured
    (Phase.PROMOTED, Event.ADOPTED): adopted,
    (Phase.PROMOTED, Event.ROLLED_BACK): rolled_back,
    (Phase.IDLE, Event.LIVENESS_CHECKED): liveness_checked,
    (Phase.AWAITING_KEY, Event.LIVENESS_CHECKED): liveness_checked,
    (Phase.PROMOTED, Event.LIVENESS_CHECKED): liveness_checked,
    (Phase.IDLE, Event.CURRENT_REFUSED): current_refused,  # deleted behind our back
    (Phase.AWAITING_KEY, Event.CURRENT_REFUSED): current_refused,
    (Phase.PROMOTED, Event.CURRENT_REFUSED): current_refused,  # the new key was deleted
    # End of life: only an idle credential may start it (the engine refuses an open
    # rotation with the reason); a retiring one ends when Customer.io refuses its key.
    (Phase.IDLE, Event.RETIRE): retire_opened,
    (Phase.RETIRING, Event.RETIRE_CHECKED): retire_checked,
}


def step(
    state: RotationState,
    event: Event,
    moment: Moment | None = None,
    **facts: Any,
) -> RotationState | None:
    """Apply the table: the transition for (phase, event), or None if there is none.

    `moment` is what any step may know; a transition is handed the parts
    its signature names, so each one declares exactly what it depends on.
    """
    transition = TABLE.get((state.phase, event))
    if transition is None:
        return None
    if moment:
        code = transition.__code__
        takes = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
        facts = {**{k: v for k, v in moment.items() if k in takes}, **facts}
    new: RotationState | None = transition(state, **facts)
    return new
