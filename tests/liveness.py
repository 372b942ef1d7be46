"""Issue 10 on both clouds: a wrong deletion is caught and repaired, every live key is checked daily.

The scenarios are written once, in `LivenessScenarios`; `tests/aws/test_liveness_aws.py`
and `tests/gcp/test_liveness_gcp.py` run them against their cloud's harness through a
`LivenessCloud`, which says how that cloud checks a credential and what it told the
operators. Both harnesses, and the scan for keys in what they emitted, are the clouds' own.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from rotation.credentials import Credential, parse_credential
from rotation.state import Mode, Phase, RotationState

NAME = "marketing-track"
WORKSPACE = "1001"


@dataclass(frozen=True)
class Told:
    """One notice as the operators received it; `notice` contains the notice code."""

    notice: str
    urgency: str
    body: str


class LivenessCloud(ABC):
    """A cloud's harness, seen the way these scenarios need it."""

    via: str  # how a hand-over reaches the rotator, as the audit trail names it

    def __init__(self, harness: Any) -> None:
        self.harness = harness

    @abstractmethod
    def check(self, name: str = NAME) -> None:
        """What `cio-rotate check NAME` does: the rotator's reconcile action; fails on an error."""

    @abstractmethod
    def sweep(self) -> None:
        """The daily sweep over every credential; fails on a rotator error."""

    @abstractmethod
    def told(self) -> list[Told]:
        """Every notice sent to the operators, oldest first."""

    def paged(self, notice: str) -> list[Told]:
        """The notices whose code contains `notice` (`"refused"` matches every refusal)."""
        return [t for t in self.told() if notice in t.notice]

    def provision(self, name: str, kind: str = "track") -> None:
        if kind == "webhook_signing":
            self.harness.provision(name, kind)
        else:
            self.harness.provision(name, kind, "us", workspace=WORKSPACE)

    def submit(self, name: str, credential: Credential | str, **options: str) -> None:
        self.harness.submit(name, credential, **options)

    def state(self, name: str = NAME) -> RotationState:
        state: RotationState = self.harness.state(name)
        return state

    def current_value(self, name: str = NAME) -> dict[str, str] | None:
        value: dict[str, str] | None = self.harness.current_value(name)
        return value

    def live_key(self, name: str = NAME) -> Credential:
        """The key applications read now (AWS: AWSCURRENT; GCP: versions/latest)."""
        value = self.current_value(name)
        assert value is not None
        return parse_credential(json.dumps(value).encode(), "track")

    @property
    def grace(self) -> timedelta:
        return timedelta(hours=self.harness.policy.grace_hours)


def audit_events(lines: list[str], event: str) -> list[dict[str, Any]]:
    out = []
    for line in lines:
        if line.startswith("{") and '"audit": true' in line:
            doc = json.loads(line)
            if doc["event"] == event:
                out.append(doc)
    return out


