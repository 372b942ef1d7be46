"""The AWS policy builders: pure, least privilege, and inside IAM's size limits."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest

from infra import aws_policies as p

SCOPE = p.AwsScope(partition="aws", region="eu-west-1", account_id="111122223333", prefix="cio")
KEY = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TOPIC_KEY = "arn:aws:kms:eu-west-1:111122223333:key/feedbeef-12ab-34cd-56ef-1234567890ab"
TOPIC = "arn:aws:sns:eu-west-1:111122223333:cio-rotation-notifications"
LOGS = "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/cio-rotator"
FUNCTION = "arn:aws:lambda:eu-west-1:111122223333:function:cio-rotator"
WAKEUPS = p.WakeUpGrants(
    schedule_group="cio-rotation-wakeups",
    scheduler_role_arn="arn:aws:iam::111122223333:role/cio-scheduler",
    work_queue_arn="arn:aws:sqs:eu-west-1:111122223333:cio-rotation-work",
)
SECRET = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:"


def rotator(scope: p.AwsScope = SCOPE) -> dict[str, Any]:
    return p.rotator_policy(
        scope,
        secrets_key_arn=KEY,
        topic_key_arn=TOPIC_KEY,
        topic_arn=TOPIC,
        log_group_arn=LOGS,
        function_arn=FUNCTION,
        wakeups=WAKEUPS,
    )


def operator(scope: p.AwsScope = SCOPE) -> dict[str, Any]:
    return p.operator_policy(scope, secrets_key_arn=KEY, function_arn=FUNCTION, log_group_arn=LOGS)


def consumer() -> dict[str, Any]:
    return p.consumer_policy(SCOPE, secrets_key_arn=KEY)


def iam_match(pattern: str, value: str) -> bool:
    """IAM's wildcard matching: `*` any run (including '/'), `?` one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value) is not None


def _bool_conditions_hold(statement: dict[str, Any], context: dict[str, str]) -> bool:
    """`Bool` conditions against the request context (a missing key never matches);
    other operators are taken as satisfied (moto and the simulator test those)."""
    for key, value in statement.get("Condition", {}).get("Bool", {}).items():
        if context.get(key) != value:
            return False
    return True


def allowed(
    document: dict[str, Any], action: str, resource: str, context: dict[str, str] | None = None
) -> bool:
    """Allow-minus-Deny over Action/Resource and `Bool` conditions."""
    verdicts = [
        s["Effect"]
        for s in document["Statement"]
        if action in s["Action"]
        and any(iam_match(r, resource) for r in s["Resource"])
        and _bool_conditions_hold(s, context or {})
    ]
    return "Allow" in verdicts and "Deny" not in verdicts


LIVE = f"{SECRET}cio/marketing-track-AbCdEf"
LIVE_NAMED_LIKE_INBOX = f"{SECRET}cio/inbox-reader-q1W2e3"
LIVE_NAMED_LIKE_STATE = f"{SECRET}cio/state-q1W2e3"
INBOX = f"{SECRET}cio/marketing-track/inbox-Zz9Yy8"
STATE = f"{SECRET}cio/marketing-track/state-Pp7Oo6"
NEW_RULES = {"secretsmanager:ModifyRotationRules": "true"}
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
    assert iam_match(SCOPE.states, STATE)
    for arn in (LIVE, LIVE_NAMED_LIKE_STATE, INBOX):
        assert not iam_match(SCOPE.states, arn), arn
    for arn in (LIVE, LIVE_NAMED_LIKE_INBOX, INBOX, STATE):
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
        if statement["Action"] == [p.LIST_SECRETS]:  # the one list action, on "*" only
            assert statement["Resource"] == ["*"] and document is operator
            continue
        if statement in (p.drain_reads(), p.usage_reports()):  # no resource-level permission
            assert (statement == p.usage_reports()) == (document is consumer)
            continue
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
    # The state document: read and compare-and-swap writes.
    for action in ("DescribeSecret", "GetSecretValue", "PutSecretValue"):
        assert allowed(doc, f"secretsmanager:{action}", STATE)
    # State moved out of tags: the rotator writes no tags at all.
    for action in ("TagResource", "UntagResource", "DeleteSecret", "ListSecretVersionIds"):
        assert not allowed(doc, f"secretsmanager:{action}", LIVE), action
    assert allowed(doc, "secretsmanager:RotateSecret", LIVE)
    assert not allowed(doc, "secretsmanager:RotateSecret", LIVE, NEW_RULES)
    assert not allowed(doc, "secretsmanager:RotateSecret", INBOX)
    assert not allowed(doc, "secretsmanager:RotateSecret", STATE)
    assert not allowed(doc, "secretsmanager:ListSecrets", "*")
    assert allowed(doc, "sns:Publish", TOPIC)
    assert not allowed(doc, "sns:Publish", TOPIC + "-other")
    assert allowed(doc, "logs:PutLogEvents", f"{LOGS}:log-stream:2025/01/01/abc")
    assert not allowed(doc, "logs:PutLogEvents", f"{LOGS}-other:log-stream:x")
    kms = next(s for s in doc["Statement"] if s["Sid"] == "SecretsKeyViaSecretsManager")
    assert kms["Resource"] == [KEY]
    assert kms["Condition"]["StringEquals"]["kms:ViaService"] == (
        "secretsmanager.eu-west-1.amazonaws.com"
    )


