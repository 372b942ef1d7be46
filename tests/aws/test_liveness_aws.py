"""Issue 10 on AWS (the scenarios are in `tests/liveness.py`).

Moto, the in-process rotation Lambda and the local Customer.io; the `aws` fixture scans
every notification, tag, error and log line for keys at teardown.
"""

from __future__ import annotations

import pytest

from localcloud.aws_harness import AwsHarness
from rotation import conventions as cv
from tests.liveness import NAME, LivenessCloud, LivenessScenarios, Told


class AwsLiveness(LivenessCloud):
    """The rotator behind lambda:Invoke; notices are what reached the SNS topic."""

    via = "secretsmanager"
    harness: AwsHarness

    def check(self, name: str = NAME) -> None:
        self.harness.invoke(
            {"action": cv.ACTION_RECONCILE, "secret_id": self.harness.secrets[name]}
        )

    def sweep(self) -> None:
        self.harness.sweep()  # a function error raises

    def told(self) -> list[Told]:
        # SNS carries the notification id (rotation id + notice code), not the code alone.
        sent = self.harness.notifications()
        return [Told(n["notification_id"], n["urgency"], n["body"]) for n in sent]


@pytest.fixture
def cloud(aws: AwsHarness) -> AwsLiveness:
    return AwsLiveness(aws)


class TestLivenessAws(LivenessScenarios):
    pass
