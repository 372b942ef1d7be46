"""Typed stack configuration, validated before a single resource is declared.

`parse_config` is a pure function of the raw config mapping (what `pulumi config`
holds for this project), so every rule is testable without Pulumi. It collects
every problem at once, and each one names the config key, what is wrong and the
exact command that fixes it: a platform engineer should never have to read this
file to get a stack deployed.

Secret values never enter these dataclasses: for the chat webhook only the fact
that it is configured is kept; the value travels as a Pulumi secret Output.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from rotation.credentials import Kind, Region
from rotation.policy import DRAIN_QUIET_MAX_MINUTES, Policy

PROJECT = "cio-rotation"  # Pulumi.yaml `name`: the namespace of every key below

MAX_ROTATION_DAYS = 90  # the security baseline (and Security Hub SecretsManager.4)
# Secrets Manager: 0 deletes at once (ForceDeleteWithoutRecovery), else 7-30 days during
# which the secret can be restored and its name cannot be reused.
RECOVERY_DAYS = frozenset({0, *range(7, 31)})
DEFAULT_RECOVERY_DAYS = 30
MAX_RESERVED_CONCURRENCY = 1000  # the default per-region account quota
DEFAULT_GCP_MAX_INSTANCES = 3  # a cost cap only: correctness comes from etag compare-and-swap
CLOUDWATCH_RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192}
    | {2557, 2922, 3288, 3653}
)

# Names end up in AWS secret names, GCP secret ids and GCP label values (lowercase,
# at most 63 characters): `<prefix>-<name>-inbox` must fit, hence the lengths.
_NAME_RE = re.compile(r"^[a-z](?:[a-z0-9-]{0,38}[a-z0-9])?$")
_PREFIX_RE = re.compile(r"^[a-z](?:[a-z0-9-]{0,14}[a-z0-9])?$")
_WORKSPACE_RE = re.compile(r"^[a-z0-9_-]{1,63}$")
# The webhook endpoint is written as an AWS tag value (letters, digits, spaces and
# _ . : / = + - @, at most 256) and shown in notices: an https URL with no user info,
# query or fragment, where a token could hide.
_ENDPOINT_RE = re.compile(r"^https://[A-Za-z0-9.-]+(?::\d{1,5})?(?:/[A-Za-z0-9_.:/=+\-]*)?$")
_ENDPOINT_MAX = 256
_TOKEN_LIKE_RE = re.compile(
    r"^(?=[A-Za-z0-9_-]*[0-9])(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{24,}$"
)
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_IAM_PRINCIPAL_RE = re.compile(
    r"^arn:aws[a-z-]*:iam::\d{12}:(root|role/[\w+=,.@/-]+|user/[\w+=,.@/-]+)$"
)
_IAM_ATTACHABLE_RE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]+$")
_GCP_MEMBER_RE = re.compile(r"^(user|group|serviceAccount):[^\s@]+@[^\s@]+\.[^\s@]+$")
_GCP_PROJECT_RE = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_GCP_REGION_RE = re.compile(r"^[a-z]+-[a-z]+\d+$")


class Cloud(StrEnum):
    AWS = "aws"
    GCP = "gcp"


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with the stack config: where, what, and the command that fixes it."""

    key: str
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{PROJECT}:{self.key}: {self.problem} Fix: {self.fix}"


class ConfigError(ValueError):
    """Every problem found in the stack config, reported together."""

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"The stack config has {len(self.problems)} problem(s):\n{lines}")


@dataclass(frozen=True)
class CredentialSpec:
    """One Customer.io credential the stack manages."""

    name: str
    kind: Kind
    region: Region | None = None
    workspace_id: str | None = None
    # webhook_signing only: the URL the reporting webhook posts to, which is how the
    # dashboard lists webhooks (the runbook names the webhook by it). Never a secret.
    webhook_endpoint: str | None = None
    # `cio-rotate retire NAME` reached RETIRED: Pulumi may delete its secrets. Until then
    # every secret of the credential is protected, so removing the entry fails `pulumi up`.
    retired: bool = False
    # The cloud that holds it (`cloud: aws|gcp`), or None for `cloud: both`: then each cloud
    # holds its own credential of that name, with its own key, rotated separately (two
    # rotations, two keys in the dashboard; suggested key names carry the cloud).
    cloud: Cloud | None = None

    @property
    def protected(self) -> bool:
        """Whether Pulumi must refuse to delete this credential's secrets."""
        return not self.retired

    def __post_init__(self) -> None:
        if not _NAME_RE.match(self.name) or self.name.endswith("-inbox"):
            raise ValueError(f"invalid credential name {self.name!r}")
        if (self.kind is Kind.WEBHOOK_SIGNING) != (self.region is None):
            raise ValueError(
                f"{self.name}: a region is required exactly when kind is not a webhook"
            )
        if self.workspace_id is not None and not _WORKSPACE_RE.match(self.workspace_id):
            raise ValueError(f"{self.name}: invalid workspace id")
        if self.webhook_endpoint is not None:
            if self.kind is not Kind.WEBHOOK_SIGNING:
                raise ValueError(f"{self.name}: only a webhook signing key has an endpoint")
            problem = endpoint_problem(self.webhook_endpoint)
            if problem:
                raise ValueError(f"{self.name}: webhook_endpoint {problem}")