def test_operator_writes_inboxes_but_never_reads_or_moves_live_keys() -> None:
    doc = operator()
    assert allowed(doc, "secretsmanager:PutSecretValue", INBOX)
    assert not allowed(doc, "secretsmanager:PutSecretValue", LIVE)
    # Starting a native rotation is the rotator's (RotateSecret needs lambda:Invoke on the
    # unqualified function, which operators do not have): never the operator's.
    for secret in (LIVE, INBOX, STATE):
        assert not allowed(doc, "secretsmanager:RotateSecret", secret)
    assert allowed(doc, "secretsmanager:DescribeSecret", LIVE)
    for action in ("GetSecretValue", "UpdateSecretVersionStage", "TagResource", "DeleteSecret"):
        assert not allowed(doc, f"secretsmanager:{action}", LIVE)
        assert not allowed(doc, f"secretsmanager:{action}", INBOX)
    # Status and history read the state document (it holds no key), never write it.
    assert allowed(doc, "secretsmanager:GetSecretValue", STATE)
    assert allowed(doc, "secretsmanager:DescribeSecret", STATE)
    assert not allowed(doc, "secretsmanager:PutSecretValue", STATE)
    # Issue 21: the operator alias alone, never the function itself, another alias or `:*`.
    assert allowed(doc, "lambda:InvokeFunction", f"{FUNCTION}:operator")
    assert not allowed(doc, "lambda:InvokeFunction", FUNCTION)
    assert not allowed(doc, "lambda:InvokeFunction", f"{FUNCTION}:$LATEST")
    assert not allowed(doc, "lambda:InvokeFunction", f"{FUNCTION}:other")
    assert allowed(doc, "logs:FilterLogEvents", LOGS)


def test_consumers_read_live_secrets_never_inboxes_or_state() -> None:
    doc = consumer()
    assert allowed(doc, "secretsmanager:GetSecretValue", LIVE)
    assert not allowed(doc, "secretsmanager:GetSecretValue", INBOX)
    assert not allowed(doc, "secretsmanager:DescribeSecret", INBOX)
    # Issue 21: state documents too (receivers learn the grace end from version labels).
    assert not allowed(doc, "secretsmanager:GetSecretValue", STATE)
    assert not allowed(doc, "secretsmanager:DescribeSecret", STATE)
    assert not allowed(doc, "secretsmanager:PutSecretValue", STATE)
    assert not allowed(doc, "secretsmanager:PutSecretValue", LIVE)
    # Every value read is bound to a stage (moto's IAM enforcement tests the verdicts:
    # tests/aws/test_least_privilege.py).
    reads = [s for s in doc["Statement"] if "secretsmanager:GetSecretValue" in s["Action"]]
    for statement in reads:
        if statement["Effect"] == "Allow":
            assert statement["Condition"]["Null"]["secretsmanager:VersionId"] == "true"
    stages = {
        s["Condition"].get("StringEquals", {}).get("secretsmanager:VersionStage")
        for s in reads
        if s["Effect"] == "Allow"
    }
    assert stages == {"AWSCURRENT", "AWSPREVIOUS", None}


def test_nobody_but_the_deployer_moves_the_rotation_deadline() -> None:
    """Item 6: RotateSecret with new rotation rules is denied to the rotator; operators may
    not call RotateSecret at all (the rotator starts rotations for them)."""
    doc = rotator()
    assert allowed(doc, "secretsmanager:RotateSecret", LIVE)
    assert not allowed(doc, "secretsmanager:RotateSecret", LIVE, NEW_RULES)
    deny = next(s for s in doc["Statement"] if s["Sid"] == "NoRotationRuleChanges")
    assert deny["Effect"] == "Deny" and deny["Resource"] == [SCOPE.managed_secrets]
    assert not allowed(operator(), "secretsmanager:RotateSecret", LIVE)
    assert not allowed(operator(), "secretsmanager:RotateSecret", LIVE, NEW_RULES)


