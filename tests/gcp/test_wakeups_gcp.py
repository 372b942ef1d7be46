"""GCP: every promised moment kept by the secret's own `next_rotation_time` (no sweep, no
`check` by the test: the local stack's `advance` fires what the program declared), and a
lost wake-up repaired by the next daily sweep."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rotation.state import Phase
from tests.promises import (
    Cloud,
    assert_kept,
    emergency_rotation,
    gcp_cloud,
    retirement,
    scheduled_rotation,
)

NAME = "marketing-track"


@pytest.fixture
def cloud(gcp, cio, clock) -> Cloud:
    return gcp_cloud(gcp, cio, clock)


def rotation_time(gcp):
    return gcp.client.get_secret(name=gcp.secrets[NAME]).rotation.next_rotation_time


def test_scheduled_rotation_keeps_every_promised_moment(cloud, gcp, clock):
    assert_kept(scheduled_rotation(cloud, NAME))
    # Closed: the secret's timer is the next opening, as the closing notice promises it.
    st = gcp.state(NAME)
    assert rotation_time(gcp) == st.current_since + timedelta(days=76)


def test_emergency_rotation_keeps_every_promised_moment(cloud):
    assert_kept(emergency_rotation(cloud, NAME))


def test_a_lost_wake_up_is_repaired_by_the_next_daily_sweep(cloud, gcp, cio, clock):
    cloud.provision(NAME)
    cloud.submit(NAME, cio.new_track_key("1001"))
    cloud.advance(timedelta(days=77))
    st = gcp.state(NAME)
    assert st.phase is Phase.AWAITING_KEY and st.wake_at is not None
    assert rotation_time(gcp) == st.wake_at
    # Someone moves the secret's timer far away by hand.
    gcp.client.update_secret(
        request={
            "secret": {
                "name": gcp.secrets[NAME],
                "rotation": {
                    "next_rotation_time": clock.now() + timedelta(days=60),
                    "rotation_period": timedelta(days=90),
                },
            },
            "update_mask": {"paths": ["rotation.next_rotation_time"]},
        }
    )
    cloud.advance(timedelta(days=1))  # the next daily sweep sets it back
    assert rotation_time(gcp) == gcp.state(NAME).wake_at
    cloud.pause_sweep()
    cloud.advance(timedelta(days=3))
    assert "reminder.1" in [n for _, n in cloud.sent(NAME)]


def test_a_retired_credentials_timer_never_loops(cloud, gcp, cio, clock):
    """Its calendar has passed: the timer moves a whole period on, as Google moves it."""
    cloud.provision(NAME)
    key = cio.new_track_key("1001")
    cloud.submit(NAME, key)
    gcp.action({"action": "retire", "secret_id": gcp.secrets[NAME], "reason": "replaced"})
    cio.delete_key(key)
    cloud.advance(timedelta(days=2))  # the daily sweep sees the key refused: retired
    assert gcp.state(NAME).phase is Phase.RETIRED
    deliveries = gcp.stack.gcp.invocations
    cloud.advance(timedelta(days=100))  # past the old calendar moment
    assert rotation_time(gcp) > clock.now() + timedelta(days=60)  # fired once, moved on
    # 100 daily sweeps (each: the sweep and its one unit) and the calendar firing once.
    assert gcp.stack.gcp.invocations - deliveries < 100 * 2 + 10


def test_retirement_follows_the_keys_deletion_with_no_command(cloud):
    assert_kept(retirement(cloud, NAME))
