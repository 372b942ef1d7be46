"""The AWS component under Pulumi's mocks: resources and their key arguments."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from infra import aws_policies
from infra.bundle import AWS_HANDLER
from rotation import conventions as cv
from rotation.policy import Policy
from tests.program.conftest import WEBHOOK
from tests.program.harness import ACCOUNT, ENDPOINT, REGION, Evaluation, Recorded, unwrap_secret

SECRET_T = "aws:secretsmanager/secret:Secret"
ALARM_T = "aws:cloudwatch/metricAlarm:MetricAlarm"
CREDENTIALS = ["cred-000", "cred-001", "cred-002", "cred-003"]


def _aws(ev: Evaluation) -> list[Recorded]:
    return [r for r in ev.resources if r.type.startswith("aws:")]


def _secret(ev: Evaluation, name: str) -> Recorded:
    [match] = [r for r in ev.of_type(SECRET_T) if r.inputs["name"] == name]
    return match


def test_every_aws_resource_is_a_child_of_the_component(evaluation: Evaluation) -> None:
    for resource in _aws(evaluation):
        assert evaluation.options[resource.name].parent == "aws", resource.name


def test_customer_managed_key_with_a_scoped_policy(evaluation: Evaluation) -> None:
    keys = {r.name: r for r in evaluation.of_type("aws:kms/key:Key")}
    key = keys["aws-secrets-key"]
    assert key.inputs["enableKeyRotation"] is True
    policy = json.loads(key.inputs["policy"])
    use = next(s for s in policy["Statement"] if s["Sid"] == "UseOnlyThroughSecretsManager")
    assert use["Condition"]["StringEquals"]["kms:ViaService"] == (
        f"secretsmanager.{REGION}.amazonaws.com"
    )
    assert use["Condition"]["StringLike"]["kms:EncryptionContext:SecretARN"] == (
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:cio/*"
    )
    aliases = {
        r.inputs["name"]: r.inputs["targetKeyId"] for r in evaluation.of_type("aws:kms/alias:Alias")
    }
    assert aliases["alias/cio-credentials"] == keys["aws-secrets-key"].outputs["keyId"]
    assert aliases["alias/cio-notifications"] == keys["aws-topic-key"].outputs["keyId"]


def test_live_secret_inbox_and_state_per_credential(evaluation: Evaluation) -> None:
    key_arn = evaluation.named("aws-secrets-key").outputs["arn"]
    assert len(evaluation.of_type(SECRET_T)) == 3 * len(CREDENTIALS)
    for name in CREDENTIALS:
        live = _secret(evaluation, f"cio/{name}")
        inbox = _secret(evaluation, f"cio/{name}/inbox")
        state = _secret(evaluation, f"cio/{name}/state")
        for secret in (live, inbox, state):
            assert secret.inputs["kmsKeyId"] == key_arn
            assert not {"secretString", "secretBinary"} & set(secret.inputs)
            # Item 11: every tag is configuration Pulumi keeps in step with the config.
            assert evaluation.options[secret.name].ignore_changes == ()
            # Item 13: the default recovery window, for all three.
            assert secret.inputs["recoveryWindowInDays"] == 30
        assert live.inputs["tags"][cv.TAG_MANAGED] == "true"
        assert live.inputs["tags"][cv.TAG_CREDENTIAL] == name
        assert live.inputs["tags"][cv.TAG_INBOX] == inbox.outputs["arn"]
        assert live.inputs["tags"][cv.TAG_STATE] == state.outputs["arn"]
        stack = {cv.TAG_STACK: evaluation.stack}  # every secret names its Pulumi stack
        assert live.inputs["tags"][cv.TAG_STACK] == evaluation.stack
        assert inbox.inputs["tags"] == {
            cv.TAG_CREDENTIAL: name,
            cv.TAG_INBOX_OF: f"cio/{name}",
            **stack,
        }
        assert state.inputs["tags"] == {
            cv.TAG_CREDENTIAL: name,
            cv.TAG_STATE_OF: f"cio/{name}",
            **stack,
        }
        assert not any(k.startswith(cv.STATE_PREFIX) for k in live.inputs["tags"])
    track = _secret(evaluation, "cio/cred-000").inputs["tags"]
    assert track[cv.TAG_KIND] == "track" and track[cv.TAG_REGION] == "us"
    assert track[cv.TAG_WORKSPACE] == "112233"
    webhook = _secret(evaluation, "cio/cred-002").inputs["tags"]
    assert webhook[cv.TAG_KIND] == "webhook_signing" and webhook[cv.TAG_REGION] == ""
    assert cv.TAG_WORKSPACE not in webhook
    assert webhook[cv.TAG_WEBHOOK_ENDPOINT] == ENDPOINT  # the runbook names the webhook by it
    assert cv.TAG_WEBHOOK_ENDPOINT not in track
    assert not evaluation.of_type("aws:secretsmanager/secretVersion:SecretVersion")


def test_rotation_every_90_days_never_immediately(evaluation: Evaluation) -> None:
    function_arn = evaluation.named("aws-rotator").outputs["arn"]
    rotations = evaluation.of_type("aws:secretsmanager/secretRotation:SecretRotation")
    live_arns = {_secret(evaluation, f"cio/{n}").outputs["arn"] for n in CREDENTIALS}
    assert {r.inputs["secretId"] for r in rotations} == live_arns
    for rotation in rotations:
        assert rotation.inputs["rotationRules"] == {"automaticallyAfterDays": 90}
        assert rotation.inputs["rotateImmediately"] is False
        assert rotation.inputs["rotationLambdaArn"] == function_arn
        depends = evaluation.options[rotation.name].depends_on
        assert {"aws-secretsmanager-invoke", "aws-rotator-policy"} <= set(depends)
        # The rotator's first testSecret may look for the state document.
        assert any(d.endswith("-state") for d in depends)


def test_rotation_lambda(evaluation: Evaluation, source_tree: Any) -> None:
    fn = evaluation.named("aws-rotator").inputs
    assert fn["runtime"] == "python3.12"
    assert fn["handler"] == AWS_HANDLER == "lambdas/aws_rotation/handler.handler"
    # Item 1: no reservation unless configured (a reservation fails on small quotas).
    assert "reservedConcurrentExecutions" not in fn
    assert fn["timeout"] == 300 and fn["memorySize"] == 256
    assert fn["loggingConfig"]["logGroup"] == "/aws/lambda/cio-rotator"
    zip_path = fn["code"].path
    digest = hashlib.sha256(Path(zip_path).read_bytes()).digest()
    assert fn["sourceCodeHash"] == base64.b64encode(digest).decode()
    environment, is_secret = unwrap_secret(fn["environment"])
    env = environment["variables"]
    # Item 7: the URL is not in the function's configuration, only the parameter's name.
    assert not is_secret, "nothing secret left in the environment"
    assert WEBHOOK not in json.dumps(env)
    assert cv.ENV_CHAT_WEBHOOK_URL not in env
    assert env[cv.ENV_CHAT_WEBHOOK_PARAMETER] == "/cio/rotation/chat-webhook-url"
    assert env[cv.ENV_SNS_TOPIC_ARN] == evaluation.named("aws-notifications").outputs["arn"]
    assert Policy().to_env().items() <= env.items()
    assert Policy.from_env(env) == Policy()
    logs = evaluation.named("aws-rotator-logs").inputs
    assert logs["name"] == "/aws/lambda/cio-rotator" and logs["retentionInDays"] == 365
    assert "aws-rotator-logs" in evaluation.options["aws-rotator"].depends_on


def test_secrets_manager_permission_carries_source_account(evaluation: Evaluation) -> None:
    [permission] = evaluation.of_type("aws:lambda/permission:Permission")
    assert permission.inputs["principal"] == "secretsmanager.amazonaws.com"
    assert permission.inputs["sourceAccount"] == ACCOUNT
    assert permission.inputs["action"] == "lambda:InvokeFunction"
    assert permission.inputs["function"] == "cio-rotator"


def test_operators_invoke_the_rotator_through_its_operator_alias_only(
    evaluation: Evaluation,
) -> None:
    """Issue 21: the program declares the alias on the function's latest code; the operator
    policy invokes its ARN alone; Secrets Manager's permission stays on the function."""
    [alias] = evaluation.of_type("aws:lambda/alias:Alias")
    assert alias.inputs["name"] == cv.OPERATOR_ALIAS
    assert alias.inputs["functionName"] == "cio-rotator"
    assert alias.inputs["functionVersion"] == "$LATEST"
    function_arn = evaluation.named("aws-rotator").outputs["arn"]
    operator = _documents(evaluation)["aws-operator-policy"]
    invokes = [s for s in operator["Statement"] if "lambda:InvokeFunction" in s["Action"]]
    assert [s["Resource"] for s in invokes] == [[f"{function_arn}:{cv.OPERATOR_ALIAS}"]]
    assert not any("secretsmanager:RotateSecret" in s["Action"] for s in operator["Statement"])
    [permission] = evaluation.of_type("aws:lambda/permission:Permission")
    assert "qualifier" not in permission.inputs  # Secrets Manager invokes the function itself
    stack_tag = {aws_policies.OWN_STACK_TAG: evaluation.stack}
    for statement in (
        operator["Statement"] + _documents(evaluation)["aws-rotator-policy"]["Statement"]
    ):
        if statement["Effect"] == "Allow" and any(":secret:" in r for r in statement["Resource"]):
            assert statement["Condition"]["StringEquals"].items() >= stack_tag.items()


