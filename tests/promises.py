"""Every moment a notice promises, kept by the clouds' own timers: the scenarios both clouds
run (tests/aws/test_wakeups_aws.py, tests/gcp/test_wakeups_gcp.py).

The test plays the people only (an operator submits a key, deletes the old one in the
dashboard; on-call declares an emergency) and moves simulated time on. Nothing here
sweeps or runs `check`: the rotator is woken only by what the stack's timers fire
(tests/local_timers.py), and the daily sweep is switched off once the rotation is open,
so every notice below came from a credential's own wake-up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from rotation.credentials import Credential
from rotation.state import Phase, RotationState

MAX_LAG = timedelta(minutes=5)
CLOSE_LAG = timedelta(minutes=20)


@dataclass
class Cloud:
    """What the scenarios need of a cloud: its harness, its timers, and the people's acts."""

    timers: Any  # AwsTimers | GcpTimers
    provision: Callable[[str], None]
    submit: Callable[[str, Credential], None]
    emergency: Callable[[str, str], None]
    state: Callable[[str], RotationState]
    cio: Any
    clock: Any

    def advance(self, delta: timedelta) -> None:
        self.timers.advance(delta)

    def sent(self, name: str) -> list[tuple[datetime, str]]:
        return [
            (s.at, s.notification.notice)
            for s in self.timers.notices.sent
            if s.notification.credential == name
        ]

    def when(self, name: str, notice: str) -> datetime:
        times = [at for at, n in self.sent(name) if n.split(".")[0] == notice]
        assert times, f"{notice} was never sent for {name}: {self.sent(name)}"
        return times[0]


def lag(cloud: Cloud, name: str, notice: str, promised: datetime) -> timedelta:
    """How late the notice came after the moment it was promised for (never early)."""
    at = cloud.when(name, notice)
    assert at >= promised, f"{notice} came early: {at} < {promised}"
    return at - promised


def bootstrap_and_open(cloud: Cloud, name: str) -> Credential:
    """A live key; its rotation opens at the daily sweep once it is 76 days old (the calendar)."""
    cloud.provision(name)
    first: Credential = cloud.cio.new_track_key("1001")
    cloud.submit(name, first)
    cloud.advance(timedelta(days=77))
    assert cloud.state(name).phase is Phase.AWAITING_KEY
    cloud.timers.daily = False  # from here on, only the credential's own timer
    return first


def scheduled_rotation(cloud: Cloud, name: str) -> dict[str, timedelta]:
    """Reminders, escalation, the scheduled delete-now and "rotation closed", each kept."""
    old = bootstrap_and_open(cloud, name)
    st = cloud.state(name)
    assert st.opened_at is not None and st.deadline is not None
    lags: dict[str, timedelta] = {}
    cloud.advance(timedelta(days=3, hours=1))
    lags["reminder"] = lag(cloud, name, "reminder", st.opened_at + timedelta(days=3))
    escalate_at = st.deadline - timedelta(days=3)
    cloud.advance(escalate_at - cloud.clock.now() + timedelta(hours=1))
    lags["escalated"] = lag(cloud, name, "escalated", escalate_at)

    new = cloud.cio.new_track_key("1001")
    cloud.submit(name, new)
    promoted = cloud.state(name)
    assert promoted.phase is Phase.PROMOTED and promoted.grace_until is not None
    cloud.advance(timedelta(hours=25))
    lags["revoke_now"] = lag(cloud, name, "revoke_now", promoted.grace_until)

    cloud.advance(timedelta(hours=2))
    deleted_at = cloud.clock.now()
    cloud.cio.delete_key(old)
    cloud.advance(timedelta(hours=1))
    lags["closed"] = lag(cloud, name, "closed", deleted_at)
    assert cloud.state(name).phase is Phase.IDLE
    return lags


def emergency_rotation(cloud: Cloud, name: str) -> dict[str, timedelta]:
    """On-call's emergency: reminders and the deadline while nobody acts, then the delete-now
    notice 15 minutes after the promotion and "rotation closed" after the deletion."""
    cloud.provision(name)
    old = cloud.cio.new_track_key("1001")
    cloud.submit(name, old)
    cloud.timers.daily = False
    cloud.advance(timedelta(hours=3))
    cloud.emergency(name, "key leaked in a CI log")
    st = cloud.state(name)
    assert st.phase is Phase.AWAITING_KEY and st.opened_at is not None
    lags: dict[str, timedelta] = {}
    assert st.deadline is not None
    cloud.advance(timedelta(hours=4, minutes=30))
    # The emergency notice goes to on-call itself; then hourly reminders, then overdue.
    lags["reminder"] = lag(cloud, name, "reminder", st.opened_at + timedelta(hours=1))
    lags["overdue"] = lag(cloud, name, "overdue", st.deadline)

    new = cloud.cio.new_track_key("1001")
    cloud.submit(name, new)
    promoted = cloud.state(name)
    assert promoted.promoted_at is not None
    cloud.advance(timedelta(minutes=30))
    lags["revoke_now"] = lag(
        cloud, name, "revoke_now", promoted.promoted_at + timedelta(minutes=15)
    )
    deleted_at = cloud.clock.now()
    cloud.cio.delete_key(old)
    cloud.advance(timedelta(hours=1))
    lags["closed"] = lag(cloud, name, "closed", deleted_at)
    assert cloud.state(name).phase is Phase.IDLE
    return lags


def assert_kept(lags: dict[str, timedelta]) -> None:
    for notice, late in lags.items():
        bound = CLOSE_LAG if notice == "closed" else MAX_LAG
        assert late <= bound, f"{notice} came {late} after its moment (bound {bound})"
