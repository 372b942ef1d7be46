"""Issue 10 on GCP: a wrong deletion is caught and repaired, every live key is checked daily.

The function under functions-framework, Secret Manager emulated, the local Customer.io.
Every notice, error and log line the function emitted is scanned for keys at the end.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from rotation.credentials import parse_credential
from rotation.state import Mode, Phase
from tests.conftest import assert_no_secrets

NAME = "marketing-track"


@pytest.fixture
def scanned(gcp, cio, logs) -> Iterator[None]:
    """Invariant 4 over what these tests emit: notices, function errors, every log line."""
    yield
    texts = [f"{n.subject}\n{n.body}" for n in gcp.notifier.sent] + gcp.errors + logs.lines
    assert_no_secrets(texts, cio.issued)


def check(gcp, name=NAME):
    """What `cio-rotate check NAME` does on GCP: publish the reconcile action."""
    status = gcp.action({"action": "reconcile", "secret_id": gcp.secrets[name]})
    gcp.pump()
    return status


def paged(gcp, notice):
    return [n for n in gcp.notifier.sent if n.notice == notice]


@pytest.fixture
def promoted(gcp, cio, clock, scanned):
    gcp.provision(NAME, "track", "us", workspace="111")
    old = cio.new_track_key("111")
    gcp.submit(NAME, old)
    clock.advance(timedelta(days=77))
    gcp.sweep()
    new = cio.new_track_key("111")
    gcp.submit(NAME, new, actor="alice", key_name="marketing-track-new")
    assert gcp.state(NAME).phase is Phase.PROMOTED
    clock.advance(timedelta(hours=gcp.policy.grace_hours + 1))
    return old, new


@pytest.mark.parametrize("detect", ["check", "sweep"])
def test_wrong_key_deleted_rolls_back_pages_once_and_reopens(gcp, cio, promoted, detect):
    old, new = promoted
    cio.delete_key(new)
    before = len(gcp.notifier.sent)
    assert (check(gcp) if detect == "check" else gcp.sweep()) < 300
    assert gcp.current_value(NAME)["api_key"] == old.secret
    live = parse_credential(json.dumps(gcp.current_value(NAME)).encode(), "track")
    assert cio.is_live(live)
    st = gcp.state(NAME)
    assert st.phase is Phase.AWAITING_KEY and st.current_fp == old.fingerprint
    assert st.previous_revoked
    told = paged(gcp, "wrong_key_deleted")
    assert len(told) == 1 and told[0].urgency == "urgent"
    assert len(gcp.notifier.sent) == before + 1
    check(gcp)
    gcp.sweep()
    assert len(paged(gcp, "wrong_key_deleted")) == 1
    assert gcp.current_value(NAME)["api_key"] == old.secret


@pytest.mark.parametrize("detect", ["check", "sweep"])
def test_both_keys_deleted_pages_without_rollback(gcp, cio, promoted, detect):
    old, new = promoted
    cio.delete_key(new)
    cio.delete_key(old)
    check(gcp) if detect == "check" else gcp.sweep()
    assert gcp.current_value(NAME)["api_key"] == new.secret
    told = paged(gcp, "both_keys_refused")
    assert len(told) == 1 and told[0].urgency == "urgent"
    assert not paged(gcp, "wrong_key_deleted")
    gcp.sweep()
    assert len(paged(gcp, "both_keys_refused")) == 1


def test_key_deleted_between_rotations_is_caught_by_the_next_sweep(gcp, cio, clock, scanned):
    gcp.provision(NAME, "track", "us", workspace="111")
    key = cio.new_track_key("111")
    gcp.submit(NAME, key)
    clock.advance(timedelta(days=10))
    gcp.sweep()
    assert not paged(gcp, "current_refused")
    cio.delete_key(key)
    clock.advance(timedelta(days=1))
    gcp.sweep()
    told = paged(gcp, "current_refused")
    assert len(told) == 1 and told[0].urgency == "urgent"
    st = gcp.state(NAME)
    assert st.phase is Phase.AWAITING_KEY and st.mode is Mode.EMERGENCY
    clock.advance(timedelta(days=1))
    gcp.sweep()
    assert len(paged(gcp, "current_refused")) == 1


def test_inconclusive_liveness_for_a_day_is_told_once_with_its_cause(gcp, cio, clock, scanned):
    gcp.provision(NAME, "track", "us", workspace="111")
    gcp.submit(NAME, cio.new_track_key("111"))
    cio.fail_next(503, times=200)
    gcp.sweep()
    assert gcp.state(NAME).live_unknown_since is not None
    for _ in range(3):
        clock.advance(timedelta(hours=13))
        gcp.sweep()
    told = paged(gcp, "liveness_unknown")
    assert len(told) == 1
    assert "503" in told[0].body or "unavailable" in told[0].body.lower()
    cio.faults.clear()
    clock.advance(timedelta(hours=13))
    gcp.sweep()
    assert gcp.state(NAME).live_outcome == "accepted"


@pytest.mark.parametrize(
    ("kind", "make"),
    [
        ("track", lambda cio: cio.new_track_key("111")),
        ("app", lambda cio: cio.new_app_key(("111",))),
        ("private", lambda cio: cio.new_private_key(("111",))),
    ],
)
def test_daily_sweep_makes_one_customerio_call_per_credential(gcp, cio, clock, scanned, kind, make):
    names = [f"{kind}-{i}" for i in range(3)]
    for name in names:
        gcp.provision(name, kind, "us", workspace="111")
        gcp.submit(name, make(cio))
    clock.advance(timedelta(days=5))
    cio.log.clear()
    gcp.sweep()
    assert len(cio.log) == len(names), cio.log
    assert all(status == 200 for _, status in cio.log)


def test_daily_sweep_never_calls_customerio_for_webhook_signing_keys(gcp, cio, clock, scanned):
    gcp.provision("hooks", "webhook_signing")
    gcp.submit("hooks", json.dumps({"signing_key": "7" * 40}))
    assert gcp.current_value("hooks") is not None
    clock.advance(timedelta(days=5))
    cio.log.clear()
    gcp.sweep()
    assert cio.log == []


def audit_events(logs, event):
    out = []
    for line in logs.lines:
        if line.startswith("{") and '"audit": true' in line:
            doc = json.loads(line)
            if doc["event"] == event:
                out.append(doc)
    return out


def test_audit_trail_names_the_operator_who_submitted(gcp, cio, clock, logs, scanned):
    gcp.provision(NAME, "track", "us", workspace="111")
    gcp.submit(NAME, cio.new_track_key("111"), actor="bob")
    clock.advance(timedelta(days=77))
    gcp.sweep()
    suggested = gcp.state(NAME).key_name
    gcp.submit(NAME, cio.new_track_key("111"), actor="alice", key_name="mkt-track-march")
    verified = audit_events(logs, "key.verified")[-1]
    promoted = audit_events(logs, "key.promoted")[-1]
    assert verified["actor"] == "alice" and verified["via"] == "pubsub"
    assert promoted["actor"] == "alice" and promoted["via"] == "pubsub"
    assert promoted["names"]["current"] == "mkt-track-march" != suggested
    assert gcp.state(NAME).current_name == "mkt-track-march"
