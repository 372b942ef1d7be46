"""A year of one AWS stack in the local cloud: what `cio-rotate evidence` is asked about.

Three credentials, a daily sweep, operators who answer the runbook, and the year's
events: scheduled rotations, one late rotation (the native deadline fires before the
key arrives), one emergency, one wrong deletion rolled back, one retirement.

The rotator's audit lines reach moto's CloudWatch Logs with the simulated clock's
timestamps, as Lambda would log them at that moment: moto's CloudWatch Logs is told
the simulated time (it refuses events older than 14 days by its own clock).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from unittest.mock import patch

import boto3

from localcloud.aws_harness import REGION, AwsHarness
from localcloud.customerio import FakeCustomerIO
from localcloud.stack_outputs import AWS_LOG_GROUP
from rotation import conventions as cv
from rotation.audit import AUDIT_LOGGER
from rotation.clock import SimulatedClock
from rotation.credentials import Credential
from rotation.state import Mode, Phase

WORKSPACE = "1001"
MARKETING = "marketing-track"  # scheduled rotations, one late, one emergency
BILLING = "billing-app"  # the wrong key deleted once: rolled back
LEGACY = "legacy-track"  # retired
EMERGENCY_REASON = "key pasted into a public CI log"
RETIRE_REASON = "moved to billing-app"
EMERGENCY_DAY = 200
RETIRE_DAY = 60
LATE_ROUND = 2  # marketing's second scheduled rotation waits past the deadline
DAYS = 365


class SimulatedCloudWatch(logging.Handler):
    """The Lambda runtime shipping the rotator's lines to its log group, at the clock's time."""

    def __init__(self, clock: SimulatedClock, stream: str = "rotator") -> None:
        super().__init__(logging.INFO)
        self.clock = clock
        self.client = boto3.client("logs", region_name=REGION)
        self.stream = stream
        self.sequence = 0
        self.shipping = True
        self.created = False  # the log group is the deployed stack's: exists after `up`

    def emit(self, record: logging.LogRecord) -> None:
        if not self.shipping:
            return
        if not self.created:
            try:
                self.client.create_log_stream(logGroupName=AWS_LOG_GROUP, logStreamName=self.stream)
            except self.client.exceptions.ResourceNotFoundException:
                return  # nothing deployed yet: no log group to ship to
            self.created = True
        self.sequence += 1
        at = self.clock.now()
        line = f"[INFO]\t{at:%Y-%m-%dT%H:%M:%S}Z\treq-{self.sequence}\t{record.getMessage()}"
        self.client.put_log_events(
            logGroupName=AWS_LOG_GROUP,
            logStreamName=self.stream,
            logEvents=[{"timestamp": int(at.timestamp() * 1000), "message": line}],
        )

    def expire_before(self) -> None:
        """What a log group's retention does: every event shipped so far is gone."""
        self.client.delete_log_stream(logGroupName=AWS_LOG_GROUP, logStreamName=self.stream)
        self.stream += "-2"
        self.client.create_log_stream(logGroupName=AWS_LOG_GROUP, logStreamName=self.stream)


@contextmanager
def simulated_logs(clock: SimulatedClock) -> Iterator[SimulatedCloudWatch]:
    """The rotator's audit lines in moto's CloudWatch Logs, stamped by the simulated clock."""
    with patch("moto.logs.models.utcnow", lambda: clock.now().replace(tzinfo=None)):
        shipper = SimulatedCloudWatch(clock)
        audit = logging.getLogger(AUDIT_LOGGER)
        audit.addHandler(shipper)
        try:
            yield shipper
        finally:
            audit.removeHandler(shipper)


@dataclass
class Year:
    """The scenario's moments, for the assertions (simulated times)."""

    start: datetime
    keys: dict[str, list[Credential]] = field(default_factory=dict)
    promotions: dict[str, list[datetime]] = field(default_factory=dict)
    late_promoted_at: datetime | None = None
    emergency_at: datetime | None = None
    rolled_back_at: datetime | None = None
    retired_at: datetime | None = None
    last_rotated: dict[str, list[tuple[datetime, Any]]] = field(default_factory=dict)


