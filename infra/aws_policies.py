"""IAM and KMS policy documents for the AWS half, as pure functions of names and ARNs.

Least privilege that still fits IAM's size limits for 500 credentials: one ARN
pattern per kind of secret instead of a list of 1,000 ARNs.

Secrets Manager appends `-` and 6 random characters to every secret ARN, so an
exact name never matches; a pattern must end in `*`. With credential names that
contain no '/':

- live secret  `<prefix>/<name>`        ARN `...:secret:<prefix>/<name>-AbCdEf`
- inbox        `<prefix>/<name>/inbox`  ARN `...:secret:<prefix>/<name>/inbox-AbCdEf`

`<prefix>/*` matches both (IAM's `*` crosses '/'), `<prefix>/*/inbox-*` matches
only inboxes (a live ARN has no second '/'). IAM cannot express "live but not
inbox" with a pattern, so live-only grants pair an Allow on `<prefix>/*` with an
explicit Deny on the inbox pattern.

KMS key policies are resource policies: their `"Resource": "*"` means "this
key", which is why they are exempt from the no-wildcard rule (the policy pack
checks identity policies only).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rotation import conventions as cv

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
    "secretsmanager:ListSecretVersionIds",
)
ROTATOR_ACTIONS = frozenset(
    {
        *ROTATOR_SECRET_ACTIONS,
        "secretsmanager:RotateSecret",
        "lambda:InvokeFunction",
        "secretsmanager:TagResource",
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "sns:Publish",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
)
OPERATOR_ACTIONS = frozenset(
    {
        "secretsmanager:PutSecretValue",
        "secretsmanager:DescribeSecret",
        "secretsmanager:RotateSecret",
        "lambda:InvokeFunction",
        "kms:GenerateDataKey",
        "kms:Decrypt",
        "logs:FilterLogEvents",
    }
)
CONSUMER_ACTIONS = frozenset(
    {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "kms:Decrypt"}
)
SCHEDULER_ACTIONS = frozenset({"lambda:InvokeFunction"})

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
    def root(self) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:root"

    def via(self, service: str) -> str:
        return f"{service}.{self.region}.amazonaws.com"


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


def _secrets_kms(scope: AwsScope, secrets: str) -> dict[str, Any]:
    """KMS use of the secrets key only inside Secrets Manager, only for these secrets."""
    return {
        "StringEquals": {"kms:ViaService": scope.via("secretsmanager")},
        "StringLike": {"kms:EncryptionContext:SecretARN": secrets},
    }


def _only_this_rotator(function_arn: str) -> dict[str, Any]:
    """RotateSecret may only name this stack's rotator (or none: the configured one)."""
    return {"ArnEqualsIfExists": {"secretsmanager:RotationLambdaARN": function_arn}}


def rotator_policy(
    scope: AwsScope,
    *,
    secrets_key_arn: str,
    topic_key_arn: str,
    topic_arn: str,
    log_group_arn: str,
    function_arn: str,
) -> PolicyDocument:
    """The rotation function's role: its managed secrets, its key, its topic, its logs."""
    return {
        "Version": VERSION,
        "Statement": [
            _statement("ManagedSecrets", ROTATOR_SECRET_ACTIONS, [scope.managed_secrets]),
            # Resuming a rotation whose native deadline already failed.
            _statement(
                "ResumeRotations",
                ["secretsmanager:RotateSecret"],
                [scope.managed_secrets],
                condition=_only_this_rotator(function_arn),
            ),
            # RotateSecret requires its caller to be allowed to invoke the rotation
            # function (Secrets Manager API reference), so the rotator needs itself.
            _statement("InvokeSelfThroughRotateSecret", ["lambda:InvokeFunction"], [function_arn]),
            # State lives in tags; the rotator may write only its own `cio-state:` keys,
            # so it can never rewrite the config tags the stack set.
            _statement(
                "StateTagsOnLiveSecrets",
                ["secretsmanager:TagResource"],
                [scope.managed_secrets],
                condition={
                    "ForAllValues:StringLike": {"aws:TagKeys": [f"{cv.STATE_PREFIX}*"]},
                    "Null": {"aws:TagKeys": "false"},
                },
            ),
            _statement(
                "NoStateTagsOnInboxes",
                ["secretsmanager:TagResource"],
                [scope.inboxes],
                effect="Deny",
            ),
            _statement(
                "SecretsKeyViaSecretsManager",
                ["kms:Decrypt", "kms:GenerateDataKey"],
                [secrets_key_arn],
                condition=_secrets_kms(scope, scope.managed_secrets),
            ),
            # Publishing to a KMS-encrypted topic needs the topic key, through SNS only.
            _statement(
                "TopicKeyViaSns",
                ["kms:Decrypt", "kms:GenerateDataKey"],
                [topic_key_arn],
                condition={"StringEquals": {"kms:ViaService": scope.via("sns")}},
            ),
            _statement("Notify", ["sns:Publish"], [topic_arn]),
            _statement(
                "OwnLogGroup",
                ["logs:CreateLogStream", "logs:PutLogEvents"],
                [f"{log_group_arn}:*"],
            ),
        ],
    }