class LivenessScenarios:
    """The scenarios; a subclass per cloud runs them where a `cloud` fixture is defined."""

    @pytest.fixture
    def promoted(self, cloud, cio, clock):
        """A rotation past its grace period: (old key, new key), the new one current."""
        cloud.provision(NAME)
        old = cio.new_track_key(WORKSPACE)
        cloud.submit(NAME, old)
        clock.advance(timedelta(days=77))
        cloud.sweep()
        new = cio.new_track_key(WORKSPACE)
        cloud.submit(NAME, new, actor="alice", key_name="marketing-track-new")
        assert cloud.state().phase is Phase.PROMOTED
        clock.advance(cloud.grace + timedelta(hours=1))
        return old, new

    @pytest.mark.parametrize("detect", ["check", "sweep"])
    def test_wrong_key_deleted_rolls_back_pages_once_and_reopens(
        self, cloud, cio, promoted, detect
    ):
        old, new = promoted
        cio.delete_key(new)  # the operator deletes the NEW key by mistake
        before = len(cloud.told())
        cloud.check() if detect == "check" else cloud.sweep()
        st = cloud.state()
        assert cloud.live_key().secret == old.secret
        assert cio.is_live(cloud.live_key())  # applications read a key Customer.io accepts
        assert st.phase is Phase.AWAITING_KEY and st.current_fp == old.fingerprint
        assert st.previous_revoked  # the deleted key never comes back
        paged = cloud.paged("wrong_key_deleted")
        assert len(paged) == 1 and paged[0].urgency == "urgent"
        assert len(cloud.told()) == before + 1
        # The next check and the next sweep neither page again nor change the current key.
        cloud.check()
        cloud.sweep()
        assert len(cloud.paged("wrong_key_deleted")) == 1
        assert cloud.live_key().secret == old.secret

    @pytest.mark.parametrize("detect", ["check", "sweep"])
    def test_both_keys_deleted_pages_without_rollback(self, cloud, cio, promoted, detect):
        old, new = promoted
        cio.delete_key(new)
        cio.delete_key(old)
        cloud.check() if detect == "check" else cloud.sweep()
        assert cloud.live_key().secret == new.secret  # no rollback to a dead key
        paged = cloud.paged("both_keys_refused")
        assert len(paged) == 1 and paged[0].urgency == "urgent"
        assert not cloud.paged("wrong_key_deleted")
        st = cloud.state()
        assert st.phase is Phase.AWAITING_KEY and st.revoke_first and st.previous_revoked
        cloud.sweep()
        assert len(cloud.paged("both_keys_refused")) == 1

    def test_key_deleted_between_rotations_is_caught_by_the_next_sweep(self, cloud, cio, clock):
        cloud.provision(NAME)
        key = cio.new_track_key(WORKSPACE)
        cloud.submit(NAME, key)
        clock.advance(timedelta(days=10))
        cloud.sweep()
        assert not cloud.paged("refused") and cloud.state().phase is Phase.IDLE
        cio.delete_key(key)  # someone deletes the live key in the dashboard
        clock.advance(timedelta(days=1))
        cloud.sweep()
        paged = cloud.paged("current_refused")
        assert len(paged) == 1 and paged[0].urgency == "urgent"
        st = cloud.state()
        assert st.phase is Phase.AWAITING_KEY and st.live_outcome == "rejected"
        assert st.mode is Mode.EMERGENCY
        clock.advance(timedelta(days=1))
        cloud.sweep()
        assert len(cloud.paged("current_refused")) == 1

    def test_inconclusive_liveness_for_a_day_is_told_once_with_its_cause(self, cloud, cio, clock):
        cloud.provision(NAME)
        cloud.submit(NAME, cio.new_track_key(WORKSPACE))
        cio.fail_next(503, times=200)
        cloud.sweep()
        assert cloud.state().live_unknown_since is not None
        assert not cloud.paged("liveness_unknown")
        for _ in range(3):
            clock.advance(timedelta(hours=13))
            cloud.sweep()
        told = cloud.paged("liveness_unknown")
        assert len(told) == 1
        assert "503" in told[0].body or "unavailable" in told[0].body.lower()
        cio.faults.clear()
        clock.advance(timedelta(hours=13))
        cloud.sweep()
        st = cloud.state()
        assert st.live_outcome == "accepted" and st.live_unknown_since is None

    @pytest.mark.parametrize(
        ("kind", "make"),
        [
            ("track", lambda cio: cio.new_track_key(WORKSPACE)),
            ("app", lambda cio: cio.new_app_key((WORKSPACE,))),
            ("private", lambda cio: cio.new_private_key((WORKSPACE,))),
        ],
    )
    def test_daily_sweep_makes_one_customerio_call_per_credential(
        self, cloud, cio, clock, kind, make
    ):
        names = [f"{kind}-{i}" for i in range(3)]
        for name in names:
            cloud.provision(name, kind)
            cloud.submit(name, make(cio))
        clock.advance(timedelta(days=5))
        cio.log.clear()
        cloud.sweep()
        assert len(cio.log) == len(names), cio.log
        assert all(status == 200 for _, status in cio.log)

    def test_daily_sweep_never_calls_customerio_for_webhook_signing_keys(self, cloud, cio, clock):
        for i in range(2):
            name = f"hooks-{i}"
            cloud.provision(name, "webhook_signing")
            cloud.submit(name, json.dumps({"signing_key": f"{i}" * 40}))
            assert cloud.current_value(name) is not None
        clock.advance(timedelta(days=5))
        cio.log.clear()
        cloud.sweep()
        assert cio.log == []

    def test_audit_trail_names_the_operator_who_submitted(self, cloud, cio, clock, logs):
        cloud.provision(NAME)
        cloud.submit(NAME, cio.new_track_key(WORKSPACE), actor="bob")
        clock.advance(timedelta(days=77))
        cloud.sweep()
        suggested = cloud.state().key_name
        cloud.submit(NAME, cio.new_track_key(WORKSPACE), actor="alice", key_name="mkt-track-march")
        verified = audit_events(logs.lines, "key.verified")[-1]
        promoted = audit_events(logs.lines, "key.promoted")[-1]
        assert verified["actor"] == "alice" and verified["via"] == cloud.via
        assert promoted["actor"] == "alice" and promoted["via"] == cloud.via
        assert promoted["names"]["current"] == "mkt-track-march" != suggested
        assert cloud.state().current_name == "mkt-track-march"
