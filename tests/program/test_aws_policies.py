"""The AWS policy builders: pure, least privilege, and inside IAM's size limits."""

from __future__ import annotations

import re
from typing import Any

import pytest

from infra import aws_policies as p
from rotation import conventions as cv

SCOPE = p.AwsScope(partition="aws", region="eu-west-1", account_id="111122223333", prefix="cio")
KEY = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TOPIC_KEY = "arn:aws:kms:eu-west-1:111122223333:key/feedbeef-12ab-34cd-56ef-1234567890ab"
TOPIC = "arn:aws:sns:eu-west-1:111122223333:cio-rotation-notifications"
LOGS = "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/cio-rotator"
FUNCTION = "arn:aws:lambda:eu-west-1:111122223333:function:cio-rotator"
SECRET = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:"


def rotator() -> dict[str, Any]:
    return p.rotator_policy(
        SCOPE,
        secrets_key_arn=KEY,
        topic_key_arn=TOPIC_KEY,
        topic_arn=TOPIC,
        log_group_arn=LOGS,
        function_arn=FUNCTION,
    )


def operator() -> dict[str, Any]:
    return p.operator_policy(SCOPE, secrets_key_arn=KEY, function_arn=FUNCTION, log_group_arn=LOGS)


def consumer() -> dict[str, Any]:
    return p.consumer_policy(SCOPE, secrets_key_arn=KEY)


