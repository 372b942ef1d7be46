"""AWS: every promised moment kept by the credential's own one-time schedule (no sweep,
no `check` by the test), and a lost wake-up repaired by the next daily sweep."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rotation import conventions as cv
from rotation.state import Phase
from tests.local_timers import AwsTimers
from tests.promises import Cloud, assert_kept, emergency_rotation, scheduled_rotation

NAME = "marketing-track"


@pytest.fixture
def cloud(aws, cio, clock):
    timers = AwsTimers(aws)

    def provision(name: str) -> None:
        aws.provision(name, "track", "us", workspace="1001")

    def emergency(name: str, reason: str) -> None:
        aws.invoke(
            {"action": cv.ACTION_EMERGENCY, "secret_id": aws.secrets[name], "reason": reason}
        )

    return Cloud(
        timers=timers,
        provision=provision,
        submit=lambda name, cred: aws.submit(name, cred),
        emergency=emergency,
        state=aws.state,
        cio=cio,
        clock=clock,
    )


def test_scheduled_rotation_keeps_every_promised_moment(cloud):
    assert_kept(scheduled_rotation(cloud, NAME))


def test_emergency_rotation_keeps_every_promised_moment(cloud):
    assert_kept(emergency_rotation(cloud, NAME))


def test_one_schedule_per_credential_deleted_after_it_fires(cloud, aws):
    emergency_rotation(cloud, NAME)
    assert cloud.timers.fired >= 4
    assert cloud.timers.schedules() == {}  # closed: nothing owed, no schedule left


def test_a_lost_wake_up_is_repaired_by_the_next_daily_sweep(cloud, aws, cio):
    cloud.provision(NAME)
    cloud.submit(NAME, cio.new_track_key("1001"))
    cloud.advance(timedelta(days=77))
    st = aws.state(NAME)
    assert st.phase is Phase.AWAITING_KEY and st.wake_at is not None
    (name,) = cloud.timers.schedules()
    cloud.timers.scheduler.delete_schedule(GroupName=cloud.timers.group, Name=name)
    cloud.advance(timedelta(days=1))  # the next daily sweep arms it again
    assert name in cloud.timers.schedules()
    cloud.timers.daily = False
    cloud.advance(timedelta(days=3))
    assert "reminder.1" in [n for _, n in cloud.sent(NAME)]
