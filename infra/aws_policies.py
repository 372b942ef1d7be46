"""IAM and KMS policy documents for the AWS half, as pure functions of names and ARNs.

Least privilege that still fits IAM's size limits for 500 credentials: one ARN
pattern per kind of secret instead of a list of 1,000 ARNs.

Secrets Manager appends `-` and 6 random characters to every secret ARN, so an
exact name never matches; a pattern must end in `*`. With credential names that
contain no '/':

- live secret  `<prefix>/<name>`        ARN `...:secret:<prefix>/<name>-AbCdEf`
- inbox        `<prefix>/<name>/inbox`  ARN `...:secret:<prefix>/<name>/inbox-AbCdEf`
- state        `<prefix>/<name>/state`  ARN `...:secret:<prefix>/<name>/state-AbCdEf`

`<prefix>/*` matches all three (IAM's `*` crosses '/'), `<prefix>/*/inbox-*`
matches only inboxes and `<prefix>/*/state-*` only state documents (a live ARN
has no second '/'). IAM cannot express "live only" with a pattern, so live-only
grants pair an Allow on `<prefix>/*` with an explicit Deny on the other two.

Nobody but the deployer may change a secret's rotation rules: `RotateSecret`
with new rules (`secretsmanager:ModifyRotationRules`) is denied to the rotator
and the operators, so the 90-day hard deadline cannot move outside Pulumi.

KMS key policies are resource policies: their `"Resource": "*"` means "this
key", which is why they are exempt from the no-wildcard rule (the policy pack
checks identity policies only).

Applications read a live secret's AWSCURRENT only (`secretsmanager:VersionStage`,
and no `secretsmanager:VersionId`, which would name any version); receivers of a
webhook signing key may also read AWSPREVIOUS, picked by the `kind` tag Pulumi
alone writes, to accept the old signature during the grace period. SNS's use of
the topic key is bound to the topic (`kms:EncryptionContext:aws:sns:topicArn`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rotation import conventions as cv
from rotation.credentials import Kind
from rotation.stores.usage import AWS_NAMESPACE as USAGE_NAMESPACE

PolicyDocument = dict[str, Any]

VERSION = "2012-10-17"

# IAM quotas (characters, whitespace not counted).
MANAGED_POLICY_MAX_CHARS = 6_144
ROLE_INLINE_POLICIES_MAX_CHARS = 10_240  # aggregate of a role's inline policies
TRUST_POLICY_MAX_CHARS = 2_048  # default; can be raised to 4,096
KEY_POLICY_MAX_BYTES = 32_768

# What each role may do: the design's lists, and nothing else.
ROTATOR_SECRET_ACTIONS = (
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetSecretValue",
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecretVersionStage",
)
# The rotator's calls on its work queue: the sweep sends units, the event source mapping
# (acting as the function's role) receives and deletes them.
WORK_QUEUE_ACTIONS = (
    "sqs:SendMessage",
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
)
WAKE_UP_ACTIONS = (
    "scheduler:CreateSchedule",
    "scheduler:UpdateSchedule",
    "scheduler:DeleteSchedule",
)
# The drain (rotation/drain.py): applications report the key they use as a CloudWatch
# metric in the consumer library's namespace; the rotator and operators read those metrics
# and CloudTrail's record of reads of the secrets. None of these actions takes a resource
# (Service Authorization Reference: CloudWatch's metric actions and CloudTrail's
# LookupEvents list no resource types), so they are granted on "*": the reads are
# read-only metadata (the policy pack's STAR_ONLY_READS), and writing metrics is bound
# to the one namespace with `cloudwatch:namespace`.
DRAIN_READ_ACTIONS = (
    "cloudwatch:GetMetricData",
    "cloudwatch:ListMetrics",
    "cloudtrail:LookupEvents",
)
USAGE_REPORT_ACTIONS = ("cloudwatch:PutMetricData",)
USAGE_NAMESPACE_KEY = "cloudwatch:namespace"
ROTATOR_ACTIONS = frozenset(
    {
        *ROTATOR_SECRET_ACTIONS,
        *WORK_QUEUE_ACTIONS,
        *WAKE_UP_ACTIONS,
        "iam:PassRole",
        "secretsmanager:RotateSecret",
        "lambda:InvokeFunction",
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "sns:Publish",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        *DRAIN_READ_ACTIONS,
    }
)
CHAT_PARAMETER_ACTIONS = frozenset({"ssm:GetParameter"})  # only when a chat URL is configured
OPERATOR_ACTIONS = frozenset(
    {
        "secretsmanager:PutSecretValue",
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",  # state documents only (no key material)
        "lambda:InvokeFunction",  # the rotator's operator alias only
        "kms:GenerateDataKey",
        "kms:Decrypt",
        "logs:FilterLogEvents",
        "secretsmanager:ListSecrets",  # on "*" only: the CLI finds its stack (LIST_SECRETS)
        "lambda:GetFunctionConfiguration",  # the rotator's: its log group and policy
        *DRAIN_READ_ACTIONS,  # `cio-rotate drain`: who still uses the old key
    }
)
CONSUMER_ACTIONS = frozenset(
    {
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
        "kms:Decrypt",
        *USAGE_REPORT_ACTIONS,
    }
)
SCHEDULER_ACTIONS = frozenset({"lambda:InvokeFunction", "sqs:SendMessage"})

# Key administration without any use of the key, and without kms:CreateGrant (a
# grant would bypass the kms:ViaService condition below).
KEY_ADMIN_ACTIONS = (
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListAliases",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
)


@dataclass(frozen=True)
class AwsScope:
    """Account, region and secret-name prefix every ARN pattern is built from."""

    partition: str
    region: str
    account_id: str
    prefix: str
    # The Pulumi stack: the rotator's and operators' secret grants hold only for secrets
    # tagged with it (OWN_STACK_TAG). Empty: no such condition (documents for other uses).
    stack: str = ""

    def _secret_arn(self, name_pattern: str) -> str:
        return (
            f"arn:{self.partition}:secretsmanager:{self.region}:{self.account_id}"
            f":secret:{name_pattern}"
        )

    @property
    def managed_secrets(self) -> str:
        """Every live secret and every inbox of this stack."""
        return self._secret_arn(f"{self.prefix}/*")

    @property
    def inboxes(self) -> str:
        """Inboxes only: the second '/' a live secret's ARN never has."""
        return self._secret_arn(f"{self.prefix}/*/inbox-*")

    @property
    def states(self) -> str:
        """State documents only: `<prefix>/<name>/state`."""
        return self._secret_arn(f"{self.prefix}/*/state-*")

    @property
    def not_live(self) -> list[str]:
        """Inboxes and state documents: what an explicit Deny removes from `<prefix>/*`."""
        return [self.inboxes, self.states]

    def parameter_arn(self, name: str) -> str:
        """An SSM parameter's ARN; `name` starts with '/', which the ARN does not repeat."""
        return (
            f"arn:{self.partition}:ssm:{self.region}:{self.account_id}:parameter/{name.lstrip('/')}"
        )

    @property
    def root(self) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:root"

    def via(self, service: str) -> str:
        return f"{service}.{self.region}.amazonaws.com"

    def topic_arn(self, name: str) -> str:
        """An SNS topic's ARN, known before the topic exists (its key's policy names it)."""
        return f"arn:{self.partition}:sns:{self.region}:{self.account_id}:{name}"

    def schedules_in(self, group: str) -> str:
        """Every schedule of one EventBridge Scheduler group (the credentials' wake-ups)."""
        return f"arn:{self.partition}:scheduler:{self.region}:{self.account_id}:schedule/{group}/*"