def test_chat_webhook_is_a_secure_string_under_the_notifications_key(
    evaluation: Evaluation,
) -> None:
    parameter = evaluation.named("aws-chat-webhook").inputs
    assert parameter["type"] == "SecureString"
    assert parameter["name"] == "/cio/rotation/chat-webhook-url"
    assert parameter["keyId"] == evaluation.named("aws-topic-key").outputs["arn"]
    value, is_secret = unwrap_secret(parameter["value"])
    assert is_secret and value == WEBHOOK


def test_failures_and_errors_reach_the_operators(evaluation: Evaluation) -> None:
    topic = evaluation.named("aws-notifications")
    assert topic.inputs["kmsMasterKeyId"] == evaluation.named("aws-topic-key").outputs["arn"]
    subscriptions = evaluation.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert sorted(s.inputs["endpoint"] for s in subscriptions) == [
        "oncall@example.com",
        "platform@example.com",
    ]
    assert {s.inputs["protocol"] for s in subscriptions} == {"email"}
    [invoke] = evaluation.of_type("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")
    assert invoke.inputs["destinationConfig"]["onFailure"]["destination"] == topic.outputs["arn"]
    alarms = {a.inputs["metricName"]: a for a in evaluation.of_type(ALARM_T)}
    # Item 12: throttles alarm as well as errors.
    assert set(alarms) == {"Errors", "Throttles"}
    for alarm in alarms.values():
        assert alarm.inputs["namespace"] == "AWS/Lambda"
        assert alarm.inputs["dimensions"] == {"FunctionName": "cio-rotator"}
        assert alarm.inputs["alarmActions"] == [topic.outputs["arn"]]


