"""The audit trail names the person behind a submission, and the channel separately."""

import json
import logging
from datetime import UTC, datetime

import pytest

from rotation import audit

AT = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


def test_submission_events_carry_the_operator_and_the_channel(caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.INFO, logger=audit.AUDIT_LOGGER):
        event = audit.record(
            "key.promoted",
            credential="marketing-track",
            rotation_id="r1",
            mode="scheduled",
            actor="alice",
            outcome="promoted",
            at=AT,
            fingerprints={"current": "5678ffff", "previous": "1234abcd"},
            via="secretsmanager",
            names={"current": "marketing-track-20260504", "previous": "", "new": ""},
        )
    doc = json.loads(caplog.records[-1].getMessage())
    assert doc["actor"] == "alice" and doc["via"] == "secretsmanager"
    assert doc["names"] == {"current": "marketing-track-20260504"}
    assert event.at == "2026-05-04T09:00:00Z"


def test_via_is_left_out_when_the_actor_is_the_channel():
    event = audit.record(
        "revocation.confirmed",
        credential="marketing-track",
        rotation_id="r1",
        mode="scheduled",
        actor="rotator",
        outcome="revoked",
        at=AT,
        via="rotator",
    )
    assert event.via == "" and event.names == {}
