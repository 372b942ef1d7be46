"""Refuse, before Pulumi plans a delete, a config that drops a credential never retired.

Every secret of a live credential is created with `protect` (CredentialSpec.protected),
so Pulumi cannot delete one; but its error ("... cannot be deleted because it is
protected") names a resource, not the way out. This check runs first, before any
resource is declared, in `pulumi preview` and `pulumi up` alike: it reads what the last
deployment of this same stack exported (`credentials`: each one's clouds and `retired`
flag) and fails with a message naming the credential and `cio-rotate retire`. `protect`
stays the backstop for whatever this check cannot see.

Why the stack's own outputs and not a listing of the clouds' secrets: they are Pulumi's
record of exactly what it would delete, with the `retired` flag that lifted the
protection; they belong to this stack alone (several stacks may share an account or a
project); they need no cloud permission; and they cost one engine call. The read is the
engine's stack-reference read (`pulumi:pulumi:readStackOutputs`, what the Node.js SDK's
synchronous StackReference accessors call) on this stack's own name, as a plain invoke,
so it adds nothing to the state. A stack never deployed has no outputs: nothing to check.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from infra.config import Cloud, ConfigError, ConfigProblem, StackConfig
from rotation import conventions as cv

READ_STACK_OUTPUTS = "pulumi:pulumi:readStackOutputs"
DIY_ORGANIZATION = "organization"  # what self-managed backends call every organization
# Which key of a credential's stack output says it was deployed on each cloud.
DEPLOYED_ON = {Cloud.AWS: "aws_secret_arn", Cloud.GCP: "gcp_secret_version"}
# Config fields the stack output carries, in the order a restored entry sets them.
RESTORED_FIELDS = ("kind", "region", "workspace_id", "webhook_endpoint")


@dataclass(frozen=True)
class Deployed:
    """One credential as the last deployment of this stack exported it."""

    name: str
    clouds: frozenset[Cloud]
    retired: bool  # an output without the flag (an older program) counts as live
    fields: tuple[tuple[str, str], ...] = ()  # the config fields it had, to restore it


def self_reference() -> str:
    """This stack's fully qualified name, the form every backend accepts for a reference."""
    organization = pulumi.get_organization() or DIY_ORGANIZATION
    return f"{organization}/{pulumi.get_project()}/{pulumi.get_stack()}"


def deployed_credentials(outputs: Mapping[str, Any]) -> list[Deployed]:
    """The credentials a previous deployment exported; anything malformed is skipped."""
    entries = outputs.get("credentials")
    if not isinstance(entries, Mapping):
        return []
    deployed: list[Deployed] = []
    for name, entry in sorted(entries.items()):
        if not isinstance(name, str) or not isinstance(entry, Mapping):
            continue
        clouds = frozenset(cloud for cloud, key in DEPLOYED_ON.items() if entry.get(key))
        fields = tuple(
            (key, str(entry[key]))
            for key in RESTORED_FIELDS
            if isinstance(entry.get(key), str) and entry[key]
        )
        deployed.append(Deployed(name, clouds, entry.get("retired") is True, fields))
    return deployed


def removal_problems(config: StackConfig, deployed: Sequence[Deployed]) -> list[ConfigProblem]:
    """A problem for each live credential whose secrets this config would delete."""
    in_config = {spec.name for spec in config.credentials}
    problems: list[ConfigProblem] = []
    next_index = len(config.credentials)
    for credential in deployed:
        if credential.retired:
            continue  # its secrets were unprotected by `retired: true`: Pulumi may delete them
        spec = next((s for s in config.credentials if s.name == credential.name), None)
        kept = config.clouds_of(spec) if spec is not None else frozenset()
        lost = credential.clouds - kept
        if not lost:
            continue
        if credential.name in in_config:
            problems.append(_cloud_dropped(credential, lost, config))
        else:
            problems.append(_entry_removed(credential, next_index))
            next_index += 1
    return problems


def _protected(name: str) -> str:
    return (
        "it has not been retired, so its secrets are protected (applications may still read "
        f"its key) and Pulumi will not delete them. A credential ends with `{cv.CLI_NAME} "
        f"retire {name} --reason TEXT`."
    )