def endpoint_problem(url: str) -> str:
    """Why `url` cannot be a webhook endpoint in the stack config, or "" when it can."""
    if len(url) > _ENDPOINT_MAX:
        return f"is longer than {_ENDPOINT_MAX} characters (what an AWS tag value holds)."
    if not url.startswith("https://"):
        return "must be an https:// URL (Customer.io posts reporting webhooks over https)."
    if "@" in url.split("/", 3)[2]:  # the authority, after "https://"
        return "holds user info (user:password@): no credential may be in the stack config."
    if "?" in url or "#" in url:
        return (
            "has a query or fragment: a token could hide there, and the endpoint is shown in "
            "notices. Give the URL without them."
        )
    if not _ENDPOINT_RE.match(url):
        return (
            "may only hold letters, digits and _ . : / = + - after https:// (what an AWS tag "
            "value holds; no percent-encoding)."
        )
    segments = url.split("://", 1)[1].split("/")[1:]
    if any(_TOKEN_LIKE_RE.match(seg) for seg in segments):
        return (
            "has a path segment that looks like a token: the endpoint is shown in notices, so "
            "it must hold no secret. Give the receiver's URL without it."
        )
    return ""


@dataclass(frozen=True)
class Schedule(Policy):
    """The rotation calendar as stack config: the engine's own Policy, so the two never drift."""

    @property
    def rotation_period_seconds(self) -> int:
        return self.rotation_days * 86_400


@dataclass(frozen=True)
class AwsSettings:
    """Who may operate and who may consume on AWS (IAM principal ARNs)."""

    operator_principals: tuple[str, ...]
    consumer_principals: tuple[str, ...] = ()
    # None: no reservation (a reservation of 1 fails on accounts with a quota of 10).
    reserved_concurrency: int | None = None
    secret_recovery_days: int = DEFAULT_RECOVERY_DAYS


@dataclass(frozen=True)
class GcpSettings:
    """Where the GCP half lives and who may operate and consume (IAM members)."""

    project: str
    region: str
    operator_members: tuple[str, ...]
    consumer_members: tuple[str, ...] = ()
    max_instances: int = DEFAULT_GCP_MAX_INSTANCES


@dataclass(frozen=True)
class StackConfig:
    """The whole validated stack config."""

    clouds: frozenset[Cloud]
    credentials: tuple[CredentialSpec, ...]
    operator_emails: tuple[str, ...]
    schedule: Schedule = field(default_factory=Schedule)
    name_prefix: str = "cio"
    chat_webhook_configured: bool = False
    log_retention_days: int = 365
    aws: AwsSettings | None = None
    gcp: GcpSettings | None = None

    def __post_init__(self) -> None:
        if not self.clouds or not self.credentials or not self.operator_emails:
            raise ValueError("clouds, credentials and operator_emails must not be empty")
        if (Cloud.AWS in self.clouds) != (self.aws is not None):
            raise ValueError("aws settings are required exactly when aws is in clouds")
        if (Cloud.GCP in self.clouds) != (self.gcp is not None):
            raise ValueError("gcp settings are required exactly when gcp is in clouds")
        names = [c.name for c in self.credentials]
        if len(set(names)) != len(names):
            raise ValueError("credential names must be unique")

    def has(self, cloud: Cloud) -> bool:
        return cloud in self.clouds

    def clouds_of(self, spec: CredentialSpec) -> frozenset[Cloud]:
        """Where a credential is deployed."""
        return frozenset({spec.cloud}) if spec.cloud is not None else self.clouds

    def on(self, cloud: Cloud) -> StackConfig:
        """This config with only the credentials deployed on `cloud` (what its component builds)."""
        return replace(
            self, credentials=tuple(c for c in self.credentials if cloud in self.clouds_of(c))
        )