# The encryption context SNS gives KMS for a topic's messages (SNS SSE documentation).
SNS_TOPIC_CONTEXT = "kms:EncryptionContext:aws:sns:topicArn"
# Stages an application reads, and the tag that lets webhook receivers read the previous.
VERSION_STAGE = "secretsmanager:VersionStage"
VERSION_ID = "secretsmanager:VersionId"
PREVIOUS_READERS_TAG = f"aws:ResourceTag/{cv.TAG_KIND}"
# Secrets this stack created carry its name in this tag (infra/metadata.py): `<prefix>/*`
# also matches secrets anyone else creates under the prefix. `aws:ResourceTag/${TagKey}` is
# a condition key of Secrets Manager's `Secret` resource type, so it applies to every secret
# action granted with it here: DescribeSecret, GetSecretValue, PutSecretValue,
# UpdateSecretVersionStage, RotateSecret (Service Authorization Reference, AWS Secrets
# Manager). Never on KMS (the key is not the secret: its use is bound by the SecretARN
# encryption context instead), nor on ListSecrets (no resource, so no resource tag).
OWN_STACK_TAG = f"aws:ResourceTag/{cv.TAG_STACK}"


@dataclass(frozen=True)
class WakeUpGrants:
    """What the rotator needs to arm wake-ups and to work its queue (rotation/stores/
    aws_wakeups.py, rotation/workqueue.py): the schedule group's name, the role the
    scheduler assumes to send to the queue, and the queue."""

    schedule_group: str
    scheduler_role_arn: str
    work_queue_arn: str