def _retire_steps(name: str, index: str) -> str:
    return (
        f"run `{cv.CLI_NAME} retire {name} --reason TEXT` and wait until `{cv.CLI_NAME} "
        f"status` shows it retired, then `pulumi config set --path "
        f"'credentials[{index}].retired' true` and `pulumi up` (this lifts the protection)"
    )


def _entry_removed(credential: Deployed, index: int) -> ConfigProblem:
    name, key = credential.name, f"credentials[{index}]"
    restore = "; ".join(
        f"`pulumi config set --path '{key}.{field}' {value}`"
        for field, value in (("name", name), *credential.fields)
    )
    clouds = " and ".join(sorted(c.value.upper() for c in credential.clouds))
    return ConfigProblem(
        "credentials",
        f"{name!r} is deployed on {clouds} but is no longer in the config; " + _protected(name),
        f"if removing it was a mistake, put the entry back: {restore}. To end the "
        f"credential: put the entry back, {_retire_steps(name, str(index))}, and only then "
        "remove the entry and `pulumi up` again (this deletes its secrets).",
    )


def _cloud_dropped(
    credential: Deployed, lost: frozenset[Cloud], config: StackConfig
) -> ConfigProblem:
    name = credential.name
    index = next(i for i, spec in enumerate(config.credentials) if spec.name == name)
    lost_names = " and ".join(sorted(c.value for c in lost))
    if lost <= config.clouds:  # the stack keeps the cloud; the credential's `cloud` left it
        key = f"credentials[{index}].cloud"
        return ConfigProblem(
            key,
            f"no longer includes {lost_names}, where credential {name!r} is deployed; "
            + _protected(name),
            f"if that was a mistake, put it back: `pulumi config set --path '{key}' both`. To "
            f"end it on {lost_names}: {_retire_steps(name, str(index))}, and only then change "
            "its cloud and `pulumi up` again (this deletes its secrets there).",
        )
    restore = "; ".join(
        f"`pulumi config set --path 'clouds[{len(config.clouds) + i}]' {cloud}`"
        for i, cloud in enumerate(sorted(c.value for c in lost))
    )
    return ConfigProblem(
        "clouds",
        f"no longer has {lost_names}, where credential {name!r} is deployed; " + _protected(name),
        f"if that was a mistake, put it back: {restore}. To remove a cloud, first end its "
        f"credentials: {_retire_steps(name, str(index))}, and only then drop the cloud and "
        "`pulumi up` again (this deletes its secrets there).",
    )


def read_previous_outputs() -> Mapping[str, Any] | None:
    """The outputs the last deployment of this stack exported; None when unreadable.

    An unreadable record (e.g. a self-managed backend still in the pre-3.61 layout, which
    takes no qualified stack names) only skips this check, with a warning: `protect`
    still refuses the delete.
    """
    name = self_reference()
    try:
        result = pulumi.runtime.invoke(READ_STACK_OUTPUTS, {"name": name})
    except Exception as err:  # any failure only skips the early check
        pulumi.log.warn(
            f"Could not read the previous outputs of {name} ({_brief(err)}), so "
            "removed credentials are not checked before planning; Pulumi's `protect` still "
            f"refuses to delete a live credential's secrets (retire it with `{cv.CLI_NAME} "
            "retire NAME --reason TEXT` first)."
        )
        return None
    value = result.value if isinstance(result.value, Mapping) else {}
    outputs = value.get("outputs")
    return outputs if isinstance(outputs, Mapping) else {}


def _brief(err: Exception) -> str:
    """The engine's reason, on one line and short (it names stacks, never a value)."""
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 300 else f"{text[:297]}..."


def refuse_unretired_removals(config: StackConfig) -> None:
    """Raise ConfigError naming every live credential this config would delete."""
    outputs = read_previous_outputs()
    if not outputs:
        return
    problems = removal_problems(config, deployed_credentials(outputs))
    if problems:
        raise ConfigError(problems)
