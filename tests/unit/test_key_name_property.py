"""A key has one name from start to finish, whenever the operator gets round to submitting.

Property (issue 10): for a submission 0 to 30 days after the rotation opened, with the
daily sweep's reminders in between, the opening notice, every reminder, `runbook` and
the delete notice all give the new key the same name.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from localcloud.customerio import FakeCustomerIO
from localcloud.memory_store import MemoryStore
from rotation.clock import SimulatedClock
from rotation.credentials import Kind, Region
from rotation.operator.operations import runbook_text
from rotation.state import Phase
from tests.unit.test_engine_memory import engine_for, hand_over

NAMED = re.compile(r'"(billing-\d{8})"')


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(delay=st.integers(0, 30), runbook_day=st.integers(0, 30))
def test_the_new_key_has_one_name_in_every_text(
    cio_server: FakeCustomerIO, delay: int, runbook_day: int
) -> None:
    cio = cio_server
    cio.reset()
    clock = SimulatedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    store = MemoryStore(now=clock.now())
    cid = store.add("billing", Kind.TRACK, Region.US, workspace="1001")
    engine = engine_for(store, cio, clock)
    hand_over(store, engine, cid, cio.new_track_key("1001").to_json())
    clock.advance(timedelta(days=76))
    engine.reconcile(cid)
    opened = store.snapshot(cid).state
    assert opened.phase is Phase.AWAITING_KEY
    name, old_name = opened.key_name, opened.current_name
    assert name and name != old_name
    texts: list[tuple[str, str]] = []
    read_on = runbook_day % (delay + 1)  # the day the operator runs `cio-rotate runbook`
    for day in range(delay + 1):
        if day:
            clock.advance(timedelta(days=1))
            engine.reconcile(cid)
        if day == read_on:
            out = runbook_text(store.snapshot(cid), clock.now(), engine.policy)
            texts.append(("runbook", "\n".join([out.headline, *out.lines])))
    hand_over(store, engine, cid, cio.new_track_key("1001").to_json(), actor="bob")
    clock.advance(timedelta(hours=engine.policy.grace_hours + 1))
    engine.reconcile(cid)
    sent = engine.notifier.sent  # type: ignore[attr-defined]
    texts += [(n.notice, n.body) for n in sent]
    kinds = {notice.split("/")[0].split(".")[0] for notice, _ in texts}
    assert {"runbook", "opened", "revoke_now"} <= kinds
    if delay >= 3:
        assert "reminder" in kinds
    for notice, body in texts:
        if notice.startswith(("opened", "reminder", "runbook", "revoke_now", "escalated")):
            assert name in body, notice
        names = set(NAMED.findall(body)) - {old_name}
        assert names <= {name}, (notice, names)