def test_secrets_manager_rotation_failures_reach_the_operators(evaluation: Evaluation) -> None:
    """Item 12: RotationFailed is a CloudTrail service event, not a Lambda error."""
    topic_arn = evaluation.named("aws-notifications").outputs["arn"]
    [rule] = evaluation.of_type("aws:cloudwatch/eventRule:EventRule")
    pattern = json.loads(rule.inputs["eventPattern"])
    assert pattern["source"] == ["aws.secretsmanager"]
    assert "RotationFailed" in pattern["detail"]["eventName"]
    assert pattern["detail"]["additionalEventData"]["SecretId"] == [
        {"prefix": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:cio/"}
    ]
    [target] = evaluation.of_type("aws:cloudwatch/eventTarget:EventTarget")
    assert target.inputs["arn"] == topic_arn and target.inputs["rule"] == rule.outputs["name"]
    [policy] = evaluation.of_type("aws:sns/topicPolicy:TopicPolicy")
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    events = statements["EventBridgeRules"]
    assert events["Principal"] == {"Service": "events.amazonaws.com"}
    assert events["Condition"] == {"ArnEquals": {"aws:SourceArn": [rule.outputs["arn"]]}}
    key = json.loads(evaluation.named("aws-topic-key").inputs["policy"])
    assert "EventBridgeRules" in {s["Sid"] for s in key["Statement"]}
    assert "aws-notifications-policy" in evaluation.depends_on(target.name)


def test_daily_sweep_lists_every_live_secret(evaluation: Evaluation) -> None:
    [schedule] = evaluation.of_type("aws:scheduler/schedule:Schedule")
    target = schedule.inputs["target"]
    event = json.loads(target["input"])
    assert event["action"] == cv.ACTION_SWEEP
    # The manifest names each live secret by name (every Secrets Manager call takes it).
    assert event["secret_ids"] == [
        _secret(evaluation, f"cio/{n}").outputs["name"] for n in CREDENTIALS
    ]
    assert target["arn"] == evaluation.named("aws-rotator").outputs["arn"]
    assert schedule.inputs["scheduleExpression"] == "cron(0 6 * * ? *)"
    assert schedule.inputs["flexibleTimeWindow"] == {"mode": "OFF"}
    trust = json.loads(evaluation.named("aws-scheduler-role").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def _documents(ev: Evaluation) -> dict[str, dict[str, Any]]:
    docs = {
        r.name: json.loads(r.inputs["policy"]) for r in ev.of_type("aws:iam/rolePolicy:RolePolicy")
    }
    docs.update(
        {r.name: json.loads(r.inputs["policy"]) for r in ev.of_type("aws:iam/policy:Policy")}
    )
    return docs


def test_no_wildcard_resource_and_no_action_outside_the_design(evaluation: Evaluation) -> None:
    allowed = {
        "aws-rotator-policy": aws_policies.ROTATOR_ACTIONS | aws_policies.CHAT_PARAMETER_ACTIONS,
        "aws-operator-policy": aws_policies.OPERATOR_ACTIONS,
        "aws-consumer-policy": aws_policies.CONSUMER_ACTIONS,
        "aws-scheduler-policy": aws_policies.SCHEDULER_ACTIONS,
    }
    docs = _documents(evaluation)
    assert set(docs) == set(allowed)
    for name, doc in docs.items():
        for statement in doc["Statement"]:
            assert set(statement["Action"]) <= allowed[name], (name, statement["Sid"])
            if statement["Action"] == [aws_policies.LIST_SECRETS]:  # the operator's discovery
                assert name == "aws-operator-policy" and statement["Resource"] == ["*"]
                continue
            if statement == aws_policies.drain_reads():  # the drain's evidence (no resource)
                assert name in ("aws-rotator-policy", "aws-operator-policy")
                continue
            if statement == aws_policies.usage_reports():  # one namespace (no resource)
                assert name == "aws-consumer-policy"
                continue
            for resource in statement["Resource"]:
                assert resource != "*" and not resource.endswith(":*:*"), (name, resource)
                assert resource.split(":")[4] == ACCOUNT, (name, resource)
        assert aws_policies.policy_size(doc) <= aws_policies.MANAGED_POLICY_MAX_CHARS
    for role in evaluation.of_type("aws:iam/role:Role"):
        assert not role.inputs.get("inlinePolicies")
        assert not role.inputs.get("managedPolicyArns")


def test_operators_and_consumers(evaluation: Evaluation) -> None:
    role = evaluation.named("aws-operator-role").inputs
    trust = json.loads(role["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {
        "AWS": [f"arn:aws:iam::{ACCOUNT}:role/platform-oncall"]
    }
    operator = _documents(evaluation)["aws-operator-policy"]
    reads = [s for s in operator["Statement"] if "secretsmanager:GetSecretValue" in s["Action"]]
    assert [r["Resource"] for r in reads] == [  # state documents only, never a live key
        [f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:cio/*/state-*"]
    ]
    policy_arn = evaluation.named("aws-consumer-policy").outputs["arn"]
    [attach_role] = evaluation.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    [attach_user] = evaluation.of_type("aws:iam/userPolicyAttachment:UserPolicyAttachment")
    assert attach_role.inputs == {"role": "app-backend", "policyArn": policy_arn}
    assert attach_user.inputs == {"user": "legacy-batch", "policyArn": policy_arn}


def test_outputs(evaluation: Evaluation) -> None:
    out = evaluation.outputs
    for name in CREDENTIALS:
        entry = out["credentials"][name]
        assert entry["aws_secret_arn"] == _secret(evaluation, f"cio/{name}").outputs["arn"]
        assert entry["bootstrap_command"] == f"cio-rotate submit {name}"
        assert entry["aws_state_name"] == f"cio/{name}/state"
    # Item 10: IAM names are account-global, so they carry the stack and the region.
    assert out["aws_operator_role_arn"] == f"arn:aws:iam::{ACCOUNT}:role/cio-operator-test-{REGION}"
    assert out["aws_consumer_policy_arn"] == (
        f"arn:aws:iam::{ACCOUNT}:policy/cio-consumer-test-{REGION}"
    )
    assert out["policy"] == Policy().to_env()
    assert out["aws_secret_recovery_days"] == 30
    assert out["aws_notifications_topic_arn"].endswith(":cio-rotation-notifications")
    assert out["aws_rotator_function_name"] == "cio-rotator"
    assert WEBHOOK not in json.dumps(out)


def test_wake_ups_and_the_work_queue_reach_the_rotator(evaluation: Evaluation) -> None:
    queue = evaluation.named("aws-work")
    group = evaluation.named("aws-wakeups")
    role = evaluation.named("aws-scheduler-role")
    env = evaluation.named("aws-rotator").inputs["environment"]["variables"]
    assert env[cv.ENV_WAKE_GROUP] == group.outputs["name"] == "cio-rotation-wakeups"
    assert env[cv.ENV_WAKE_TARGET_ARN] == queue.outputs["arn"]
    assert env[cv.ENV_WAKE_ROLE_ARN] == role.outputs["arn"]
    assert env[cv.ENV_WORK_QUEUE_URL] == queue.outputs["url"]
    assert env[cv.ENV_PROBE_RATE] == "5"  # 10 requests/s shared by at most 2 instances
    assert queue.inputs["visibilityTimeoutSeconds"] == 1800
    [mapping] = evaluation.of_type("aws:lambda/eventSourceMapping:EventSourceMapping")
    assert mapping.inputs["eventSourceArn"] == queue.outputs["arn"]
    assert mapping.inputs["batchSize"] == 10
    assert mapping.inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping.inputs["scalingConfig"] == {"maximumConcurrency": 2}
    rotator = json.loads(evaluation.named("aws-rotator-policy").inputs["policy"])
    grants = {s["Sid"]: s for s in rotator["Statement"]}
    assert grants["WakeUpSchedules"]["Resource"] == [
        f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/cio-rotation-wakeups/*"
    ]
    assert grants["PassSchedulerRole"]["Resource"] == [role.outputs["arn"]]
    assert grants["WorkQueue"]["Resource"] == [queue.outputs["arn"]]
    scheduler = json.loads(evaluation.named("aws-scheduler-policy").inputs["policy"])
    assert {s["Sid"]: s["Resource"] for s in scheduler["Statement"]}["SendWakeUps"] == [
        queue.outputs["arn"]
    ]
