"""`cio-rotate drain NAME` and the drain lines of `status`, through the local cloud.

Applications report the key they hold with the consumer library's own reporter
(cio_consumer.usage, CloudWatch in moto) and read the live secret with roles of their
own (CloudTrail's GetSecretValue history: localcloud/cloudtrail.py). The CLI reads that
evidence with the operator's session, as `drain` does on a real account.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from cio_consumer.usage import CloudWatchSink, UsageReporter

from localcloud.cloudtrail import CloudTrailHistory, assumed_role_client
from localcloud.served_aws import ServedAws, served_aws
from rotation.drain import NO_EVIDENCE
from rotation.operator.backend import EXIT_OK, EXIT_UNKNOWN, EXIT_WAITING
from rotation.operator.config import CredentialRef
from rotation.state import Phase
from tests.cli.pseudo_terminal import run_in_terminal
from tests.cli.test_cli_aws import NAME, bootstrapped, state, stdin_doc

REGION = "us-east-1"


class LambdaTrail(CloudTrailHistory):
    """The local account's CloudTrail history, where the rotator reads as its role.

    The in-process rotator calls moto with the account's default credentials (which
    CloudTrail would name the root); on AWS Lambda runs it with its execution role, and
    CloudTrail names that role. Only the rotator uses the default credentials to read a
    secret here (the CLI never does: tests/cli/conftest.py asserts it)."""

    def __init__(self, clock: Any, rotator_role: Callable[[], str]) -> None:
        super().__init__(clock=clock)
        self.rotator_role = rotator_role  # the deployed function's, asked when it reads

    def identity(self, response: Any) -> dict[str, Any]:
        found = super().identity(response)
        if found["type"] != "Root":
            return found
        role = self.rotator_role()
        return {
            "type": "AssumedRole",
            "arn": f"{role.replace(':role/', ':assumed-role/')}/rotator",
            "accountId": found["accountId"],
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": role}},
        }


def rotator_role(aws: Any) -> str:
    return str(aws.lam.get_function_configuration(FunctionName=aws.function_arn)["Role"])


@pytest.fixture
def trail(aws: Any, clock: Any) -> Iterator[CloudTrailHistory]:
    """CloudTrail's event history of the local account, in simulated time."""
    with LambdaTrail(clock.now, lambda: rotator_role(aws)).active() as history:
        yield history


def report(aws: Any, clock: Any, service: str, instance: str, fingerprint: str) -> None:
    """One process's report through the consumer library's reporter, sent now."""
    reporter = UsageReporter(
        CloudWatchSink(boto3.client("cloudwatch", region_name=REGION)),
        service_name=service,
        instance=instance,
        wall_clock=clock.now,
    )
    reporter.note(aws.secrets[NAME], fingerprint)
    assert reporter.flush(5) and reporter.sent == 1
    assert reporter.sent == 1


def promoted_with_readers(cli: Any, aws: Any, clock: Any) -> dict[str, Any]:
    """Role `app` (services api and cron) and role `legacy` read the old key; the key is
    promoted; api reads again and reports the new key; cron still reports the old one."""
    bootstrapped(cli, aws, clock)
    app_arn, app = assumed_role_client("app", REGION)
    legacy_arn, legacy = assumed_role_client("legacy", REGION)
    app.get_secret_value(SecretId=aws.secrets[NAME])
    legacy.get_secret_value(SecretId=aws.secrets[NAME])
    old_fp = state(aws).current_fp
    report(aws, clock, "cron", "batch-7:4242", old_fp)
    clock.advance(timedelta(minutes=5))
    second = cli.track("1001")
    assert cli.run("submit", NAME, "--stdin", input=stdin_doc(second)).exit_code == 0
    st = state(aws)
    assert st.phase is Phase.PROMOTED and st.previous_fp == old_fp
    clock.advance(timedelta(minutes=3))
    app.get_secret_value(SecretId=aws.secrets[NAME])
    report(aws, clock, "api", "web-1:17", st.current_fp)
    report(aws, clock, "cron", "batch-7:4242", old_fp)  # still on the old key
    return {"app": app_arn, "legacy": legacy_arn, "legacy_client": legacy, "st": st}


