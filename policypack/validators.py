"""The rules of the policy pack, as plain functions of a resource's type and inputs.

Each validator returns the violations it finds (an empty list when the resource
complies or the rule does not apply). They take engine-style inputs (camelCase
property names, as `pulumi preview` hands them to a policy pack) and accept any
Mapping/Sequence, because the policy SDK wraps inputs in read-only proxies.

Deliberately standalone (no import from the program's `infra` package): the pack
must judge the program, not share its assumptions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

MAX_ROTATION_DAYS = 90
MAX_ROTATION_SECONDS = MAX_ROTATION_DAYS * 86_400

AWS_SECRET = "aws:secretsmanager/secret:Secret"  # noqa: S105 (a name, not a secret)
AWS_SECRET_ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"  # noqa: S105 (a name, not a secret)
AWS_SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"  # noqa: S105 (a name, not a secret)
GCP_SECRET = "gcp:secretmanager/secret:Secret"  # noqa: S105 (a name, not a secret)
GCP_SECRET_VERSION = "gcp:secretmanager/secretVersion:SecretVersion"  # noqa: S105 (a name, not a secret)
AWS_MANAGED_SECRETS_KEY = "alias/aws/secretsmanager"
GCP_MANAGED_LABEL = "cio-rotation-managed"

# Identity policies: where the program states what a principal may do.
IAM_POLICY_PROPS: dict[str, str] = {
    "aws:iam/policy:Policy": "policy",
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy",
    "aws:iam/groupPolicy:GroupPolicy": "policy",
}
AWS_ROLE = "aws:iam/role:Role"

PROJECT_WIDE_GRANT_TYPES = frozenset(
    {
        f"gcp:{module}/iAM{kind}:IAM{kind}"
        for module in ("projects", "organizations", "folder")
        for kind in ("Member", "Binding", "Policy")
    }
)

Validator = Callable[[str, Mapping[str, Any]], list[str]]

_RATE = re.compile(r"^rate\((\d+) (hour|hours|day|days)\)$")
_DURATION = re.compile(r"^(\d+)(?:\.\d+)?s$")
_ARN_TYPE_PREFIX = re.compile(r"^[A-Za-z-]+[:/]")


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _items(value: Any) -> Sequence[Any]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        return [value] if value is not None else []
    return value


def rotation_at_most_90_days(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """AWS rotation schedules and GCP rotation periods of managed secrets: at most 90 days."""
    if resource_type == AWS_SECRET_ROTATION:
        rules = _mapping(props.get("rotationRules"))
        days = rules.get("automaticallyAfterDays")
        expression = rules.get("scheduleExpression")
        if days is not None:
            # Numbers reach a policy pack as floats (protobuf Struct): 90 arrives as 90.0.
            valid = isinstance(days, int | float) and not isinstance(days, bool)
            if not valid or not 1 <= days <= MAX_ROTATION_DAYS:
                return [f"rotationRules.automaticallyAfterDays is {days}; it must be 1-90."]
            return []
        if isinstance(expression, str):
            match = _RATE.match(expression)
            if match is None:
                return [
                    f"rotationRules.scheduleExpression {expression!r} cannot be checked against "
                    "the 90-day limit; use automaticallyAfterDays (at most 90) or rate(N days)."
                ]
            n, unit = int(match.group(1)), match.group(2)
            days_equivalent = n if unit.startswith("day") else n / 24
            if days_equivalent > MAX_ROTATION_DAYS:
                return [f"rotationRules.scheduleExpression {expression!r} exceeds 90 days."]
            return []
        return ["rotationRules sets no schedule; set automaticallyAfterDays to at most 90."]
    if resource_type == GCP_SECRET:
        rotation = _mapping(props.get("rotation"))
        period = rotation.get("rotationPeriod")
        managed = _mapping(props.get("labels")).get(GCP_MANAGED_LABEL) == "true"
        if period is None:
            return ["a managed secret has no rotation.rotationPeriod."] if managed else []
        match = _DURATION.match(str(period))
        if match is None:
            return [f"rotation.rotationPeriod {period!r} is not a duration in seconds."]
        if int(match.group(1)) > MAX_ROTATION_SECONDS:
            return [f"rotation.rotationPeriod {period} exceeds 90 days ({MAX_ROTATION_SECONDS}s)."]
    return []


def customer_managed_kms(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """AWS secrets are encrypted with a customer-managed key, not aws/secretsmanager."""
    if resource_type != AWS_SECRET:
        return []
    key = props.get("kmsKeyId")
    if not key:
        return ["kmsKeyId is not set, so the AWS managed key aws/secretsmanager is used."]
    if str(key).endswith(AWS_MANAGED_SECRETS_KEY):
        return [f"kmsKeyId is {key}; use a customer-managed key with a scoped key policy."]
    return []


def is_wildcard_resource(resource: str) -> bool:
    """True for `*` and for ARNs that cover a whole service, region, account or type."""
    if resource == "*":
        return True
    if not resource.startswith("arn:"):
        return "*" in resource
    parts = resource.split(":", 5)
    if len(parts) < 6 or any("*" in part for part in parts[1:5]):
        return True
    remainder = _ARN_TYPE_PREFIX.sub("", parts[5], count=1)
    return remainder == "" or remainder.startswith("*")


def _policy_documents(resource_type: str, props: Mapping[str, Any]) -> list[Any]:
    if resource_type in IAM_POLICY_PROPS:
        return [props.get(IAM_POLICY_PROPS[resource_type])]
    if resource_type == AWS_ROLE:
        return [_mapping(p).get("policy") for p in _items(props.get("inlinePolicies"))]
    return []


def wildcard_statements(document: Any) -> list[str]:
    """Violations in one identity policy document (JSON text or a mapping)."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return ["the policy is not valid JSON."]
    problems: list[str] = []
    for i, statement in enumerate(_items(_mapping(document).get("Statement"))):
        stmt = _mapping(statement)
        if stmt.get("Effect") != "Allow":
            continue  # a broad Deny only takes permissions away
        sid = stmt.get("Sid", f"#{i}")
        if "NotResource" in stmt:
            problems.append(f"statement {sid} allows NotResource, i.e. everything else.")
        for resource in _items(stmt.get("Resource")):
            if isinstance(resource, str) and is_wildcard_resource(resource):
                problems.append(f"statement {sid} allows resource {resource!r}.")
    return problems