def iam_match(pattern: str, value: str) -> bool:
    """IAM's wildcard matching: `*` any run (including '/'), `?` one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value) is not None


def allowed(document: dict[str, Any], action: str, resource: str) -> bool:
    """Allow-minus-Deny over Action/Resource (conditions are tested with moto/the simulator)."""
    verdicts = [
        s["Effect"]
        for s in document["Statement"]
        if action in s["Action"] and any(iam_match(r, resource) for r in s["Resource"])
    ]
    return "Allow" in verdicts and "Deny" not in verdicts


LIVE = f"{SECRET}cio/marketing-track-AbCdEf"
LIVE_NAMED_LIKE_INBOX = f"{SECRET}cio/inbox-reader-q1W2e3"
INBOX = f"{SECRET}cio/marketing-track/inbox-Zz9Yy8"
FOREIGN = [
    f"{SECRET}other/marketing-track-AbCdEf",
    f"{SECRET}cio-staging/marketing-track-AbCdEf",
    f"{SECRET}ciox/marketing-track-AbCdEf",
    "arn:aws:secretsmanager:us-east-1:111122223333:secret:cio/marketing-track-AbCdEf",
    "arn:aws:secretsmanager:eu-west-1:444455556666:secret:cio/marketing-track-AbCdEf",
]


def test_patterns_tell_live_secrets_from_inboxes() -> None:
    assert iam_match(SCOPE.inboxes, INBOX)
    assert not iam_match(SCOPE.inboxes, LIVE)
    assert not iam_match(SCOPE.inboxes, LIVE_NAMED_LIKE_INBOX)
    for arn in (LIVE, LIVE_NAMED_LIKE_INBOX, INBOX):
        assert iam_match(SCOPE.managed_secrets, arn)
    for arn in FOREIGN:
        assert not iam_match(SCOPE.managed_secrets, arn), arn


@pytest.mark.parametrize(
    ("document", "expected"),
    [(rotator, p.ROTATOR_ACTIONS), (operator, p.OPERATOR_ACTIONS), (consumer, p.CONSUMER_ACTIONS)],
)
def test_only_the_designed_actions_and_no_wildcard_resources(document: Any, expected: Any) -> None:
    doc = document()
    actions = {a for s in doc["Statement"] if s["Effect"] == "Allow" for a in s["Action"]}
    assert actions == set(expected)
    for statement in doc["Statement"]:
        assert statement["Resource"] != "*"
        for resource in statement["Resource"]:
            assert resource.startswith("arn:aws:"), resource
            assert "*" not in resource.split(":")[:5], resource
        assert not any(a.endswith("*") for a in statement["Action"])


def test_rotator_reaches_its_secrets_and_nothing_else() -> None:
    doc = rotator()
    for action in p.ROTATOR_SECRET_ACTIONS:
        assert allowed(doc, action, LIVE) and allowed(doc, action, INBOX)
        for arn in FOREIGN:
            assert not allowed(doc, action, arn)
    assert allowed(doc, "secretsmanager:TagResource", LIVE)
    assert not allowed(doc, "secretsmanager:TagResource", INBOX)
    assert not allowed(doc, "secretsmanager:DeleteSecret", LIVE)
    assert not allowed(doc, "secretsmanager:ListSecrets", "*")
    assert allowed(doc, "sns:Publish", TOPIC)
    assert not allowed(doc, "sns:Publish", TOPIC + "-other")
    assert allowed(doc, "logs:PutLogEvents", f"{LOGS}:log-stream:2025/01/01/abc")
    assert not allowed(doc, "logs:PutLogEvents", f"{LOGS}-other:log-stream:x")
    tag = next(s for s in doc["Statement"] if s["Sid"] == "StateTagsOnLiveSecrets")
    assert tag["Condition"]["ForAllValues:StringLike"]["aws:TagKeys"] == [f"{cv.STATE_PREFIX}*"]
    kms = next(s for s in doc["Statement"] if s["Sid"] == "SecretsKeyViaSecretsManager")
    assert kms["Resource"] == [KEY]
    assert kms["Condition"]["StringEquals"]["kms:ViaService"] == (
        "secretsmanager.eu-west-1.amazonaws.com"
    )


def test_operator_writes_inboxes_but_never_reads_or_moves_live_keys() -> None:
    doc = operator()
    assert allowed(doc, "secretsmanager:PutSecretValue", INBOX)
    assert not allowed(doc, "secretsmanager:PutSecretValue", LIVE)
    assert allowed(doc, "secretsmanager:RotateSecret", LIVE)
    assert not allowed(doc, "secretsmanager:RotateSecret", INBOX)
    assert allowed(doc, "secretsmanager:DescribeSecret", LIVE)
    for action in ("GetSecretValue", "UpdateSecretVersionStage", "TagResource", "DeleteSecret"):
        assert not allowed(doc, f"secretsmanager:{action}", LIVE)
        assert not allowed(doc, f"secretsmanager:{action}", INBOX)
    assert allowed(doc, "lambda:InvokeFunction", FUNCTION)
    assert allowed(doc, "logs:FilterLogEvents", LOGS)


def test_consumers_read_live_secrets_never_inboxes() -> None:
    doc = consumer()
    assert allowed(doc, "secretsmanager:GetSecretValue", LIVE)
    assert not allowed(doc, "secretsmanager:GetSecretValue", INBOX)
    assert not allowed(doc, "secretsmanager:PutSecretValue", LIVE)


def test_key_policies_confine_use_to_the_services() -> None:
    secrets = p.secrets_key_policy(SCOPE)
    use = next(s for s in secrets["Statement"] if s["Sid"] == "UseOnlyThroughSecretsManager")
    assert (
        use["Condition"]["StringEquals"]["kms:ViaService"]
        == "secretsmanager.eu-west-1.amazonaws.com"
    )
    assert (
        use["Condition"]["StringLike"]["kms:EncryptionContext:SecretARN"] == SCOPE.managed_secrets
    )
    admin = next(s for s in secrets["Statement"] if s["Sid"] == "KeyAdministration")
    assert "kms:CreateGrant" not in admin["Action"]
    assert not {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"} & set(admin["Action"])
    topic = p.topic_key_policy(SCOPE)
    alarms = next(s for s in topic["Statement"] if s["Sid"] == "CloudWatchAlarms")
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}


def test_sizes_fit_iam_limits_whatever_the_number_of_credentials() -> None:
    """Patterns, not ARN lists: the documents do not grow with credentials (500 or 5)."""
    assert p.policy_size(consumer()) <= p.MANAGED_POLICY_MAX_CHARS
    assert p.policy_size(rotator()) <= p.ROLE_INLINE_POLICIES_MAX_CHARS
    assert p.policy_size(operator()) <= p.ROLE_INLINE_POLICIES_MAX_CHARS
    assert p.policy_size(p.secrets_key_policy(SCOPE)) <= p.KEY_POLICY_MAX_BYTES
    principals = [f"arn:aws:iam::111122223333:role/oncall-{i:02d}" for i in range(20)]
    assert p.policy_size(p.operator_trust_policy(principals)) <= p.TRUST_POLICY_MAX_CHARS


def test_serialisation_is_stable() -> None:
    assert p.to_json(rotator()) == p.to_json(rotator())
    assert " " not in p.to_json(consumer()).replace("Customer", "")