def run_year(aws: AwsHarness, cio: FakeCustomerIO, clock: SimulatedClock) -> Year:
    """Provision, bootstrap and live a year; returns what happened when."""
    year = Year(start=clock.now())
    for name, kind in ((MARKETING, "track"), (BILLING, "app"), (LEGACY, "track")):
        aws.provision(name, kind, "us", workspace=WORKSPACE)
        _hand_over(aws, cio, year, name, actor="alice")
    rounds = 0
    wrong_deleted = False
    opened_day: dict[str, int] = {}
    promoted_day: dict[str, int] = {}
    for day in range(1, DAYS + 1):
        clock.advance(timedelta(days=1))
        aws.sweep()
        for name in (MARKETING, BILLING):
            st = aws.state(name)
            if st.phase is Phase.AWAITING_KEY:
                opened_day.setdefault(name, day)
                wait = 2
                if name == MARKETING and rounds + 1 == LATE_ROUND and st.mode is Mode.SCHEDULED:
                    wait = 19  # past day 90 of the key: the native deadline fires first
                    if day - promoted_day[name] == 90:
                        aws.native_rotation(name)  # AWS's own schedule: no key yet, it fails
                if day - opened_day[name] >= wait:
                    if name == MARKETING and st.mode is Mode.SCHEDULED:
                        rounds += 1
                    _hand_over(aws, cio, year, name, actor="bob")
                    if name == MARKETING and rounds == LATE_ROUND and year.late_promoted_at is None:
                        year.late_promoted_at = clock.now()
                    opened_day.pop(name)
                    promoted_day[name] = day
            elif st.phase is Phase.PROMOTED and day - promoted_day.get(name, day) >= 2:
                keys = year.keys[name]
                if name == BILLING and not wrong_deleted:
                    wrong_deleted = True
                    cio.delete_key(keys[-1])  # the NEW key, by mistake
                    _check(aws, name)  # `cio-rotate check`: the rotator rolls back at once
                    year.rolled_back_at = clock.now()
                    promoted_day.pop(name)
                    continue
                cio.delete_key(_key(year, name, st.previous_fp))
                _check(aws, name)
            if name == MARKETING and day == EMERGENCY_DAY:
                assert st.phase is Phase.IDLE, st.phase
                _emergency(aws, cio, clock, year)
                promoted_day[name] = day
        if day == RETIRE_DAY:
            aws.invoke(
                {
                    "action": cv.ACTION_RETIRE,
                    "secret_id": aws.secrets[LEGACY],
                    "reason": RETIRE_REASON,
                    "actor": "alice",
                }
            )
        if day == RETIRE_DAY + 2:
            cio.delete_key(year.keys[LEGACY][-1])
            _check(aws, LEGACY)
            year.retired_at = clock.now()
    return year


def _hand_over(
    aws: AwsHarness, cio: FakeCustomerIO, year: Year, name: str, actor: str
) -> Credential:
    key = cio.new_app_key((WORKSPACE,)) if name == BILLING else cio.new_track_key(WORKSPACE)
    before = aws.state(name).current_fp
    aws.submit(name, key, actor=actor, key_name=f"{name}-{aws.clock.now():%Y%m%d}")
    assert aws.state(name).current_fp == key.fingerprint != before
    year.keys.setdefault(name, []).append(key)
    year.promotions.setdefault(name, []).append(aws.clock.now())
    described = aws.sm.describe_secret(SecretId=aws.secrets[name])
    year.last_rotated.setdefault(name, []).append(
        (aws.clock.now(), described.get("LastRotatedDate"))
    )
    return key


def _key(year: Year, name: str, fingerprint: str) -> Credential:
    return next(k for k in year.keys[name] if k.fingerprint == fingerprint)


def _check(aws: AwsHarness, name: str) -> None:
    aws.invoke({"action": cv.ACTION_RECONCILE, "secret_id": aws.secrets[name]})


def _emergency(aws: AwsHarness, cio: FakeCustomerIO, clock: SimulatedClock, year: Year) -> None:
    year.emergency_at = clock.now()
    aws.invoke(
        {
            "action": cv.ACTION_EMERGENCY,
            "secret_id": aws.secrets[MARKETING],
            "reason": EMERGENCY_REASON,
            "actor": "carol",
        }
    )
    clock.advance(timedelta(hours=1))
    _hand_over(aws, cio, year, MARKETING, actor="carol")
    clock.advance(timedelta(minutes=20))  # the emergency grace period (15 minutes)
    _check(aws, MARKETING)  # the delete notice
    cio.delete_key(_key(year, MARKETING, aws.state(MARKETING).previous_fp))
    _check(aws, MARKETING)
    assert aws.state(MARKETING).phase is Phase.IDLE
