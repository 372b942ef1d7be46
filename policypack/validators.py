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

# Resource policies: who may act on one resource (a `Principal` in every statement).
RESOURCE_POLICY_PROPS: dict[str, str] = {
    "aws:kms/key:Key": "policy",
    "aws:sns/topicPolicy:TopicPolicy": "policy",
    "aws:secretsmanager/secretPolicy:SecretPolicy": "policy",
    "aws:sqs/queuePolicy:QueuePolicy": "policy",
    "aws:s3/bucketPolicy:BucketPolicy": "policy",
    "aws:iam/role:Role": "assumeRolePolicy",
}
AWS_LAMBDA_PERMISSION = "aws:lambda/permission:Permission"
# A managed policy can be attached to any principal, so its reading of secrets is bound to
# the stages applications may read: AWSCURRENT, and AWSPREVIOUS only for secrets a tag
# condition picks (webhook signing keys, whose receivers accept the old signature).
AWS_MANAGED_POLICY = "aws:iam/policy:Policy"
CONSUMER_STAGES = frozenset({"AWSCURRENT", "AWSPREVIOUS"})
VERSION_STAGE_KEY = "secretsmanager:VersionStage"
VERSION_ID_KEY = "secretsmanager:VersionId"

# Managed policies that make a principal an administrator of the account, or of IAM.
ADMIN_POLICY_NAMES = frozenset({"AdministratorAccess", "PowerUserAccess", "IAMFullAccess"})
AWS_POLICY_ATTACHMENTS: dict[str, str] = {
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "policyArn",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment": "policyArn",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment": "policyArn",
    "aws:iam/policyAttachment:PolicyAttachment": "policyArn",
}
GCP_ADMIN_ROLES = frozenset(
    {
        "roles/owner",
        "roles/editor",
        "roles/iam.securityAdmin",
        "roles/resourcemanager.projectIamAdmin",
    }
)
# The project-level grants allowed, each only in the one shape Google leaves no narrower
# form of (see infra/gcp_iam.py for why each exists):
# - writing logs (logging has no narrower scope; it lets nothing be read), for the build;
# - reading objects, conditioned on Cloud Functions' own `gcf-v2-sources-<N>-<region>`
#   bucket, which Google creates during the first deploy (no bucket grant can exist yet);
# - the Eventarc service agent's own role, to the Eventarc service agent only.
# - listing secrets (`secretmanager.secrets.list`, which Google checks on the project only)
#   for the operators' discovery: a custom role `<prefix>_secret_lister` holding that one
#   permission. Listing reveals secrets' names, labels and annotations, never a value
#   (that is `secretmanager.versions.access`); `lister_role_is_list_only` keeps the role
#   to that one permission, so a grant of it can be nothing broader.
LOG_WRITER_ROLE = "roles/logging.logWriter"
SECRET_LISTER_PERMISSIONS = ("secretmanager.secrets.list",)
_LISTER_ROLE = re.compile(
    r"projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/roles/[A-Za-z0-9_.]+_secret_lister"
)
_LISTER_ROLE_ID = re.compile(r"[A-Za-z0-9_.]+_secret_lister")
GCP_CUSTOM_ROLE = "gcp:projects/iAMCustomRole:IAMCustomRole"
SOURCES_READER_ROLE = "roles/storage.objectViewer"
EVENTARC_AGENT_ROLE = "roles/eventarc.serviceAgent"
PROJECT_WIDE_ALLOWED_ROLES = frozenset({LOG_WRITER_ROLE, SOURCES_READER_ROLE, EVENTARC_AGENT_ROLE})
_SOURCES_CONDITION = re.compile(
    r'resource\.name == "projects/_/buckets/(gcf-v2-sources-\d+-[a-z0-9-]+)" \|\| '
    r'resource\.name\.startsWith\("projects/_/buckets/\1/"\)'
)
_EVENTARC_AGENT = re.compile(
    r"serviceAccount:service-\d+@gcp-sa-eventarc\.iam\.gserviceaccount\.com"
)

