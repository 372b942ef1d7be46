"""A credential's wake-up on AWS: one one-time EventBridge Scheduler schedule per credential.

`at(yyyy-mm-ddThh:mm:ss)` in UTC, `ActionAfterCompletion: DELETE` (the schedule removes
itself once it has fired), in the schedule group the Pulumi program declares, targeting
the rotator's work queue with a JSON input that names the credential. Arming again moves
the one schedule (its name is derived from the credential), so a credential never has two.
The program gives the function the group, the target and the role the scheduler assumes
to send to it (`CIO_WAKE_*`); without them the store arms nothing (the daily sweep stays).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from rotation import conventions as cv
from rotation.clock import Clock

# Scheduler refuses an `at()` in the past; a moment already due fires a minute from now.
MIN_LEAD = timedelta(minutes=1)
_UNSAFE = re.compile(r"[^0-9A-Za-z_.-]")


def schedule_name(credential_id: str) -> str:
    """The credential's one schedule: readable, unique, at most 64 of [0-9A-Za-z-_.]."""
    name = credential_id.split(":secret:", 1)[-1]
    if ":secret:" in credential_id and len(name) > 7 and name[-7] == "-":
        name = name[:-7]  # the ARN's random suffix: the same credential by name or by ARN
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"wake-{_UNSAFE.sub('-', name)[-40:]}-{digest}"


def wake_event(credential_id: str) -> str:
    """What the schedule sends: a reconcile of one credential, marked as its wake-up."""
    return json.dumps({"action": cv.ACTION_RECONCILE, "secret_id": credential_id, "wake": True})


@dataclass
class ScheduledWakeUps:
    client: Any  # boto3 "scheduler"
    clock: Clock
    group: str
    target_arn: str
    role_arn: str

    @classmethod
    def from_env(cls, env: Mapping[str, str], client: Any, clock: Clock) -> ScheduledWakeUps | None:
        group = env.get(cv.ENV_WAKE_GROUP, "")
        target = env.get(cv.ENV_WAKE_TARGET_ARN, "")
        role = env.get(cv.ENV_WAKE_ROLE_ARN, "")
        if not (group and target and role):
            return None
        return cls(client=client, clock=clock, group=group, target_arn=target, role_arn=role)

    def arm(self, credential_id: str, at: datetime | None) -> None:
        """Create the schedule, or move it if it exists; with None, delete it."""
        name = schedule_name(credential_id)
        if at is None:
            try:
                self.client.delete_schedule(Name=name, GroupName=self.group)
            except ClientError as err:
                if err.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                    raise
            return
        when = max(at, self.clock.now() + MIN_LEAD)
        definition: dict[str, Any] = {
            "Name": name,
            "GroupName": self.group,
            "ScheduleExpression": f"at({when:%Y-%m-%dT%H:%M:%S})",
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "ActionAfterCompletion": "DELETE",
            "Target": {
                "Arn": self.target_arn,
                "RoleArn": self.role_arn,
                "Input": wake_event(credential_id),
            },
        }
        # Mostly the last one fired and deleted itself: create first, move on a conflict.
        try:
            self.client.create_schedule(**definition)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "ConflictException":
                raise
            self.client.update_schedule(**definition)
