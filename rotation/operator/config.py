"""Where the operator CLI finds the stack: the saved `pulumi stack output --json`, or env vars.

The file is the normal source (`pulumi stack output --json > outputs.json`, then
`--outputs outputs.json` or `CIO_OUTPUTS=outputs.json`); its shape is what
infra/program.py exports:

    {"credentials": {"<name>": {"kind", "region", "aws_secret_arn", "gcp_secret_version", ...}},
     "aws_rotator_function_name": ..., "aws_rotator_log_group": ..., ...}

Flags and environment variables override single values, so an operator without
the file can still name the function and the secrets. Nothing here is secret:
only names and ARNs.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rotation.policy import ENV_NAMES, Policy

ENV_OUTPUTS = "CIO_OUTPUTS"
ENV_AWS_REGION = "CIO_AWS_REGION"
ENV_FUNCTION = "CIO_ROTATOR_FUNCTION"
ENV_LOG_GROUP = "CIO_ROTATOR_LOG_GROUP"
ENV_GCP_TOPIC = "CIO_GCP_ROTATION_TOPIC"
ENV_SECRETS = "CIO_SECRETS"  # "name=arn,name=arn" (AWS ARNs or GCP secret resource names)
ENV_ACTOR = "CIO_ACTOR"

CLOUDS = ("aws", "gcp")
_AWS_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_TOPIC_RE = re.compile(r"^projects/[^/\s]+/topics/[^/\s]+$")


class ConfigError(Exception):
    """The CLI cannot tell which stack to talk to, or how. The message says how to fix it."""

    code = "config_error"


class UnknownCredential(ConfigError):
    """A name the stack does not manage."""

    code = "unknown_credential"


class AmbiguousCredential(ConfigError):
    """A name managed on both clouds, without --cloud."""

    code = "ambiguous_credential"


class BadEnvironment(ConfigError):
    """A CIO_* variable (or the flag that overrides it) holds a value that cannot work."""

    code = "bad_environment"


@dataclass(frozen=True)
class CredentialRef:
    """A managed credential as the stack exported it, on one cloud."""

    name: str
    cloud: str
    secret_id: str  # AWS: the live secret's ARN; GCP: projects/P/secrets/S
    kind: str = ""
    region: str = ""


@dataclass(frozen=True)
class OperatorConfig:
    aws_region: str = ""
    function_name: str = ""
    log_group: str = ""
    gcp_function_name: str = ""
    gcp_topic: str = ""  # projects/P/topics/T: the rotation topic the function listens to
    credentials: tuple[CredentialRef, ...] = ()
    source: str = "the environment"
    # The rotator's policy as the stack deployed it (output `policy`), else the defaults:
    # `status` and `runbook` compute dates with the rotator's numbers, not the shell's.
    policy: Policy = field(default_factory=Policy)
    policy_note: str = ""  # what could not be confirmed about the policy (discovery)
    stack: str = ""  # the Pulumi stack's name, where known (discovery, or outputs 'stack')

    def names(self) -> list[str]:
        return sorted({c.name for c in self.credentials})

    def credential(self, name: str, cloud: str | None = None) -> CredentialRef:
        """The credential called `name` (on `cloud`); the errors name the known ones."""
        found = [c for c in self.credentials if c.name == name]
        if cloud:
            found = [c for c in found if c.cloud == cloud]
        if not found:
            known = ", ".join(self.names()) or "none"
            where = f" on {cloud}" if cloud else ""
            raise UnknownCredential(
                f"No managed credential is called {name!r}{where} in {self.source} "
                f"(known: {known}). Check the spelling, or refresh the outputs file with "
                "`pulumi stack output --json > outputs.json`."
            )
        if len(found) > 1:
            raise AmbiguousCredential(
                f"{name!r} is managed on {' and '.join(c.cloud for c in found)}: "
                "pass --cloud aws or --cloud gcp."
            )
        return found[0]


def region_of_arn(arn: str) -> str:
    """arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME -> REGION ('' for a plain name)."""
    parts = arn.split(":")
    return parts[3] if len(parts) > 5 and parts[0] == "arn" else ""


def _gcp_secret(version: str) -> str:
    """projects/P/secrets/S/versions/latest -> projects/P/secrets/S."""
    head, sep, _ = version.partition("/versions/")
    return head if sep else version


def parse_outputs(doc: Any, source: str) -> OperatorConfig:
    """Read the JSON object that `pulumi stack output --json` prints for this program."""
    if not isinstance(doc, dict):
        raise ConfigError(
            f"{source} is not a JSON object: save it with `pulumi stack output --json > FILE`."
        )
    entries = doc.get("credentials") or {}
    if not isinstance(entries, dict):
        raise ConfigError(
            f"{source}: 'credentials' is not an object of name -> details: is it the output "
            "of this project's stack?"
        )
    refs: list[CredentialRef] = []
    for name, entry in sorted(entries.items()):
        if not isinstance(entry, dict):
            raise ConfigError(f"{source}: credential {name!r} is not an object.")
        kind, region = str(entry.get("kind") or ""), str(entry.get("region") or "")
        if entry.get("aws_secret_arn"):
            refs.append(CredentialRef(name, "aws", str(entry["aws_secret_arn"]), kind, region))
        if entry.get("gcp_secret_version"):
            secret = _gcp_secret(str(entry["gcp_secret_version"]))
            refs.append(CredentialRef(name, "gcp", secret, kind, region))
    aws_region = next((region_of_arn(r.secret_id) for r in refs if r.cloud == "aws"), "")
    return OperatorConfig(
        policy=_policy(doc.get("policy"), source),
        aws_region=aws_region,
        function_name=str(doc.get("aws_rotator_function_name") or ""),
        log_group=str(doc.get("aws_rotator_log_group") or ""),
        gcp_function_name=str(doc.get("gcp_function_name") or ""),
        gcp_topic=str(doc.get("gcp_rotation_topic") or ""),
        credentials=tuple(refs),
        source=source,
        stack=str(doc.get("stack") or ""),
    )


def _policy(value: Any, source: str) -> Policy:
    """`Policy.from_env` over the stack output `policy` (env-var names -> values)."""
    if value is None:
        return Policy()
    if not isinstance(value, dict):
        raise ConfigError(
            f"{source}: 'policy' is not an object of variable -> value: save the outputs "
            "again with `pulumi stack output --json > outputs.json`."
        )
    try:
        return Policy.from_env({str(k): str(v) for k, v in value.items()})
    except ValueError as err:
        raise ConfigError(
            f"{source}: 'policy' is invalid ({err}) Fix the stack's policy configuration, "
            "run `pulumi up`, then save the outputs again."
        ) from None


def shell_policy_variables(env: Mapping[str, str] | None = None) -> list[str]:
    """Policy variables set in the operator's shell: the CLI ignores them (see `policy`)."""
    env = os.environ if env is None else env
    return sorted(var for var in ENV_NAMES.values() if env.get(var) is not None)