_SCHEDULE_BOUNDS: dict[str, tuple[int, int]] = {
    # key: (minimum, maximum); cross-field rules are checked afterwards.
    "rotation_days": (1, MAX_ROTATION_DAYS),
    "lead_days": (0, MAX_ROTATION_DAYS - 1),
    "escalate_days": (0, MAX_ROTATION_DAYS - 1),
    "reminder_days": (1, 30),
    "grace_hours": (0, 24 * 14),
    "emergency_grace_minutes": (0, 24 * 60),
    "emergency_deadline_hours": (1, 72),
    # The drain's quiet period (Policy.drain_quiet_minutes); 0: the grace timer only.
    "drain_quiet_minutes": (0, DRAIN_QUIET_MAX_MINUTES),
}

KNOWN_KEYS: tuple[str, ...] = (
    "clouds",
    "name_prefix",
    "credentials",
    *_SCHEDULE_BOUNDS,
    "operator_emails",
    "chat_webhook_url",
    "log_retention_days",
    "aws_operator_principals",
    "aws_consumer_principals",
    "aws_reserved_concurrency",
    "aws_secret_recovery_days",
    "gcp_project",
    "gcp_region",
    "gcp_operator_members",
    "gcp_consumer_members",
    "gcp_max_instances",
)
_CREDENTIAL_FIELDS = (
    "name",
    "kind",
    "region",
    "cloud",
    "workspace_id",
    "webhook_endpoint",
    "retired",
)


class _Collector:
    """Accumulates problems so one `pulumi up` reports all of them."""

    def __init__(self) -> None:
        self.problems: list[ConfigProblem] = []

    def add(self, key: str, problem: str, fix: str) -> None:
        self.problems.append(ConfigProblem(key, problem, fix))


def _set_cmd(key: str, example: object) -> str:
    return f"`pulumi config set {key} {example}`"


def _list_cmd(key: str, example: str) -> str:
    return f"`pulumi config set --path '{key}[0]' {example}`"


