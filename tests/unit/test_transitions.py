"""Every row of the state machine's table, driven through `transitions.step`."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rotation.credentials import Kind
from rotation.notices import Notice, parse
from rotation.policy import Policy
from rotation.state import Mode, Phase, RotationState
from rotation.transitions import TABLE, Event, step

NOW = datetime(2026, 6, 1, 9, tzinfo=UTC)
POLICY = Policy()

IDLE = RotationState(
    current_version="v1",
    current_fp="aaaa1111",
    current_since=NOW - timedelta(days=76),
    current_name="billing-20260317",
    current_last4="a111",
    workspace="1001",
    last_rotation_id="r-old",
)
AWAITING = replace(
    IDLE,
    phase=Phase.AWAITING_KEY,
    rotation_id="r1",
    mode=Mode.SCHEDULED,
    opened_at=NOW - timedelta(days=4),
    deadline=NOW + timedelta(days=10),
    last_notice_at=NOW - timedelta(days=4),
    key_name="billing-20260528",
)
PROMOTED = replace(
    AWAITING,
    phase=Phase.PROMOTED,
    current_version="v2",
    current_fp="bbbb2222",
    current_name="billing-20260528",
    current_since=NOW - timedelta(days=2),
    previous_version="v1",
    previous_fp="aaaa1111",
    previous_name="billing-20260317",
    previous_since=NOW - timedelta(days=78),
    promoted_at=NOW - timedelta(days=2),
    grace_until=NOW - timedelta(days=1),
    last_notice_at=NOW - timedelta(days=2),
)

RETIRING = replace(
    IDLE,
    phase=Phase.RETIRING,
    rotation_id="r1",
    opened_at=NOW - timedelta(days=4),
    last_notice_at=NOW - timedelta(days=4),
    grace_until=NOW - timedelta(days=3),
)

OPEN: dict[str, Any] = dict(
    rotation_id="r2",
    now=NOW,
    policy=POLICY,
    mode=Mode.SCHEDULED,
    reason="calendar",
    actor="calendar",
    revoke_first=False,
    has_current=True,
    current_since=IDLE.current_since,
    name="billing",
)
PROMOTE: dict[str, Any] = dict(
    rotation_id="r2",
    now=NOW,
    policy=POLICY,
    new_version="v2",
    new_fp="bbbb2222",
    workspace="1001",
    old_version="v1",
    old_fp="aaaa1111",
    kind=Kind.TRACK,
    last4="b222",
    submitted_by="alice",
)
ADOPT: dict[str, Any] = dict(
    rotation_id="r2",
    now=NOW,
    policy=POLICY,
    version="v9",
    fp="cccc3333",
    workspace="1001",
    since=NOW,
    kind=Kind.TRACK,
)
REFUSED: dict[str, Any] = dict(
    rotation_id="r2",
    now=NOW,
    policy=POLICY,
    restored_version=None,
    refused_version="v1",
    previous_refused=False,
)

# (row, state, event, facts, phase after, notice queued or None)
ROWS: list[tuple[str, RotationState, Event, dict[str, Any], Phase, Notice | None]] = [
    ("calendar opens", IDLE, Event.OPEN, OPEN, Phase.AWAITING_KEY, Notice.OPENED),
    (
        "first key: bootstrap",
        RotationState(),
        Event.OPEN,
        {**OPEN, "has_current": False, "current_since": None},
        Phase.AWAITING_KEY,
        Notice.OPENED,
    ),
    (
        "native deadline on an idle credential opens it",
        IDLE,
        Event.DEADLINE,
        dict(rotation_id="r2", now=NOW, policy=POLICY, has_current=True),
        Phase.AWAITING_KEY,
        Notice.OPENED,
    ),
    (
        "bootstrap promotion closes at once",
        RotationState(),
        Event.PROMOTED,
        {**PROMOTE, "old_version": None, "old_fp": ""},
        Phase.IDLE,
        Notice.PROMOTED,
    ),
    ("idle, first sight of a version", RotationState(), Event.ADOPTED, ADOPT, Phase.IDLE, None),
    (
        "emergency upgrades the open rotation",
        AWAITING,
        Event.OPEN,
        {**OPEN, "mode": Mode.EMERGENCY, "reason": "leak", "actor": "on-call"},
        Phase.AWAITING_KEY,
        Notice.UPGRADED,
    ),
    (
        "reminder while waiting",
        AWAITING,
        Event.FOLLOW_UP,
        dict(now=NOW, policy=POLICY),
        Phase.AWAITING_KEY,
        Notice.REMINDER,
    ),
    (
        "native deadline near the hard deadline: overdue",
        replace(AWAITING, deadline=NOW + timedelta(hours=2)),
        Event.DEADLINE,
        dict(rotation_id="r2", now=NOW, policy=POLICY, has_current=True),
        Phase.AWAITING_KEY,
        Notice.OVERDUE,
    ),
    (
        "a refused submission is told",
        AWAITING,
        Event.REJECTED,
        dict(reason="wrong_workspace", fp="dddd4444", detail="2002 instead of 1001"),
        Phase.AWAITING_KEY,
        Notice.REJECTED,
    ),
    (
        "a submission while the old key retires is refused quietly (the CLI tells)",
        PROMOTED,
        Event.REJECTED,
        dict(reason="busy", fp="dddd4444", detail=""),
        Phase.PROMOTED,
        None,
    ),
    (
        "a 403 needs a person",
        AWAITING,
        Event.INCONCLUSIVE,
        dict(reason="forbidden"),
        Phase.AWAITING_KEY,
        Notice.INCONCLUSIVE,
    ),
    (
        "an outage is waited out quietly",
        AWAITING,
        Event.INCONCLUSIVE,
        dict(reason="unavailable"),
        Phase.AWAITING_KEY,
        None,
    ),
    ("verified key promoted", AWAITING, Event.PROMOTED, PROMOTE, Phase.PROMOTED, Notice.PROMOTED),
    (
        "a crash after promoting is finished",
        AWAITING,
        Event.ADOPTED,
        ADOPT,
        Phase.PROMOTED,
        Notice.PROMOTED,
    ),
    (
        "an emergency waits for the old key to die",
        PROMOTED,
        Event.OPEN,
        {**OPEN, "mode": Mode.EMERGENCY, "reason": "leak"},
        Phase.PROMOTED,
        Notice.EMERGENCY_QUEUED,
    ),
    (
        "old key refused: closed",
        PROMOTED,
        Event.REVOCATION_CHECKED,
        dict(now=NOW, policy=POLICY, outcome="revoked"),
        Phase.IDLE,
        Notice.CLOSED,
    ),
    (
        "old key alive after the grace period: delete it now",
        PROMOTED,
        Event.REVOCATION_CHECKED,
        dict(now=NOW, policy=POLICY, outcome="alive"),
        Phase.PROMOTED,
        Notice.REVOKE_NOW,
    ),
    (
        "the drain checked: who may still hold the old key is recorded, nothing told yet",
        replace(
            PROMOTED,
            drain_waits=True,
            promoted_at=NOW - timedelta(minutes=20),
            grace_until=NOW + timedelta(hours=23),
        ),
        Event.DRAIN_CHECKED,
        dict(
            now=NOW,
            policy=POLICY,
            on_new=2,
            holders=("cron/c:7|2026-06-01T08:59:00Z|key",),
            more=0,
            unconfirmed="",
        ),
        Phase.PROMOTED,
        None,
    ),
    (
        "a version nobody promoted",
        PROMOTED,
        Event.ADOPTED,
        ADOPT,
        Phase.PROMOTED,
        Notice.EXTERNAL_CHANGE,
    ),
    (
        "rolled back to the previous key",
        PROMOTED,
        Event.ROLLED_BACK,
        dict(now=NOW, version="v3", previous_version="v2"),
        Phase.AWAITING_KEY,
        Notice.ROLLED_BACK,
    ),
    (
        "a live key still accepted: nothing to write",
        replace(IDLE, live_outcome="unavailable:503", live_unknown_since=NOW - timedelta(hours=3)),
        Event.LIVENESS_CHECKED,
        dict(now=NOW, policy=POLICY, outcome="accepted"),
        Phase.IDLE,
        None,
    ),
    (
        "a live key unchecked for a day is told once",
        replace(AWAITING, live_unknown_since=NOW - timedelta(hours=25), live_outcome="forbidden"),
        Event.LIVENESS_CHECKED,
        dict(now=NOW, policy=POLICY, outcome="inconclusive", reason="forbidden"),
        Phase.AWAITING_KEY,
        Notice.LIVENESS_UNKNOWN,
    ),
    (
        "the first inconclusive check of the new key during its grace",
        PROMOTED,
        Event.LIVENESS_CHECKED,
        dict(now=NOW, policy=POLICY, outcome="inconclusive", reason="unavailable:503"),
        Phase.PROMOTED,
        None,
    ),
    (
        "a live key deleted behind the rotator's back, nothing to roll back to",
        replace(IDLE, previous_version="v0", previous_fp="00000000", previous_revoked=True),
        Event.CURRENT_REFUSED,
        {**REFUSED, "previous_refused": True},
        Phase.AWAITING_KEY,
        Notice.BOTH_KEYS_REFUSED,
    ),
    (
        "the live key refused while a rotation waits for its key",
        AWAITING,
        Event.CURRENT_REFUSED,
        REFUSED,
        Phase.AWAITING_KEY,
        Notice.CURRENT_REFUSED,
    ),
    (
        "the new key deleted instead of the old one: rolled back",
        PROMOTED,
        Event.CURRENT_REFUSED,
        {**REFUSED, "restored_version": "v3", "refused_version": "v2"},
        Phase.AWAITING_KEY,
        Notice.WRONG_KEY_DELETED,
    ),
    (
        "retire starts the end of life",
        IDLE,
        Event.RETIRE,
        dict(rotation_id="r2", now=NOW, policy=POLICY, reason="moved to sk_", actor="alice"),
        Phase.RETIRING,
        Notice.RETIRE_OPENED,
    ),
    (
        "Customer.io refuses the retiring key: retired",
        RETIRING,
        Event.RETIRE_CHECKED,
        dict(now=NOW, policy=POLICY, outcome="revoked"),
        Phase.RETIRED,
        Notice.RETIRED,
    ),
]


@pytest.mark.parametrize(
    ("state", "event", "facts", "phase", "notice"),
    [row[1:] for row in ROWS],
    ids=[row[0] for row in ROWS],
)
def test_every_row(state, event, facts, phase, notice):
    new = step(state, event, **facts)
    assert new is not None
    assert new.phase is phase
    queued = [parse(e).notice for e in new.outbox[len(state.outbox) :]]
    if notice is None:
        assert queued == []
    else:
        assert notice in queued


def test_the_rows_cover_the_table():
    covered = {(row[1].phase, row[2]) for row in ROWS}
    assert covered == set(TABLE)


@pytest.mark.parametrize("phase", list(Phase))
@pytest.mark.parametrize("event", list(Event))
def test_a_pair_outside_the_table_is_no_step(phase, event):
    if (phase, event) in TABLE:
        return
    assert step(replace(IDLE, phase=phase), event) is None


def test_the_name_given_at_opening_is_the_name_promoted():
    opened = step(IDLE, Event.OPEN, **OPEN)
    assert opened is not None and opened.key_name == "billing-2026-06-01-alfa"
    later = step(opened, Event.PROMOTED, **{**PROMOTE, "now": NOW + timedelta(days=3)})
    assert later is not None
    assert later.current_name == "billing-2026-06-01-alfa"
    assert later.previous_name == IDLE.current_name and later.previous_last4 == "a111"
    assert later.submitted_by == "alice"


def test_rollback_swaps_the_names_and_ages_back():
    back = step(PROMOTED, Event.ROLLED_BACK, now=NOW, version="v3", previous_version="v2")
    assert back is not None
    assert back.current_name == PROMOTED.previous_name
    assert back.previous_name == PROMOTED.current_name
    assert back.current_since == PROMOTED.previous_since


def test_same_refusal_is_told_once():
    once = step(AWAITING, Event.REJECTED, reason="same_as_current", fp="aaaa1111", detail="")
    assert once is not None
    assert step(once, Event.REJECTED, reason="same_as_current", fp="aaaa1111", detail="") is None


def test_an_emergency_never_opens_a_second_rotation():
    upgraded = step(AWAITING, Event.OPEN, **{**OPEN, "mode": Mode.EMERGENCY})
    assert upgraded is not None and upgraded.rotation_id == AWAITING.rotation_id
    assert step(upgraded, Event.OPEN, **{**OPEN, "mode": Mode.EMERGENCY}) is None


def test_a_wrong_deletion_restores_the_old_key_and_never_comes_back_to_the_new():
    rolled_back = {**REFUSED, "restored_version": "v3", "refused_version": "v2"}
    back = step(PROMOTED, Event.CURRENT_REFUSED, **rolled_back)
    assert back is not None
    assert back.current_fp == PROMOTED.previous_fp and back.current_version == "v3"
    assert back.previous_fp == PROMOTED.current_fp and back.previous_revoked
    assert back.rotation_id == PROMOTED.rotation_id and back.escalated
    # The next key gets a name of its own: the deleted key's stays its own in the audit
    # trail, and the page does not ask for the name the operator just deleted.
    assert back.key_name != PROMOTED.current_name and back.key_name != PROMOTED.key_name
    named = replace(PROMOTED, current_name="billing-aws-2026-05-28-bravo")
    again = step(named, Event.CURRENT_REFUSED, **rolled_back)
    assert again is not None
    assert again.key_name == f"billing-aws-{NOW:%Y-%m-%d}-charlie"


def test_a_refused_live_key_is_told_once():
    both_dead = {**REFUSED, "previous_refused": True}
    dead = step(IDLE, Event.CURRENT_REFUSED, **both_dead)
    assert dead is not None and dead.mode is Mode.EMERGENCY and dead.live_outcome == "rejected"
    next_day = {**both_dead, "rotation_id": "r3", "now": NOW + timedelta(days=1)}
    again = step(dead, Event.CURRENT_REFUSED, **next_day)
    assert again is None


def test_retirement_reminds_at_the_policy_cadence_and_waits_out_an_outage():
    from rotation.transitions import retire_checked

    fresh = replace(RETIRING, last_notice_at=NOW - timedelta(days=1))
    probed = retire_checked(fresh, now=NOW, policy=POLICY, outcome="alive")
    # Not yet a reminder: the probe is recorded (the next backs off from it), nobody is told.
    assert probed == replace(fresh, revoke_probes=1, revoke_probed_at=NOW)
    reminded = retire_checked(RETIRING, now=NOW, policy=POLICY, outcome="alive")
    assert reminded is not None and reminded.phase is Phase.RETIRING
    assert parse(reminded.outbox[-1]).notice is Notice.RETIRE_REMINDER
    unknown = retire_checked(RETIRING, now=NOW, policy=POLICY, outcome="unknown")
    assert unknown == replace(RETIRING, revoke_probes=1, revoke_probed_at=NOW)


def test_an_unprobeable_key_is_retired_only_after_the_grace_period():
    from rotation.transitions import retire_checked

    early = replace(RETIRING, grace_until=NOW + timedelta(hours=1))
    assert retire_checked(early, now=NOW, policy=POLICY, outcome="unprobeable") is None
    done = retire_checked(RETIRING, now=NOW, policy=POLICY, outcome="unprobeable")
    assert done is not None and done.phase is Phase.RETIRED and done.retired_at == NOW


@pytest.mark.parametrize("phase", [Phase.RETIRING, Phase.RETIRED])
def test_an_ended_credential_never_opens_a_rotation_nor_goes_overdue(phase):
    from rotation.transitions import deadline_passed, opened

    ended = replace(RETIRING, phase=phase)
    emergency = {**OPEN, "mode": Mode.EMERGENCY, "reason": "leak"}
    assert opened(ended, **emergency) is None
    assert (
        deadline_passed(ended, rotation_id="r3", now=NOW, policy=POLICY, has_current=True) is None
    )
