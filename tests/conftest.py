"""Shared fixtures: a local Customer.io, a simulated clock, and a whole AWS account in moto."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hypothesis import settings
from moto import mock_aws

from localcloud.aws_harness import AwsHarness, fake_aws_environment
from localcloud.customerio import FakeCustomerIO
from rotation.clock import SimulatedClock

settings.register_profile("ci", max_examples=500, stateful_step_count=20, deadline=None)
settings.register_profile("dev", max_examples=30, stateful_step_count=20, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

fake_aws_environment()
# Applications' key-usage reports (cio_consumer.usage) go to the cloud a source names; in
# tests only those that build their own reporter against the local cloud send any.
os.environ["CIO_USAGE_REPORTING"] = "off"


@pytest.fixture(scope="session")
def cio_server() -> Iterator[FakeCustomerIO]:
    server = FakeCustomerIO().start()
    yield server
    server.stop()


@pytest.fixture
def cio(cio_server: FakeCustomerIO) -> FakeCustomerIO:
    cio_server.reset()
    return cio_server


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


@pytest.fixture
def aws(cio: FakeCustomerIO, clock: SimulatedClock, logs: Captured) -> Iterator[AwsHarness]:
    """A provisioned-on-demand AWS account; on teardown, scans everything it emitted for keys."""
    with mock_aws():
        harness = AwsHarness(cio=cio, clock=clock)
        with harness.runtime.active():
            yield harness
            emitted = [json.dumps(n) for n in harness.notifications()]
            emitted += [json.dumps(harness.tags(name)) for name in harness.secrets]
            emitted += harness.runtime.errors
            emitted += [e.outcome for e in harness.runtime.rotation_events]
            emitted += logs.lines
            assert_no_secrets(emitted, cio.issued + harness.submitted_secrets)


def assert_no_secrets(texts: list[str], secrets: list[str]) -> None:
    """Invariant 4: no key in a log line, notification, tag, audit event or error message."""
    blob = "\n".join(texts)
    leaked = [s for s in secrets if len(s) >= 8 and s in blob]
    assert not leaked, f"{len(leaked)} secret value(s) leaked into emitted output"


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += " " + repr(record.exc_info[1])
        self.lines.append(text)


@pytest.fixture(autouse=True)
def logs() -> Iterator[Captured]:
    """Every log record emitted anywhere during the test, formatted."""
    handler = Captured()
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(old)
