"""The Pulumi program: read and validate config, build bundles, declare components, export.

`build` takes an already validated StackConfig, so tests and the benchmark run
it under Pulumi's mocks without any Pulumi config; `main` is what `__main__.py`
runs under the Pulumi CLI.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pulumi
import pulumi.runtime.config as pulumi_config

from infra import naming
from infra.aws_component import AwsRotation, AwsRotationArgs
from infra.bundle import REPO_ROOT, Bundle, build_aws_bundle, build_gcp_bundle
from infra.config import PROJECT, Cloud, ConfigError, CredentialSpec, StackConfig, parse_config
from infra.gcp_component import GcpRotation, GcpRotationArgs
from infra.removal_guard import refuse_unretired_removals

SOURCE_ROOT = REPO_ROOT  # where rotation/ and lambdas/ are read from
BUILD_DIR = REPO_ROOT / "build" / "bundles"  # gitignored


@dataclass(frozen=True)
class BuildOptions:
    """Where sources come from and bundles go; `now` seeds GCP's first rotation time."""

    # Read at construction (not import) time, so tests can point them elsewhere.
    repo_root: Path = field(default_factory=lambda: SOURCE_ROOT)
    build_dir: Path = field(default_factory=lambda: BUILD_DIR)
    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    chat_webhook_url: pulumi.Output[str] | None = None
    # Bundles already built from the same sources (the local stack builds them once per
    # process and redeploys often); None builds them here.
    aws_bundle: Bundle | None = None
    gcp_bundle: Bundle | None = None


@dataclass(frozen=True)
class Stack:
    """The components declared, and the outputs to export."""

    outputs: dict[str, Any]
    aws: AwsRotation | None = None
    gcp: GcpRotation | None = None


def build(config: StackConfig, options: BuildOptions | None = None) -> Stack:
    """Declare every resource for a validated config; returns the stack outputs.

    Refuses first (ConfigError, before any resource) a config that would delete the
    secrets of a credential never retired (infra/removal_guard.py).
    """
    opts = options or BuildOptions()
    refuse_unretired_removals(config)
    credentials: dict[str, dict[str, Any]] = {
        spec.name: credential_output(spec) for spec in config.credentials
    }
    # The rotation calendar, in the one mapping the functions and the CLI read it with
    # (Policy.to_env / Policy.from_env).
    # `stack`: the operator CLI checks a notice's `--stack NAME` against it.
    outputs: dict[str, Any] = {
        "credentials": credentials,
        "policy": config.schedule.to_env(),
        "stack": pulumi.get_stack(),
    }
    aws_part: AwsRotation | None = None
    gcp_part: GcpRotation | None = None

    if config.has(Cloud.AWS):
        aws_part = AwsRotation(
            "aws",
            AwsRotationArgs(
                config=config.on(Cloud.AWS),
                bundle=opts.aws_bundle or build_aws_bundle(opts.build_dir, opts.repo_root),
                chat_webhook_url=opts.chat_webhook_url,
            ),
        )
        for name, secrets in aws_part.credentials.items():
            credentials[name]["aws_secret_arn"] = secrets.live.arn
            credentials[name]["aws_secret_name"] = naming.aws_secret_name(config.name_prefix, name)
            credentials[name]["aws_inbox_name"] = naming.aws_inbox_name(config.name_prefix, name)
            credentials[name]["aws_state_name"] = naming.aws_state_name(config.name_prefix, name)
        outputs.update(
            aws_operator_role_arn=aws_part.operator_role.arn,
            aws_consumer_policy_arn=aws_part.consumer_policy.arn,
            aws_notifications_topic_arn=aws_part.topic.arn,
            aws_rotator_function_name=aws_part.function.name,
            aws_rotator_log_group=aws_part.log_group.name,
            # How long destroyed secrets block their names (0: deleted at once).
            aws_secret_recovery_days=config.aws.secret_recovery_days if config.aws else None,
        )

    if config.has(Cloud.GCP):
        gcp_part = GcpRotation(
            "gcp",
            GcpRotationArgs(
                config=config.on(Cloud.GCP),
                bundle=opts.gcp_bundle or build_gcp_bundle(opts.build_dir, opts.repo_root),
                now=opts.now,
                chat_webhook_url=opts.chat_webhook_url,
            ),
        )
        for name, gsecrets in gcp_part.credentials.items():
            credentials[name]["gcp_secret_version"] = gsecrets.latest_version
            credentials[name]["gcp_inbox_secret"] = gsecrets.inbox.name
        outputs.update(
            gcp_rotation_topic=gcp_part.rotation_topic.id,
            gcp_notifications_topic=gcp_part.notifications_topic.id,
            gcp_function_name=gcp_part.function.name,
        )
    return Stack(outputs=outputs, aws=aws_part, gcp=gcp_part)


def credential_output(spec: CredentialSpec) -> dict[str, Any]:
    """A credential's stack output: how to bootstrap it, and what the next deployment's
    removal guard needs (its `retired` flag, and its config to give back if removed).
    """
    out: dict[str, Any] = {
        "kind": spec.kind.value,
        "region": spec.region.value if spec.region else "",
        "bootstrap_command": naming.bootstrap_command(spec.name),
        "retired": spec.retired,
    }
    if spec.cloud is not None:
        out["cloud"] = spec.cloud.value
    if spec.workspace_id:
        out["workspace_id"] = spec.workspace_id
    if spec.webhook_endpoint:
        out["webhook_endpoint"] = spec.webhook_endpoint
    return out


def _decode(value: Any) -> Any:
    """Pulumi hands structured config over as JSON text; plain strings stay strings."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def read_raw_config(project: str = PROJECT) -> tuple[dict[str, Any], frozenset[str]]:
    """Every key of this project's config namespace, decoded, and which ones are secret.

    All keys (not only known ones) are read so a typo is reported, not ignored.
    """
    prefix = f"{project}:"
    merged = {**pulumi_config.get_config_env(), **pulumi_config.CONFIG.get()}
    raw = {k[len(prefix) :]: _decode(v) for k, v in merged.items() if k.startswith(prefix)}
    secret = set(pulumi_config.get_config_secret_keys_env())
    secret |= {k for k in merged if pulumi_config.is_config_secret(k)}
    return raw, frozenset(k[len(prefix) :] for k in secret if k.startswith(prefix))


def main() -> None:
    """Entry point under the Pulumi CLI."""
    raw, secret_keys = read_raw_config()
    try:
        config = parse_config(raw, secret_keys)
    except ConfigError as err:
        raise pulumi.RunError(str(err)) from None
    webhook = (
        pulumi.Config().require_secret("chat_webhook_url")
        if config.chat_webhook_configured
        else None
    )
    try:
        stack = build(config, BuildOptions(chat_webhook_url=webhook))
    except ConfigError as err:  # what only the cloud can tell (e.g. the deploying account)
        raise pulumi.RunError(str(err)) from None
    for key, value in stack.outputs.items():
        pulumi.export(key, value)
