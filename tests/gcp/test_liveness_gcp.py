"""Issue 10 on GCP (the scenarios are in `tests/liveness.py`).

The function under functions-framework, Secret Manager emulated, the local Customer.io.
Every notice, error and log line the function emitted is scanned for keys at the end.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localcloud.customerio import FakeCustomerIO
from localcloud.gcp_harness import GcpHarness
from tests.conftest import Captured, assert_no_secrets
from tests.liveness import NAME, LivenessCloud, LivenessScenarios, Told


class GcpLiveness(LivenessCloud):
    """The function behind Pub/Sub; notices are what the recording notifier was given."""

    via = "pubsub"
    harness: GcpHarness

    def check(self, name: str = NAME) -> None:
        doc = {"action": "reconcile", "secret_id": self.harness.secrets[name]}
        assert self.harness.action(doc) < 300
        self.harness.pump()

    def sweep(self) -> None:
        assert self.harness.sweep() < 300

    def told(self) -> list[Told]:
        return [Told(n.notice, n.urgency, n.body) for n in self.harness.notifier.sent]


@pytest.fixture
def cloud(gcp: GcpHarness, cio: FakeCustomerIO, logs: Captured) -> Iterator[GcpLiveness]:
    """Invariant 4 over what these tests emit: notices, function errors, every log line."""
    yield GcpLiveness(gcp)
    texts = [f"{n.subject}\n{n.body}" for n in gcp.notifier.sent] + gcp.errors + logs.lines
    assert_no_secrets(texts, cio.issued)


class TestLivenessGcp(LivenessScenarios):
    pass
