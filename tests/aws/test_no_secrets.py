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
