"""AWS: every promised moment kept by the credential's own one-time schedule (no sweep,
no `check` by the test: the local stack's `advance` fires what the program declared),
and a lost wake-up repaired by the next daily sweep."""

from __future__ import annotations

from datetime import timedelta

import boto3
import pytest

from localcloud.aws_harness import REGION
from rotation.state import Phase
from tests.promises import (
    WAKEUPS,
    Cloud,
    assert_kept,
    aws_cloud,
    emergency_rotation,
    retirement,
    scheduled_rotation,
)

NAME = "marketing-track"


@pytest.fixture
def cloud(aws, cio, clock) -> Cloud:
    return aws_cloud(aws, cio, clock)


def wakeups() -> list[str]:
    scheduler = boto3.client("scheduler", region_name=REGION)
    return [s["Name"] for s in scheduler.list_schedules(GroupName=WAKEUPS)["Schedules"]]


def test_scheduled_rotation_keeps_every_promised_moment(cloud):
    assert_kept(scheduled_rotation(cloud, NAME))


def test_emergency_rotation_keeps_every_promised_moment(cloud, aws):
    assert_kept(emergency_rotation(cloud, NAME))
    fired = [f for f in aws.stack.fired if f.what.startswith(f"schedule {WAKEUPS}/")]
    assert len(fired) >= 4  # each a one-time schedule of the program's wake-up group
    # Closed: each fired one deleted itself; the one left is the next opening's, at the
    # moment the closing notice promises.
    assert len(wakeups()) == 1


def test_a_lost_wake_up_is_repaired_by_the_next_daily_sweep(cloud, aws, cio):
    cloud.provision(NAME)
    cloud.submit(NAME, cio.new_track_key("1001"))
    cloud.advance(timedelta(days=77))
    st = aws.state(NAME)
    assert st.phase is Phase.AWAITING_KEY and st.wake_at is not None
    (name,) = wakeups()
    boto3.client("scheduler", region_name=REGION).delete_schedule(GroupName=WAKEUPS, Name=name)
    cloud.advance(timedelta(days=1))  # the next daily sweep arms it again
    assert wakeups() == [name]
    cloud.pause_sweep()
    cloud.advance(timedelta(days=3))
    assert "reminder.1" in [n for _, n in cloud.sent(NAME)]


def test_retirement_follows_the_keys_deletion_with_no_command(cloud):
    assert_kept(retirement(cloud, NAME))