def no_wildcard_resources(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """IAM identity policies name their resources (KMS key policies' `*` means the key)."""
    problems: list[str] = []
    for document in _policy_documents(resource_type, props):
        if document is not None:
            problems.extend(wildcard_statements(document))
    return problems


def no_project_wide_grants(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """GCP grants are made on single resources, never on a project, folder or organization."""
    if resource_type in PROJECT_WIDE_GRANT_TYPES:
        role = props.get("role", "roles")
        return [
            f"{resource_type} grants {role} on a whole project/folder/organization; bind it on "
            "the secret, topic or service instead."
        ]
    return []


def no_secret_values(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Secret values never pass through Pulumi: no secret versions in the stack."""
    if resource_type in (AWS_SECRET_VERSION, GCP_SECRET_VERSION):
        return [
            f"{resource_type} puts a secret value into Pulumi inputs and state; secrets are "
            "created empty and filled with `cio-rotate submit`."
        ]
    if resource_type == AWS_SECRET and any(
        props.get(key) is not None for key in ("secretString", "secretBinary")
    ):
        return ["the secret is given a value in Pulumi; submit it with the CLI instead."]
    return []


VALIDATORS: dict[str, tuple[str, Validator]] = {
    "rotation-at-most-90-days": (
        "Secrets rotate at least every 90 days (AWS SecretRotation, GCP rotation_period).",
        rotation_at_most_90_days,
    ),
    "secrets-use-customer-managed-kms": (
        "AWS secrets are encrypted with a customer-managed KMS key.",
        customer_managed_kms,
    ),
    "iam-no-wildcard-resources": (
        "IAM identity policies grant nothing on wildcard resources.",
        no_wildcard_resources,
    ),
    "gcp-no-project-wide-grants": (
        "GCP IAM is granted on single resources, never project-wide.",
        no_project_wide_grants,
    ),
    "no-secret-values-in-pulumi": (
        "No secret value appears in resource inputs (no SecretVersion resources).",
        no_secret_values,
    ),
}
