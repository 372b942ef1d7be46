"""Invariant 4, checked on purpose: the scan works, and a whole noisy run emits no key.

Every test using the `aws` fixture is scanned on teardown (tests/conftest.py);
these tests make sure the scan itself can fail and that DEBUG logging of every
library still shows no key.
"""

import json
import logging
from datetime import timedelta

import pytest

from tests.conftest import assert_no_secrets


def test_the_scan_catches_a_leak():
    with pytest.raises(AssertionError, match="1 secret value"):
        assert_no_secrets(["rotating key 0123456789abcdef now"], ["0123456789abcdef"])


def test_full_rotation_at_debug_level_emits_no_key(aws, cio, clock, logs):
    logging.getLogger().setLevel(logging.DEBUG)
    aws.provision("t", "track", "us", workspace="1")
    first = cio.new_track_key("1")
    aws.submit("t", first)
    clock.advance(timedelta(days=80))
    aws.sweep()
    aws.submit("t", cio.new_track_key("2"))  # wrong workspace
    aws.submit("t", '{"site_id": "abcdefgh12", "api_key": "zz", "region": "us"}')
    cio.fail_next(503, times=4)
    aws.submit("t", cio.new_track_key("1"))  # inconclusive, then resumed by the sweep
    aws.sweep()
    aws.invoke({"action": "emergency", "secret_id": aws.secrets["t"], "reason": "drill"})
    clock.advance(timedelta(days=2))
    aws.sweep()
    cio.delete_key(first)
    aws.invoke({"action": "reconcile", "secret_id": aws.secrets["t"]})
    audit = [line for line in logs.lines if '"audit": true' in line]
    assert {json.loads(a)["event"] for a in audit} >= {
        "rotation.opened",
        "key.rejected",
        "key.inconclusive",
        "key.promoted",
        "notification.sent",
        "revocation.confirmed",
    }
    assert_no_secrets(logs.lines + aws.runtime.errors, cio.issued)


def test_the_evidence_report_of_a_noisy_run_holds_no_key(aws, cio, clock, logs):
    """Rejections, a malformed submission, an emergency: the evidence report built from
    that audit trail, in every format, holds no key (nor anything a submission held)."""
    from rotation.evidence.build import build_report, lookback
    from rotation.evidence.collect import facts_of
    from rotation.evidence.model import Period
    from rotation.evidence.render import render
    from rotation.operator.aws import AwsBackend
    from rotation.operator.backend import Trail, parse_audit_line, trail_of
    from rotation.operator.config import CredentialRef, OperatorConfig

    start = clock.now()
    aws.provision("t", "track", "us", workspace="1")
    first = cio.new_track_key("1")
    aws.submit("t", first)
    clock.advance(timedelta(days=80))
    aws.sweep()
    aws.submit("t", cio.new_track_key("2"))  # wrong workspace
    aws.submit("t", '{"site_id": "abcdefgh12", "api_key": "zz", "region": "us"}')
    aws.submit("t", cio.new_track_key("1"))
    aws.invoke({"action": "emergency", "secret_id": aws.secrets["t"], "reason": "drill"})
    clock.advance(timedelta(days=2))
    cio.delete_key(first)
    aws.sweep()
    period = Period(start, clock.now() + timedelta(seconds=1))
    parsed = [p for p in (parse_audit_line(line) for line in logs.lines) if p is not None]
    events, earliest = trail_of(parsed, ["t"], lookback(start, 90), period.until)
    ref = CredentialRef("t", "aws", aws.secrets["t"])
    report = build_report(
        [facts_of(ref, AwsBackend(OperatorConfig(aws_region="us-east-1")))],
        {"aws": Trail(events, "", earliest)},
        period,
        90,
        read_since=lookback(start, 90),
        generated_at=clock.now(),
        source="test",
    )
    assert sum(r.rejected_submissions for r in report.credentials[0].rotations) == 2
    texts = [render(report, fmt) for fmt in ("json", "csv", "html")]
    assert_no_secrets(texts, cio.issued + aws.submitted_secrets)
