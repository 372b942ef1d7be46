"""`cio-rotate` with no outputs file: it finds its stack from the secrets' tags / labels.

The program tags every secret with its stack (rotation.conventions.TAG_STACK /
GCP_LABEL_STACK); a second stack's secret is simulated by re-tagging one.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from localcloud.gcp_harness import PROJECT
from rotation import conventions as cv
from rotation.cli import Overrides, app
from rotation.policy import Policy

NAME = "marketing-track"
OTHER = "billing-app"


def tag_stack(aws: Any, name: str, stack: str) -> None:
    aws.sm.tag_resource(SecretId=aws.secrets[name], Tags=[{"Key": cv.TAG_STACK, "Value": stack}])


def prod_stack(cli: Any, aws: Any) -> None:
    """Stack `prod`, with its own calendar, as the program deploys it: its name on every
    secret's tags and in the rotator's environment, the calendar in its environment."""
    aws.stack.stack = "prod"
    aws.policy = Policy(rotation_days=60, lead_days=10)
    for name, kind, region in ((NAME, "track", "us"), (OTHER, "app", "eu")):
        aws.provision(name, kind, region, workspace="1001" if kind == "track" else "")


def test_status_finds_the_stack_by_its_tags_and_says_which(cli, aws):
    prod_stack(cli, aws)
    result = cli.run_with_outputs(None, "status")
    assert result.exit_code == 0, result.output
    assert "Acting on stack prod (found by tags in us-east-1)." in result.output
    assert (
        f"{NAME} (aws, track, us)" in result.output and f"{OTHER} (aws, app, eu)" in result.output
    )
    assert cli.calls.count("ListSecrets") == 1 and cli.calls.count("GetFunctionConfiguration") == 1


def test_the_rotators_policy_and_log_group_come_from_its_configuration(cli, aws):
    prod_stack(cli, aws)
    aws.submit(NAME, cli.track("1001"))
    rows = {r["name"]: r for r in json.loads(cli.run_with_outputs(None, "status", "--json").stdout)}
    since = aws.state(NAME).current_since
    assert since is not None
    # 60 - 10 days, from the function's environment (CIO_ROTATION_DAYS, CIO_LEAD_DAYS).
    expected = since + timedelta(days=50)
    assert rows[NAME]["next_rotation"] == expected.strftime("%Y-%m-%dT%H:%M:%SZ")
    # history reads the log group the function's configuration names.
    result = cli.run_with_outputs(None, "history", NAME)
    assert result.exit_code == 0 and "log group is unknown" not in result.output
    assert "key.promoted" in result.output or "promoted" in result.output


def test_several_stacks_need_stack_and_the_choices_are_listed(cli, aws):
    prod_stack(cli, aws)
    aws.provision("staging-track", "track", "us", workspace="1001")
    tag_stack(aws, "staging-track", "staging")
    result = cli.run_with_outputs(None, "status")
    assert result.exit_code == 2
    assert "Several stacks were found (prod, staging)" in result.output
    assert "--stack" in result.output
    result = cli.run_with_outputs(None, "status", "--stack", "staging")
    assert result.exit_code == 0, result.output
    assert "staging-track" in result.output and NAME not in result.output
    result = cli.run_with_outputs(None, "status", "--stack", "nope", "--json")
    assert result.exit_code == 2 and result.stdout == ""
    error = json.loads(result.stderr)
    assert "prod, staging" in error["message"] and error["error"] == "usage"


def test_a_notices_command_works_as_pasted(cli, aws):
    """Notices print `cio-rotate submit NAME --cloud aws --stack prod`."""
    prod_stack(cli, aws)
    aws.provision("staging-track", "track", "us", workspace="1001")
    tag_stack(aws, "staging-track", "staging")
    key = cli.track("1001")
    doc = json.dumps({"site_id": key.site_id, "api_key": key.secret})
    result = cli.run_with_outputs(
        None, "submit", NAME, "--cloud", "aws", "--stack", "prod", "--stdin",
        "--key-name", "Marketing prod", input=doc,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert aws.current_value(NAME)["api_key"] == key.secret


def test_the_outputs_file_stays_an_override_and_is_checked_against_stack(cli, aws, tmp_path):
    prod_stack(cli, aws)
    result = cli.run("status")
    assert result.exit_code == 0 and "ListSecrets" not in cli.calls
    doc = json.loads(Path(cli.outputs_file()).read_text())
    doc["stack"] = "prod"
    path = tmp_path / "prod.json"
    path.write_text(json.dumps(doc))
    assert cli.run_with_outputs(str(path), "status", "--stack", "prod").exit_code == 0
    result = cli.run_with_outputs(str(path), "status", "--stack", "staging")
    assert result.exit_code == 2 and "which is 'prod'" in result.output


def test_nothing_found_says_what_was_tried_and_the_fallback(cli, aws):
    result = cli.run_with_outputs(None, "status", "--cloud", "aws")
    assert result.exit_code == 2
    assert "AWS us-east-1: 0 stacks" in result.output and "--outputs" in result.output


def test_gcp_stack_found_by_labels(gcli):
    gcp = gcli.gcp
    gcp.provision(NAME, "track", "us", workspace="111")
    live = gcli.client.get_secret(name=gcp.secrets[NAME])
    labels = {**dict(live.labels), cv.GCP_LABEL_STACK: "prod"}
    gcli.client.update_secret(
        request={"secret": {"name": live.name, "labels": labels}, "update_mask": "labels"}
    )
    result = CliRunner().invoke(
        app,
        ["status", "--cloud", "gcp"],
        obj=Overrides(gcp_client=gcli.client, gcp_session=gcli.session, clock=gcp.clock),
        env={"COLUMNS": "200", "CIO_GCP_PROJECT": PROJECT},
    )
    assert result.exit_code == 0, result.output
    assert f"Acting on stack prod (found by labels in project {PROJECT})." in result.output
    assert f"{NAME} (gcp, track, us)" in result.output
    assert "the lead, grace and reminder times are the defaults" in result.output
