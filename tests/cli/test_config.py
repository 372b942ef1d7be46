"""Reading the stack outputs, and the pieces of error reporting that need no cloud."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from rotation.cli import app
from rotation.operator.aws import denied_action
from rotation.operator.backend import parse_audit_line
from rotation.operator.config import (
    AmbiguousCredential,
    ConfigError,
    UnknownCredential,
    load_config,
    parse_outputs,
)

ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:customerio/marketing-track-AbCdEf"
OUTPUTS = {
    "credentials": {
        "marketing-track": {
            "kind": "track",
            "region": "us",
            "bootstrap_command": "cio-rotate submit marketing-track",
            "aws_secret_arn": ARN,
            "gcp_secret_version": "projects/p1/secrets/cio-marketing-track/versions/latest",
        },
        "billing-app": {"kind": "app", "region": "eu", "aws_secret_arn": ARN + "2"},
    },
    "aws_rotator_function_name": "cio-rotator",
    "aws_rotator_log_group": "/aws/lambda/cio-rotator",
    "gcp_rotation_topic": "projects/p1/topics/cio-rotation",
}


def test_outputs_of_a_two_cloud_stack():
    config = parse_outputs(OUTPUTS, "outputs.json")
    assert config.aws_region == "eu-west-1"  # from the ARNs: the stack does not export it
    assert config.function_name == "cio-rotator"
    assert config.log_group == "/aws/lambda/cio-rotator"
    assert config.gcp_topic == "projects/p1/topics/cio-rotation"
    assert config.credential("billing-app").secret_id == ARN + "2"
    gcp = config.credential("marketing-track", "gcp")
    assert gcp.secret_id == "projects/p1/secrets/cio-marketing-track"
    with pytest.raises(AmbiguousCredential, match="--cloud"):
        config.credential("marketing-track")
    with pytest.raises(UnknownCredential, match="known: billing-app, marketing-track"):
        config.credential("nope")


def test_env_vars_and_flags_override_the_file(tmp_path):
    path = tmp_path / "o.json"
    path.write_text(json.dumps(OUTPUTS))
    config = load_config(
        str(path),
        env={
            "CIO_SECRETS": "billing-app=arn:aws:secretsmanager:us-east-2:1:secret:x",
            "CIO_ROTATOR_LOG_GROUP": "/other",
        },
        function_name="fn2",
    )
    assert config.function_name == "fn2" and config.log_group == "/other"
    assert config.credential("billing-app").secret_id.endswith(":secret:x")
    only_env = load_config(None, env={"CIO_SECRETS": f"a={ARN}", "CIO_ROTATOR_FUNCTION": "f"})
    assert only_env.aws_region == "eu-west-1" and only_env.function_name == "f"
    with pytest.raises(ConfigError, match="pulumi stack output --json"):
        load_config(None, env={})
    with pytest.raises(ConfigError, match="name=arn"):
        load_config(None, env={"CIO_SECRETS": "just-a-name"})
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(str(path), env={})


def test_ambiguous_name_is_a_usage_error(tmp_path):
    path = tmp_path / "o.json"
    path.write_text(json.dumps(OUTPUTS))
    result = CliRunner().invoke(app, ["--outputs", str(path), "check", "marketing-track"])
    assert result.exit_code == 2
    assert "pass --cloud aws or --cloud gcp" in result.output


def test_denied_action_from_message_or_operation():
    with_message = ClientError(
        {
            "Error": {
                "Code": "AccessDeniedException",
                "Message": "... is not authorized to "
                "perform: secretsmanager:RotateSecret on resource: arn:x",
            }
        },
        "RotateSecret",
    )
    assert denied_action(with_message, "secretsmanager") == "secretsmanager:RotateSecret"
    bare = ClientError({"Error": {"Code": "AccessDeniedException", "Message": ""}}, "Invoke")
    assert denied_action(bare, "lambda") == "lambda:InvokeFunction"


def test_audit_lines_in_every_log_format():
    doc = {
        "audit": True,
        "event": "key.promoted",
        "credential": "c",
        "fingerprints": {"current": "ab"},
    }
    text = "[INFO]\t2026-01-01T00:00:00Z\treq\t" + json.dumps(doc)
    wrapped = json.dumps({"level": "INFO", "message": json.dumps(doc)})
    for line in (json.dumps(doc), text, wrapped):
        parsed = parse_audit_line(line, 1_700_000_000_000)
        assert parsed is not None and parsed[1] == "c" and parsed[0].event == "key.promoted"
    assert parse_audit_line("START RequestId: x") is None
    assert parse_audit_line(json.dumps({"event": "not audit"})) is None
