"""A simulated year of one AWS stack, run once for the module, and `cio-rotate evidence` on it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from typer.testing import CliRunner

from localcloud.aws_harness import REGION, AwsHarness
from localcloud.customerio import FakeCustomerIO
from localcloud.stack_outputs import AWS_LOG_GROUP, aws_outputs
from rotation.cli import Overrides, app
from rotation.clock import SimulatedClock
from tests.evidence.year import Year, run_year, simulated_logs

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def artifacts_dir() -> Path:
    """Where tests leave files for people (the HTML report and its screenshot)."""
    path = Path(os.environ.get("CIO_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "evidence"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class Stack:
    """The local stack after (part of) its life: run `cio-rotate` against it."""

    aws: AwsHarness
    cio: FakeCustomerIO
    clock: SimulatedClock
    tmp: Path
    printed: list[str] = field(default_factory=list)

    def run(self, *args: str, deny_logs: bool = False) -> Any:
        """`cio-rotate --outputs ... ARGS`; `deny_logs`: AWS refuses the operator's
        FilterLogEvents, as it would a role without logs:FilterLogEvents."""
        session = boto3.session.Session(region_name=REGION)
        if deny_logs:
            session.events.register("before-call.cloudwatch-logs.FilterLogEvents", _deny)
        outputs = self.tmp / "outputs.json"
        outputs.write_text(json.dumps(aws_outputs(self.aws)))  # the program's own outputs
        result = CliRunner().invoke(
            app,
            ["--outputs", str(outputs), *args],
            obj=Overrides(
                session=session,
                clock=self.clock,
                sleep=lambda _: None,
            ),
            env={"COLUMNS": "120", "CIO_ACTOR": "auditor"},
        )
        self.printed.append(result.output)
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    def secrets_issued(self) -> list[str]:
        return list(self.cio.issued) + list(self.aws.submitted_secrets)


def _deny(**_: Any) -> None:
    raise ClientError(
        {
            "Error": {
                "Code": "AccessDeniedException",
                "Message": "User: arn:aws:sts::123456789012:assumed-role/cio-operator/auditor "
                "is not authorized to perform: logs:FilterLogEvents on resource: "
                f"arn:aws:logs:{REGION}:123456789012:log-group:{AWS_LOG_GROUP}",
            }
        },
        "FilterLogEvents",
    )


@contextmanager
def local_stack(cio: FakeCustomerIO, tmp: Path) -> Iterator[tuple[Stack, Any]]:
    """moto, the rotator in-process, CloudWatch Logs on the simulated clock; AWS's own
    timestamps (LastRotatedDate) on the same clock."""
    cio.reset()
    clock = SimulatedClock(START)
    with mock_aws():
        aws = AwsHarness(cio=cio, clock=clock)
        aws.runtime.clock = clock
        with aws.runtime.active(), simulated_logs(clock) as shipper:
            yield Stack(aws, cio, clock, tmp), shipper


@dataclass
class YearOfEvidence:
    stack: Stack
    year: Year
    reports: dict[str, str]
    trail: list[dict[str, Any]]  # every audit line in the log group: id, credential, event
    last_rotated: dict[str, datetime | None]


@pytest.fixture(scope="module")
def year_of_evidence(
    cio_server: FakeCustomerIO, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[YearOfEvidence]:
    """A year lived once for the module; the report in the three formats, through the CLI."""
    with local_stack(cio_server, tmp_path_factory.mktemp("year")) as (stack, _):
        year = run_year(stack.aws, stack.cio, stack.clock)
        until = stack.clock.now().strftime("%Y-%m-%d")
        reports = {}
        for fmt in ("json", "csv", "html"):
            result = stack.run(
                "evidence", "--since", "2026-03-02", "--until", until, "--format", fmt
            )
            assert result.exit_code == 0, result.output
            reports[fmt] = result.stdout
        logs = boto3.client("logs", region_name=REGION)
        trail = []
        for page in logs.get_paginator("filter_log_events").paginate(logGroupName=AWS_LOG_GROUP):
            for event in page["events"]:
                doc = json.loads(event["message"][event["message"].index("{") :])
                trail.append({"id": event["eventId"], **doc})
        last_rotated = {
            name: stack.aws.sm.describe_secret(SecretId=arn).get("LastRotatedDate")
            for name, arn in stack.aws.secrets.items()
        }
        yield YearOfEvidence(stack, year, reports, trail, last_rotated)