def _check_region(value: str, origin: str) -> str:
    if value and not _AWS_REGION_RE.match(value):
        raise BadEnvironment(
            f"{origin} is not an AWS region name. Set it to the region of the stack's "
            "secrets (e.g. us-east-1), or unset it: the region is read from the secret ARNs."
        )
    return value


def _secrets_from_env(text: str) -> list[CredentialRef]:
    out: list[CredentialRef] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, secret = item.partition("=")
        if not sep or not name or not secret:
            raise BadEnvironment(
                f"{ENV_SECRETS} must look like 'name=arn,name=arn'; entry {len(out) + 1} "
                f"does not. Fix or unset {ENV_SECRETS}."
            )
        cloud = "gcp" if secret.startswith("projects/") else "aws"
        out.append(CredentialRef(name, cloud, secret))
    return out


def wants_discovery(outputs: str | None, env: Mapping[str, str] | None = None) -> bool:
    """No outputs file (flag or CIO_OUTPUTS) and no CIO_SECRETS: find the stack by tags."""
    env = os.environ if env is None else env
    return not (outputs or env.get(ENV_OUTPUTS) or env.get(ENV_SECRETS))


def load_config(
    outputs: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    aws_region: str | None = None,
    function_name: str | None = None,
    log_group: str | None = None,
    outputs_origin: str = "--outputs",
    discovered: OperatorConfig | None = None,
) -> OperatorConfig:
    """The stack outputs file (flag, then `CIO_OUTPUTS`), overridden by flags and env vars."""
    env = os.environ if env is None else env
    path = outputs or env.get(ENV_OUTPUTS, "")
    origin = outputs_origin if outputs else ENV_OUTPUTS
    config = discovered or OperatorConfig()
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            why = err.strerror if isinstance(err, OSError) else "not UTF-8 text"
            raise ConfigError(
                f"Cannot read the stack outputs file {path} given by {origin} ({why}). Create "
                "it with `pulumi stack output --json > outputs.json` and pass "
                "`--outputs outputs.json`."
            ) from None
        try:
            doc = json.loads(text)
        except (json.JSONDecodeError, RecursionError, ValueError) as err:
            line = f" (line {err.lineno})" if isinstance(err, json.JSONDecodeError) else ""
            raise ConfigError(
                f"{path} (from {origin}) is not valid JSON{line}: save it again with "
                "`pulumi stack output --json > outputs.json`."
            ) from None
        config = parse_outputs(doc, path)
    extra = _secrets_from_env(env.get(ENV_SECRETS, ""))
    overridden = {(c.name, c.cloud) for c in extra}
    credentials = tuple(c for c in config.credentials if (c.name, c.cloud) not in overridden)
    _check_region(aws_region or "", "--region")
    _check_region(env.get(ENV_AWS_REGION, ""), ENV_AWS_REGION)
    topic = env.get(ENV_GCP_TOPIC, "")
    if topic and not _TOPIC_RE.match(topic):
        raise BadEnvironment(
            f"{ENV_GCP_TOPIC} must look like projects/PROJECT/topics/TOPIC. Set it to the "
            "stack output gcp_rotation_topic, or unset it and pass --outputs."
        )
    config = replace(
        config,
        aws_region=aws_region
        or env.get(ENV_AWS_REGION)
        or config.aws_region
        or next((region_of_arn(c.secret_id) for c in extra if c.cloud == "aws"), "")
        or env.get("AWS_REGION")
        or env.get("AWS_DEFAULT_REGION", ""),
        function_name=function_name or env.get(ENV_FUNCTION) or config.function_name,
        log_group=log_group or env.get(ENV_LOG_GROUP) or config.log_group,
        gcp_topic=env.get(ENV_GCP_TOPIC) or config.gcp_topic,
        credentials=credentials + tuple(extra),
    )
    if not config.credentials:
        raise ConfigError(
            "No managed credentials are known. Save the stack outputs with "
            "`pulumi stack output --json > outputs.json` and pass `--outputs outputs.json` "
            f"(or set {ENV_OUTPUTS}), or list them in {ENV_SECRETS}='name=arn,...'."
        )
    return config
