"""AWS's native 90-day schedule vs promotions Secrets Manager did not start.

Secrets Manager's schedule counts from `LastRotatedDate`, "the most recent date and time
that the Secrets Manager rotation process was successfully completed"; a promotion the
rotator finishes itself (here: an emergency key handed over while Customer.io was down,
whose unfinished rotation the rotator resumes) does not move it, so the native tick comes
early. The tick opens nothing; the calendar, counting from the promotion, opens the next
rotation when it is due. Everything fires from the local stack (`advance`): the daily
sweep, the wake-ups, Secrets Manager's schedule.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from rotation import conventions as cv
from rotation.state import Phase

NAME = "marketing-track"


def last_rotated(aws):
    return aws.sm.describe_secret(SecretId=aws.secrets[NAME]).get("LastRotatedDate")


def test_an_early_native_tick_opens_nothing_and_the_calendar_counts_from_the_promotion(
    aws, cio, clock, caplog
):
    caplog.set_level(logging.INFO, logger="cio.audit")
    aws.provision(NAME, "track", "us", workspace="1001")
    first = cio.new_track_key("1001")
    aws.submit(NAME, first)  # a rotation Secrets Manager started: its schedule counts from here
    bootstrapped = last_rotated(aws)
    assert bootstrapped is not None

    aws.advance(timedelta(days=60))
    aws.invoke({"action": cv.ACTION_EMERGENCY, "secret_id": aws.secrets[NAME], "reason": "leak"})
    new = cio.new_track_key("1001")
    cio.fail_next(503, times=4)  # Customer.io down during the hand-over: that rotation fails
    aws.submit(NAME, new)
    assert aws.runtime.rotation_events[-1].outcome.startswith("failed at createSecret")
    aws.submit(NAME, new)  # again: AWS refuses a new rotation, the rotator resumes the token
    promoted = aws.state(NAME)
    assert promoted.phase is Phase.PROMOTED and promoted.promoted_at is not None
    assert last_rotated(aws) == bootstrapped  # a promotion Secrets Manager did not finish
    cio.delete_key(first)
    aws.advance(timedelta(hours=1))
    assert aws.state(NAME).phase is Phase.IDLE

    # Day 90 of Secrets Manager's count, 30 days after the promotion: its tick opens nothing.
    ticks = len(aws.runtime.rotation_events)
    aws.advance(bootstrapped + timedelta(days=91) - clock.now())
    assert [e.outcome for e in aws.runtime.rotation_events[ticks:]] == [
        "failed at createSecret: NativeRotationEarly"
    ]
    snap = aws.rt.store.snapshot(aws.secrets[NAME])
    assert snap.state.phase is Phase.IDLE and snap.pending_version is None  # nothing left over
    assert snap.current_version == promoted.current_version
    early = [r for r in caplog.records if "rotation.native_early" in r.getMessage()]
    assert len(early) == 1 and "acknowledged" in early[0].getMessage()

    # The calendar counts from the promotion: the rotation opens 76 days after it (the
    # daily sweep, within a day), with its deadline 90 days after it.
    opens = promoted.promoted_at + timedelta(days=76)
    aws.advance(opens - timedelta(hours=1) - clock.now())
    assert aws.state(NAME).phase is Phase.IDLE
    aws.advance(timedelta(days=1, hours=1))
    st = aws.state(NAME)
    assert st.phase is Phase.AWAITING_KEY and st.opened_at is not None
    assert opens <= st.opened_at <= opens + timedelta(days=1)
    assert st.deadline == promoted.promoted_at + timedelta(days=90)
