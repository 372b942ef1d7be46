"""What the Lambda runtime does with the rotator's log lines: CloudWatch Logs, in moto.

The operator CLI reads the audit trail (`history`, `status`'s last daily check) from the
rotator's log group; the tests and the drill run the rotator in-process, so this handler
ships its audit lines there, in Lambda's text format.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from localcloud.stack_outputs import AWS_LOG_GROUP
from rotation.audit import AUDIT_LOGGER


class CloudWatchShipper(logging.Handler):
    """Each record as one log event of the rotator's log group: the one the program
    declares, which exists once the local stack is deployed (lines before that are lost,
    as they would be before `pulumi up`)."""

    def __init__(self, client: Any, log_group: str = AWS_LOG_GROUP) -> None:
        super().__init__(logging.INFO)
        self.client = client
        self.log_group = log_group
        self.sequence = 0
        self.stream = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.stream:
            try:
                self.client.create_log_stream(logGroupName=self.log_group, logStreamName="rotator")
            except self.client.exceptions.ResourceNotFoundException:
                return  # nothing deployed yet
            except self.client.exceptions.ResourceAlreadyExistsException:
                pass
            self.stream = True
        self.sequence += 1
        line = f"[INFO]\t{time.strftime('%Y-%m-%dT%H:%M:%S')}Z\treq-{self.sequence}\t"
        self.client.put_log_events(
            logGroupName=self.log_group,
            logStreamName="rotator",
            logEvents=[
                {
                    "timestamp": int(time.time() * 1000) + self.sequence,
                    "message": line + record.getMessage(),
                }
            ],
        )


@contextmanager
def audit_lines_to(handler: logging.Handler) -> Iterator[logging.Handler]:
    """The audit logger's lines go to `handler` (at INFO) until the block ends; nothing
    else of the rotator's logging changes. (The GCP CLI tests give it their Cloud Logging
    handler; Lambda's CloudWatch Logs is `shipped_audit`.)"""
    audit = logging.getLogger(AUDIT_LOGGER)
    old_level, old_propagate = audit.level, audit.propagate
    audit.setLevel(logging.INFO)
    audit.addHandler(handler)
    try:
        yield handler
    finally:
        audit.removeHandler(handler)
        audit.setLevel(old_level)
        audit.propagate = old_propagate


@contextmanager
def shipped_audit(client: Any, log_group: str = AWS_LOG_GROUP) -> Iterator[CloudWatchShipper]:
    """The audit logger's lines go to `log_group` until the block ends."""
    shipper = CloudWatchShipper(client, log_group)
    with audit_lines_to(shipper):
        yield shipper
