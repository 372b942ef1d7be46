"""Issue 10 on AWS: a wrong deletion is caught and repaired, every live key is checked daily.

Moto, the in-process rotation Lambda and the local Customer.io; the `aws` fixture scans
every notification, tag, error and log line for keys at teardown.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from rotation import conventions as cv
from rotation.credentials import Credential, parse_credential
from rotation.state import Phase

NAME = "marketing-track"


def state(aws, name=NAME):
    return aws.state(name)


def notices(aws, notice):
    return [n for n in aws.notifications() if notice in n["notification_id"]]


def check(aws, name=NAME):
    """What `cio-rotate check NAME` does on AWS: invoke the rotator's reconcile action."""
    return aws.invoke({"action": cv.ACTION_RECONCILE, "secret_id": aws.secrets[name]})


def live_key(aws, name=NAME) -> Credential:
    """The key applications read now (AWSCURRENT)."""
    value = aws.current_value(name)
    assert value is not None
    return parse_credential(json.dumps(value).encode(), "track")


@pytest.fixture
def promoted(aws, cio, clock):
    """A rotation past its grace period: (old key, new key), the new one current."""
    aws.provision(NAME, "track", "us", workspace="1001")
    old = cio.new_track_key("1001")
    assert aws.submit(NAME, old)["outcome"] == "submitted"
    clock.advance(timedelta(days=76))
    aws.sweep()
    new = cio.new_track_key("1001")
    aws.submit(NAME, new, actor="alice", key_name="marketing-track-new")
    assert state(aws).phase is Phase.PROMOTED
    clock.advance(timedelta(hours=aws.policy.grace_hours + 1))
    return old, new


@pytest.mark.parametrize("detect", ["check", "sweep"])
def test_wrong_key_deleted_rolls_back_pages_once_and_reopens(aws, cio, promoted, detect):
    old, new = promoted
    cio.delete_key(new)  # the operator deletes the NEW key by mistake
    before = len(aws.notifications())
    check(aws) if detect == "check" else aws.sweep()
    st = state(aws)
    assert aws.current_value(NAME)["api_key"] == old.secret
    assert cio.is_live(live_key(aws))  # applications read a key Customer.io accepts
    assert st.phase is Phase.AWAITING_KEY and st.current_fp == old.fingerprint
    assert st.previous_revoked  # the deleted key never comes back
    paged = notices(aws, "wrong_key_deleted")
    assert len(paged) == 1 and paged[0]["urgency"] == "urgent"
    assert len(aws.notifications()) == before + 1
    # The next check and the next sweep neither page again nor change the current key.
    check(aws)
    aws.sweep()
    assert len(notices(aws, "wrong_key_deleted")) == 1
    assert aws.current_value(NAME)["api_key"] == old.secret


@pytest.mark.parametrize("detect", ["check", "sweep"])
def test_both_keys_deleted_pages_without_rollback(aws, cio, promoted, detect):
    old, new = promoted
    cio.delete_key(new)
    cio.delete_key(old)
    check(aws) if detect == "check" else aws.sweep()
    assert aws.current_value(NAME)["api_key"] == new.secret  # no rollback to a dead key
    paged = notices(aws, "both_keys_refused")
    assert len(paged) == 1 and paged[0]["urgency"] == "urgent"
    assert not notices(aws, "wrong_key_deleted")
    st = state(aws)
    assert st.phase is Phase.AWAITING_KEY and st.revoke_first and st.previous_revoked
    aws.sweep()
    assert len(notices(aws, "both_keys_refused")) == 1


def test_key_deleted_between_rotations_is_caught_by_the_next_sweep(aws, cio, clock):
    aws.provision(NAME, "track", "us", workspace="1001")
    key = cio.new_track_key("1001")
    aws.submit(NAME, key)
    clock.advance(timedelta(days=10))
    aws.sweep()
    assert not notices(aws, "refused") and state(aws).phase is Phase.IDLE
    cio.delete_key(key)  # someone deletes the live key in the dashboard
    clock.advance(timedelta(days=1))
    aws.sweep()
    paged = notices(aws, "current_refused")
    assert len(paged) == 1 and paged[0]["urgency"] == "urgent"
    st = state(aws)
    assert st.phase is Phase.AWAITING_KEY and st.live_outcome == "rejected"
    assert st.mode is not None and st.mode.value == "emergency"
    clock.advance(timedelta(days=1))
    aws.sweep()
    assert len(notices(aws, "current_refused")) == 1


def test_inconclusive_liveness_for_a_day_is_told_once_with_its_cause(aws, cio, clock):
    aws.provision(NAME, "track", "us", workspace="1001")
    aws.submit(NAME, cio.new_track_key("1001"))
    cio.fail_next(503, times=200)
    aws.sweep()
    assert state(aws).live_unknown_since is not None
    assert not notices(aws, "liveness_unknown")
    for _ in range(3):
        clock.advance(timedelta(hours=13))
        aws.sweep()
    told = notices(aws, "liveness_unknown")
    assert len(told) == 1
    assert "503" in told[0]["body"] or "unavailable" in told[0]["body"].lower()
    cio.faults.clear()
    clock.advance(timedelta(hours=13))
    aws.sweep()
    st = state(aws)
    assert st.live_outcome == "accepted" and st.live_unknown_since is None


@pytest.mark.parametrize(
    ("kind", "make"),
    [
        ("track", lambda cio: cio.new_track_key("1001")),
        ("app", lambda cio: cio.new_app_key(("1001",))),
        ("private", lambda cio: cio.new_private_key(("1001",))),
    ],
)
def test_daily_sweep_makes_one_customerio_call_per_credential(aws, cio, clock, kind, make):
    names = [f"{kind}-{i}" for i in range(3)]
    for name in names:
        aws.provision(name, kind, "us", workspace="1001")
        aws.submit(name, make(cio))
    clock.advance(timedelta(days=5))
    cio.log.clear()
    aws.sweep()
    assert len(cio.log) == len(names), cio.log
    assert all(status == 200 for _, status in cio.log)


def test_daily_sweep_never_calls_customerio_for_webhook_signing_keys(aws, cio, clock):
    for i in range(2):
        name = f"hooks-{i}"
        aws.provision(name, "webhook_signing")
        aws.submit(name, json.dumps({"signing_key": f"{i}" * 40}))
        assert aws.current_value(name) is not None
    clock.advance(timedelta(days=5))
    cio.log.clear()
    aws.sweep()
    assert cio.log == []


def audit_events(logs, event):
    out = []
    for line in logs.lines:
        if line.startswith("{") and '"audit": true' in line:
            doc = json.loads(line)
            if doc["event"] == event:
                out.append(doc)
    return out


def test_audit_trail_names_the_operator_who_submitted(aws, cio, clock, logs):
    aws.provision(NAME, "track", "us", workspace="1001")
    aws.submit(NAME, cio.new_track_key("1001"), actor="bob")
    clock.advance(timedelta(days=76))
    aws.sweep()
    suggested = state(aws).key_name
    aws.submit(NAME, cio.new_track_key("1001"), actor="alice", key_name="mkt-track-march")
    verified = audit_events(logs, "key.verified")[-1]
    promoted = audit_events(logs, "key.promoted")[-1]
    assert verified["actor"] == "alice" and verified["via"] == "secretsmanager"
    assert promoted["actor"] == "alice" and promoted["via"] == "secretsmanager"
    assert promoted["names"]["current"] == "mkt-track-march" != suggested
    assert state(aws).current_name == "mkt-track-march"