def operator_policy(
    scope: AwsScope, *, secrets_key_arn: str, function_arn: str, log_group_arn: str
) -> PolicyDocument:
    """On-call: write inboxes, start rotations, read history; never read a live key."""
    return {
        "Version": VERSION,
        "Statement": [
            _statement(
                "SubmitToInboxes",
                ["secretsmanager:PutSecretValue", "secretsmanager:DescribeSecret"],
                [scope.inboxes],
            ),
            _statement(
                "DescribeManagedSecrets", ["secretsmanager:DescribeSecret"], [scope.managed_secrets]
            ),
            _statement(
                "StartRotations",
                ["secretsmanager:RotateSecret"],
                [scope.managed_secrets],
                condition=_only_this_rotator(function_arn),
            ),
            _statement(
                "NoRotationOfInboxes",
                ["secretsmanager:RotateSecret"],
                [scope.inboxes],
                effect="Deny",
            ),
            # Emergencies and resumes are direct invocations; RotateSecret also requires
            # the caller to be allowed to invoke the rotation function.
            _statement("InvokeRotator", ["lambda:InvokeFunction"], [function_arn]),
            _statement(
                "InboxKeyViaSecretsManager",
                ["kms:GenerateDataKey", "kms:Decrypt"],
                [secrets_key_arn],
                condition=_secrets_kms(scope, scope.inboxes),
            ),
            _statement(
                "RotationHistory",
                ["logs:FilterLogEvents"],
                [log_group_arn, f"{log_group_arn}:*"],
            ),
        ],
    }


def consumer_policy(scope: AwsScope, *, secrets_key_arn: str) -> PolicyDocument:
    """Applications: read the current key of managed secrets, nothing else."""
    return {
        "Version": VERSION,
        "Statement": [
            _statement(
                "ReadManagedSecrets",
                ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                [scope.managed_secrets],
            ),
            # Inboxes hold unverified submissions: no application may read one.
            _statement(
                "NeverInboxes",
                ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                [scope.inboxes],
                effect="Deny",
            ),
            _statement(
                "DecryptViaSecretsManager",
                ["kms:Decrypt"],
                [secrets_key_arn],
                condition=_secrets_kms(scope, scope.managed_secrets),
            ),
        ],
    }


def scheduler_invoke_policy(function_arn: str) -> PolicyDocument:
    """EventBridge Scheduler's role: invoke the rotator for the daily sweep."""
    return {
        "Version": VERSION,
        "Statement": [_statement("InvokeRotator", ["lambda:InvokeFunction"], [function_arn])],
    }


def lambda_trust_policy() -> PolicyDocument:
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def scheduler_trust_policy(account_id: str) -> PolicyDocument:
    """Confused-deputy guard: only schedules of this account may assume the role."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "scheduler.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            }
        ],
    }


def operator_trust_policy(principals: Sequence[str]) -> PolicyDocument:
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": sorted(principals)},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def _key_administration(scope: AwsScope) -> dict[str, Any]:
    """Every key policy lets the account administer the key (never use it directly)."""
    return {
        "Sid": "KeyAdministration",
        "Effect": "Allow",
        "Principal": {"AWS": scope.root},
        "Action": list(KEY_ADMIN_ACTIONS),
        "Resource": "*",
    }


def secrets_key_policy(scope: AwsScope) -> PolicyDocument:
    """The CMK of the secrets: administered by the account, used only by Secrets Manager
    for this stack's secrets (`kms:ViaService` + `kms:EncryptionContext:SecretARN`).
    """
    return {
        "Version": VERSION,
        "Statement": [
            _key_administration(scope),
            {
                "Sid": "UseOnlyThroughSecretsManager",
                "Effect": "Allow",
                "Principal": {"AWS": scope.root},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "kms:ViaService": scope.via("secretsmanager"),
                        "kms:CallerAccount": scope.account_id,
                    },
                    "StringLike": {"kms:EncryptionContext:SecretARN": scope.managed_secrets},
                },
            },
        ],
    }


def topic_key_policy(scope: AwsScope) -> PolicyDocument:
    """The CMK of the notification topic: SNS publishers of this account, and CloudWatch
    alarms of this account (they publish as the service, not as a role).
    """
    return {
        "Version": VERSION,
        "Statement": [
            _key_administration(scope),
            {
                "Sid": "PublishThroughSns",
                "Effect": "Allow",
                "Principal": {"AWS": scope.root},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "kms:ViaService": scope.via("sns"),
                        "kms:CallerAccount": scope.account_id,
                    }
                },
            },
            {
                "Sid": "CloudWatchAlarms",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": scope.account_id}},
            },
        ],
    }


def policy_size(document: PolicyDocument) -> int:
    """Characters IAM counts against its quotas (JSON without whitespace)."""
    return len(json.dumps(document, separators=(",", ":")))


def to_json(document: PolicyDocument) -> str:
    """Stable serialisation, so an unchanged policy never shows a diff."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"))