GCP_PUBLIC_MEMBERS = frozenset({"allUsers", "allAuthenticatedUsers"})

# A GCP secret version Pulumi may write: the chat webhook's (a notification channel held
# in Pulumi config as a secret already), never a managed credential's.
CHAT_WEBHOOK_SECRET_SUFFIX = "_chat_webhook"  # noqa: S105 (a name, not a secret)

# Function environments: where a value is readable by anyone who may read the config.
FUNCTION_ENV_PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    "aws:lambda/function:Function": (("environment", "variables"),),
    "gcp:cloudfunctionsv2/function:Function": (
        ("serviceConfig", "environmentVariables"),
        ("buildConfig", "environmentVariables"),
    ),
    "gcp:cloudfunctions/function:Function": (
        ("environmentVariables",),
        ("buildEnvironmentVariables",),
    ),
}
# Names that say "this is the credential itself" (a name ending so), and values that
# look like one: webhook URLs, URLs with credentials, well-known token formats.
_CREDENTIAL_NAME = re.compile(
    r"(^|_)(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_KEY|SECRET_ACCESS_KEY|"
    r"ACCESS_KEY_ID|WEBHOOK|WEBHOOK_URL|CREDENTIALS?)$",
    re.IGNORECASE,
)
_CREDENTIAL_VALUE = re.compile(
    r"^https?://[^/\s]*hooks?\.|"  # hooks.slack.com, hook.eu1.make.com, ...
    r"^https?://[^\s]*/(webhooks?|hooks)/|"  # discord.com/api/webhooks/, .../hooks/
    r"^https?://[^/\s:@]+:[^/\s@]+@|"  # user:password@host
    r"[?&](token|key|sig|signature|code|apikey|api_key)=|"
    r"\bAKIA[0-9A-Z]{16}\b|\bxox[abprs]-|\bgh[pousr]_[A-Za-z0-9]{20,}|-----BEGIN ",
    re.IGNORECASE,
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


# Actions AWS offers no resource-level permission for, returning metadata only: a statement
# granting only these may name "*" (the operator CLI lists the managed secrets to find its
# stack). Nothing else in such a statement, and no other action, gets the exception.
LIST_ONLY_ACTIONS = frozenset({"secretsmanager:ListSecrets"})
# The drain's reads (rotation/drain.py), likewise without resource-level permissions and
# read-only: metric lists and data (the consumer library's key-usage reports) and
# CloudTrail's event history (who read a secret). Exactly these three.
STAR_ONLY_READS = frozenset(
    {"cloudwatch:ListMetrics", "cloudwatch:GetMetricData", "cloudtrail:LookupEvents"}
)
# Writing metrics has no resource either; it may name "*" only bound to one namespace.
METRIC_WRITE = "cloudwatch:PutMetricData"
METRIC_NAMESPACE_KEY = "cloudwatch:namespace"


def _list_only(stmt: Mapping[str, Any]) -> bool:
    actions = {a for a in _items(stmt.get("Action")) if isinstance(a, str)}
    resources = list(_items(stmt.get("Resource")))
    if not actions or resources != ["*"]:
        return False
    if actions <= LIST_ONLY_ACTIONS | STAR_ONLY_READS:
        return True
    return actions == {METRIC_WRITE} and _one_namespace(stmt)


def _one_namespace(stmt: Mapping[str, Any]) -> bool:
    """PutMetricData bound to exactly one namespace (StringEquals cloudwatch:namespace),
    and no other condition operator that could widen it."""
    condition = _mapping(stmt.get("Condition"))
    equals = _mapping(condition.get("StringEquals"))
    values = [v for v in _items(equals.get(METRIC_NAMESPACE_KEY)) if isinstance(v, str)]
    return len(values) == 1 and "*" not in values[0] and "?" not in values[0]


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
        if "NotResource" not in stmt and _list_only(stmt):
            continue
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


def _allowed_project_grant(resource_type: str, props: Mapping[str, Any]) -> bool:
    """One of the project-level grants Google leaves no narrower form of, exactly."""
    if resource_type != "gcp:projects/iAMMember:IAMMember":
        return False  # a binding or policy replaces others' members; never allowed
    role, member = props.get("role"), str(props.get("member", ""))
    condition = _mapping(props.get("condition"))
    if role == LOG_WRITER_ROLE:
        return not condition
    if role == SOURCES_READER_ROLE:
        return _SOURCES_CONDITION.fullmatch(str(condition.get("expression", ""))) is not None
    if role == EVENTARC_AGENT_ROLE:
        return _EVENTARC_AGENT.fullmatch(member) is not None
    if _LISTER_ROLE.fullmatch(str(role)):
        return not condition and member.startswith(("user:", "group:", "serviceAccount:"))
    # The drain's two custom roles (their permissions are checked by drain_roles_are_narrow).
    return not condition and _DRAIN_ROLE.fullmatch(str(role)) is not None


# The drain's custom roles (infra/gcp_iam.py): Cloud Monitoring and Cloud Logging grant on
# the project at the lowest, so these two may be bound there, holding exactly these.
DRAIN_ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "_usage_writer": frozenset({"monitoring.timeSeries.create"}),
    "_drain_reader": frozenset(
        {"monitoring.timeSeries.list", "logging.logEntries.list", "logging.privateLogEntries.list"}
    ),
}
_DRAIN_ROLE = re.compile(
    r"projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/roles/[A-Za-z0-9_.]+_(usage_writer|drain_reader)"
)


