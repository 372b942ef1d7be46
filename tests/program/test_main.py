"""`__main__.py` itself, under mocks, fed the way the Pulumi CLI feeds it: string config."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import pulumi
import pytest

import infra.program
from rotation.policy import Policy
from tests.program.harness import (
    Evaluation,
    evaluate,
    sample_raw_config,
    stack_exports,
    unwrap_secret,
)

MAIN = Path(__file__).resolve().parents[2] / "__main__.py"
WEBHOOK = "https://chat.example.com/hooks/abc-secret-def"


def _pulumi_config(raw: dict[str, Any]) -> dict[str, str]:
    """How the CLI hands config to a program: `project:key` -> string (JSON for objects)."""
    return {f"cio-rotation:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}


def run_main(
    raw: dict[str, Any],
    secret_keys: list[str],
    source_tree: Path,
    tmp_path: Path,
    **evaluate_options: Any,
) -> Evaluation:
    """`__main__.py` under mocks; `evaluate_options` go to `evaluate` (e.g. previous outputs)."""

    def program() -> dict[str, Any]:
        pulumi.runtime.set_all_config(_pulumi_config(raw), secret_keys)
        runpy.run_path(str(MAIN), run_name="__main__")
        return stack_exports()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(infra.program, "SOURCE_ROOT", source_tree)
        patch.setattr(infra.program, "BUILD_DIR", tmp_path / "bundles")
        try:
            return evaluate(program, **evaluate_options)
        finally:
            pulumi.runtime.set_all_config({}, [])


def test_main_exports_what_applications_and_operators_need(
    source_tree: Path, tmp_path: Path
) -> None:
    raw = {**sample_raw_config(2), "chat_webhook_url": WEBHOOK, "rotation_days": 60}
    ev = run_main(raw, ["cio-rotation:chat_webhook_url"], source_tree, tmp_path)
    out = ev.outputs
    assert set(out) == {
        "credentials",
        "aws_operator_role_arn",
        "aws_consumer_policy_arn",
        "aws_notifications_topic_arn",
        "aws_rotator_function_name",
        "aws_rotator_log_group",
        "aws_secret_recovery_days",
        "policy",
        "stack",
        "gcp_rotation_topic",
        "gcp_notifications_topic",
        "gcp_function_name",
    }
    assert out["credentials"]["cred-001"]["bootstrap_command"] == "cio-rotate submit cred-001"
    assert out["credentials"]["cred-001"]["aws_secret_arn"].startswith(
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:cio/cred-001-"
    )
    assert WEBHOOK not in json.dumps(out)
    rotation = ev.of_type("aws:secretsmanager/secretRotation:SecretRotation")[0]
    assert rotation.inputs["rotationRules"] == {"automaticallyAfterDays": 60}
    environment, _ = unwrap_secret(ev.named("aws-rotator").inputs["environment"])
    assert WEBHOOK not in json.dumps(environment)
    parameter, is_secret = unwrap_secret(ev.named("aws-chat-webhook").inputs["value"])
    assert is_secret and parameter == WEBHOOK
    assert environment["variables"]["CIO_ROTATION_DAYS"] == "60"
    # The stack output carries the calendar in the functions' own mapping.
    assert Policy.from_env(out["policy"]).rotation_days == 60


def test_main_reports_config_errors_by_key(source_tree: Path, tmp_path: Path) -> None:
    raw = {**sample_raw_config(1), "rotation_days": 180, "rotaton_days": 30}
    raw["chat_webhook_url"] = WEBHOOK
    with pytest.raises(pulumi.RunError) as info:
        run_main(raw, [], source_tree, tmp_path)
    message = str(info.value)
    assert "cio-rotation:rotation_days: 180 is outside the allowed range 1..90" in message
    assert "cio-rotation:rotaton_days: is not a setting of this project" in message
    assert "cio-rotation:chat_webhook_url: is stored in plain text" in message
    assert "abc-secret-def" not in message


def test_main_deploys_one_cloud_only(source_tree: Path, tmp_path: Path) -> None:
    raw = sample_raw_config(1, clouds=("gcp",))
    ev = run_main(raw, [], source_tree, tmp_path)
    assert not [r for r in ev.resources if r.type.startswith("aws:")]
    assert "aws_operator_role_arn" not in ev.outputs
    assert ev.outputs["gcp_function_name"] == "cio-rotator"