def test_one_straggler_is_named_then_drained_once_it_moves(cli, aws, clock, trail):
    bootstrapped(cli, aws, clock)
    app_arn, app = assumed_role_client("app", REGION)
    app.get_secret_value(SecretId=aws.secrets[NAME])
    old_fp = state(aws).current_fp
    clock.advance(timedelta(minutes=5))
    assert cli.run("submit", NAME, "--stdin", input=stdin_doc(cli.track("1001"))).exit_code == 0
    new_fp = state(aws).current_fp
    clock.advance(timedelta(minutes=2))
    app.get_secret_value(SecretId=aws.secrets[NAME])  # the role read the new key
    report(aws, clock, "api", "web-1:17", new_fp)
    report(aws, clock, "cron", "batch-7:4242", old_fp)

    result = cli.run("drain", NAME)
    assert result.exit_code == EXIT_WAITING, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"{NAME}: the old key is still in use: 1 holder."
    holders = [line for line in lines if line.startswith("- ")]
    assert holders == [
        f"- cron/batch-7:4242: reports the old key; last seen {clock.now():%Y-%m-%d %H:%M} UTC"
    ]
    assert "1 reporting process on the new key" in result.output
    assert f"`cio-rotate drain {NAME}` again" in result.output

    # The straggler restarts: it reads the secret and reports the new key.
    clock.advance(timedelta(minutes=1))
    app.get_secret_value(SecretId=aws.secrets[NAME])
    report(aws, clock, "cron", "batch-7:4242", new_fp)
    result = cli.run("drain", NAME)
    assert result.exit_code == EXIT_OK, result.output
    assert (
        result.output.splitlines()[0]
        == f"{NAME}: the old key is drained: nothing seen still uses it."
    )
    assert "- " not in result.output
    assert "2 reporting processes on the new key" in result.output, result.output
    assert app_arn not in result.output


