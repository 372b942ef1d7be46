from datetime import UTC, datetime, timedelta

import pytest

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
from rotation.state import Mode, Phase, RotationState

T0 = datetime(2026, 1, 1, tzinfo=UTC)
P = Policy()


def test_rotation_opens_lead_days_before_the_deadline():
    assert not rotation_due(T0, T0 + timedelta(days=75, hours=23), P)
    assert rotation_due(T0, T0 + timedelta(days=76), P)
    assert rotation_due(None, T0, P)  # never bootstrapped


def open_state(mode=Mode.SCHEDULED, opened=T0 + timedelta(days=76), since=T0):
    return RotationState(
        phase=Phase.AWAITING_KEY,
        mode=mode,
        opened_at=opened,
        last_notice_at=opened,
        deadline=deadline_for(mode, opened, since, P),
    )


def test_scheduled_calendar_reminds_escalates_and_goes_overdue():
    st = open_state()
    assert st.deadline == T0 + timedelta(days=90)
    assert key_followup(st, T0 + timedelta(days=78), P) is KeyFollowup.NONE
    assert key_followup(st, T0 + timedelta(days=79), P) is KeyFollowup.REMIND
    assert key_followup(st, T0 + timedelta(days=87), P) is KeyFollowup.ESCALATE
    escalated = RotationState(**{**st.__dict__, "escalated": True})
    assert key_followup(escalated, T0 + timedelta(days=90), P) is KeyFollowup.OVERDUE


def test_emergency_calendar_is_hours_not_days():
    st = open_state(Mode.EMERGENCY, opened=T0)
    assert st.deadline == T0 + timedelta(hours=4)
    escalated = RotationState(**{**st.__dict__, "escalated": True})
    assert key_followup(escalated, T0 + timedelta(minutes=59), P) is KeyFollowup.NONE
    assert key_followup(escalated, T0 + timedelta(minutes=60), P) is KeyFollowup.REMIND


def test_grace_periods():
    assert grace_until(Mode.SCHEDULED, False, T0, P) == T0 + timedelta(hours=24)
    assert grace_until(Mode.EMERGENCY, False, T0, P) == T0 + timedelta(minutes=15)
    assert grace_until(Mode.EMERGENCY, True, T0, P) == T0


def test_revocation_follow_ups():
    st = RotationState(phase=Phase.PROMOTED, mode=Mode.SCHEDULED, promoted_at=T0, last_notice_at=T0)
    assert revoke_followup(st, T0, P) is RevokeFollowup.TELL
    told = RotationState(**{**st.__dict__, "followups": 1})
    assert revoke_followup(told, T0 + timedelta(days=1), P) is RevokeFollowup.NONE
    assert revoke_followup(told, T0 + timedelta(days=3), P) is RevokeFollowup.REMIND
    many = RotationState(**{**st.__dict__, "followups": 3})
    assert revoke_followup(many, T0 + timedelta(days=3), P) is RevokeFollowup.ESCALATE


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rotation_days": 91}, "between 1 and 90"),
        ({"lead_days": 90}, "less than rotation_days"),
        ({"escalate_days": 20}, "between 0 and lead_days"),
        ({"reminder_days": 0}, "reminder_days must be at least 1"),
        ({"grace_hours": -1}, "cannot be negative"),
    ],
)
def test_policy_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Policy(**kwargs)


def test_policy_from_env():
    assert Policy.from_env({"CIO_ROTATION_DAYS": "60", "CIO_LEAD_DAYS": "10"}).rotation_days == 60
    with pytest.raises(ValueError, match="CIO_GRACE_HOURS must be a whole number"):
        Policy.from_env({"CIO_GRACE_HOURS": "a day"})


def test_rotation_config_drift_names_each_change() -> None:
    from datetime import UTC, datetime, timedelta

    from rotation.policy import Policy, rotation_config_drift

    now = datetime(2026, 3, 1, tzinfo=UTC)
    policy = Policy()
    period = timedelta(days=90)
    assert rotation_config_drift(period, now + timedelta(days=1), 1, now, policy) == []
    assert rotation_config_drift(period, now + period, 1, now, policy) == []
    [topics] = rotation_config_drift(period, now + period, 0, now, policy)
    assert "no rotation topic" in topics
    assert len(rotation_config_drift(None, None, 1, now, policy)) == 2
    [later] = rotation_config_drift(period, now + period + timedelta(days=1), 1, now, policy)
    assert "beyond the stack's 90-day calendar" in later


def test_next_due_names_every_promised_moment():
    from datetime import UTC, datetime, timedelta

    from rotation.policy import Policy, next_due, revoke_probe_delay
    from rotation.state import Mode, Phase, RotationState

    p = Policy()
    t = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert next_due(RotationState(), p) is None  # idle: the calendar's
    waiting = RotationState(
        phase=Phase.AWAITING_KEY,
        mode=Mode.SCHEDULED,
        opened_at=t,
        last_notice_at=t,
        deadline=t + timedelta(days=14),
    )
    assert next_due(waiting, p) == t + timedelta(days=3)  # the first reminder
    late = RotationState(**{**waiting.__dict__, "last_notice_at": t + timedelta(days=9)})
    assert next_due(late, p) == t + timedelta(days=11)  # escalation, 3 days before
    promoted = RotationState(phase=Phase.PROMOTED, mode=Mode.EMERGENCY, grace_until=t)
    assert next_due(promoted, p) == t  # "delete the old key now"
    probed = RotationState(
        **{**promoted.__dict__, "revoke_probes": 1, "revoke_probed_at": t, "last_notice_at": t}
    )
    assert next_due(probed, p) == t + timedelta(minutes=5)
    assert [revoke_probe_delay(n) for n in (1, 2, 3, 9)] == [
        timedelta(minutes=m) for m in (5, 10, 15, 15)
    ]
    assert next_due(RotationState(phase=Phase.RETIRED), p) is None


def test_a_retiring_key_is_probed_soon_then_backing_off_then_at_the_reminders():
    from dataclasses import replace
    from datetime import UTC, datetime, timedelta

    from rotation.policy import REVOKE_PROBE_WINDOW, Policy, next_due
    from rotation.state import Phase, RotationState

    p = Policy()
    t = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    retiring = RotationState(
        phase=Phase.RETIRING, opened_at=t, last_notice_at=t, grace_until=t + timedelta(hours=24)
    )
    assert next_due(retiring, p) == t + timedelta(minutes=5)  # soon after the retire notice
    once = replace(retiring, revoke_probes=1, revoke_probed_at=t + timedelta(minutes=5))
    assert next_due(once, p) == t + timedelta(minutes=10)
    often = replace(retiring, revoke_probes=7, revoke_probed_at=t + timedelta(hours=3))
    assert next_due(often, p) == t + timedelta(hours=3, minutes=15)  # never more than 15 apart
    done = replace(retiring, revoke_probes=99, revoke_probed_at=t + REVOKE_PROBE_WINDOW)
    assert next_due(done, p) == t + timedelta(hours=24)  # then the grace end and the reminders
    # A signing key cannot be probed: its one moment is the end of the grace period.
    assert next_due(retiring, p, probeable=False) == t + timedelta(hours=24)
