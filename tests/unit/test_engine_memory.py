"""The engine on the in-memory store: whole rotations, what they cost, and racing writers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest

from localcloud.customerio import FakeCustomerIO
from localcloud.memory_store import MemoryStore
from rotation.clock import SimulatedClock
from rotation.credentials import Kind, Region
from rotation.engine import Engine
from rotation.errors import StateConflict
from rotation.notices import Notice, parse
from rotation.runbook import Notification
from rotation.state import Mode, Phase, RotationState
from rotation.stores.base import Snapshot
from rotation.verify import Verifier, build_session


class Outbox:
    def __init__(self) -> None:
        self.sent: list[Notification] = []

    def send(self, notification: Notification) -> None:
        self.sent.append(notification)


def engine_for(store: MemoryStore, cio: FakeCustomerIO, clock: SimulatedClock) -> Engine:
    verifier = Verifier(session=build_session(backoff_factor=0.01), env=cio.env())
    return Engine(store=store, verifier=verifier, notifier=Outbox(), clock=clock)


@pytest.fixture
def setup(cio, clock):
    store = MemoryStore(now=clock.now())
    cid = store.add("billing", Kind.TRACK, Region.US, workspace="1001")
    engine = engine_for(store, cio, clock)
    return store, cid, engine


def hand_over(store: MemoryStore, engine: Engine, cid: str, raw: str, actor: str = "alice"):
    store.submit(cid, raw.encode(), actor=actor)
    verified, submission = engine.verify_submission(cid)
    return engine.promote(cid, verified, None, submission=submission)


def remind(tag: str) -> Callable[[Snapshot], RotationState]:
    """A write that must survive: a notice with a tag no other write uses."""
    return lambda snap: snap.state.with_notice(Notice.REMINDER, tag)


def test_a_whole_rotation(setup, cio, clock):
    store, cid, engine = setup
    first = cio.new_track_key("1001")
    st = hand_over(store, engine, cid, first.to_json())
    assert st.phase is Phase.IDLE and st.current_fp == first.fingerprint
    clock.advance(timedelta(days=76))
    st = engine.reconcile(cid)
    assert st.phase is Phase.AWAITING_KEY
    # The bootstrap key was "alfa": the new one's word differs, not only its date digits.
    assert st.key_name == f"billing-{clock.now():%Y-%m-%d}-bravo"
    clock.advance(timedelta(days=2))
    second = cio.new_track_key("1001")
    st = hand_over(store, engine, cid, second.to_json(), actor="bob")
    assert st.phase is Phase.PROMOTED and st.submitted_by == "bob"
    assert st.current_name == st.key_name and st.previous_fp == first.fingerprint
    cio.delete_key(first)
    clock.advance(timedelta(days=1, hours=1))
    st = engine.reconcile(cid)
    assert st.phase is Phase.IDLE and st.previous_revoked
    notices = [parse(n.notice).notice for n in engine.notifier.sent]
    assert notices == [Notice.PROMOTED, Notice.OPENED, Notice.PROMOTED, Notice.CLOSED]


def test_an_idle_reconcile_reads_once_and_writes_nothing(setup, cio, clock):
    store, cid, engine = setup
    hand_over(store, engine, cid, cio.new_track_key("1001").to_json())
    clock.advance(timedelta(days=1))
    store.calls.clear()
    engine.reconcile(cid)
    assert dict(store.calls) == {"snapshot": 1}


def test_a_promotion_reads_the_snapshot_once(setup, cio, clock):
    store, cid, engine = setup
    hand_over(store, engine, cid, cio.new_track_key("1001").to_json())
    clock.advance(timedelta(days=76))
    engine.reconcile(cid)
    store.submit(cid, cio.new_track_key("1001").to_json().encode())
    store.calls.clear()
    with store.session():
        verified, submission = engine.verify_submission(cid)
        engine.promote(cid, verified, None, submission=submission)
    # One read of each thing, two state writes (promoted + its notice claimed, then sent).
    assert dict(store.calls) == {
        "snapshot": 1,
        "read_submission": 1,
        "promote": 1,
        "write_state": 2,
        "consume_submission": 1,
    }


def test_racing_writers_never_lose_an_update(setup, cio, clock):
    """Threads, each its own engine and store session over the same data, no lock of ours:
    every write decided on a stale revision is refused and decided again."""
    store, cid, _ = setup
    writers, each = 4, 25
    errors: list[BaseException] = []

    def work(n: int) -> None:
        engine = engine_for(store.connect(), cio, clock)
        engine.max_attempts = 1000
        try:
            for i in range(each):
                with engine.store.session():
                    engine._apply(cid, remind(f"{n}-{i}"))
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    final = store.snapshot(cid).state
    assert final.notice_seq == writers * each
    assert len(final.outbox) == writers * each


def test_a_stale_revision_is_refused(setup):
    store, cid, _ = setup
    snap = store.snapshot(cid)
    store.save_state(cid, snap.state, snap.revision)
    with pytest.raises(StateConflict):
        store.save_state(cid, snap.state, snap.revision)


def test_an_emergency_on_an_open_rotation_upgrades_it(setup, cio, clock):
    store, cid, engine = setup
    hand_over(store, engine, cid, cio.new_track_key("1001").to_json())
    clock.advance(timedelta(days=76))
    opened = engine.reconcile(cid)
    upgraded, _ = engine.open_rotation(cid, Mode.EMERGENCY, reason="leak", actor="on-call")
    assert upgraded.rotation_id == opened.rotation_id and upgraded.mode is Mode.EMERGENCY


def test_a_wake_up_is_armed_only_when_the_next_moment_changes(setup, cio, clock):
    store, cid, engine = setup
    first = cio.new_track_key("1001")
    hand_over(store, engine, cid, first.to_json())
    # The bootstrap opened (a reminder was owed) and closed at once: the next opening,
    # as the closing notice promises it, is armed.
    assert [at is None for _, at in store.armed] == [False, False]
    opens = store.armed[-1][1]
    assert opens == engine.store.snapshot(cid).state.current_since + timedelta(days=76)
    store.armed.clear()
    engine.reconcile(cid, liveness=True)
    assert store.armed == []  # an idle day arms nothing
    clock.advance(timedelta(days=77))
    st = engine.reconcile(cid, liveness=True)
    assert st.phase is Phase.AWAITING_KEY and st.wake_at == st.opened_at + timedelta(days=3)
    assert store.armed == [(cid, st.wake_at)]
    clock.advance(timedelta(hours=5))
    engine.reconcile(cid)  # nothing due (an operator's check): the same moment, no arm
    assert store.armed == [(cid, st.wake_at)]
    engine.reconcile(cid, liveness=True)  # the daily sweep arms it again: a lost one returns
    assert store.armed == [(cid, st.wake_at)] * 2
    clock.advance(timedelta(days=3))
    st = engine.reconcile(cid, wake=True)  # the reminder: the next one is armed
    assert store.armed[-1] == (cid, st.last_notice_at + timedelta(days=3))
    second = cio.new_track_key("1001")
    st = hand_over(store, engine, cid, second.to_json())
    assert st.phase is Phase.PROMOTED and store.armed[-1] == (cid, st.grace_until)
    cio.delete_key(first)
    clock.advance(timedelta(hours=24))
    st = engine.reconcile(cid, wake=True)
    assert st.phase is Phase.IDLE and store.armed[-1] == (
        cid,
        st.current_since + timedelta(days=76),
    )


def test_the_old_key_is_probed_on_a_backing_off_schedule(setup, cio, clock):
    store, cid, engine = setup
    first = cio.new_track_key("1001")
    hand_over(store, engine, cid, first.to_json())
    clock.advance(timedelta(days=77))
    engine.reconcile(cid)
    st = hand_over(store, engine, cid, cio.new_track_key("1001").to_json())
    clock.advance(timedelta(hours=24))
    gaps = []
    for _ in range(5):
        st = engine.reconcile(cid, wake=True)
        assert st.phase is Phase.PROMOTED and st.wake_at is not None
        gaps.append(st.wake_at - clock.now())
        clock.advance(st.wake_at - clock.now())
    assert gaps == [timedelta(minutes=m) for m in (5, 10, 15, 15, 15)]
    assert [parse(n.notice).notice for n in engine.notifier.sent][-1] is Notice.REVOKE_NOW