# The one action an identity policy here may grant on "*" (no resource-level permission
# exists for it; it returns metadata, never a value): the operator CLI's stack discovery.
LIST_SECRETS = "secretsmanager:ListSecrets"  # pragma: allowlist secret (an IAM action name)
LIST_SECRETS_SID = "DiscoverManagedSecrets"  # pragma: allowlist secret (a statement id)


def drain_reads() -> dict[str, Any]:
    """Reading the drain's evidence (the rotator's checks, `cio-rotate drain`)."""
    return _statement("ReadKeyUsage", DRAIN_READ_ACTIONS, ["*"])


def usage_reports() -> dict[str, Any]:
    """Applications report the key they use, into the consumer library's namespace only."""
    return _statement(
        "ReportKeyUsage",
        USAGE_REPORT_ACTIONS,
        ["*"],
        condition={"StringEquals": {USAGE_NAMESPACE_KEY: USAGE_NAMESPACE}},
    )


def _statement(
    sid: str,
    actions: Sequence[str],
    resources: Sequence[str],
    *,
    effect: str = "Allow",
    condition: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    stmt: dict[str, Any] = {
        "Sid": sid,
        "Effect": effect,
        "Action": list(actions),
        "Resource": list(resources),
    }
    if condition:
        stmt["Condition"] = condition
    return stmt


def _secrets_key(
    sid: str, actions: Sequence[str], key_arn: str, scope: AwsScope, secrets: str
) -> dict[str, Any]:
    """KMS use of the secrets key only inside Secrets Manager, only for these secrets."""
    return _statement(
        sid,
        actions,
        [key_arn],
        condition={
            "StringEquals": {"kms:ViaService": scope.via("secretsmanager")},
            "StringLike": {"kms:EncryptionContext:SecretARN": secrets},
        },
    )


def _own(scope: AwsScope) -> dict[str, dict[str, Any]]:
    """Condition: the secret carries this stack's tag (none when the scope names no stack)."""
    return {"StringEquals": {OWN_STACK_TAG: scope.stack}} if scope.stack else {}


def _invoke(sid: str, function_arn: str) -> dict[str, Any]:
    """Invoking the rotation function (directly, or as RotateSecret requires of its caller)."""
    return _statement(sid, ["lambda:InvokeFunction"], [function_arn])


def _rotate_secret(sid: str, scope: AwsScope, function_arn: str) -> list[dict[str, Any]]:
    """RotateSecret on live secrets, naming this stack's rotator (or none: the configured
    one), never changing the rotation rules (the 90-day deadline), never of an inbox or a
    state document."""
    return [
        _statement(
            sid,
            ["secretsmanager:RotateSecret"],
            [scope.managed_secrets],
            condition={
                "ArnEqualsIfExists": {"secretsmanager:RotationLambdaARN": function_arn},
                **_own(scope),
            },
        ),
        _statement(
            "NoRotationRuleChanges",
            ["secretsmanager:RotateSecret"],
            [scope.managed_secrets],
            effect="Deny",
            condition={"Bool": {"secretsmanager:ModifyRotationRules": "true"}},
        ),
        _statement(
            "NoRotationOfInboxesOrState",
            ["secretsmanager:RotateSecret"],
            scope.not_live,
            effect="Deny",
        ),
    ]


def rotator_policy(
    scope: AwsScope,
    *,
    secrets_key_arn: str,
    topic_key_arn: str,
    topic_arn: str,
    log_group_arn: str,
    function_arn: str,
    chat_parameter: str | None = None,
    wakeups: WakeUpGrants | None = None,
) -> PolicyDocument:
    """The rotation function's role: its managed secrets, its key, its topic, its logs.

    Live secrets, inboxes and state documents all match `<prefix>/*`. The rotator
    writes no tags: its state is the state document, written with compare-and-swap.
    `chat_parameter` (an SSM parameter name) adds reading the chat webhook URL;
    `wakeups` the credentials' one-time schedules (in their group only, passing only the
    scheduler's role, to EventBridge Scheduler only) and the work queue.
    """
    statements = [
        _statement(
            "ManagedSecrets", ROTATOR_SECRET_ACTIONS, [scope.managed_secrets], condition=_own(scope)
        ),
        # Resuming a rotation whose native deadline already failed.
        *_rotate_secret("ResumeRotations", scope, function_arn),
        # RotateSecret requires its caller to be allowed to invoke the rotation
        # function (Secrets Manager API reference), so the rotator needs itself.
        _invoke("InvokeSelfThroughRotateSecret", function_arn),
        _secrets_key(
            "SecretsKeyViaSecretsManager",
            ["kms:Decrypt", "kms:GenerateDataKey"],
            secrets_key_arn,
            scope,
            scope.managed_secrets,
        ),
        # Publishing to a KMS-encrypted topic needs the topic key, through SNS only, for
        # this topic only.
        _statement(
            "TopicKeyViaSns",
            ["kms:Decrypt", "kms:GenerateDataKey"],
            [topic_key_arn],
            condition={
                "StringEquals": {"kms:ViaService": scope.via("sns"), SNS_TOPIC_CONTEXT: topic_arn}
            },
        ),
        _statement("Notify", ["sns:Publish"], [topic_arn]),
        _statement(
            "OwnLogGroup",
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            [f"{log_group_arn}:*"],
        ),
        drain_reads(),
    ]
    if wakeups is not None:
        statements += [
            _statement(
                "WakeUpSchedules",
                list(WAKE_UP_ACTIONS),
                [scope.schedules_in(wakeups.schedule_group)],
            ),
            _statement(
                "PassSchedulerRole",
                ["iam:PassRole"],
                [wakeups.scheduler_role_arn],
                condition={"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
            ),
            _statement("WorkQueue", list(WORK_QUEUE_ACTIONS), [wakeups.work_queue_arn]),
        ]
    if chat_parameter is not None:
        parameter_arn = scope.parameter_arn(chat_parameter)
        statements += [
            _statement("ReadChatWebhook", ["ssm:GetParameter"], [parameter_arn]),
            _statement(
                "ChatWebhookKeyViaSsm",
                ["kms:Decrypt"],
                [topic_key_arn],
                condition=_ssm_kms(scope, parameter_arn),
            ),
        ]
    return {"Version": VERSION, "Statement": statements}


def _ssm_kms(scope: AwsScope, parameter_arn: str) -> dict[str, Any]:
    """KMS use only inside SSM, only for this one SecureString parameter."""
    return {
        "StringEquals": {
            "kms:ViaService": scope.via("ssm"),
            "kms:EncryptionContext:PARAMETER_ARN": parameter_arn,
        }
    }


def operator_alias_arn(function_arn: str) -> str:
    """The qualified ARN of the rotator's operator alias (cv.OPERATOR_ALIAS)."""
    return f"{function_arn}:{cv.OPERATOR_ALIAS}"


def operator_policy(
    scope: AwsScope, *, secrets_key_arn: str, function_arn: str, log_group_arn: str
) -> PolicyDocument:
    """On-call: write inboxes, ask the rotator, read state and history; never read a live key.

    The state documents hold no key material (only where each rotation stands), so
    `status` and `history` read them directly. Operators invoke the rotator's operator
    alias alone (its qualified ARN, never the function or `:*`), where the function takes
    operator actions only; so they cannot call RotateSecret either (it needs
    lambda:InvokeFunction on the unqualified function: Secrets Manager API reference):
    the rotator starts native rotations when handed a key.
    """
    return {
        "Version": VERSION,
        "Statement": [
            _statement(
                "SubmitToInboxes",
                ["secretsmanager:PutSecretValue", "secretsmanager:DescribeSecret"],
                [scope.inboxes],
                condition=_own(scope),
            ),
            _statement(
                "DescribeManagedSecrets",
                ["secretsmanager:DescribeSecret"],
                [scope.managed_secrets],
                condition=_own(scope),
            ),
            _statement(
                "ReadStateDocuments",
                ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                [scope.states],
                condition=_own(scope),
            ),
            # Hand-overs, emergencies, rollbacks, retirements and checks: the alias only.
            _invoke("InvokeRotatorOperatorAlias", operator_alias_arn(function_arn)),
            _secrets_key(
                "InboxKeyViaSecretsManager",
                ["kms:GenerateDataKey", "kms:Decrypt"],
                secrets_key_arn,
                scope,
                scope.inboxes,
            ),
            _secrets_key(
                "StateKeyViaSecretsManager", ["kms:Decrypt"], secrets_key_arn, scope, scope.states
            ),
            _statement(
                "RotationHistory",
                ["logs:FilterLogEvents"],
                [log_group_arn, f"{log_group_arn}:*"],
            ),
            # `cio-rotate` finds the stack without an outputs file: ListSecrets (metadata
            # only) has no resource-level permission, so it alone is granted on "*" (the
            # policy pack's one exception, LIST_ONLY_ACTIONS); the rotator's configuration
            # gives its log group and policy (its environment holds no secret).
            _statement(LIST_SECRETS_SID, [LIST_SECRETS], ["*"]),
            _statement(
                "ReadRotatorConfiguration", ["lambda:GetFunctionConfiguration"], [function_arn]
            ),
            drain_reads(),
        ],
    }


def consumer_policy(scope: AwsScope, *, secrets_key_arn: str) -> PolicyDocument:
    """Applications: the current key of live secrets, and the previous key of webhook
    signing secrets (receivers accept the old signature during the grace period, which
    they learn from the live secret's own version stages); never a pending version, an
    inbox or a state document."""
    return {
        "Version": VERSION,
        "Statement": [
            _statement(
                "ReadCurrentKeys",
                ["secretsmanager:GetSecretValue"],
                [scope.managed_secrets],
                condition={
                    "StringEquals": {VERSION_STAGE: cv.AWSCURRENT},
                    "Null": {VERSION_ID: "true"},
                },
            ),
            # Asking for no stage reads AWSCURRENT, but IAM then sees no VersionStage: a
            # second statement admits that default form (no stage and no version id).
            _statement(
                "ReadCurrentKeysByDefault",
                ["secretsmanager:GetSecretValue"],
                [scope.managed_secrets],
                condition={"Null": {VERSION_STAGE: "true", VERSION_ID: "true"}},
            ),
            _statement(
                "ReadPreviousWebhookSigningKeys",
                ["secretsmanager:GetSecretValue"],
                [scope.managed_secrets],
                condition={
                    "StringEquals": {
                        VERSION_STAGE: cv.AWSPREVIOUS,
                        PREVIOUS_READERS_TAG: Kind.WEBHOOK_SIGNING.value,
                    },
                    "Null": {VERSION_ID: "true"},
                },
            ),
            # Which version is current and which previous (and their grace labels):
            # metadata only, no value.
            _statement(
                "DescribeLiveSecrets", ["secretsmanager:DescribeSecret"], [scope.managed_secrets]
            ),
            # Inboxes hold unverified submissions and state documents the rotator's record:
            # no application reads either (`<prefix>/*` matches them, so say it).
            _statement(
                "NeverInboxesOrState",
                ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                scope.not_live,
                effect="Deny",
            ),
            _secrets_key(
                "DecryptViaSecretsManager",
                ["kms:Decrypt"],
                secrets_key_arn,
                scope,
                scope.managed_secrets,
            ),
            usage_reports(),
        ],
    }


def scheduler_invoke_policy(function_arn: str, work_queue_arn: str | None = None) -> PolicyDocument:
    """EventBridge Scheduler's role: invoke the rotator for the daily sweep; send the
    credentials' wake-ups to the work queue."""
    statements = [_invoke("InvokeRotator", function_arn)]
    if work_queue_arn is not None:
        statements.append(_statement("SendWakeUps", ["sqs:SendMessage"], [work_queue_arn]))
    return {"Version": VERSION, "Statement": statements}


def _service(name: str) -> dict[str, str]:
    """An AWS service as a principal (`lambda`, `events`, ...)."""
    return {"Service": f"{name}.amazonaws.com"}


def _from_account(account_id: str) -> dict[str, Any]:
    """A service principal acting for this account's resources only (confused deputy)."""
    return {"StringEquals": {"aws:SourceAccount": account_id}}


def _trust(principal: dict[str, Any], condition: dict[str, Any] | None = None) -> PolicyDocument:
    """A role's trust policy: `principal` alone may assume it."""
    stmt: dict[str, Any] = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    if condition:
        stmt["Condition"] = condition
    return {"Version": VERSION, "Statement": [stmt]}


def lambda_trust_policy() -> PolicyDocument:
    return _trust(_service("lambda"))


def scheduler_trust_policy(account_id: str) -> PolicyDocument:
    """Confused-deputy guard: only schedules of this account may assume the role."""
    return _trust(_service("scheduler"), _from_account(account_id))


def operator_trust_policy(principals: Sequence[str]) -> PolicyDocument:
    return _trust({"AWS": sorted(principals)})


def _grant(
    sid: str,
    principal: dict[str, Any],
    actions: str | list[str],
    resource: str,
    condition: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A resource policy's Allow: the policy is attached to `resource` (a key's is `*`)."""
    stmt: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": principal,
        "Action": actions,
        "Resource": resource,
    }
    if condition:
        stmt["Condition"] = condition
    return stmt


def _key_use(
    sid: str, principal: dict[str, Any], condition: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A key policy's grant to encrypt and decrypt with the key (the data keys of a service)."""
    return _grant(sid, principal, ["kms:Decrypt", "kms:GenerateDataKey"], "*", condition)


def _via_in_account(scope: AwsScope, service: str) -> dict[str, str]:
    """`StringEquals` keys: the key is used only through `service`, by this account's callers."""
    return {"kms:ViaService": scope.via(service), "kms:CallerAccount": scope.account_id}


def _key_administration(scope: AwsScope) -> dict[str, Any]:
    """Every key policy lets the account administer the key (never use it directly)."""
    return _grant("KeyAdministration", {"AWS": scope.root}, list(KEY_ADMIN_ACTIONS), "*")


def secrets_key_policy(scope: AwsScope) -> PolicyDocument:
    """The CMK of the secrets: administered by the account, used only by Secrets Manager
    for this stack's secrets (`kms:ViaService` + `kms:EncryptionContext:SecretARN`).
    """
    return {
        "Version": VERSION,
        "Statement": [
            _key_administration(scope),
            _key_use(
                "UseOnlyThroughSecretsManager",
                {"AWS": scope.root},
                {
                    "StringEquals": _via_in_account(scope, "secretsmanager"),
                    "StringLike": {"kms:EncryptionContext:SecretARN": scope.managed_secrets},
                },
            ),
        ],
    }


def topic_key_policy(
    scope: AwsScope, chat_parameter: str | None = None, *, topic_arn: str
) -> PolicyDocument:
    """The CMK of the notifications: SNS publishers of this account, CloudWatch alarms and
    EventBridge rules of this account (they publish as the service, not as a role), and
    the chat webhook's SSM parameter when one is configured.

    Every use through SNS is bound to the one topic: SNS passes the topic's ARN as the
    encryption context of each data key, whoever published.
    """
    this_topic = {SNS_TOPIC_CONTEXT: topic_arn}
    statements: list[dict[str, Any]] = [
        _key_administration(scope),
        _key_use(
            "PublishThroughSns",
            {"AWS": scope.root},
            {"StringEquals": {**_via_in_account(scope, "sns"), **this_topic}},
        ),
        _key_use(
            "CloudWatchAlarms",
            _service("cloudwatch"),
            {"StringEquals": {"aws:SourceAccount": scope.account_id, **this_topic}},
        ),
        # Secrets Manager's RotationFailed events reach the topic through EventBridge.
        # Only the topic's context: the EventBridge documentation gives no condition of
        # its own for encrypted topics, and one EventBridge did not send would silently
        # drop every event. Which rules may publish is the topic policy's job.
        _key_use("EventBridgeRules", _service("events"), {"StringEquals": this_topic}),
    ]
    if chat_parameter is not None:
        # The chat webhook URL is an SSM SecureString under this key: the deployer
        # writes it (Encrypt), the rotator reads it (Decrypt), both only through SSM.
        parameter = {"kms:EncryptionContext:PARAMETER_ARN": scope.parameter_arn(chat_parameter)}
        statements.append(
            _grant(
                "ChatWebhookThroughSsm",
                {"AWS": scope.root},
                ["kms:Encrypt", "kms:Decrypt"],
                "*",
                {"StringEquals": {**_via_in_account(scope, "ssm"), **parameter}},
            )
        )
    return {"Version": VERSION, "Statement": statements}


def topic_policy(scope: AwsScope, *, topic_arn: str, rule_arns: Sequence[str]) -> PolicyDocument:
    """Who may publish to the notifications topic besides this account's own roles.

    A topic policy replaces SNS's default one; same-account roles (the rotator, the
    deployer) keep their access through their identity policies. CloudWatch alarms of
    this account and the stack's EventBridge rules publish as services.
    """
    return {
        "Version": VERSION,
        "Id": "cio-rotation-notifications",
        "Statement": [
            _grant(
                "CloudWatchAlarms",
                _service("cloudwatch"),
                "sns:Publish",
                topic_arn,
                _from_account(scope.account_id),
            ),
            _grant(
                "EventBridgeRules",
                _service("events"),
                "sns:Publish",
                topic_arn,
                {"ArnEquals": {"aws:SourceArn": sorted(rule_arns)}},
            ),
        ],
    }


def policy_size(document: PolicyDocument) -> int:
    """Characters IAM counts against its quotas (JSON without whitespace)."""
    return len(json.dumps(document, separators=(",", ":")))


def to_json(document: PolicyDocument) -> str:
    """Stable serialisation, so an unchanged policy never shows a diff."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"))
