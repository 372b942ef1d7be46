"""One credential, one unit of work: how the daily sweep hands each credential to its own
invocation, and how an invocation knows when to stop and hand on the rest.

A unit is a small JSON action naming one credential (`unit`). On AWS the units go to the
work queue (SQS), whose messages the rotator receives in small batches, each message
retried alone; on GCP each is a Pub/Sub message on the rotation topic, each its own
delivery with its own retry. Either way a credential that fails retries alone and a slow
one holds up nobody else.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from rotation import conventions as cv

# The most one credential's unit can take: two short probes (3 s connect + 5 s read
# each, see verify.SHORT_TIMEOUT) and a few store writes and notices. An invocation
# starts a unit only with this much time left, so it returns before its timeout.
UNIT_SECONDS = 30.0
SQS_BATCH = 10  # SendMessageBatch takes at most 10 entries


def unit(secret_id: str, *, daily: bool = False, wake: bool = False) -> dict[str, Any]:
    """The action for one credential: its daily pass (`daily`) or its own timer (`wake`)."""
    doc: dict[str, Any] = {"action": cv.ACTION_RECONCILE, "secret_id": secret_id}
    if daily:
        doc["daily"] = True
    if wake:
        doc["wake"] = True
    return doc


class WorkQueue(Protocol):
    def hand_out(self, units: Sequence[dict[str, Any]]) -> None:
        """Queue each unit as its own message; raises if any was not accepted."""


@dataclass
class SqsWorkQueue:
    client: Any  # boto3 "sqs"
    queue_url: str

    def hand_out(self, units: Sequence[dict[str, Any]]) -> None:
        for offset in range(0, len(units), SQS_BATCH):
            batch = units[offset : offset + SQS_BATCH]
            got = self.client.send_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "MessageBody": json.dumps(u, separators=(",", ":"))}
                    for i, u in enumerate(batch)
                ],
            )
            if got.get("Failed"):
                raise RuntimeError(
                    f"the work queue refused {len(got['Failed'])} of {len(batch)} units"
                )


@dataclass
class Budget:
    """How long this invocation has left, in seconds (the Lambda context's
    `get_remaining_time_in_millis()`, the GCP function's deadline)."""

    remaining: Callable[[], float]

    def allows(self, seconds: float = UNIT_SECONDS) -> bool:
        return self.remaining() >= seconds

    @classmethod
    def unlimited(cls) -> Budget:
        return cls(lambda: float("inf"))
