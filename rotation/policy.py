"""The rotation calendar: when a rotation opens, when people are reminded, when it escalates.

Pure functions of the state, the time and the policy, the same on both clouds,
so the daily sweep can apply them to every credential and a lost event costs at
most a day.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from rotation import conventions as cv
from rotation.state import Mode, Phase, RotationState

# The longest quiet period a stack may ask for (a day: past it the grace maximum decides).
DRAIN_QUIET_MAX_MINUTES = 24 * 60


@dataclass(frozen=True)
class Policy:
    """The calendar a stack sets (days and hours); the same on the rotator and the CLI."""

    rotation_days: int = 90
    lead_days: int = 14
    escalate_days: int = 3
    reminder_days: int = 3
    grace_hours: int = 24
    emergency_grace_minutes: int = 15
    emergency_deadline_hours: int = 4
    emergency_reminder_minutes: int = 60
    # Reminders about a still-working old key before on-call is paged.
    revoke_reminders_before_escalation: int = 2
    # How long the daily check of a live key may stay inconclusive before people are told.
    liveness_alert_hours: int = 24
    # The drain (rotation/drain.py): "delete the old key now" goes once no application has
    # reported the old key for this many minutes and no reader of the secret from before
    # the promotion is left; the grace period is then the maximum wait. 0: the timer only
    # (the notice comes at the grace period's end, as without the drain).
    drain_quiet_minutes: int = 15

    def __post_init__(self) -> None:
        if not 1 <= self.rotation_days <= 90:
            raise ValueError("rotation_days must be between 1 and 90 (the security baseline).")
        if not 0 <= self.lead_days < self.rotation_days:
            raise ValueError("lead_days must be at least 0 and less than rotation_days.")
        if not 0 <= self.escalate_days <= self.lead_days:
            raise ValueError("escalate_days must be between 0 and lead_days.")
        for name in (
            "reminder_days",
            "emergency_deadline_hours",
            "emergency_reminder_minutes",
            "liveness_alert_hours",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1.")
        if self.grace_hours < 0 or self.emergency_grace_minutes < 0:
            raise ValueError("grace periods cannot be negative.")
        if not 0 <= self.drain_quiet_minutes <= DRAIN_QUIET_MAX_MINUTES:
            raise ValueError(
                f"drain_quiet_minutes must be between 0 (timer only) and {DRAIN_QUIET_MAX_MINUTES}."
            )

    def to_env(self) -> dict[str, str]:
        """The function environment (and the stack output) that carries this policy."""
        return {var: str(getattr(self, attr)) for attr, var in ENV_NAMES.items()}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Policy:
        """The policy a function or a stack output carries; unset fields keep their defaults."""
        env = os.environ if env is None else env
        values: dict[str, int] = {}
        for attr, var in ENV_NAMES.items():
            raw = str(env.get(var) or "").strip()
            if not raw:
                continue
            if not raw.isdecimal() or len(raw) > 6:
                raise ValueError(f"{var} must be a whole number of at most 6 digits.")
            values[attr] = int(raw)
        return cls(**values)


# The one mapping between Policy fields and the environment variables that carry them.
ENV_NAMES: dict[str, str] = {
    "rotation_days": cv.ENV_ROTATION_DAYS,
    "lead_days": cv.ENV_LEAD_DAYS,
    "escalate_days": cv.ENV_ESCALATE_DAYS,
    "reminder_days": cv.ENV_REMINDER_DAYS,
    "grace_hours": cv.ENV_GRACE_HOURS,
    "emergency_grace_minutes": cv.ENV_EMERGENCY_GRACE_MINUTES,
    "emergency_deadline_hours": cv.ENV_EMERGENCY_DEADLINE_HOURS,
    "liveness_alert_hours": cv.ENV_LIVENESS_ALERT_HOURS,
    "drain_quiet_minutes": cv.ENV_DRAIN_QUIET_MINUTES,
}


class KeyFollowup(StrEnum):
    NONE = "none"
    REMIND = "reminder"
    ESCALATE = "escalated"
    OVERDUE = "overdue"


class RevokeFollowup(StrEnum):
    NONE = "none"
    TELL = "revoke_now"
    REMIND = "revoke_reminder"
    ESCALATE = "revoke_escalated"


def opens_at(current_since: datetime, policy: Policy) -> datetime:
    """When the next scheduled rotation opens: `lead_days` before the key turns
    `rotation_days` old (the moment the closing notice and `status` promise)."""
    return current_since + timedelta(days=policy.rotation_days - policy.lead_days)


def rotation_due(current_since: datetime | None, now: datetime, policy: Policy) -> bool:
    """Whether the scheduled rotation is due (a credential with no key: at once)."""
    if current_since is None:
        return True
    return now >= opens_at(current_since, policy)


def deadline_for(
    mode: Mode, now: datetime, current_since: datetime | None, policy: Policy
) -> datetime:
    if mode is Mode.EMERGENCY:
        return now + timedelta(hours=policy.emergency_deadline_hours)
    if mode is Mode.SCHEDULED and current_since is not None:
        return max(current_since + timedelta(days=policy.rotation_days), now)
    return now + timedelta(days=policy.lead_days)


def escalation_time(state: RotationState, policy: Policy) -> datetime | None:
    if state.deadline is None:
        return None
    if state.mode is Mode.EMERGENCY:
        # The emergency notice itself goes to on-call; escalate again at half the deadline.
        assert state.opened_at is not None
        return state.opened_at + (state.deadline - state.opened_at) / 2
    return state.deadline - timedelta(days=policy.escalate_days)


def reminder_interval(mode: Mode | None, policy: Policy) -> timedelta:
    if mode is Mode.EMERGENCY:
        return timedelta(minutes=policy.emergency_reminder_minutes)
    return timedelta(days=policy.reminder_days)


def key_followup(state: RotationState, now: datetime, policy: Policy) -> KeyFollowup:
    """What to tell people while a rotation waits for a key. At most one step per call."""
    if state.deadline is not None and now >= state.deadline and not state.overdue:
        return KeyFollowup.OVERDUE
    escalate_at = escalation_time(state, policy)
    if escalate_at is not None and now >= escalate_at and not state.escalated:
        return KeyFollowup.ESCALATE
    last = state.last_notice_at or state.opened_at
    if last is not None and now >= last + reminder_interval(state.mode, policy):
        return KeyFollowup.REMIND
    return KeyFollowup.NONE


def grace_until(
    mode: Mode | None, revoke_first: bool, promoted_at: datetime, policy: Policy
) -> datetime:
    """How long consumers get to pick up the new key before the old one must die."""
    if revoke_first:
        return promoted_at
    if mode is Mode.EMERGENCY:
        return promoted_at + timedelta(minutes=policy.emergency_grace_minutes)
    return promoted_at + timedelta(hours=policy.grace_hours)


def revoke_followup(state: RotationState, now: datetime, policy: Policy) -> RevokeFollowup:
    """What to tell people when the grace period is over and the old key still works."""
    if state.followups == 0:
        return RevokeFollowup.TELL
    last = state.last_notice_at or state.promoted_at
    assert last is not None
    if now < last + reminder_interval(state.mode, policy):
        return RevokeFollowup.NONE
    if state.followups > policy.revoke_reminders_before_escalation and not state.escalated:
        return RevokeFollowup.ESCALATE
    return RevokeFollowup.REMIND


def rotation_config_drift(
    period: timedelta | None,
    next_time: datetime | None,
    topics: int,
    now: datetime,
    policy: Policy,
) -> list[str]:
    """What differs between a GCP secret's native rotation config and the stack's calendar
    (the rotator may move `next_rotation_time` sooner, never the period, topics or a later
    time): each problem as a sentence naming the fix. Empty when nothing drifted."""
    expected = timedelta(days=policy.rotation_days)
    fix = "run `pulumi up` to restore it, and find out who changed it (Cloud Audit Logs)."
    problems: list[str] = []
    if period != expected:
        shown = f"{int(period.total_seconds())}s" if period else "unset"
        problems.append(
            f"its rotation period is {shown}, not the stack's {policy.rotation_days} days: {fix}"
        )
    if topics == 0:
        problems.append(f"it names no rotation topic, so SECRET_ROTATE reaches nobody: {fix}")
    if next_time is None or next_time > now + expected:
        problems.append(
            "its next rotation time is "
            + (next_time.isoformat() if next_time else "unset")
            + f", beyond the stack's {policy.rotation_days}-day calendar: {fix}"
        )
    return problems


# After the delete notice the old key is probed by the rotator itself: soon, then less
# often, never more than REVOKE_PROBE_MAX apart (so "rotation closed" follows a deletion
# within that), and only for REVOKE_PROBE_WINDOW; after it, at the reminder cadence.
REVOKE_PROBE_FIRST = timedelta(minutes=5)
REVOKE_PROBE_MAX = timedelta(minutes=15)
REVOKE_PROBE_WINDOW = timedelta(hours=24)


def revoke_probe_delay(probes: int) -> timedelta:
    """How long after probe number `probes` (1 = the first) the old key is probed again."""
    delay: timedelta = REVOKE_PROBE_FIRST * (2 ** min(max(probes - 1, 0), 8))
    return min(delay, REVOKE_PROBE_MAX)


# The drain's own checks (rotation/drain.py): the first when the quiet period after the
# promotion has passed, then every DRAIN_CHECK_EVERY while someone may hold the old key
# (so the notice follows a straggler's restart within the quiet period plus that), and
# every DRAIN_CHECK_BLIND while the evidence cannot be read or there is none (nothing
# to wait for but the grace maximum; checked now and then in case reports begin).
DRAIN_CHECK_EVERY = timedelta(minutes=5)
DRAIN_CHECK_BLIND = timedelta(hours=6)


def drains(policy: Policy, *, revoke_first: bool, signing_key: bool) -> bool:
    """Whether a promotion's delete notice waits for the drain: not with the timer only
    (drain_quiet_minutes 0), not when the old key was revoked first (nothing waits), not
    for a webhook signing key (Customer.io signs with the new one at once; receivers
    accept the old one until the grace period's end, whatever they report)."""
    return policy.drain_quiet_minutes > 0 and not revoke_first and not signing_key


def drain_applies(state: RotationState, policy: Policy) -> bool:
    """Whether the drain is still to be checked: a promotion that waits for it
    (`drain_waits`, see `drains`), until it drained or the delete notice went out."""
    return (
        state.drain_waits
        and policy.drain_quiet_minutes > 0
        and state.phase is Phase.PROMOTED
        and state.promoted_at is not None
        and state.grace_until is not None
        and state.drained_at is None
        and state.revoke_probed_at is None
        and state.followups == 0
    )


def drain_check_due(state: RotationState, policy: Policy) -> datetime | None:
    """When the drain is checked next (None: it is not), never after the grace maximum
    (the check at the maximum is the one that names the stragglers)."""
    if not drain_applies(state, policy):
        return None
    assert state.promoted_at is not None and state.grace_until is not None
    if state.drain_checked_at is not None and state.drain_checked_at >= state.grace_until:
        return None  # checked at the maximum: the delete notice names what it found
    if state.drain_checked_at is None:
        first = state.promoted_at + timedelta(minutes=policy.drain_quiet_minutes)
        return min(first, state.grace_until)
    blind = bool(state.drain_unconfirmed) and not state.drain_holders
    step = DRAIN_CHECK_BLIND if blind else DRAIN_CHECK_EVERY
    return min(state.drain_checked_at + step, state.grace_until)


def delete_due(state: RotationState) -> datetime | None:
    """When "delete the old key now" is owed: when the drain finished, else at the end of
    the grace period (its maximum)."""
    if state.grace_until is None:
        return None
    if state.drained_at is not None and state.drained_at < state.grace_until:
        return state.drained_at
    return state.grace_until


def next_due(state: RotationState, policy: Policy, probeable: bool = True) -> datetime | None:
    """The next moment a notice or a probe of this credential is owed, or None when only the
    calendar (the daily sweep and the clouds' native schedules) is: a pure function of the
    recorded state, so the wake-up armed for it changes only when this changes.

    Every moment a notice promises is here: the opening of the next scheduled rotation;
    reminders, escalation and the deadline while a
    key is awaited; the drain's checks, and the drain or the end of the grace period
    ("delete the old key now"); the probes of the old key after it, and the reminders
    about it; a retiring key's checks (`probeable`: whether Customer.io can be asked
    about the credential's key; a signing key cannot).
    """
    if state.phase is Phase.IDLE:
        # The next rotation opens at the moment the closing notice promised, not at the
        # first daily pass after it.
        return opens_at(state.current_since, policy) if state.current_since else None
    if state.phase is Phase.AWAITING_KEY:
        moments: list[datetime] = []
        if state.deadline is not None and not state.overdue:
            moments.append(state.deadline)
        escalate_at = escalation_time(state, policy)
        if escalate_at is not None and not state.escalated:
            moments.append(escalate_at)
        last = state.last_notice_at or state.opened_at
        if last is not None:
            moments.append(last + reminder_interval(state.mode, policy))
        return min(moments) if moments else None
    if state.phase is Phase.PROMOTED:
        due = delete_due(state)
        if due is None:
            return None
        if state.revoke_probed_at is None or state.revoke_probed_at < due:
            check = drain_check_due(state, policy)
            return due if check is None else min(due, check)
        last = state.last_notice_at or due
        reminder = last + reminder_interval(state.mode, policy)
        if state.revoke_probed_at - due >= REVOKE_PROBE_WINDOW:
            return reminder
        return min(state.revoke_probed_at + revoke_probe_delay(state.revoke_probes), reminder)
    if state.phase is Phase.RETIRING:
        last = state.last_notice_at or state.opened_at
        moments = [] if last is None else [last + timedelta(days=policy.reminder_days)]
        if state.grace_until is not None and (last is None or state.grace_until > last):
            moments.append(state.grace_until)
        if probeable and state.opened_at is not None:
            # The retiring key is probed by the rotator itself, as an old key is after the
            # delete notice: soon after the retire notice, then backing off, for a day.
            probed = state.revoke_probed_at
            if probed is None:
                moments.append(state.opened_at + REVOKE_PROBE_FIRST)
            elif probed - state.opened_at < REVOKE_PROBE_WINDOW:
                moments.append(probed + revoke_probe_delay(state.revoke_probes))
        return min(moments) if moments else None
    return None
