"""`cio-rotate` behaves like the CLIs operators already use, and its answers say what happened."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from rotation.cli import fix_of, hoist_globals
from rotation.state import Phase

NAME = "marketing-track"
COMMANDS = ["status", "submit", "emergency", "history", "runbook", "check", "rollback"]


def stdin_doc(key: Any, **changes: str) -> str:
    return json.dumps({"site_id": key.site_id, "api_key": key.secret, "region": "us", **changes})


def state(aws: Any, name: str = NAME) -> Any:
    return aws.rt.store.snapshot(aws.secrets[name]).state


def open_rotation(cli: Any, aws: Any, clock: Any) -> Any:
    aws.provision(NAME, "track", "us", workspace="1001")
    first = cli.track("1001")
    assert aws.submit(NAME, first)["outcome"] == "submitted"
    clock.advance(timedelta(days=76))
    aws.sweep()
    assert state(aws).phase is Phase.AWAITING_KEY
    return first


# -- conventions -----------------------------------------------------------------------


def test_version_short_help_and_completion(cli, aws):
    aws.provision(NAME, "track")
    version = cli.run("--version")
    assert version.exit_code == 0 and version.output.startswith("cio-rotate ")
    for args in (("-h",), ("submit", "-h"), ("history", "-h")):
        result = cli.run(*args)
        assert result.exit_code == 0 and "Usage:" in result.output, args
    completion = cli.run("--show-completion", "bash")
    assert completion.exit_code == 0 and "complete" in completion.output, completion.output


def test_global_options_are_accepted_after_the_command(cli, aws, clock):
    open_rotation(cli, aws, clock)
    key = cli.track("1001")
    result = cli.run("submit", NAME, "--stdin", "--cloud", "aws", "--json", input=stdin_doc(key))
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.stdout)
    assert outcome["outcome"] == "promoted" and outcome["fingerprint"] == key.fingerprint
    assert aws.current_value(NAME)["api_key"] == key.secret


def test_hoisting_leaves_command_options_and_values_alone():
    cmds = COMMANDS
    assert hoist_globals(["submit", "x", "--cloud", "aws", "--stdin"], cmds) == [
        "--cloud",
        "aws",
        "submit",
        "x",
        "--stdin",
    ]
    assert hoist_globals(["--json", "history", "x", "--output=json", "--limit", "3"], cmds) == [
        "--json",
        "--output=json",
        "history",
        "x",
        "--limit",
        "3",
    ]
    # After `--` nothing moves; an unknown command is left for click to refuse.
    assert hoist_globals(["check", "--", "--cloud"], cmds) == ["check", "--", "--cloud"]
    assert hoist_globals(["rotate", "--cloud", "aws"], cmds) == ["rotate", "--cloud", "aws"]


def test_fix_is_the_imperative_part_of_a_message():
    message = "AWS denied x on y: the role lacks it. Assume the operator role, then run it again."
    assert fix_of(message) == "Assume the operator role, then run it again."


def test_every_command_answers_in_json(cli, aws, clock):
    open_rotation(cli, aws, clock)
    for args in (("status",), ("runbook", NAME), ("check", NAME)):
        result = cli.run(*args, "--json")
        doc = json.loads(result.stdout)
        assert doc is not None, args
    rollback = cli.run("rollback", NAME, "--json")
    assert rollback.exit_code == 3 and json.loads(rollback.stderr)["error"] == "refused"
    history = cli.run("history", NAME, "--output", "json")
    assert all(json.loads(line)["event"] for line in history.stdout.splitlines())


def test_data_is_never_markup_or_emoji(cli, aws, clock):
    """Every Secrets Manager ARN holds `:secret:`, which rich would print as an emoji."""
    aws.provision(NAME, "track")
    cli.deny("lambda.Invoke", "lambda:InvokeFunction")
    result = cli.run("check", NAME)
    assert result.exit_code == 5
    assert ":secret:x" in result.output and "㊙" not in result.output
    reason = "[bold]leak[/bold] :secret: :thumbs_up:"
    cli.session.events.unregister("before-call.lambda.Invoke")
    out = cli.run("emergency", "--all", "--reason", reason, "--yes")
    assert reason in out.output, out.output


def test_status_is_readable_at_80_columns_and_piped(cli, aws, clock):
    names = ["billing-app-europe-west", "support-webhook-signing", NAME]
    aws.provision(names[0], "app", "eu")
    aws.provision(names[1], "webhook_signing")
    open_rotation(cli, aws, clock)
    result = cli.run("status", env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    for name in names:
        assert name in result.output
    assert "…" not in result.output
    assert "operator: submit a new key" in result.output
    assert "3 credentials" in result.output


def test_no_plural_placeholders_in_a_runbook(cli, aws, clock):
    aws.provision("billing-app", "app", "us")
    assert aws.submit("billing-app", cli.app_key(("1001",)))["outcome"] == "submitted"
    assert cli.run("emergency", "billing-app", "--reason", "leak", "--yes").exit_code == 0
    text = cli.run("runbook", "billing-app").output
    assert "(s)" not in text and "15 minutes" in text


# -- answers that used to mislead -----------------------------------------------------------


def test_emergency_all_with_one_queued_exits_7_and_says_queued(cli, aws, clock):
    open_rotation(cli, aws, clock)
    second = cli.track("1001")
    assert cli.run("submit", NAME, "--stdin", input=stdin_doc(second)).exit_code == 0
    aws.provision("billing-app", "app", "us")
    aws.submit("billing-app", cli.app_key(("1001",)))
    result = cli.run("emergency", "--all", "--reason", "vendor breach", "--yes")
    assert result.exit_code == 7, result.output
    out = " ".join(result.output.split())
    assert "billing-app (aws): ok: open" in out
    assert f"{NAME} (aws): QUEUED: queued behind" in out and "1 declared, 1 queued" in out
    doc = json.loads(cli.run("emergency", "--all", "--reason", "again", "--yes", "--json").stdout)
    assert doc["exit_code"] == 7  # still queued: the old key is still to be deleted
    outcomes = {r["credential"]: r["outcome"] for r in doc["results"]}
    assert outcomes == {NAME: "queued", "billing-app": "already_open"}
    again = cli.run("emergency", "--all", "--reason", "and again", "--yes")
    assert again.exit_code == 7, again.output
    out = " ".join(again.output.split())
    assert "billing-app (aws): already open: open" in out
    assert "0 declared, 1 already open, 1 queued, 0 failed" in out


def test_status_after_an_outage_does_not_show_an_older_refusal_as_the_last_word(cli, aws, clock):
    open_rotation(cli, aws, clock)
    wrong = cli.track("2002")
    assert cli.run("submit", NAME, "--stdin", input=stdin_doc(wrong)).exit_code == 3
    aws.cio.fail_next(503, times=50)
    key = cli.track("1001")
    assert cli.run("submit", NAME, "--stdin", input=stdin_doc(key)).exit_code == 4
    aws.cio.faults.clear()  # Customer.io is back
    row = json.loads(cli.run("status", "--json").stdout)[0]
    assert "rejected" not in row["waiting_on"] and "wrong_workspace" not in row["waiting_on"]
    assert "could not be verified yet" in row["waiting_on"]


def test_unavailable_shows_the_http_status(cli, aws):
    aws.provision(NAME, "track", "us", workspace="1001")
    aws.cio.fail_next(503, times=50)
    key = cli.track("1001")
    result = cli.run("submit", NAME, "--stdin", "--key-name", "k1", input=stdin_doc(key))
    assert result.exit_code == 4, result.output
    assert "503" in result.output and "(unavailable)" not in result.output
    aws.cio.faults.clear()


def test_submit_reads_the_verdict_from_the_stages_when_the_rotator_crashed(cli, aws, clock):
    first = open_rotation(cli, aws, clock)
    original = aws.rt.store.promote

    def promote_then_crash(*args: Any, **kwargs: Any) -> str:
        original(*args, **kwargs)
        raise RuntimeError("the rotator died after moving AWSCURRENT")

    aws.rt.store.promote = promote_then_crash
    key = cli.track("1001")
    result = cli.run("submit", NAME, "--stdin", "--poll", "5", input=stdin_doc(key))
    aws.rt.store.promote = original
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "is now current" in out and f"cio-rotate check {NAME}" in out
    assert "No verdict" not in out
    assert aws.current_value(NAME)["api_key"] == key.secret
    assert state(aws).current_fp == first.fingerprint  # the state did lag behind


def test_current_api_key_with_another_site_id_is_not_already_current(cli, aws, clock):
    open_rotation(cli, aws, clock)
    second = cli.track("1001")
    assert cli.run("submit", NAME, "--stdin", input=stdin_doc(second)).exit_code == 0
    result = cli.run("submit", NAME, "--stdin", input=stdin_doc(second, site_id="other-site-1"))
    assert result.exit_code == 3, result.output
    assert "already current" not in result.output.replace("API key already current", "")
    assert aws.current_value(NAME)["site_id"] == second.site_id


def test_status_uses_the_stacks_policy_not_the_shell(cli, aws, clock, tmp_path):
    aws.provision(NAME, "track", "us", workspace="1001")
    aws.submit(NAME, cli.track("1001"))
    outputs = json.loads(Path(cli.outputs_file()).read_text())
    outputs["policy"] = {"CIO_ROTATION_DAYS": "30", "CIO_LEAD_DAYS": "5"}
    path = tmp_path / "with-policy.json"
    path.write_text(json.dumps(outputs))
    result = cli.run_with_outputs(
        str(path), "status", "--json", env={"CIO_ROTATION_DAYS": "90", "CIO_LEAD_DAYS": "14"}
    )
    row = json.loads(result.stdout)[0]
    since = state(aws).current_since
    assert row["next_rotation"].startswith((since + timedelta(days=25)).strftime("%Y-%m-%d"))