def test_no_over_grants() -> None:
    """Item 9: no ListSecretVersionIds (never called) and no wildcard actions anywhere."""
    documents = [
        rotator(),
        operator(),
        consumer(),
        p.secrets_key_policy(SCOPE),
        p.topic_key_policy(SCOPE, "/cio/rotation/chat-webhook-url", topic_arn=TOPIC),
        p.topic_policy(SCOPE, topic_arn=TOPIC, rule_arns=["arn:aws:events:eu-west-1:1:rule/x"]),
    ]
    for doc in documents:
        for statement in doc["Statement"]:
            actions = statement["Action"]
            for action in [actions] if isinstance(actions, str) else actions:
                assert "*" not in action, (statement.get("Sid"), action)
                assert action != "secretsmanager:ListSecretVersionIds"


def test_chat_webhook_parameter_is_read_by_the_rotator_only_through_ssm() -> None:
    """Item 7: the rotator reads one SecureString, decrypting only through SSM."""
    name = "/cio/rotation/chat-webhook-url"
    arn = "arn:aws:ssm:eu-west-1:111122223333:parameter/cio/rotation/chat-webhook-url"
    doc = p.rotator_policy(
        SCOPE,
        secrets_key_arn=KEY,
        topic_key_arn=TOPIC_KEY,
        topic_arn=TOPIC,
        log_group_arn=LOGS,
        function_arn=FUNCTION,
        chat_parameter=name,
    )
    assert allowed(doc, "ssm:GetParameter", arn)
    assert not allowed(doc, "ssm:GetParameter", arn + "-other")
    kms = next(s for s in doc["Statement"] if s["Sid"] == "ChatWebhookKeyViaSsm")
    assert kms["Condition"]["StringEquals"] == {
        "kms:ViaService": "ssm.eu-west-1.amazonaws.com",
        "kms:EncryptionContext:PARAMETER_ARN": arn,
    }
    assert "ssm:GetParameter" not in {a for s in rotator()["Statement"] for a in s["Action"]}
    key = p.topic_key_policy(SCOPE, name, topic_arn=TOPIC)
    use = next(s for s in key["Statement"] if s["Sid"] == "ChatWebhookThroughSsm")
    assert use["Condition"]["StringEquals"]["kms:EncryptionContext:PARAMETER_ARN"] == arn
    assert "ChatWebhookThroughSsm" not in {
        s["Sid"] for s in p.topic_key_policy(SCOPE, topic_arn=TOPIC)["Statement"]
    }


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
    topic = p.topic_key_policy(SCOPE, topic_arn=TOPIC)
    alarms = next(s for s in topic["Statement"] if s["Sid"] == "CloudWatchAlarms")
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    # Issue 21: every use through SNS is bound to the one topic, in the key policy and in
    # the rotator's own statement.
    for statement in topic["Statement"]:
        if statement["Sid"] in ("PublishThroughSns", "CloudWatchAlarms", "EventBridgeRules"):
            context = statement["Condition"]["StringEquals"]
            assert context["kms:EncryptionContext:aws:sns:topicArn"] == TOPIC, statement["Sid"]
    via_sns = next(s for s in rotator()["Statement"] if s["Sid"] == "TopicKeyViaSns")
    assert via_sns["Condition"]["StringEquals"] == {
        "kms:ViaService": "sns.eu-west-1.amazonaws.com",
        "kms:EncryptionContext:aws:sns:topicArn": TOPIC,
    }


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


def test_secret_grants_hold_only_for_the_stacks_own_secrets() -> None:
    """Issue 21: `<prefix>/*` also matches secrets someone else created under the prefix;
    every Allow on a secret (rotator and operators) carries the stack-tag condition, and no
    statement on anything else does (where the key does not apply, it would never match)."""
    scope = replace(SCOPE, stack="prod")
    docs = [rotator(scope), operator(scope)]
    on_secrets = 0
    for doc in docs:
        for statement in doc["Statement"]:
            conditioned = statement.get("Condition", {}).get("StringEquals", {})
            names_secrets = any(r.startswith(SECRET) for r in statement["Resource"])
            if statement["Effect"] == "Allow" and names_secrets:
                on_secrets += 1
                assert conditioned.get(p.OWN_STACK_TAG) == "prod", statement["Sid"]
            else:
                assert p.OWN_STACK_TAG not in conditioned, statement["Sid"]
    assert on_secrets == 5  # ManagedSecrets, ResumeRotations; inboxes, describe, state
    assert p.OWN_STACK_TAG == "aws:ResourceTag/cio-rotation:stack"