def _describe(value: Any) -> str:
    """A short, type-revealing description of a non-secret config value."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _int(raw: Mapping[str, Any], key: str, default: int, out: _Collector) -> int:
    lo, hi = _SCHEDULE_BOUNDS.get(key, (1, 10**6))
    value = raw.get(key, default)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        out.add(key, f"expected a whole number, got {_describe(value)}.", _set_cmd(key, default))
        return default
    if not lo <= value <= hi:
        why = " (the security baseline)" if key == "rotation_days" else ""
        out.add(
            key,
            f"{value} is outside the allowed range {lo}..{hi}{why}.",
            _set_cmd(key, min(max(default, lo), hi)),
        )
        return default
    return value


def _str_list(
    raw: Mapping[str, Any],
    key: str,
    example: str,
    pattern: re.Pattern[str],
    what: str,
    out: _Collector,
    *,
    required: bool,
) -> tuple[str, ...]:
    value = raw.get(key)
    if value is None or value == []:
        if required:
            out.add(key, f"is required: a list of {what}.", _list_cmd(key, example))
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        out.add(key, f"expected a list of {what}, got {_describe(value)}.", _list_cmd(key, example))
        return ()
    items: list[str] = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not pattern.match(item):
            out.add(
                f"{key}[{i}]",
                f"{_describe(item)} is not one of {what}.",
                _list_cmd(key, example).replace("[0]", f"[{i}]"),
            )
        elif item in items:
            out.add(f"{key}[{i}]", f"{item!r} is listed twice.", f"remove `{key}[{i}]`.")
        else:
            items.append(item)
    return tuple(items)


def _parse_clouds(raw: Mapping[str, Any], out: _Collector) -> frozenset[Cloud]:
    value = raw.get("clouds")
    fix = "`pulumi config set --path 'clouds[0]' aws` (and `'clouds[1]' gcp` for both)"
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        out.add(
            "clouds", f'expected a list with "aws", "gcp" or both, got {_describe(value)}.', fix
        )
        return frozenset()
    clouds: set[Cloud] = set()
    for i, item in enumerate(value):
        if item not in {c.value for c in Cloud}:
            out.add(f"clouds[{i}]", f'{_describe(item)} is not "aws" or "gcp".', fix)
        elif Cloud(item) in clouds:
            out.add(f"clouds[{i}]", f"{item!r} is listed twice.", f"remove `clouds[{i}]`.")
        else:
            clouds.add(Cloud(item))
    return frozenset(clouds)


def _parse_credential(index: int, item: Any, out: _Collector) -> CredentialSpec | None:
    key = f"credentials[{index}]"
    example = f"`pulumi config set --path '{key}.name' marketing-track` (and .kind, .region)"
    if not isinstance(item, Mapping):
        out.add(
            key, f"expected an object with name, kind and region, got {_describe(item)}.", example
        )
        return None
    ok = True
    for extra in sorted(set(item) - set(_CREDENTIAL_FIELDS)):
        close = difflib.get_close_matches(str(extra), _CREDENTIAL_FIELDS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        out.add(
            f"{key}.{extra}",
            f"unknown field{hint}; allowed: {', '.join(_CREDENTIAL_FIELDS)}.",
            f"`pulumi config rm --path '{key}.{extra}'`.",
        )
        ok = False
    name = item.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        out.add(
            f"{key}.name",
            f"{_describe(name)} is not a valid name: use 1-40 lowercase letters, digits and "
            "hyphens, starting with a letter (it becomes part of secret names).",
            f"`pulumi config set --path '{key}.name' marketing-track`.",
        )
        ok = False
    elif name.endswith("-inbox"):
        out.add(
            f"{key}.name",
            f"{name!r} ends in '-inbox', which is reserved for submission inboxes.",
            f"rename it, e.g. `pulumi config set --path '{key}.name' {name[:-6]}-key`.",
        )
        ok = False
    kind_raw = item.get("kind")
    kinds = ", ".join(k.value for k in Kind)
    kind = Kind(kind_raw) if kind_raw in {k.value for k in Kind} else None
    if kind is None:
        out.add(
            f"{key}.kind",
            f"{_describe(kind_raw)} is not a credential kind ({kinds}).",
            f"`pulumi config set --path '{key}.kind' track`.",
        )
        ok = False
    region_raw = item.get("region")
    region: Region | None = None
    if kind is Kind.WEBHOOK_SIGNING:
        if region_raw not in (None, ""):
            out.add(
                f"{key}.region",
                "webhook signing keys have no API region; the field must be absent.",
                f"`pulumi config rm --path '{key}.region'`.",
            )
            ok = False
    elif kind is not None:
        if region_raw in {r.value for r in Region}:
            region = Region(region_raw)
        else:
            out.add(
                f"{key}.region",
                f'{_describe(region_raw)} is not "us" or "eu" (the region of the Customer.io '
                f"workspace; required for {kind.value} keys).",
                f"`pulumi config set --path '{key}.region' us`.",
            )
            ok = False
    workspace = item.get("workspace_id")
    if isinstance(workspace, int) and not isinstance(workspace, bool):
        workspace = str(workspace)
    if workspace is not None and (
        not isinstance(workspace, str) or not _WORKSPACE_RE.match(workspace)
    ):
        out.add(
            f"{key}.workspace_id",
            f"{_describe(workspace)} is not a workspace id (1-63 lowercase letters, digits, "
            "_ or -; the environment_id Customer.io reports for the workspace).",
            f"`pulumi config set --path '{key}.workspace_id' 123456`, or remove it.",
        )
        ok = False
    endpoint = item.get("webhook_endpoint")
    if endpoint is not None:
        if kind is not None and kind is not Kind.WEBHOOK_SIGNING:
            out.add(
                f"{key}.webhook_endpoint",
                f"only a webhook_signing credential has an endpoint, not a {kind.value} key.",
                f"`pulumi config rm --path '{key}.webhook_endpoint'`.",
            )
            ok = False
        else:
            # The value is never echoed: a mistaken URL may carry a token.
            problem = (
                endpoint_problem(endpoint)
                if isinstance(endpoint, str)
                else "must be a string (an https:// URL)."
            )
            if problem:
                out.add(
                    f"{key}.webhook_endpoint",
                    f"the value given {problem}",
                    f"`pulumi config set --path '{key}.webhook_endpoint' "
                    "https://hooks.example.com/customerio`, or remove it.",
                )
                ok = False
    retired = item.get("retired", False)
    if retired in ("true", "false"):  # `pulumi config set --path` stores strings
        retired = retired == "true"
    if not isinstance(retired, bool):
        out.add(
            f"{key}.retired",
            f"{_describe(retired)} is not true or false. Set it only after "
            f"`cio-rotate retire {name}` reports the credential retired.",
            f"`pulumi config set --path '{key}.retired' true`, or remove it.",
        )
        ok = False
    if not ok or kind is None or not isinstance(name, str):
        return None
    workspace_id = workspace if isinstance(workspace, str) and workspace else None
    return CredentialSpec(
        name=name,
        kind=kind,
        region=region,
        workspace_id=workspace_id,
        webhook_endpoint=endpoint if isinstance(endpoint, str) and endpoint else None,
        retired=bool(retired),
    )


def _parse_credentials(raw: Mapping[str, Any], out: _Collector) -> tuple[CredentialSpec, ...]:
    value = raw.get("credentials")
    if not isinstance(value, list) or not value:
        out.add(
            "credentials",
            f"expected a non-empty list of credentials, got {_describe(value)}.",
            "`pulumi config set --path 'credentials[0].name' marketing-track`, then "
            "`.kind track` and `.region us` on the same path.",
        )
        return ()
    specs: list[CredentialSpec] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(value):
        spec = _parse_credential(i, item, out)
        if spec is None:
            continue
        if spec.name in seen:
            out.add(
                f"credentials[{i}].name",
                f"{spec.name!r} is already used by credentials[{seen[spec.name]}]; names must be "
                "unique (they name the secrets).",
                f"rename it with `pulumi config set --path 'credentials[{i}].name' <new-name>`.",
            )
            continue
        seen[spec.name] = i
        specs.append(spec)
    return tuple(specs)


def _place_credentials(
    specs: tuple[CredentialSpec, ...],
    clouds: frozenset[Cloud],
    raw: Mapping[str, Any],
    out: _Collector,
) -> tuple[CredentialSpec, ...]:
    """Where each credential lives: `cloud: aws|gcp`, or `both` (a credential of that name
    on each cloud, each with its own key and rotation); the stack's only cloud by default.

    With both clouds a credential must say which: copying a two-cloud example must not
    silently double every rotation.
    """
    placed: list[CredentialSpec] = []
    raw_items = raw.get("credentials")
    items: list[Any] = raw_items if isinstance(raw_items, list) else []
    index = {item.get("name"): i for i, item in enumerate(items) if isinstance(item, Mapping)}
    allowed = sorted(c.value for c in clouds) + (["both"] if len(clouds) > 1 else [])
    for spec in specs:
        i = index.get(spec.name, 0)
        item = items[i] if i < len(items) and isinstance(items[i], Mapping) else {}
        raw_cloud = item.get("cloud")
        key = f"credentials[{i}].cloud"
        if raw_cloud in (None, "") and len(clouds) == 1:
            placed.append(replace(spec, cloud=next(iter(clouds))))
        elif raw_cloud in (None, ""):
            if clouds:
                out.add(
                    key,
                    f"{spec.name!r} names no cloud, and the stack deploys to aws and gcp. Say "
                    "where it lives: aws or gcp (one key, rotated once), or both (a credential "
                    "of this name on each cloud, each with its own key and rotation).",
                    f"`pulumi config set --path '{key}' aws` (or gcp, or both).",
                )
        elif raw_cloud not in allowed:
            out.add(
                key,
                f"{_describe(raw_cloud)} is not one of {', '.join(allowed)} (the stack's "
                "`clouds`).",
                f"`pulumi config set --path '{key}' {allowed[0]}`"
                if allowed
                else "set `clouds` first.",
            )
        else:
            placed.append(replace(spec, cloud=None if raw_cloud == "both" else Cloud(raw_cloud)))
    return tuple(placed)


def _parse_schedule(raw: Mapping[str, Any], out: _Collector) -> Schedule:
    defaults = Schedule()
    values = {key: _int(raw, key, getattr(defaults, key), out) for key in _SCHEDULE_BOUNDS}
    if values["lead_days"] >= values["rotation_days"]:
        out.add(
            "lead_days",
            f"{values['lead_days']} must be less than rotation_days ({values['rotation_days']}): "
            "a rotation opens lead_days before the key is rotation_days old.",
            _set_cmd("lead_days", max(0, min(14, values["rotation_days"] - 1))),
        )
        values["lead_days"] = max(0, min(14, values["rotation_days"] - 1))
    if values["escalate_days"] > values["lead_days"]:
        out.add(
            "escalate_days",
            f"{values['escalate_days']} must not exceed lead_days ({values['lead_days']}): "
            "escalation comes after the rotation opens.",
            _set_cmd("escalate_days", min(3, values["lead_days"])),
        )
        values["escalate_days"] = min(3, values["lead_days"])
    return Schedule(**values)


def _parse_prefix(raw: Mapping[str, Any], out: _Collector) -> str:
    prefix = raw.get("name_prefix", "cio")
    if not isinstance(prefix, str) or not _PREFIX_RE.match(prefix):
        out.add(
            "name_prefix",
            f"{_describe(prefix)} is not a valid prefix: use 1-16 lowercase letters, digits and "
            "hyphens, starting with a letter (it starts every secret name).",
            _set_cmd("name_prefix", "cio"),
        )
        return "cio"
    return prefix


def _parse_webhook(raw: Mapping[str, Any], secret_keys: frozenset[str], out: _Collector) -> bool:
    value = raw.get("chat_webhook_url")
    if value in (None, ""):
        return False
    fix = "`pulumi config set --secret chat_webhook_url https://hooks.example.com/...`"
    # Never echo the value: a webhook URL is a credential.
    if not isinstance(value, str) or not value.startswith("https://") or " " in value:
        out.add("chat_webhook_url", "must be an https:// URL (value not shown).", fix)
        return False
    if "chat_webhook_url" not in secret_keys and f"{PROJECT}:chat_webhook_url" not in secret_keys:
        out.add(
            "chat_webhook_url",
            "is stored in plain text in the stack file; it is a credential.",
            f"{fix} (this encrypts it in Pulumi.<stack>.yaml and state).",
        )
        return False
    return True


def _parse_retention(raw: Mapping[str, Any], out: _Collector) -> int:
    value = raw.get("log_retention_days", 365)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if value not in CLOUDWATCH_RETENTION_DAYS or isinstance(value, bool):
        allowed = ", ".join(str(d) for d in sorted(CLOUDWATCH_RETENTION_DAYS))
        out.add(
            "log_retention_days",
            f"{_describe(value)} is not a CloudWatch Logs retention ({allowed}).",
            _set_cmd("log_retention_days", 365),
        )
        return 365
    return int(value)


def _optional_int(
    raw: Mapping[str, Any],
    key: str,
    allowed: range | frozenset[int],
    example: int,
    why: str,
    out: _Collector,
) -> int | None:
    """An optional whole-number setting; None when absent."""
    value = raw.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
        out.add(key, f"{_describe(value)} is not allowed: {why}.", _set_cmd(key, example))
        return None
    return value


def _parse_aws(raw: Mapping[str, Any], out: _Collector) -> AwsSettings:
    operators = _str_list(
        raw,
        "aws_operator_principals",
        "arn:aws:iam::123456789012:role/platform-oncall",
        _IAM_PRINCIPAL_RE,
        "IAM principal ARNs allowed to assume the operator role",
        out,
        required=True,
    )
    consumers = _str_list(
        raw,
        "aws_consumer_principals",
        "arn:aws:iam::123456789012:role/app-backend",
        _IAM_ATTACHABLE_RE,
        "IAM role or user ARNs (same account) that get the consumer policy",
        out,
        required=False,
    )
    accounts = sorted({arn.split(":")[4] for arn in consumers})
    if len(accounts) > 1:
        out.add(
            "aws_consumer_principals",
            f"names principals of {len(accounts)} accounts ({', '.join(accounts)}); the "
            "consumer policy is attached in the deploying account only, so all consumers "
            "must belong to it.",
            CROSS_ACCOUNT_FIX,
        )
    reserved = _optional_int(
        raw, "aws_reserved_concurrency", range(1, MAX_RESERVED_CONCURRENCY + 1), 2,
        f"a whole number 1-{MAX_RESERVED_CONCURRENCY}, or unset for no reservation", out,
    )  # fmt: skip
    recovery = _optional_int(
        raw, "aws_secret_recovery_days", RECOVERY_DAYS, DEFAULT_RECOVERY_DAYS,
        "0 (delete at once on destroy) or 7-30 days", out,
    )  # fmt: skip
    return AwsSettings(
        operator_principals=operators,
        consumer_principals=consumers,
        reserved_concurrency=reserved,
        secret_recovery_days=DEFAULT_RECOVERY_DAYS if recovery is None else recovery,
    )


CROSS_ACCOUNT_FIX = (
    "remove it from `aws_consumer_principals`; for another account, deploy this stack in "
    "that account, or share the secret from there (README: cross-account consumers)."
)


def foreign_consumers(
    principals: Sequence[str], account_id: str, partition: str
) -> list[ConfigProblem]:
    """Consumers outside the deploying account, which the stack refuses (see README).

    An attachment names a role or user by name in the deploying account: a principal
    of another account would silently give every live key to a same-named local role.
    Checked at deploy time, once the account is known.
    """
    problems: list[ConfigProblem] = []
    for i, arn in enumerate(principals):
        parts = arn.split(":")
        if parts[1] != partition or parts[4] != account_id:
            problems.append(
                ConfigProblem(
                    f"aws_consumer_principals[{i}]",
                    f"{arn} is not in the deploying account {account_id} ({partition}); "
                    "cross-account consumers are refused.",
                    CROSS_ACCOUNT_FIX,
                )
            )
    return problems


def _parse_gcp(raw: Mapping[str, Any], out: _Collector) -> GcpSettings:
    project = raw.get("gcp_project")
    if not isinstance(project, str) or not _GCP_PROJECT_RE.match(project):
        out.add(
            "gcp_project",
            f"{_describe(project)} is not a GCP project id (required when clouds has gcp).",
            _set_cmd("gcp_project", "my-project-id"),
        )
        project = "invalid-project"
    region = raw.get("gcp_region")
    if not isinstance(region, str) or not _GCP_REGION_RE.match(region):
        out.add(
            "gcp_region",
            f"{_describe(region)} is not a GCP region (required when clouds has gcp).",
            _set_cmd("gcp_region", "europe-west1"),
        )
        region = "invalid-region1"
    members = "IAM members (user:, group: or serviceAccount:)"
    operators = _str_list(
        raw, "gcp_operator_members", "group:platform-oncall@example.com", _GCP_MEMBER_RE,
        members, out, required=True,
    )  # fmt: skip
    consumers = _str_list(
        raw, "gcp_consumer_members", "serviceAccount:app@my-project-id.iam.gserviceaccount.com",
        _GCP_MEMBER_RE, members, out, required=False,
    )  # fmt: skip
    max_instances = _optional_int(
        raw, "gcp_max_instances", range(1, 101), DEFAULT_GCP_MAX_INSTANCES,
        "a whole number 1-100 (a cost cap; correctness does not depend on it)", out,
    )  # fmt: skip
    return GcpSettings(
        project, region, operators, consumers,
        DEFAULT_GCP_MAX_INSTANCES if max_instances is None else max_instances,
    )  # fmt: skip


def _unknown_keys(raw: Mapping[str, Any], out: _Collector) -> None:
    for key in sorted(set(raw) - set(KNOWN_KEYS)):
        close = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        out.add(key, f"is not a setting of this project.{hint}", f"`pulumi config rm {key}`.")


def parse_config(raw: Mapping[str, Any], secret_keys: frozenset[str] = frozenset()) -> StackConfig:
    """Validate the project's raw config (keys without the `cio-rotation:` prefix).

    `secret_keys` names the keys Pulumi holds encrypted. Raises ConfigError listing
    every problem, each with its key and fix.
    """
    out = _Collector()
    _unknown_keys(raw, out)
    clouds = _parse_clouds(raw, out)
    prefix = _parse_prefix(raw, out)
    credentials = _place_credentials(_parse_credentials(raw, out), clouds, raw, out)
    schedule = _parse_schedule(raw, out)
    emails = _str_list(
        raw, "operator_emails", "oncall@example.com", _EMAIL_RE,
        "e-mail addresses that receive runbooks and alarms", out, required=True,
    )  # fmt: skip
    webhook = _parse_webhook(raw, secret_keys, out)
    retention = _parse_retention(raw, out)
    aws = _parse_aws(raw, out) if Cloud.AWS in clouds else None
    gcp = _parse_gcp(raw, out) if Cloud.GCP in clouds else None
    if out.problems:
        raise ConfigError(out.problems)
    return StackConfig(
        clouds=clouds,
        credentials=credentials,
        operator_emails=emails,
        schedule=schedule,
        name_prefix=prefix,
        chat_webhook_configured=webhook,
        log_retention_days=retention,
        aws=aws,
        gcp=gcp,
    )
