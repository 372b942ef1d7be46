"""The daily sweep: which credentials each schedule carries, and when it fires.

The sweep event lists the secrets to reconcile, so the rotator needs no
`secretsmanager:ListSecrets` (an action that only accepts `Resource: "*"`) and
the GCP function needs no project-wide `secretmanager.secrets.list`.

Limits: an EventBridge Scheduler target's `Input` may hold at most 256 KB (the
Scheduler API reference), which is also Lambda's asynchronous payload limit; a
Cloud Scheduler job at most 1 MB. 500 ARNs are about 50 KB, so size alone would
allow one schedule. What binds first is time: the rotator runs with a reserved
concurrency of 1 and probes Customer.io for every credential (its App API allows
10 requests/s), so a sweep is split into chunks of `CHUNK_SIZE` credentials,
each its own schedule, `STAGGER_MINUTES` apart, each well inside one invocation's
timeout. Chunk sizes are also checked against the byte limit, with every ARN at
its longest possible length, so no chunk can ever be refused at deploy time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from rotation import conventions as cv

CHUNK_SIZE = 50
STAGGER_MINUTES = 10
FIRST_RUN_UTC = (6, 0)  # hour, minute: before the working day in Europe and the Americas
AWS_INPUT_LIMIT_BYTES = 256 * 1024
GCP_JOB_LIMIT_BYTES = 1024 * 1024 - 1024  # 1 MB including ~1 KB of request overhead
# The longest a partition (aws-iso-b, aws-us-gov, ...), region and the random suffix
# can make a secret ARN: `arn:` + 10 + `:secretsmanager:` + 20 + `:` + 12 + `:secret:` ... `-XXXXXX`.
_ARN_OVERHEAD = (
    len("arn:") + 10 + len(":secretsmanager:") + 20 + len(":") + 12 + len(":secret:") + 7
)


@dataclass(frozen=True)
class SweepChunk:
    """One schedule: its index, the credentials it sweeps and its cron fields."""

    index: int
    credentials: tuple[str, ...]
    hour: int
    minute: int

    @property
    def aws_cron(self) -> str:
        """EventBridge Scheduler cron (six fields, UTC)."""
        return f"cron({self.minute} {self.hour} * * ? *)"

    @property
    def gcp_cron(self) -> str:
        """Cloud Scheduler unix-cron (five fields, UTC)."""
        return f"{self.minute} {self.hour} * * *"


def sweep_event(secret_ids: Sequence[str]) -> str:
    """The event a sweep schedule sends (rotation.conventions.ACTION_SWEEP)."""
    return json.dumps({"action": cv.ACTION_SWEEP, "secret_ids": list(secret_ids)})


def max_event_bytes(secret_names: Sequence[str]) -> int:
    """The largest the event for these secrets can be, whatever account and region."""
    longest = [f"{'x' * _ARN_OVERHEAD}{name}" for name in secret_names]
    return len(sweep_event(longest).encode())


def plan_chunks(secret_names: Sequence[str], chunk_size: int = CHUNK_SIZE) -> list[SweepChunk]:
    """Split the managed secrets into staggered daily schedules, in config order."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    chunks: list[SweepChunk] = []
    start_hour, start_minute = FIRST_RUN_UTC
    for index, offset in enumerate(range(0, len(secret_names), chunk_size)):
        names = tuple(secret_names[offset : offset + chunk_size])
        if max_event_bytes(names) > AWS_INPUT_LIMIT_BYTES:
            raise ValueError(f"sweep chunk {index} could exceed the 256 KB Scheduler input limit")
        total = start_hour * 60 + start_minute + index * STAGGER_MINUTES
        chunks.append(
            SweepChunk(index=index, credentials=names, hour=(total // 60) % 24, minute=total % 60)
        )
    return chunks