def drain_roles_are_narrow(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """A custom role named like the drain's holds exactly its permissions (the name is what
    lets it be bound on the project)."""
    if resource_type != GCP_CUSTOM_ROLE:
        return []
    role_id = str(props.get("roleId", ""))
    for suffix, allowed in DRAIN_ROLE_PERMISSIONS.items():
        if role_id.endswith(suffix):
            held = {p for p in _items(props.get("permissions")) if isinstance(p, str)}
            if held != allowed:
                return [
                    f"custom role {role_id} may be bound on the project only holding exactly "
                    f"{', '.join(sorted(allowed))}; it holds {', '.join(sorted(held))}."
                ]
    return []


def lister_role_is_list_only(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """A `_secret_lister` custom role holds `secretmanager.secrets.list` and nothing else:
    it is the one custom role the project-level grant check admits, by name."""
    if resource_type != GCP_CUSTOM_ROLE:
        return []
    if not _LISTER_ROLE_ID.fullmatch(str(props.get("roleId", ""))):
        return []
    permissions = sorted(str(p) for p in _items(props.get("permissions")))
    if permissions == list(SECRET_LISTER_PERMISSIONS):
        return []
    return [
        f"custom role {props.get('roleId')} is granted on the project as the operators' "
        f"secret listing role, so it may hold only {SECRET_LISTER_PERMISSIONS[0]}; it holds "
        f"{', '.join(permissions) or 'nothing'}. Give other permissions a role of their own, "
        "bound on single secrets."
    ]


def no_project_wide_grants(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """GCP grants are made on single resources, never on a project, folder or organization,
    except PROJECT_WIDE_ALLOWED_ROLES in the one shape each is allowed (a member, not a
    policy; object reading only on the Cloud Functions source bucket; the Eventarc role
    only to its agent).
    """
    if resource_type in PROJECT_WIDE_GRANT_TYPES:
        if _allowed_project_grant(resource_type, props):
            return []
        role = props.get("role", "roles")
        return [
            f"{resource_type} grants {role} on a whole project/folder/organization; bind it on "
            "the secret, topic, bucket or service instead."
        ]
    return []


def no_secret_values(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Secret values never pass through Pulumi: no secret versions in the stack."""
    if resource_type == GCP_SECRET_VERSION and str(props.get("secret", "")).endswith(
        CHAT_WEBHOOK_SECRET_SUFFIX
    ):
        return []
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


def _statements(document: Any) -> list[Mapping[str, Any]]:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return []
    return [_mapping(s) for s in _items(_mapping(document).get("Statement"))]


def _all_policy_documents(resource_type: str, props: Mapping[str, Any]) -> list[Any]:
    documents = [d for d in _policy_documents(resource_type, props) if d is not None]
    if resource_type in RESOURCE_POLICY_PROPS:
        documents.append(props.get(RESOURCE_POLICY_PROPS[resource_type]))
    return [d for d in documents if d is not None]


def no_not_action(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """An Allow with NotAction grants every action but a few, today's and tomorrow's."""
    problems: list[str] = []
    for document in _all_policy_documents(resource_type, props):
        for i, stmt in enumerate(_statements(document)):
            if stmt.get("Effect") == "Allow" and "NotAction" in stmt:
                sid = stmt.get("Sid", f"#{i}")
                problems.append(f"statement {sid} allows NotAction, i.e. every other action.")
    return problems


def _is_admin_arn(arn: Any) -> bool:
    return (
        isinstance(arn, str)
        and arn.rsplit("/", 1)[-1] in ADMIN_POLICY_NAMES
        and (":iam::aws:policy/" in arn)
    )


def no_admin_policies(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """No administrator policy attached, written inline, or granted as a GCP basic role."""
    problems: list[str] = []
    if resource_type in AWS_POLICY_ATTACHMENTS:
        arn = props.get(AWS_POLICY_ATTACHMENTS[resource_type])
        if _is_admin_arn(arn):
            problems.append(f"attaches the administrator policy {arn}.")
    if resource_type == AWS_ROLE:
        for arn in _items(props.get("managedPolicyArns")):
            if _is_admin_arn(arn):
                problems.append(f"the role carries the administrator policy {arn}.")
    for document in _policy_documents(resource_type, props):
        for i, stmt in enumerate(_statements(document)):
            actions = {str(a) for a in _items(stmt.get("Action"))}
            if stmt.get("Effect") == "Allow" and actions & {"*", "*:*"}:
                problems.append(f"statement {stmt.get('Sid', f'#{i}')} allows every action.")
    if resource_type.startswith("gcp:") and props.get("role") in GCP_ADMIN_ROLES:
        problems.append(f"grants the administrator role {props.get('role')}.")
    return problems


def _public_principal(principal: Any) -> bool:
    if principal == "*":
        return True
    return any(value == "*" for values in _mapping(principal).values() for value in _items(values))


def no_public_resource_policies(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """No resource policy (key, topic, secret, trust, ...) allows `Principal: "*"`."""
    problems: list[str] = []
    if resource_type in RESOURCE_POLICY_PROPS:
        document = props.get(RESOURCE_POLICY_PROPS[resource_type])
        for i, stmt in enumerate(_statements(document)):
            if stmt.get("Effect") == "Allow" and (
                _public_principal(stmt.get("Principal")) or "NotPrincipal" in stmt
            ):
                sid = stmt.get("Sid", f"#{i}")
                problems.append(f"statement {sid} allows any principal ('*' or NotPrincipal).")
    if resource_type == AWS_LAMBDA_PERMISSION and props.get("principal") == "*":
        problems.append("the function may be invoked by any principal ('*').")
    return problems


def no_public_members(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """No GCP IAM grant (on a secret above all) to allUsers or allAuthenticatedUsers."""
    if not resource_type.startswith("gcp:") or "iam" not in resource_type.lower():
        return []
    members = [*_items(props.get("member")), *_items(props.get("members"))]
    policy = props.get("policyData")
    if isinstance(policy, str):
        try:
            bindings = _items(_mapping(json.loads(policy)).get("bindings"))
        except ValueError:
            bindings = []
        members += [m for b in bindings for m in _items(_mapping(b).get("members"))]
    public = sorted({str(m) for m in members} & GCP_PUBLIC_MEMBERS)
    return [f"grants {resource_type} to {m}, i.e. to anyone." for m in public]


def _env_maps(resource_type: str, props: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    maps: list[Mapping[str, Any]] = []
    for path in FUNCTION_ENV_PATHS.get(resource_type, ()):
        node: Any = props
        for key in path:
            node = _mapping(node).get(key)
        if isinstance(node, Mapping):
            maps.append(node)
    return maps


def no_credentials_in_function_env(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """A Lambda or Cloud Function variable that looks like a credential or a webhook URL:
    whoever may read the function's configuration reads it. Values are never echoed.
    """
    problems: list[str] = []
    for env in _env_maps(resource_type, props):
        for name, value in env.items():
            if not isinstance(value, str) or not value:
                continue
            if _CREDENTIAL_NAME.search(str(name)):
                problems.append(f"environment variable {name} is named like a credential.")
            elif _CREDENTIAL_VALUE.search(value):
                problems.append(
                    f"environment variable {name} holds what looks like a credential or a "
                    "webhook URL (value not shown); keep it in Secret Manager / SSM."
                )
    return problems


def _reads_secret_values(stmt: Mapping[str, Any]) -> bool:
    actions = [str(a).lower() for a in _items(stmt.get("Action"))]
    return "NotAction" in stmt or any(
        re.fullmatch(a.replace("*", ".*"), "secretsmanager:getsecretvalue") for a in actions
    )


def _condition_values(stmt: Mapping[str, Any], key: str) -> set[str] | None:
    """The values `key` is held to by StringEquals (None: not held by it at all)."""
    for operator, pairs in _mapping(stmt.get("Condition")).items():
        if operator == "StringEquals" and key in _mapping(pairs):
            return {str(v) for v in _items(_mapping(pairs)[key])}
    return None


def _default_stage_only(stmt: Mapping[str, Any]) -> bool:
    """Neither a stage nor a version id in the request: Secrets Manager reads AWSCURRENT."""
    nulls = _mapping(_mapping(stmt.get("Condition")).get("Null"))
    return all(str(nulls.get(k)).lower() == "true" for k in (VERSION_STAGE_KEY, VERSION_ID_KEY))


def _tag_conditioned(stmt: Mapping[str, Any]) -> bool:
    return any(
        str(key).startswith(("aws:ResourceTag/", "secretsmanager:ResourceTag/"))
        for operator, pairs in _mapping(stmt.get("Condition")).items()
        if operator == "StringEquals"
        for key in _mapping(pairs)
    )


def consumers_read_current_only(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """A managed policy reads secret values only at AWSCURRENT (and AWSPREVIOUS only of
    secrets a resource-tag condition picks): never AWSPENDING, never any version."""
    if resource_type != AWS_MANAGED_POLICY:
        return []
    problems: list[str] = []
    for i, stmt in enumerate(_statements(props.get("policy"))):
        if stmt.get("Effect") != "Allow" or not _reads_secret_values(stmt):
            continue
        sid = stmt.get("Sid", f"#{i}")
        stages = _condition_values(stmt, VERSION_STAGE_KEY)
        if stages is None and _default_stage_only(stmt):
            continue
        if not stages or not stages <= CONSUMER_STAGES:
            problems.append(
                f"statement {sid} reads secret values without a StringEquals "
                f"{VERSION_STAGE_KEY} of AWSCURRENT: applications read the current key only."
            )
        elif "AWSPREVIOUS" in stages and not _tag_conditioned(stmt):
            problems.append(
                f"statement {sid} reads AWSPREVIOUS of every secret; bind it with a resource "
                "tag condition to the webhook signing keys."
            )
    return problems


def service_permissions_name_their_source(
    resource_type: str, props: Mapping[str, Any]
) -> list[str]:
    """A Lambda permission for an AWS service names the resource that may invoke
    (sourceArn) and its account: otherwise any secret, rule or bucket of the service may."""
    if resource_type != AWS_LAMBDA_PERMISSION:
        return []
    principal = str(props.get("principal", ""))
    if not principal.endswith(".amazonaws.com"):
        return []
    missing = [k for k in ("sourceArn", "sourceAccount") if not props.get(k)]
    if missing:
        return [
            f"the permission lets {principal} invoke the function without {' or '.join(missing)}"
            ": any resource of that service could invoke it (confused deputy)."
        ]
    return []


# The operator role's inline policy (named "<prefix>-operator-<stack>-<region>" by the
# program) invokes the rotator through its operator alias alone, where the function takes
# operator actions only: a grant on the function itself (or `:*`, `$LATEST`, another alias)
# would let a person send Secrets Manager's rotation steps by hand.
_OPERATOR_POLICY_NAME = re.compile(r"-operator-")
OPERATOR_ALIAS = "operator"
_FUNCTION_ARN = re.compile(r"^arn:[^:]+:lambda:[^:]*:[^:]*:function:[^:]+(?::(?P<qualifier>.*))?$")


def _invokes(stmt: Mapping[str, Any]) -> bool:
    actions = [str(a).lower() for a in _items(stmt.get("Action"))]
    return "NotAction" in stmt or any(
        re.fullmatch(a.replace("*", ".*"), "lambda:invokefunction") for a in actions
    )


def operators_invoke_the_operator_alias_only(
    resource_type: str, props: Mapping[str, Any]
) -> list[str]:
    """The operator policy's lambda:InvokeFunction names the rotator's operator alias only."""
    if resource_type not in IAM_POLICY_PROPS:
        return []
    if not _OPERATOR_POLICY_NAME.search(str(props.get("name") or "")):
        return []
    problems: list[str] = []
    for i, stmt in enumerate(_statements(props.get(IAM_POLICY_PROPS[resource_type]))):
        if stmt.get("Effect") != "Allow" or not _invokes(stmt):
            continue
        sid = stmt.get("Sid", f"#{i}")
        for resource in _items(stmt.get("Resource", ["*"])):
            found = _FUNCTION_ARN.match(str(resource))
            if found is None or found.group("qualifier") != OPERATOR_ALIAS:
                problems.append(
                    f"statement {sid} lets operators invoke {resource!r}: name the rotator's "
                    f"{OPERATOR_ALIAS!r} alias alone (arn:...:function:NAME:{OPERATOR_ALIAS}), "
                    "which takes operator actions only, never rotation steps."
                )
    return problems


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
    "gcp-drain-roles-are-narrow": (
        "The drain's project-level custom roles hold only the permissions they are named for.",
        drain_roles_are_narrow,
    ),
    "gcp-no-project-wide-grants": (
        "GCP IAM is granted on single resources, never project-wide.",
        no_project_wide_grants,
    ),
    "gcp-secret-lister-role-lists-only": (
        "The operators' project-level listing role holds secretmanager.secrets.list only.",
        lister_role_is_list_only,
    ),
    "no-secret-values-in-pulumi": (
        "No secret value appears in resource inputs (no SecretVersion resources).",
        no_secret_values,
    ),
    "iam-no-not-action": (
        "No IAM or resource policy allows NotAction.",
        no_not_action,
    ),
    "no-admin-policies": (
        "No administrator policy (AWS managed, inline *, GCP basic roles) is granted.",
        no_admin_policies,
    ),
    "no-public-resource-policies": (
        'No resource policy or Lambda permission allows Principal "*".',
        no_public_resource_policies,
    ),
    "gcp-no-public-members": (
        "No GCP IAM grant (on a secret or anything else) to allUsers/allAuthenticatedUsers.",
        no_public_members,
    ),
    "no-credentials-in-function-env": (
        "No function environment variable looks like a credential or a webhook URL.",
        no_credentials_in_function_env,
    ),
    "aws-consumers-read-current-only": (
        "Managed policies read secret values at AWSCURRENT only (AWSPREVIOUS by tag).",
        consumers_read_current_only,
    ),
    "aws-service-permissions-name-their-source": (
        "Lambda permissions for AWS services carry sourceArn and sourceAccount.",
        service_permissions_name_their_source,
    ),
    "aws-operators-invoke-the-operator-alias-only": (
        "The operator role invokes the rotator's operator alias only, never the function.",
        operators_invoke_the_operator_alias_only,
    ),
}
