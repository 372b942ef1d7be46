"""The daily sweep: one recurring schedule per cloud, whose input is the stack's manifest.

The sweep event names every managed credential (the manifest), so the rotator needs no
`secretsmanager:ListSecrets` (an action that only accepts `Resource: "*"`) and the GCP
function no project-wide `secretmanager.secrets.list`. The schedule only starts the day:
the rotator hands each credential to its own unit of work (AWS: the work queue; GCP: one
Pub/Sub message each, rotation/workqueue.py), so nothing about scheduling grows with the
number of credentials: one schedule, whatever the count.

The manifest names AWS secrets by name (`<prefix>/<credential>`, which every Secrets
Manager call accepts as SecretId), not by ARN, to stay small: an EventBridge Scheduler
target's `Input` holds at most 256 KB (the Scheduler API reference), about 13,000
credentials with 16-character names; a Cloud Scheduler job's body 1 MB. A stack past
that is refused at `pulumi up` with the count that fits (`manifest_event`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from infra.config import ConfigError, ConfigProblem
from rotation import conventions as cv

DAILY_UTC = (6, 0)  # hour, minute: before the working day in Europe and the Americas
AWS_CRON = f"cron({DAILY_UTC[1]} {DAILY_UTC[0]} * * ? *)"  # EventBridge Scheduler, UTC
GCP_CRON = f"{DAILY_UTC[1]} {DAILY_UTC[0]} * * *"  # Cloud Scheduler unix-cron, UTC
AWS_INPUT_LIMIT_BYTES = 256 * 1024
GCP_JOB_LIMIT_BYTES = 1024 * 1024 - 1024  # 1 MB including ~1 KB of request overhead


class ManifestTooLarge(ValueError):
    """More credentials than one schedule's input can name."""


def sweep_event(secret_ids: Sequence[str]) -> str:
    """The event the daily schedule sends (rotation.conventions.ACTION_SWEEP)."""
    return json.dumps({"action": cv.ACTION_SWEEP, "secret_ids": list(secret_ids)})


def manifest_event(secret_ids: Sequence[str], limit: int) -> str:
    """The sweep event, refused (with what would fit) when it exceeds the input limit."""
    event = sweep_event(secret_ids)
    size = len(event.encode())
    if size > limit:
        per = size / max(len(secret_ids), 1)
        raise ManifestTooLarge(
            f"the daily sweep's manifest names {len(secret_ids)} credentials in {size} bytes; "
            f"one schedule's input holds {limit} bytes (about {int(limit / per)} such names)."
        )
    return event


def stack_manifest(secret_ids: Sequence[str], limit: int) -> str:
    """The sweep event a stack's schedule carries; a manifest too large for one schedule
    is a configuration error of the stack (`pulumi up` stops and says how to fix it)."""
    try:
        return manifest_event(secret_ids, limit)
    except ManifestTooLarge as err:
        fix = "split the credentials across stacks, or shorten their names."
        raise ConfigError([ConfigProblem("credentials", str(err), fix)]) from None
