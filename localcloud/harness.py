"""What the AWS and GCP harnesses share: the stack config's credentials, `pulumi up` for
them, and time passing on the stack's clock (localcloud/aws_harness.py, gcp_harness.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar

from localcloud.customerio import FakeCustomerIO
from localcloud.stack import Fired, LocalStack, local_config
from rotation.clock import SimulatedClock
from rotation.policy import Policy

SCHEDULE_KEYS = (
    "rotation_days",
    "lead_days",
    "escalate_days",
    "reminder_days",
    "grace_hours",
    "emergency_grace_minutes",
    "emergency_deadline_hours",
)


def schedule_config(policy: Policy) -> dict[str, int]:
    """The stack config keys that carry a policy's calendar."""
    return {key: int(getattr(policy, key)) for key in SCHEDULE_KEYS}


@dataclass
class StackHarness:
    """A stack of one cloud (`CLOUD`) in the local cloud; the subclass builds `stack`."""

    CLOUD: ClassVar[str]

    cio: FakeCustomerIO
    clock: SimulatedClock
    policy: Policy = field(default_factory=Policy)
    secrets: dict[str, str] = field(default_factory=dict)
    credentials: list[dict[str, Any]] = field(default_factory=list)  # the stack config's
    config: dict[str, Any] = field(default_factory=dict)  # more stack config (gcp_max_instances)
    stack: LocalStack = field(init=False)

    @property
    def outputs(self) -> dict[str, Any]:
        """The program's own stack outputs (`pulumi stack output --json`)."""
        return self.stack.outputs

    def provision(
        self,
        name: str,
        kind: str,
        region: str = "us",
        workspace: str = "",
        webhook_endpoint: str = "",
    ) -> str:
        """Add the credential to the stack config and re-deploy; returns its live secret's
        id (AWS: its ARN; GCP: its resource name)."""
        spec: dict[str, Any] = {"name": name, "kind": kind}
        if kind != "webhook_signing":
            spec["region"] = region
        if workspace:
            spec["workspace_id"] = workspace
        if webhook_endpoint:
            spec["webhook_endpoint"] = webhook_endpoint
        self.provision_many([spec])
        return self.secrets[name]

    def provision_many(self, specs: list[dict[str, Any]]) -> None:
        """Add credentials (stack config entries) in one `pulumi up`, as a platform team
        adding many at once would (the benches' thousands)."""
        names = {s["name"] for s in specs}
        self.credentials = [c for c in self.credentials if c["name"] not in names] + specs
        extra = {**schedule_config(self.policy), **self.config}
        self.stack.up(local_config(self.credentials, (self.CLOUD,), extra))
        self.secrets.update(self.stack.secret_ids())
        self.deployed(specs)

    def deployed(self, specs: list[dict[str, Any]]) -> None:
        """After `pulumi up` added `specs`: what the cloud wires beside the program."""

    def advance(self, duration: timedelta) -> list[Fired]:
        """Let time pass; the clouds fire their schedules, rotations and deliveries."""
        return self.stack.advance(duration)
