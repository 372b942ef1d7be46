"""The drain in the state machine: when it is checked (policy), what a check records
(transitions), and what the delete notice then says (runbook). Pure: no cloud."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rotation.credentials import Kind
from rotation.drain import DRAIN_HOLDERS_SHOWN, Straggler, holder_entries, parse_holder
from rotation.notices import Notice
from rotation.policy import (
    DRAIN_CHECK_BLIND,
    DRAIN_CHECK_EVERY,
    Policy,
    delete_due,
    drain_check_due,
    next_due,
)
from rotation.runbook import Context, render
from rotation.state import Mode, Phase, RotationState
from rotation.transitions import Event, step

NOW = datetime(2026, 6, 1, 9, tzinfo=UTC)
POLICY = Policy()
QUIET = timedelta(minutes=POLICY.drain_quiet_minutes)
AWAITING = RotationState(
    phase=Phase.AWAITING_KEY,
    rotation_id="r1",
    mode=Mode.SCHEDULED,
    opened_at=NOW - timedelta(days=4),
    deadline=NOW + timedelta(days=10),
    current_version="v1",
    current_fp="aaaa1111",
    current_name="billing-2026-05-28-alfa",
    current_since=NOW - timedelta(days=78),
    key_name="billing-2026-05-28-bravo",
    workspace="1001",
)
PROMOTE: dict[str, Any] = dict(
    rotation_id="r1",
    new_version="v2",
    new_fp="bbbb2222",
    workspace="1001",
    old_version="v1",
    old_fp="aaaa1111",
    kind=Kind.TRACK,
)
CHECK: dict[str, Any] = dict(on_new=2, holders=(), more=0, unconfirmed="")


def promoted(policy: Policy = POLICY, **kw: Any) -> RotationState:
    facts = {**PROMOTE, **kw}
    new = step(AWAITING, Event.PROMOTED, now=NOW, policy=policy, **facts)
    assert new is not None
    return new


def checked(st: RotationState, at: datetime, **kw: Any) -> RotationState | None:
    return step(st, Event.DRAIN_CHECKED, now=at, policy=POLICY, **{**CHECK, **kw})


def test_a_promotion_waits_for_the_drain_first_checked_after_the_quiet_period():
    st = promoted()
    assert st.drain_waits and st.grace_until == NOW + timedelta(hours=24)
    assert drain_check_due(st, POLICY) == NOW + QUIET
    assert next_due(st, POLICY) == NOW + QUIET  # the stack's timer fires the first check


@pytest.mark.parametrize(
    ("what", "st", "policy"),
    [
        ("timer only", None, Policy(drain_quiet_minutes=0)),
        ("revoke first", "revoke_first", POLICY),
        ("webhook signing key", "signing", POLICY),
    ],
)
def test_nothing_waits_for_a_drain_that_does_not_apply(what, st, policy):
    base = replace(AWAITING, revoke_first=st == "revoke_first", mode=Mode.EMERGENCY)
    kind = Kind.WEBHOOK_SIGNING if st == "signing" else Kind.TRACK
    facts: dict[str, Any] = {**PROMOTE, "kind": kind}
    new = step(base, Event.PROMOTED, now=NOW, policy=policy, **facts)
    assert new is not None and not new.drain_waits, what
    assert drain_check_due(new, policy) is None
    assert next_due(new, policy) == new.grace_until  # the timer as before
    assert checked(new, NOW + QUIET) is None


def test_drained_means_delete_now():
    st = promoted()
    at = NOW + QUIET
    new = checked(st, at)
    assert new is not None and new.drained_at == at and new.drain_on_new == 2
    assert delete_due(new) == at and next_due(new, POLICY) == at
    assert new.outbox == st.outbox  # the revocation check that follows tells it
    told = step(new, Event.REVOCATION_CHECKED, now=at, policy=POLICY, outcome="alive")
    assert told is not None and told.outbox[-1].startswith("revoke_now/")
    assert checked(told, at + DRAIN_CHECK_EVERY) is None  # drained once, never again


def test_stragglers_are_checked_every_5_minutes_and_the_maximum_stays():
    holder = Straggler("cron on c:7", NOW + QUIET, "reports the old key", "cron", "c:7")
    entries, more = holder_entries([holder])
    at = NOW + QUIET
    new = checked(promoted(), at, holders=entries, more=more)
    assert new is not None and new.drained_at is None
    assert new.drain_holders == ("cron/c:7|2026-06-01T09:15:00Z|key",)
    assert drain_check_due(new, POLICY) == at + DRAIN_CHECK_EVERY
    assert delete_due(new) == new.grace_until


def test_unconfirmed_is_never_drained_and_checks_back_off():
    at = NOW + QUIET
    new = checked(promoted(), at, unconfirmed="CloudTrail could not be read (AccessDenied)")
    assert new is not None and new.drained_at is None
    assert drain_check_due(new, POLICY) == at + DRAIN_CHECK_BLIND
    assert delete_due(new) == new.grace_until


def test_the_check_at_the_maximum_is_the_last():
    st = promoted()
    assert st.grace_until is not None
    late = replace(st, drain_checked_at=st.grace_until - timedelta(minutes=2))
    assert drain_check_due(late, POLICY) == st.grace_until  # never after the maximum
    last = checked(late, st.grace_until, unconfirmed="x")
    assert last is not None and drain_check_due(last, POLICY) is None
    assert next_due(last, POLICY) == st.grace_until


def test_the_holders_kept_are_capped_and_tag_safe():
    many = [
        Straggler(f"svc{i} on host {i}", NOW, "reports the old key", f"svc {i}", f"host:{i}")
        for i in range(DRAIN_HOLDERS_SHOWN + 3)
    ]
    read = Straggler("batch@p.iam.gserviceaccount.com", NOW - timedelta(hours=3), "read ...")
    entries, more = holder_entries([read, *many])
    assert len(entries) == DRAIN_HOLDERS_SHOWN and more == 4
    assert all(" " not in e for e in entries)  # the state keeps them space-separated
    back = parse_holder(entries[0])
    assert back.reports and back.who.startswith("svc-") and back.last_seen == NOW
    principal = parse_holder(holder_entries([read])[0][0])
    assert principal.who == "batch@p.iam.gserviceaccount.com" and not principal.reports
    # The round trip through the recorded state keeps each entry whole.
    st = replace(RotationState(), drain_holders=entries, drain_more=more)
    assert RotationState.from_fields(st.to_fields()).drain_holders == entries


def _notice(st: RotationState) -> str:
    ctx = Context(name="billing", kind=Kind.TRACK, region="us", workspace="1001", state=st,
                  policy=POLICY, now=st.grace_until or NOW)  # fmt: skip
    revoke = next(e for e in st.outbox if e.startswith("revoke_now/"))
    note = render(revoke, ctx)
    assert note.notice == Notice.REVOKE_NOW.value
    return note.body


def test_the_notice_at_the_maximum_names_every_straggler_and_what_breaks():
    st = promoted()
    assert st.grace_until is not None
    holders = (
        "cron/ip-10-0-0-7:41|2026-06-02T08:58:00Z|key",
        "arn:aws:iam::1:role/legacy-batch|2026-06-01T07:00:00Z|read",
    )
    last = checked(st, st.grace_until, holders=holders, more=1, on_new=3)
    assert last is not None
    told = step(last, Event.REVOCATION_CHECKED, now=st.grace_until, policy=POLICY, outcome="alive")
    assert told is not None
    body = _notice(told)
    assert "maximum is over (3 reporting processes on the new key)" in body
    assert "cron on ip-10-0-0-7:41 (reports the old key; last seen 2026-06-02 08:58 UTC)" in body
    assert "arn:aws:iam::1:role/legacy-batch (read the secret before the promotion" in body
    assert "and 1 more" in body and "fail (401)" in body


def test_the_notice_says_what_could_not_be_confirmed():
    st = promoted()
    assert st.grace_until is not None
    why = "CloudTrail could not be read (AccessDeniedException)"
    last = checked(st, st.grace_until, unconfirmed=why, on_new=0)
    assert last is not None
    told = step(last, Event.REVOCATION_CHECKED, now=st.grace_until, policy=POLICY, outcome="alive")
    assert told is not None
    assert f"could not confirm that nobody uses the old key: {why}." in _notice(told)


def test_the_notice_after_a_drain_names_nobody():
    at = NOW + QUIET
    drained = checked(promoted(), at)
    assert drained is not None
    told = step(drained, Event.REVOCATION_CHECKED, now=at, policy=POLICY, outcome="alive")
    assert told is not None
    body = _notice(replace(told, grace_until=at))
    assert "No application has used the old key for 15 minutes" in body
    assert "Still on the old key" not in body