def test_json_gives_each_holder_as_fields(cli, aws, clock, trail):
    seen = promoted_with_readers(cli, aws, clock)
    st = seen["st"]
    before = len(cli.calls)
    result = cli.run("drain", NAME, "--json")
    # Every call `drain` makes, with the operator's session: the state (DescribeSecret and
    # the state document), the reports, the audit trail's one page, the rotator's role.
    assert sorted(cli.calls[before:]) == sorted(
        [
            "DescribeSecret",
            "GetSecretValue(state)",
            "ListMetrics",
            "ListMetrics",
            "GetMetricData",
            "LookupEvents",
            "GetFunctionConfiguration",
        ]
    )
    assert result.exit_code == EXIT_WAITING
    doc = json.loads(result.stdout)
    assert doc["exit_code"] == EXIT_WAITING
    assert doc["credential"] == NAME and doc["in_flight"] is True
    assert doc["drained"] is False and doc["audit_read"] is True and doc["problems"] == []
    assert doc["old_fingerprint"] == st.previous_fp and doc["new_fingerprint"] == st.current_fp
    assert doc["promoted_at"] == st.promoted_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert doc["on_new"] == 1
    assert doc["checked_at"] == clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    assert doc["quiet_since"] == clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    read_at = (st.promoted_at - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert doc["holders"] == [
        {
            "who": "cron/batch-7:4242",
            "evidence": "reports the old key",
            "last_seen": clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        {
            "who": seen["legacy"],
            "evidence": "read the secret before the promotion, not since",
            "last_seen": read_at,
        },
    ]
    # One document on stdout, nothing else; ListMetrics x2, GetMetricData, LookupEvents,
    # GetFunctionConfiguration (the rotator's role, whose reads are its own).
    assert doc["calls"] == 5


def test_the_rotators_own_reads_are_not_a_holder(cli, aws, clock, trail):
    promoted_with_readers(cli, aws, clock)
    role = rotator_role(aws)
    # It read the old key (opening the rotation) and, at the promotion, the new one's
    # predecessor: a holder by the evidence alone, left out because it is the rotator.
    assert any(
        e["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] == role for e in trail.events
    )
    doc = json.loads(cli.run("drain", NAME, "--json").stdout)
    assert role not in {h["who"] for h in doc["holders"]}


def test_an_unreadable_audit_trail_is_unknown_not_drained(cli, aws, clock, trail):
    bootstrapped(cli, aws, clock)
    assert cli.run("submit", NAME, "--stdin", input=stdin_doc(cli.track("1001"))).exit_code == 0
    report(aws, clock, "api", "web-1:17", state(aws).current_fp)
    cli.deny("cloudtrail.LookupEvents", "cloudtrail:LookupEvents")
    result = cli.run("drain", NAME)
    assert result.exit_code == EXIT_UNKNOWN, result.output
    text = " ".join(result.output.split())
    assert f"{NAME}: the drain is unknown" in text
    assert "Could not read who read the secret (CloudTrail LookupEvents" in text
    assert "cloudtrail:LookupEvents" in text
    assert "drained: nothing" not in text
    doc = json.loads(cli.run("drain", NAME, "--json").stdout)
    assert doc["drained"] is None and doc["audit_read"] is False and doc["exit_code"] == 8
    assert len(doc["problems"]) == 1


def test_unreadable_reports_name_the_permission_and_are_unknown(cli, aws, clock, trail):
    bootstrapped(cli, aws, clock)
    assert cli.run("submit", NAME, "--stdin", input=stdin_doc(cli.track("1001"))).exit_code == 0
    cli.deny("cloudwatch.ListMetrics", "cloudwatch:ListMetrics")
    result = cli.run("drain", NAME, "--json")
    assert result.exit_code == EXIT_UNKNOWN
    doc = json.loads(result.stdout)
    assert doc["drained"] is None and doc["audit_read"] is True
    assert "AWS denied cloudwatch:ListMetrics" in doc["problems"][0]


def test_no_evidence_at_all_is_unknown_as_the_rotator_holds_it(cli, aws, clock, trail):
    """No report and no read but the rotator's: the rotator does not count that as
    drained (it waits for the grace maximum), so neither does `drain`."""
    bootstrapped(cli, aws, clock)
    assert cli.run("submit", NAME, "--stdin", input=stdin_doc(cli.track("1001"))).exit_code == 0
    result = cli.run("drain", NAME, "--json")
    assert result.exit_code == EXIT_UNKNOWN, result.output
    doc = json.loads(result.stdout)
    assert doc["drained"] is None and doc["holders"] == [] and doc["audit_read"] is True
    assert doc["problems"] == [NO_EVIDENCE]
    text = " ".join(cli.run("drain", NAME).output.split())
    assert f"{NAME}: the drain is unknown: there is no evidence either way." in text
    assert f"Not confirmed: {NO_EVIDENCE}." in text and "Could not read" not in text


def test_a_holder_is_known_even_when_part_of_the_evidence_is_not(cli, aws, clock, trail):
    promoted_with_readers(cli, aws, clock)
    cli.deny("cloudtrail.LookupEvents", "cloudtrail:LookupEvents")
    result = cli.run("drain", NAME, "--json")
    assert result.exit_code == EXIT_WAITING  # cron still reports the old key: that is known
    doc = json.loads(result.stdout)
    assert [h["who"] for h in doc["holders"]] == ["cron/batch-7:4242"]
    assert doc["audit_read"] is False and doc["drained"] is False


def test_nothing_in_flight_is_nothing_to_drain(cli, aws, clock):
    bootstrapped(cli, aws, clock)  # a rotation waits for its key: the old key is current
    result = cli.run("drain", NAME)
    assert result.exit_code == EXIT_OK
    assert result.output.splitlines()[0] == (
        f"{NAME}: nothing to drain: its rotation waits for a new key; the current key is still "
        "in use, so no old key is being replaced."
    )
    doc = json.loads(cli.run("drain", NAME, "--json").stdout)
    assert doc["in_flight"] is False and doc["drained"] is None and doc["phase"] == "awaiting_key"


def test_status_shows_that_the_drain_is_not_measured_yet(cli, aws, clock):
    bootstrapped(cli, aws, clock)
    assert cli.run("submit", NAME, "--stdin", input=stdin_doc(cli.track("1001"))).exit_code == 0
    text = " ".join(cli.run("status").output.split())
    recorded = getattr(state(aws), "drain_checked_at", None)
    if recorded is None:  # the rotator of this branch records no drain yet
        assert f"old key in use: not measured yet (`cio-rotate drain {NAME}` reads it now)" in text
        row = json.loads(cli.run("status", "--json").stdout)[0]
        assert row["drain"] is None and row["drain_measured"] is True
    else:
        assert "old key in use: " in text


def test_unknown_credential_is_not_found(cli, aws):
    aws.provision(NAME, "track")
    result = cli.run("drain", "nope")
    assert result.exit_code == 6


# -- in a real terminal and in a pipe (the CLI as its own process, moto served) ---------

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "rotation.cli"]
ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def straggling() -> Iterator[ServedAws]:
    """A served account where NAME was promoted and one process still reports the old key
    (real time: the CLI process reads the real clock)."""
    with served_aws() as account:
        harness = account.harness
        with LambdaTrail(
            harness.clock.now,
            lambda: str(
                harness.lam.get_function_configuration(FunctionName=harness.function_arn)["Role"]
            ),
        ).active():
            account.provision(NAME)
            harness.submit(NAME, account.cio.new_track_key("1001", "us"))
            old_fp = harness.state(NAME).current_fp
            harness.invoke(
                {
                    "action": "emergency",
                    "secret_id": harness.secrets[NAME],
                    "reason": "key seen in a CI log",
                    "actor": "on-call",
                    "revoke_first": False,
                }
            )
            harness.submit(NAME, account.cio.new_track_key("1001", "us"))
            st = harness.state(NAME)
            assert st.phase is Phase.PROMOTED and st.previous_fp == old_fp
            clock = SimpleNamespace(now=lambda: datetime.now(UTC))
            report(account.harness, clock, "api", "web-1:17", st.current_fp)
            report(account.harness, clock, "cron", "batch-7:4242", old_fp)
            yield account


@pytest.mark.parametrize("columns", [60, 80, 200])
def test_drain_in_a_terminal_wraps_at_words(straggling, columns):
    screen = run_in_terminal(
        [*CLI, "drain", NAME], straggling.env(TERM="xterm"), columns=columns, cwd=str(ROOT)
    )
    text = ESCAPE.sub("", screen.text)
    assert screen.code == EXIT_WAITING, text
    lines = [line for line in text.split("\n") if line]
    for line in lines:
        assert len(line) <= columns, line
        assert line.count("`") % 2 == 0, line  # a command is whole on its line
    words = " ".join(text.split())
    assert "Acting on stack prod" in words
    assert f"{NAME}: the old key is still in use: 1 holder." in words
    assert "- cron/batch-7:4242: reports the old key; last seen" in words
    assert "1 reporting process on the new key" in words
    assert f"`cio-rotate drain {NAME}` again" in words
    # status shows the drain too (what the rotator recorded: nothing yet on this branch)
    screen = run_in_terminal(
        [*CLI, "status"], straggling.env(TERM="xterm"), columns=columns, cwd=str(ROOT)
    )
    text = ESCAPE.sub("", screen.text)
    assert all(len(line) <= columns for line in text.split("\n")), text
    assert "old key in use:" in " ".join(text.split())


@pytest.mark.parametrize("plain", [{"NO_COLOR": "1", "TERM": "xterm"}, {"TERM": "dumb"}])
def test_drain_in_a_plain_terminal_has_no_escape_codes(straggling, plain):
    screen = run_in_terminal(
        [*CLI, "drain", NAME], straggling.env(**plain), columns=80, cwd=str(ROOT)
    )
    assert screen.code == EXIT_WAITING, screen.text
    assert "\x1b" not in screen.text
    assert "- cron/batch-7:4242: reports the old key; last seen" in " ".join(screen.text.split())


def test_drain_in_a_pipe_is_whole_lines_and_no_escape_codes(straggling):
    done = subprocess.run(  # noqa: S603 (fixed argv)
        [*CLI, "drain", NAME],
        env=straggling.env(COLUMNS="60", TERM="xterm"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == EXIT_WAITING, done.stderr
    assert "\x1b" not in done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"{NAME}: the old key is still in use: 1 holder."
    holder = [line for line in lines if line.startswith("- ")]
    assert len(holder) == 1
    assert re.fullmatch(
        r"- cron/batch-7:4242: reports the old key; last seen \d{4}-\d\d-\d\d \d\d:\d\d UTC",
        holder[0],
    )
    assert lines[-1] == (
        "Do not delete the old key yet: these would fail. Restart or redeploy each so it "
        f"reads the new key, then run `cio-rotate drain {NAME}` again."
    )
    # --json through the pipe: one document, the holder as fields
    done = subprocess.run(  # noqa: S603 (fixed argv)
        [*CLI, "drain", NAME, "--json"],
        env=straggling.env(NO_COLOR="1"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == EXIT_WAITING
    doc = json.loads(done.stdout)
    assert [(h["who"], h["evidence"]) for h in doc["holders"]] == [
        ("cron/batch-7:4242", "reports the old key")
    ]
    assert doc["on_new"] == 1 and doc["audit_read"] is True and doc["drained"] is False


def test_status_lists_each_recorded_holder_on_a_line_of_its_own(capsys):
    """The rotator's record (drain_view.recorded) as `status` prints it in a pipe."""
    import dataclasses

    from rotation import cli as cli_module
    from rotation.operator import drain_view, terminal
    from rotation.operator import operations as ops

    view = drain_view.recorded(
        {
            "drain-checked-at": "2026-03-23T09:20:00Z",
            "drain-on-new": "2",
            "drain-holders": "cron/batch-7:4242|2026-03-23T09:18:00Z|key",
        }
    )
    ref = CredentialRef("billing", "aws", "arn:aws:secretsmanager:us-east-1:1:secret:b", "track")
    row = dataclasses.replace(ops.unavailable(ref, "", 0), drain=view, drain_measured=True)
    cli_module.out = terminal.console()
    cli_module._status_block(row)
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2:] == [
        "  old key in use:       yes: 1 holder (2 on the new key; checked 2026-03-23 09:20 UTC)",
        "                        - cron/batch-7:4242: reports the old key; last seen "
        "2026-03-23 09:18 UTC",
    ]
