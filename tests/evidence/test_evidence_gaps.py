"""Gaps are stated, never filled in; bad options are usage errors (exit 2) naming the fix."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from rotation.operator.backend import EXIT_USAGE
from tests.conftest import assert_no_secrets
from tests.evidence.conftest import local_stack
from tests.evidence.year import WORKSPACE

NAME = "marketing-track"


@pytest.fixture
def stack(cio, tmp_path):
    with local_stack(cio, tmp_path) as (stack, shipper):
        stack.aws.provision(NAME, "track", "us", workspace=WORKSPACE)
        stack.aws.submit(NAME, cio.new_track_key(WORKSPACE), actor="alice")
        yield stack, shipper
        assert_no_secrets(stack.printed, stack.secrets_issued())


def _days(stack, n: int) -> None:
    for _ in range(n):
        stack.clock.advance(timedelta(days=1))
        stack.aws.sweep()


def test_a_trail_truncated_at_the_start_of_the_period_is_reported(stack):
    stack, shipper = stack
    _days(stack, 30)
    shipper.expire_before()  # retention: the first 30 days of the trail are gone
    _days(stack, 10)
    result = stack.run("evidence", "--since", "2026-03-01", "--until", "2026-04-11")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    [gap] = doc["gaps"]
    assert gap["credential"] == NAME and gap["since"] == "2026-03-01T00:00:00Z"
    assert gap["until"] == "2026-04-02T09:00:00Z"  # the first event that survived
    assert "after the period's start" in gap["why"]
    statuses = {c["control"]: c["status"] for c in doc["summary"]}
    assert statuses["rotated_within_policy"] == "unknown"
    assert "1 gap" in result.stderr


def test_a_whole_trail_is_no_gap(stack):
    stack, _ = stack
    _days(stack, 5)
    doc = json.loads(stack.run("evidence", "--since", "2026-03-01").stdout)
    assert doc["gaps"] == []
    assert [c["status"] for c in doc["summary"][:3]] == ["met", "met", "met"]


def test_an_unreadable_trail_is_a_gap_and_nothing_is_invented(stack):
    stack, _ = stack
    result = stack.run("evidence", "--since", "2026-03-01", deny_logs=True)
    doc = json.loads(result.stdout)
    assert result.exit_code == 0
    assert [g["cloud"] for g in doc["gaps"]] == ["aws"]
    assert "logs:FilterLogEvents" in doc["gaps"][0]["why"]
    assert doc["credentials"][0]["phase"] == "idle"  # the state is still reported
    assert doc["credentials"][0]["rotations"] == []


@pytest.mark.parametrize(
    ("args", "field", "says"),
    [
        (["--since", "yesterday"], "--since", "YYYY-MM-DD"),
        (["--since", "2026-13-01"], "--since", "YYYY-MM-DD"),
        (["--since", "2026-02-05", "--until", "2026-02-01"], "--since", "earlier than"),
        (["--since", "2030-01-01"], "--since", "in the past"),
        (["--since", "2026-03-01", "--format", "pdf"], "--format", "json, csv or html"),
        (["--since", "2026-03-01", "--out", "/nonexistent/dir/r.html"], "--out", "does not exist"),
    ],
)
def test_bad_options_are_usage_errors(stack, tmp_path, args, field, says):
    stack, _ = stack
    result = stack.run("--json", "evidence", *args)
    assert result.exit_code == EXIT_USAGE
    error = json.loads(result.stderr)
    assert error["error"] == "bad_value" and error["field"] == field
    assert says in error["message"]
    assert result.stdout == ""


def test_a_directory_as_out_is_refused(stack, tmp_path):
    stack, _ = stack
    result = stack.run("evidence", "--since", "2026-03-01", "--out", str(tmp_path))
    assert result.exit_code == EXIT_USAGE
    assert "is a directory" in result.stderr


def test_out_writes_the_file_and_stdout_stays_empty(stack, tmp_path):
    stack, _ = stack
    target = tmp_path / "evidence.csv"
    result = stack.run("evidence", "--since", "2026-03-01", "--format", "csv", "--out", str(target))
    assert result.exit_code == 0 and result.stdout == ""
    assert target.read_text().startswith("record,credential,cloud")
    assert f"Wrote the csv evidence report to {target}" in result.stderr
