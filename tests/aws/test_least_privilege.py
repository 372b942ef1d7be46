"""The generated IAM policies, enforced: enough for a rotation, and no more.

moto enforces IAM once `INITIAL_NO_AUTH_ACTION_COUNT` requests have passed
(`enable_iam_authentication` below): requests are signed with a real IAM user's
access key and checked against that user's policies. Two gaps of moto 5.2 would
make that check meaningless for these services, so this module closes them for
the duration of a test, in moto's own extension points:

- moto authorises Secrets Manager, KMS, SNS, Logs and Lambda requests against
  the resource "*", so an ARN-scoped policy denies everything. Each response
  class gets a `_determine_resource` (the hook moto already uses for SQS and IAM)
  that names the resource the way AWS does: the secret's full ARN, the key's ARN,
  the topic, the log stream, the function.
- moto ignores conditions outside trust policies (and calls lambda:InvokeFunction
  "lambda:Invoke"). Statements are evaluated with
  a small evaluator of the operators these policies use (StringEquals,
  StringLike, ArnEqualsIfExists, ForAllValues:StringLike, Null, Bool) against the
  request context AWS would supply: `aws:TagKeys`, `secretsmanager:RotationLambdaARN`,
  `secretsmanager:ModifyRotationRules`, `kms:EncryptionContext:*`; a direct KMS call
  has no `kms:ViaService`.

Everything else (signatures, access keys, policy collection, explicit Deny wins)
is moto's.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import unquote

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.core.authorization import enable_iam_authentication
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.iam.access_control import IAMPolicyStatement, PermissionResult
from moto.kms.models import kms_backends
from moto.secretsmanager.models import secretsmanager_backends

from infra import aws_policies
from localcloud.cloudtrail import CloudTrailHistory
from localcloud.stack import STACK
from rotation import conventions as cv
from rotation.stores import usage
from tests.program import policy_docs
from tests.program.harness import Evaluation, make_source_tree

REGION = "us-east-1"
ACCOUNT = DEFAULT_ACCOUNT_ID
DENIED = {"AccessDenied", "AccessDeniedException"}

# -- closing moto's two gaps ------------------------------------------------------

_context: dict[str, list[str]] = {}  # condition keys of the request being authorised


def _param(response: Any, name: str) -> Any:
    value = response._get_param(name)
    if value is None and response.body:
        try:
            value = json.loads(response.body).get(name)
        except (ValueError, AttributeError):
            value = None
    return value


def _secret_resource(response: Any) -> str:
    action = response._get_action()
    _context.clear()
    if action == "TagResource":
        _context["aws:TagKeys"] = [t["Key"] for t in _param(response, "Tags") or []]
    if action == "UntagResource":
        _context["aws:TagKeys"] = list(_param(response, "TagKeys") or [])
    if action == "RotateSecret" and _param(response, "RotationLambdaARN"):
        _context["secretsmanager:RotationLambdaARN"] = [_param(response, "RotationLambdaARN")]
    if action == "RotateSecret":
        modifies = _param(response, "RotationRules") is not None
        _context["secretsmanager:ModifyRotationRules"] = ["true" if modifies else "false"]
    if action == "GetSecretValue":
        # secretsmanager:VersionStage / VersionId are in the context only when asked for.
        for key, param in (("VersionStage", "VersionStage"), ("VersionId", "VersionId")):
            if _param(response, param):
                _context[f"secretsmanager:{key}"] = [_param(response, param)]
    secret_id = _param(response, "SecretId")
    if action == "CreateSecret":
        return f"arn:aws:secretsmanager:{response.region}:{ACCOUNT}:secret:{_param(response, 'Name')}-??????"
    if not secret_id:
        return "*"
    backend = secretsmanager_backends[response.current_account][response.region]
    if backend._is_valid_identifier(secret_id):
        secret = backend.secrets[secret_id]
        for tag in secret.tags or []:  # aws:ResourceTag/<key>: the secret's own tags
            _context[f"aws:ResourceTag/{tag['Key']}"] = [tag["Value"]]
        return str(secret.arn)
    return f"arn:aws:secretsmanager:{response.region}:{ACCOUNT}:secret:{secret_id}"


def _metrics_resource(response: Any) -> str:
    """CloudWatch's metric actions and CloudTrail's LookupEvents take no resource; writing a
    metric puts its namespace in the request context (`cloudwatch:namespace`)."""
    _context.clear()
    if response._get_action() == "PutMetricData":
        _context["cloudwatch:namespace"] = [str(_param(response, "Namespace"))]
    return "*"


def _kms_resource(response: Any) -> str:
    _context.clear()  # called directly: no kms:ViaService in the context
    for key, value in (_param(response, "EncryptionContext") or {}).items():
        _context[f"kms:EncryptionContext:{key}"] = [value]
    key_id = _param(response, "KeyId")
    if not key_id:
        return "*"
    return str(kms_backends[response.current_account][response.region].describe_key(key_id).arn)


def _sns_resource(response: Any) -> str:
    _context.clear()
    return str(_param(response, "TopicArn") or "*")


def _logs_resource(response: Any) -> str:
    _context.clear()
    group = _param(response, "logGroupName")
    if not group:
        return "*"
    base = f"arn:aws:logs:{response.region}:{ACCOUNT}:log-group:{group}"
    stream = _param(response, "logStreamName")
    return f"{base}:log-stream:{stream}" if stream else f"{base}:*"


def _lambda_resource(response: Any) -> str:
    _context.clear()
    path = response.path
    if not path.endswith("/invocations"):
        return "*"
    name = unquote(path.rsplit("/", 2)[-2])
    arn = (
        name
        if name.startswith("arn:")
        else f"arn:aws:lambda:{response.region}:{ACCOUNT}:function:{name}"
    )
    # An alias or version named by `Qualifier` (or in the name) is part of the resource
    # IAM authorises: a grant on the alias's ARN does not cover the function, nor back.
    qualifier = _param(response, "Qualifier") or _param(response, "qualifier")
    if qualifier and arn.count(":") == 6:
        arn = f"{arn}:{qualifier}"
    return arn


def _scheduler_resource(response: Any) -> str:
    """A schedule's ARN: `schedule/<group>/<name>` (the group in the body or the query)."""
    _context.clear()
    path = response.uri.split("?")[0]
    if "/schedules/" not in path:
        return "*"
    group = _param(response, "GroupName") or _param(response, "groupName") or "default"
    name = unquote(path.rsplit("/", 1)[-1])
    return f"arn:aws:scheduler:{response.region}:{ACCOUNT}:schedule/{group}/{name}"


def _wildcard(pattern: str, value: str, *, case: bool = True) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, 0 if case else re.IGNORECASE) is not None


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _condition_holds(
    operator: str, key: str, expected: Any, context: Mapping[str, list[str]]
) -> bool:
    """One condition of one statement, the way IAM evaluates it."""
    set_op, _, op = operator.rpartition(":")
    if_exists = op.endswith("IfExists")
    op = op.removesuffix("IfExists")
    wanted = _listed(expected)
    actual = context.get(key)
    if op == "Null":
        return (actual is None) == (wanted[0] == "true")
    if actual is None:
        return if_exists or set_op == "ForAllValues"
    match: Callable[[str, str], bool]
    if op == "StringEquals":
        match = lambda w, a: w == a  # noqa: E731
    elif op == "Bool":
        match = lambda w, a: w.lower() == a.lower()  # noqa: E731
    elif op in ("StringLike", "ArnLike", "ArnEquals"):
        match = _wildcard
    else:
        raise AssertionError(f"the evaluator does not know {operator}")
    hits = [any(match(w, a) for w in wanted) for a in actual]
    if set_op == "ForAnyValue":
        return any(hits)
    return all(hits)  # ForAllValues, and single-valued keys


def _statement_verdict(
    self: IAMPolicyStatement,
    action: str,
    resource: str = "*",
    principal: str | None = None,
    incoming_condition_values: dict[str, str] | None = None,
) -> PermissionResult:
    if incoming_condition_values is not None or principal is not None:
        return _original_statement(self, action, resource, principal, incoming_condition_values)
    action = _IAM_ACTION_NAMES.get(action, action)
    stmt: dict[str, Any] = self._statement
    actions = _listed(stmt.get("Action", stmt.get("NotAction", [])))
    hit = any(_wildcard(a, action, case=False) for a in actions)
    if ("NotAction" in stmt) == hit:
        return PermissionResult.NEUTRAL
    resources = _listed(stmt.get("Resource", stmt.get("NotResource", [])))
    hit = any(_wildcard(r, resource) for r in resources)
    if ("NotResource" in stmt) == hit:
        return PermissionResult.NEUTRAL
    for operator, pairs in stmt.get("Condition", {}).items():
        for key, expected in pairs.items():
            if not _condition_holds(operator, key, expected, _context):
                return PermissionResult.NEUTRAL
    return PermissionResult.PERMITTED if stmt["Effect"] == "Allow" else PermissionResult.DENIED


_original_statement = IAMPolicyStatement.is_action_permitted
# moto names some actions after the API operation; IAM uses its own action names.
_IAM_ACTION_NAMES = {
    "lambda:Invoke": "lambda:InvokeFunction",
    # CloudWatch's endpoint is "monitoring"; IAM's service prefix is "cloudwatch".
    **{
        f"monitoring:{a}": f"cloudwatch:{a}"
        for a in ("PutMetricData", "ListMetrics", "GetMetricData", "DeleteAlarms")
    },
}


@contextmanager
def enforced_iam(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from moto.awslambda.responses import LambdaResponse
    from moto.cloudtrail.responses import CloudTrailResponse
    from moto.cloudwatch.responses import CloudWatchResponse
    from moto.kms.responses import KmsResponse
    from moto.logs.responses import LogsResponse
    from moto.scheduler.responses import EventBridgeSchedulerResponse
    from moto.secretsmanager.responses import SecretsManagerResponse
    from moto.sns.responses import SNSResponse

    with monkeypatch.context() as patch:
        patch.setattr(
            SecretsManagerResponse, "_determine_resource", _secret_resource, raising=False
        )
        patch.setattr(KmsResponse, "_determine_resource", _kms_resource, raising=False)
        for response_class in (CloudWatchResponse, CloudTrailResponse):
            patch.setattr(response_class, "_determine_resource", _metrics_resource, raising=False)
        patch.setattr(SNSResponse, "_determine_resource", _sns_resource, raising=False)
        patch.setattr(LogsResponse, "_determine_resource", _logs_resource, raising=False)
        patch.setattr(LambdaResponse, "_determine_resource", _lambda_resource, raising=False)
        patch.setattr(
            EventBridgeSchedulerResponse, "_determine_resource", _scheduler_resource, raising=False
        )
        patch.setattr(IAMPolicyStatement, "is_action_permitted", _statement_verdict)
        # moto logs every request body it authorises at DEBUG, keys included; the
        # suite's leak detector (rightly) reads all log lines, so keep moto's quiet.
        patch.setattr(logging.getLogger("moto.iam.access_control"), "level", logging.INFO)
        with enable_iam_authentication():
            yield


# -- the account ------------------------------------------------------------------------


@dataclass
class Account:
    prefix: str
    live: str
    inbox: str
    other_live: str
    foreign: str
    lookalike: str
    key_arn: str
    topic_arn: str
    other_topic_arn: str
    log_group: str
    function_arn: str
    other_function_arn: str
    ciphertext: bytes
    state: str = ""  # the rotation state document
    squatters: list[str] = field(default_factory=list)  # under the prefix, not the stack's


def _admin(service: Any) -> Any:
    return boto3.client(service, region_name=REGION)


def create_account(
    prefix: str = "cio", function_arn: str | None = None, credential: str = "marketing-track"
) -> Account:
    """What the Pulumi program creates, made with admin credentials before enforcement."""
    sm, kms, sns, logs = (_admin(s) for s in ("secretsmanager", "kms", "sns", "logs"))
    key_arn = kms.create_key(Description="cio secrets")["KeyMetadata"]["Arn"]

    def secret(name: str, **tags: str) -> str:
        arn = sm.create_secret(
            Name=name, KmsKeyId=key_arn, Tags=[{"Key": k, "Value": v} for k, v in tags.items()]
        )["ARN"]
        return str(arn)

    ours = {cv.TAG_STACK: STACK}  # what the program tags every secret of the stack with
    inbox = secret(f"{prefix}/{credential}/inbox", **ours)
    state = secret(
        f"{prefix}/{credential}/state", **{cv.TAG_STATE_OF: f"{prefix}/{credential}"}, **ours
    )
    live = secret(
        f"{prefix}/{credential}",
        **{cv.TAG_MANAGED: "true", cv.TAG_INBOX: inbox, cv.TAG_STATE: state},
        **ours,
    )
    sm.put_secret_value(SecretId=state, SecretString='{"phase": "idle", "revision": 1}')
    sm.put_secret_value(SecretId=live, SecretString='{"api_key": "current"}')
    other_live = secret(f"{prefix}/billing-app", **{cv.TAG_MANAGED: "true"}, **ours)
    # Under the prefix, but not the stack's: someone else's, or another stack's.
    squatters = [
        secret(f"{prefix}/squatter-{credential}", **{cv.TAG_MANAGED: "true"}),
        secret(f"{prefix}/squatter-{credential}/inbox"),
        secret(
            f"{prefix}/other-stack-{credential}",
            **{cv.TAG_MANAGED: "true", cv.TAG_STACK: "someone-elses"},
        ),
    ]
    for squatter in squatters:
        # pragma: allowlist nextline secret (another stack's document, not a credential)
        sm.put_secret_value(SecretId=squatter, SecretString="their document")
    sm.put_secret_value(SecretId=other_live, SecretString='{"app_api_key": "other"}')
    foreign = secret("payments/stripe-key")
    sm.put_secret_value(SecretId=foreign, SecretString="sk_live_not_ours")
    lookalike = secret(f"{prefix}x/{credential}")
    for group in (f"/aws/lambda/{prefix}-rotator", "/aws/lambda/someone-else"):
        # The deployed stack made the rotator's already.
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_group(logGroupName=group)

    ciphertext = kms.encrypt(
        KeyId=key_arn, Plaintext=b"data key", EncryptionContext={"SecretARN": live}
    )["CiphertextBlob"]
    return Account(
        prefix=prefix,
        live=live,
        inbox=inbox,
        other_live=other_live,
        foreign=foreign,
        lookalike=lookalike,
        key_arn=key_arn,
        topic_arn=sns.create_topic(Name=f"{prefix}-rotation-notifications")["TopicArn"],
        other_topic_arn=sns.create_topic(Name="marketing-newsletter")["TopicArn"],
        log_group=f"/aws/lambda/{prefix}-rotator",
        function_arn=function_arn or f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{prefix}-rotator",
        other_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:someone-else",
        ciphertext=ciphertext,
        state=state,
        squatters=squatters,
    )


def _scope(account: Account) -> aws_policies.AwsScope:
    return aws_policies.AwsScope("aws", REGION, ACCOUNT, account.prefix, stack=STACK)


def log_group_arn(account: Account) -> str:
    return f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{account.log_group}"


def rotator_document(account: Account) -> dict[str, Any]:
    return aws_policies.rotator_policy(
        _scope(account),
        secrets_key_arn=account.key_arn,
        topic_key_arn=account.key_arn.replace("key/", "key/topic-"),
        topic_arn=account.topic_arn,
        log_group_arn=log_group_arn(account),
        function_arn=account.function_arn,
        wakeups=aws_policies.WakeUpGrants(
            schedule_group=f"{account.prefix}-rotation-wakeups",
            scheduler_role_arn=f"arn:aws:iam::{ACCOUNT}:role/{account.prefix}-scheduler",
            work_queue_arn=f"arn:aws:sqs:{REGION}:{ACCOUNT}:{account.prefix}-rotation-work",
        ),
    )


def operator_document(account: Account) -> dict[str, Any]:
    return aws_policies.operator_policy(
        _scope(account),
        secrets_key_arn=account.key_arn,
        function_arn=account.function_arn,
        log_group_arn=log_group_arn(account),
    )


def consumer_document(account: Account) -> dict[str, Any]:
    return aws_policies.consumer_policy(_scope(account), secrets_key_arn=account.key_arn)


@dataclass
class Principal:
    session: boto3.Session

    def client(self, service: Any) -> Any:
        return self.session.client(service, region_name=REGION)


def principal_with(name: str, document: dict[str, Any]) -> Principal:
    """An IAM user holding exactly `document` (inline), with its own access key."""
    iam = _admin("iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(
        UserName=name, PolicyName=name, PolicyDocument=aws_policies.to_json(document)
    )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Principal(
        boto3.Session(
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
            aws_session_token=None,
            region_name=REGION,
        )
    )


def is_access_denied(err: ClientError) -> bool:
    """moto answers JSON-protocol services' denials in XML, which botocore reports as 403."""
    code = err.response["Error"]["Code"]
    return code in DENIED or (code == "403" and "is not authorized to perform" in str(err))


def allowed(call: Callable[[], Any]) -> None:
    """The request passed IAM (the service may still refuse it for its own reasons)."""
    try:
        call()
    except ClientError as err:
        assert not is_access_denied(err), err


def denied(call: Callable[[], Any]) -> None:
    with pytest.raises(ClientError) as info:
        call()
    assert is_access_denied(info.value), info.value


@pytest.fixture
def account(aws: Any) -> Account:
    """A moto account (the shared `aws` fixture) with the program's resources in it."""
    return create_account()


# -- the rotator ----------------------------------------------------------------------


def test_rotator_can_do_everything_a_rotation_needs(
    account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    rotator = principal_with("rotator", rotator_document(account))
    sm, sns, logs = (rotator.client(s) for s in ("secretsmanager", "sns", "logs"))
    with enforced_iam(monkeypatch):
        sm.describe_secret(SecretId=account.live)
        sm.describe_secret(SecretId=account.inbox)
        current = sm.get_secret_value(SecretId=account.live)
        pending = sm.put_secret_value(
            SecretId=account.live, SecretString='{"api_key": "new"}', VersionStages=["AWSPENDING"]
        )["VersionId"]
        sm.update_secret_version_stage(
            SecretId=account.live,
            VersionStage="AWSCURRENT",
            MoveToVersionId=pending,
            RemoveFromVersionId=current["VersionId"],
        )
        sm.put_secret_value(SecretId=account.inbox, SecretString='{"consumed": true}')
        sm.get_secret_value(SecretId=account.inbox)
        # The state document: read, then a compare-and-swap write (a revision-derived
        # ClientRequestToken), and the old `cio-state:` tags read once for migration.
        sm.describe_secret(SecretId=account.state)
        sm.get_secret_value(SecretId=account.state)
        sm.put_secret_value(
            SecretId=account.state,
            SecretString='{"phase": "awaiting_key", "revision": 2}',
            ClientRequestToken="cio-state-revision-000000000000000002",
        )
        allowed(lambda: sm.rotate_secret(SecretId=account.live))  # resume; moto has no Lambda
        sns.publish(TopicArn=account.topic_arn, Message="Rotation opened for marketing-track")
        logs.create_log_stream(logGroupName=account.log_group, logStreamName="2026/03/02/abc")
        logs.put_log_events(
            logGroupName=account.log_group,
            logStreamName="2026/03/02/abc",
            logEvents=[{"timestamp": 1_772_441_200_000, "message": "opened"}],
        )
    state = _admin("secretsmanager").get_secret_value(SecretId=account.state)["SecretString"]
    assert json.loads(state)["revision"] == 2


def test_rotator_is_denied_everything_else(
    account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    rotator = principal_with("rotator", rotator_document(account))
    sm, sns, kms, logs, lam = (
        rotator.client(s) for s in ("secretsmanager", "sns", "kms", "logs", "lambda")
    )
    state_tag = [{"Key": f"{cv.STATE_PREFIX}phase", "Value": "idle"}]
    with enforced_iam(monkeypatch):
        refused = [
            # another secret's value: outside the prefix, and a prefix look-alike
            lambda: sm.get_secret_value(SecretId=account.foreign),
            lambda: sm.get_secret_value(SecretId=account.lookalike),
            lambda: sm.describe_secret(SecretId="payments/stripe-key"),
            # destroying or reconfiguring managed secrets
            lambda: sm.delete_secret(SecretId=account.live, ForceDeleteWithoutRecovery=True),
            lambda: sm.cancel_rotate_secret(SecretId=account.live),
            lambda: sm.rotate_secret(
                SecretId=account.live,
                RotationLambdaARN=account.other_function_arn,
                RotationRules={"AutomaticallyAfterDays": 365},
            ),
            # moving the 90-day deadline, even through its own function
            lambda: sm.rotate_secret(
                SecretId=account.live,
                RotationLambdaARN=account.function_arn,
                RotationRules={"AutomaticallyAfterDays": 365},
            ),
            lambda: sm.rotate_secret(SecretId=account.state),
            lambda: sm.update_secret(SecretId=account.live, KmsKeyId="alias/aws/secretsmanager"),
            lambda: sm.put_resource_policy(SecretId=account.live, ResourcePolicy="{}"),
            lambda: sm.create_secret(Name=f"{account.prefix}/new-one", SecretString="x"),
            lambda: sm.list_secrets(),
            # writing outside its secrets
            lambda: sm.put_secret_value(SecretId=account.foreign, SecretString="x"),
            # tags are configuration, Pulumi's alone: no tag writes of any kind
            lambda: sm.tag_resource(SecretId=account.live, Tags=state_tag),
            lambda: sm.tag_resource(SecretId=account.live, Tags=[{"Key": "owner", "Value": "x"}]),
            lambda: sm.tag_resource(
                SecretId=account.live,
                Tags=[*state_tag, {"Key": cv.TAG_MANAGED, "Value": "false"}],
            ),
            lambda: sm.tag_resource(SecretId=account.inbox, Tags=state_tag),
            lambda: sm.tag_resource(SecretId=account.foreign, Tags=state_tag),
            lambda: sm.untag_resource(SecretId=account.live, TagKeys=[cv.TAG_MANAGED]),
            # the key only through Secrets Manager
            lambda: kms.decrypt(
                KeyId=account.key_arn,
                CiphertextBlob=account.ciphertext,
                EncryptionContext={"SecretARN": account.live},
            ),
            lambda: kms.encrypt(KeyId=account.key_arn, Plaintext=b"x"),
            lambda: kms.create_grant(
                KeyId=account.key_arn,
                GranteePrincipal=f"arn:aws:iam::{ACCOUNT}:user/rotator",
                Operations=["Decrypt"],
            ),
            # only its topic, its log group, itself
            lambda: sns.publish(TopicArn=account.other_topic_arn, Message="hello"),
            lambda: logs.create_log_stream(
                logGroupName="/aws/lambda/someone-else", logStreamName="x"
            ),
            lambda: lam.invoke(FunctionName=account.other_function_arn, Payload=b"{}"),
        ]
        # Issue 21: secrets under the prefix the stack did not create (no stack tag, or
        # another stack's): never read, written, described or rotated.
        for squatter in account.squatters:
            refused += [
                partial(sm.get_secret_value, SecretId=squatter),
                partial(sm.describe_secret, SecretId=squatter),
                partial(sm.put_secret_value, SecretId=squatter, SecretString="x"),
                partial(
                    sm.update_secret_version_stage,
                    SecretId=squatter,
                    VersionStage="AWSCURRENT",
                    MoveToVersionId="x" * 32,
                ),
                partial(sm.rotate_secret, SecretId=squatter),
            ]
        for call in refused:
            denied(call)
    assert len(refused) >= 10


def test_rotator_arms_wake_ups_in_its_group_and_works_its_queue_only(
    account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto checks no iam:PassRole on CreateSchedule, and refuses the signature of a
    DeleteSchedule (its `groupName` query) before IAM: PassRole and DeleteSchedule are
    checked by parliament and the program tests only."""
    sqs, scheduler = _admin("sqs"), _admin("scheduler")
    work = sqs.create_queue(QueueName=f"{account.prefix}-rotation-work")["QueueUrl"]
    other = sqs.create_queue(QueueName="orders")["QueueUrl"]
    scheduler.create_schedule_group(Name=f"{account.prefix}-rotation-wakeups")
    scheduler.create_schedule_group(Name="payments")
    role = f"arn:aws:iam::{ACCOUNT}:role/{account.prefix}-scheduler"
    rotator = principal_with("rotator", rotator_document(account))
    rq, rs = rotator.client("sqs"), rotator.client("scheduler")

    def schedule(group: str, name: str = "wake-x") -> dict[str, Any]:
        return {
            "Name": name,
            "GroupName": group,
            "ScheduleExpression": "at(2026-03-02T09:15:00)",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "ActionAfterCompletion": "DELETE",
            "Target": {"Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:x", "RoleArn": role, "Input": "{}"},
        }

    group = f"{account.prefix}-rotation-wakeups"
    with enforced_iam(monkeypatch):
        rq.send_message(QueueUrl=work, MessageBody="{}")
        got = rq.receive_message(QueueUrl=work, MaxNumberOfMessages=1)["Messages"]
        rq.delete_message(QueueUrl=work, ReceiptHandle=got[0]["ReceiptHandle"])
        rs.create_schedule(**schedule(group))
        rs.update_schedule(**schedule(group))
        for call in (
            lambda: rq.send_message(QueueUrl=other, MessageBody="{}"),
            lambda: rq.receive_message(QueueUrl=other),
            lambda: rs.create_schedule(**schedule("payments")),
            lambda: rs.create_schedule(**schedule("default")),
        ):
            denied(call)


def test_rotator_policy_names_only_its_own_secrets() -> None:
    """Static cross-check with the moto run: the patterns, not moto, decide the scope."""
    doc = rotator_document(
        Account("cio", "", "", "", "", "", "k", "t", "t2", "/aws/lambda/cio-rotator", "f", "g", b"")
    )
    drain = aws_policies.drain_reads()
    resources = {r for s in doc["Statement"] if s != drain for r in s["Resource"]}
    assert not {r for r in resources if r == "*" or r.endswith(":secret:*")}


# -- the drain's evidence: key-usage metrics and CloudTrail ------------------------------


def test_drain_evidence_is_read_by_rotator_and_operator_and_written_by_consumers_only(
    account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Consumers write key-usage points into the library's namespace and nowhere else;
    the rotator and the operators read them and CloudTrail's event history."""
    namespace = usage.AWS_NAMESPACE
    point = [{"MetricName": "KeyInUse", "Value": 1.0}]
    reader_docs = (rotator_document(account), operator_document(account))
    readers = [
        principal_with(n, d) for n, d in zip(("rotator", "operator"), reader_docs, strict=True)
    ]
    consumer = principal_with("app", consumer_document(account))
    with CloudTrailHistory().active(), enforced_iam(monkeypatch):
        app = consumer.client("cloudwatch")
        app.put_metric_data(Namespace=namespace, MetricData=point)
        denied(lambda: app.put_metric_data(Namespace="AWS/EC2", MetricData=point))
        denied(lambda: app.list_metrics(Namespace=namespace))
        denied(lambda: consumer.client("cloudtrail").lookup_events())
        for reader in readers:
            cw = reader.client("cloudwatch")
            cw.list_metrics(Namespace=namespace)
            allowed(
                lambda cw=cw: cw.get_metric_data(  # type: ignore[misc]
                    MetricDataQueries=[
                        {
                            "Id": "m0",
                            "MetricStat": {
                                "Metric": {"Namespace": namespace, "MetricName": "KeyInUse"},
                                "Period": 60,
                                "Stat": "SampleCount",
                            },
                        }
                    ],
                    StartTime=datetime(2026, 3, 2, tzinfo=UTC),
                    EndTime=datetime(2026, 3, 3, tzinfo=UTC),
                )
            )
            trail = reader.client("cloudtrail")
            allowed(lambda t=trail: t.lookup_events(MaxResults=1))  # type: ignore[misc]
            denied(lambda c=cw: c.put_metric_data(Namespace=namespace, MetricData=point))  # type: ignore[misc]
            denied(lambda c=cw: c.delete_alarms(AlarmNames=["x"]))  # type: ignore[misc]


# -- the operator and the consumer ----------------------------------------------------


def test_operator_submits_and_rotates_but_never_reads_a_live_key(
    account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    operator = principal_with("operator", operator_document(account))
    sm, logs, kms = (operator.client(s) for s in ("secretsmanager", "logs", "kms"))
    with enforced_iam(monkeypatch):
        sm.put_secret_value(SecretId=account.inbox, SecretString='{"api_key": "handed over"}')
        sm.describe_secret(SecretId=account.inbox)
        sm.describe_secret(SecretId=account.live)
        allowed(lambda: logs.filter_log_events(logGroupName=account.log_group))
        # status and history read the state document: it holds no key
        sm.describe_secret(SecretId=account.state)
        assert sm.get_secret_value(SecretId=account.state)["SecretString"]
        refused: list[Callable[[], Any]] = [
            # the rotator starts native rotations: RotateSecret needs lambda:Invoke on the
            # unqualified function, which operators do not have
            lambda: sm.rotate_secret(SecretId=account.live),
            lambda: sm.put_secret_value(SecretId=account.state, SecretString="{}"),
            lambda: sm.rotate_secret(SecretId=account.state),
            lambda: sm.rotate_secret(
                SecretId=account.live, RotationRules={"AutomaticallyAfterDays": 1000}
            ),
            lambda: sm.get_secret_value(SecretId=account.live),
            lambda: sm.get_secret_value(SecretId=account.inbox),
            lambda: sm.update_secret_version_stage(
                SecretId=account.live, VersionStage="AWSCURRENT", MoveToVersionId="x" * 32
            ),
            lambda: sm.put_secret_value(SecretId=account.live, SecretString="x"),
            lambda: sm.rotate_secret(SecretId=account.inbox),
            lambda: sm.rotate_secret(
                SecretId=account.live, RotationLambdaARN=account.other_function_arn
            ),
            lambda: sm.tag_resource(SecretId=account.live, Tags=[{"Key": "a", "Value": "b"}]),
            lambda: sm.delete_secret(SecretId=account.live),
            lambda: sm.put_secret_value(SecretId=account.foreign, SecretString="x"),
            lambda: logs.filter_log_events(logGroupName="/aws/lambda/someone-else"),
            *[
                partial(sm.put_secret_value, SecretId=squatter, SecretString="x")
                for squatter in account.squatters
            ],
            *[partial(sm.describe_secret, SecretId=squatter) for squatter in account.squatters],
            lambda: kms.decrypt(
                KeyId=account.key_arn,
                CiphertextBlob=account.ciphertext,
                EncryptionContext={"SecretARN": account.live},
            ),
        ]
        for call in refused:
            denied(call)


def test_operator_invokes_the_operator_alias_only(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 21: the operator's grant names the alias; the function itself (what Secrets
    Manager, the queue and the schedules invoke), another alias and `$LATEST` are denied."""
    arn = aws.provision("marketing-track", "track", "us", workspace="1001")
    account = create_account(function_arn=aws.function_arn, credential="spare")
    lam = principal_with("operator", operator_document(account)).client("lambda")
    check = json.dumps({"action": cv.ACTION_RECONCILE, "secret_id": arn}).encode()
    with enforced_iam(monkeypatch):
        allowed(
            lambda: lam.invoke(
                FunctionName=aws.function_arn, Qualifier=cv.OPERATOR_ALIAS, Payload=check
            )
        )
        name = aws.function_arn.rsplit(":", 1)[-1]
        allowed(lambda: lam.invoke(FunctionName=f"{name}:{cv.OPERATOR_ALIAS}", Payload=check))
        for call in [
            lambda: lam.invoke(FunctionName=aws.function_arn, Payload=check),
            lambda: lam.invoke(FunctionName=name, Payload=check),
            lambda: lam.invoke(FunctionName=aws.function_arn, Qualifier="$LATEST", Payload=check),
            lambda: lam.invoke(FunctionName=aws.function_arn, Qualifier="other", Payload=check),
            lambda: lam.invoke(FunctionName=account.other_function_arn, Payload=check),
        ]:
            denied(call)


def _with_stages(sm: Any, secret: str) -> None:
    """A rotated secret: AWSCURRENT, AWSPREVIOUS and an AWSPENDING of an open rotation."""
    newer, pending = (json.dumps({"api_key": value}) for value in ("newer", "pending"))
    sm.put_secret_value(SecretId=secret, SecretString=newer)
    sm.put_secret_value(SecretId=secret, SecretString=pending, VersionStages=["AWSPENDING"])


def test_consumer_reads_the_current_key_only(
    account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 21: AWSCURRENT of live secrets; never AWSPREVIOUS, AWSPENDING, a version by id,
    a state document or an inbox (nor DescribeSecret of either)."""
    admin = _admin("secretsmanager")
    _with_stages(admin, account.live)
    stages = admin.describe_secret(SecretId=account.live)["VersionIdsToStages"]
    previous = next(v for v, labels in stages.items() if "AWSPREVIOUS" in labels)
    consumer = principal_with("app", consumer_document(account))
    sm = consumer.client("secretsmanager")
    with enforced_iam(monkeypatch):
        current = sm.get_secret_value(SecretId=account.live, VersionStage="AWSCURRENT")
        assert json.loads(current["SecretString"])["api_key"] == "newer"  # pragma: allowlist secret
        assert sm.get_secret_value(SecretId=account.live)["SecretString"] == current["SecretString"]
        sm.get_secret_value(SecretId=account.other_live, VersionStage="AWSCURRENT")
        sm.describe_secret(SecretId=account.live)  # stages and grace labels: no value
        refused = [
            lambda: sm.get_secret_value(SecretId=account.live, VersionStage="AWSPREVIOUS"),
            lambda: sm.get_secret_value(SecretId=account.live, VersionStage="AWSPENDING"),
            lambda: sm.get_secret_value(SecretId=account.live, VersionId=previous),
            lambda: sm.get_secret_value(
                SecretId=account.live, VersionId=previous, VersionStage="AWSCURRENT"
            ),
            lambda: sm.get_secret_value(SecretId=account.state),
            lambda: sm.get_secret_value(SecretId=account.state, VersionStage="AWSCURRENT"),
            lambda: sm.describe_secret(SecretId=account.state),
            lambda: sm.get_secret_value(SecretId=account.inbox, VersionStage="AWSCURRENT"),
            lambda: sm.describe_secret(SecretId=account.inbox),
            lambda: sm.put_secret_value(SecretId=account.state, SecretString="{}"),
            lambda: sm.get_secret_value(SecretId=account.foreign),
            lambda: sm.get_secret_value(SecretId=account.lookalike, VersionStage="AWSCURRENT"),
            lambda: sm.put_secret_value(SecretId=account.live, SecretString="x"),
            lambda: sm.list_secrets(),
        ]
        for call in refused:
            denied(call)


def test_webhook_receivers_may_also_read_the_previous_signing_key(
    account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one exception: a webhook signing key's AWSPREVIOUS (the old signature is
    accepted during the grace period), picked by the kind tag only Pulumi writes."""
    admin = _admin("secretsmanager")
    hooks = admin.create_secret(
        Name=f"{account.prefix}/hooks",
        KmsKeyId=account.key_arn,
        SecretString='{"signing_key": "old-signing-key"}',
        Tags=[{"Key": cv.TAG_KIND, "Value": "webhook_signing"}],
    )["ARN"]
    _with_stages(admin, hooks)
    _with_stages(admin, account.live)  # a track key: its previous stays out of reach
    consumer = principal_with("app", consumer_document(account))
    sm = consumer.client("secretsmanager")
    with enforced_iam(monkeypatch):
        old = sm.get_secret_value(SecretId=hooks, VersionStage="AWSPREVIOUS")["SecretString"]
        assert json.loads(old) == {"signing_key": "old-signing-key"}
        sm.get_secret_value(SecretId=hooks, VersionStage="AWSCURRENT")
        denied(lambda: sm.get_secret_value(SecretId=hooks, VersionStage="AWSPENDING"))
        denied(lambda: sm.get_secret_value(SecretId=account.live, VersionStage="AWSPREVIOUS"))


# -- a whole rotation under the rotator's own credentials ------------------------------


def _as(principal: Principal, build: Callable[[], Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    """Build something whose boto3 clients must carry `principal`'s credentials."""
    with monkeypatch.context() as patch:
        patch.setattr(boto3, "client", lambda service, **kw: principal.client(service))
        return build()


def test_whole_rotation_runs_under_the_rotator_policy(
    aws: Any, cio: Any, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bootstrap, open, submit, verify, promote, revoke: every call as the generated roles."""
    from datetime import timedelta

    from lambdas.aws_rotation import handler as rotator_module
    from localcloud.aws_harness import PREFIX
    from rotation.state import Phase
    from rotation.stores.aws import AwsSecretsStore

    name = "marketing-track"
    arn = aws.provision(name, "track", "us", workspace="1001")  # as pulumi up would
    account = create_account(PREFIX, function_arn=aws.function_arn, credential="spare")
    account.topic_arn = aws.topic_arn
    rotator = principal_with("rotator", rotator_document(account))
    operator = principal_with("operator", operator_document(account))
    env = {cv.ENV_SNS_TOPIC_ARN: aws.topic_arn, **cio.env()}
    aws.rt = _as(
        rotator,
        lambda: rotator_module.build_runtime(env=env, clock=clock, verifier=aws.rt.engine.verifier),
        monkeypatch,
    )
    aws.rt.engine.policy = aws.policy
    operator_sm, operator_lambda = operator.client("secretsmanager"), operator.client("lambda")

    def submit(credential: Any) -> None:
        """The CLI's hand-over, as the operator role: the inbox, then the rotator through
        its operator alias (which starts the native rotation, or resumes or bootstraps)."""
        aws._remember(credential.to_json())
        AwsSecretsStore(operator_sm).write_submission(arn, credential.to_json().encode())
        handover = {"action": cv.ACTION_SUBMITTED, "secret_id": arn, "actor": "oncall"}
        got = operator_lambda.invoke(
            FunctionName=aws.function_arn,
            Qualifier=cv.OPERATOR_ALIAS,
            Payload=json.dumps(handover),
        )
        assert "FunctionError" not in got, (got["Payload"].read(), aws.runtime.errors)

    def sweep() -> None:
        event = {"action": cv.ACTION_SWEEP, "secret_ids": [arn]}
        rotator_module.handle(event, aws.rt)  # what EventBridge Scheduler's invocation runs

    with enforced_iam(monkeypatch):
        denied(lambda: aws.rt.store.client.list_secrets())  # the rotator really is the rotator
        first = cio.new_track_key("1001")
        submit(first)
        assert aws.rt.store.snapshot(arn).state.phase is Phase.IDLE
        clock.advance(timedelta(days=76))
        sweep()
        assert aws.rt.store.snapshot(arn).state.phase is Phase.AWAITING_KEY
        second = cio.new_track_key("1001")
        submit(second)
        assert aws.rt.store.snapshot(arn).state.phase is Phase.PROMOTED, (
            aws.runtime.rotation_events,
            aws.runtime.errors,
        )
        clock.advance(timedelta(days=2))
        cio.delete_key(first)
        sweep()
        snapshot = aws.rt.store.snapshot(arn)
        assert snapshot.state.phase is Phase.IDLE and snapshot.state.previous_revoked
        # and still no reading of live keys for the operator, even mid-rotation
        denied(lambda: operator_sm.get_secret_value(SecretId=arn))
    assert aws.runtime.errors == []
    assert [e.outcome for e in aws.runtime.rotation_events][-1] == "succeeded"
    assert aws.current_value(name)["api_key"] == second.secret
    assert any("marketing-track" in (n["subject"] or "") for n in aws.notifications())


def test_policies_only_use_condition_operators_the_evaluator_knows() -> None:
    """Guard for this module: an unknown operator would otherwise pass silently."""
    account = Account("cio", "", "", "", "", "", "k", "t", "t2", "g", "f", "g2", b"")
    known = {"StringEquals", "StringLike", "ArnEqualsIfExists", "Bool", "Null"}
    for document in (
        rotator_document(account),
        operator_document(account),
        consumer_document(account),
    ):
        for statement in document["Statement"]:
            assert set(statement.get("Condition", {})) <= known


# -- parliament: AWS's own action, resource and condition database --------------------
#
# parliament (duo-labs) runs offline. Every IAM and KMS policy document the program
# generates (identity, trust, key and topic policies), rendered under Pulumi's mocks
# with every optional part switched on, must have no finding outside this allow-list.

# Known false positives, as (document kind, parliament issue). Keep it short; say why.
ALLOWED: dict[tuple[str, str], str] = {
    # A trust policy (assume_role_policy) has a Principal and never a Resource: the role
    # it is attached to is the resource. parliament lints it as an identity policy.
    ("trust", "MALFORMED"): "trust policies have no Resource",
    # In a KMS key policy `"Resource": "*"` means "this key" and is the only form KMS
    # accepts; every use statement is further bound by kms:ViaService/CallerAccount,
    # aws:SourceAccount or the service principal.
    ("resource:aws:kms/key:Key", "RESOURCE_STAR"): "a key policy's * is the key itself",
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Evaluation]:
    tmp = tmp_path_factory.mktemp("least-privilege")
    yield policy_docs.render(make_source_tree(tmp / "src"), tmp / "bundles")


def _kind(ev: Evaluation, document: policy_docs.Document) -> str:
    if document.kind == "resource":
        return f"resource:{ev.named(document.resource).type}"
    return document.kind


def test_every_generated_policy_document_is_analyzed(rendered: Evaluation) -> None:
    """No resource carries a policy document the analysis would miss."""
    analyzed = {d.resource for d in policy_docs.documents(rendered)}
    for resource in rendered.resources:
        has_policy = any(
            key in resource.inputs for key in ("policy", "assumeRolePolicy", "inlinePolicies")
        )
        if resource.type.startswith("aws:") and has_policy:
            assert resource.name in analyzed, f"{resource.type} is not analyzed"
    kinds = {d.kind for d in policy_docs.documents(rendered)}
    assert kinds == {"identity", "trust", "resource"}
    assert len(analyzed) == 10


def test_parliament_finds_nothing_outside_the_allow_list(rendered: Evaluation) -> None:
    unexpected: list[str] = []
    used: set[tuple[str, str]] = set()
    for document in policy_docs.documents(rendered):
        for finding in policy_docs.analyze(document):
            key = (_kind(rendered, document), finding.issue)
            if key in ALLOWED:
                used.add(key)
            else:
                unexpected.append(
                    f"{document.resource}: {finding.issue} ({finding.severity}) {finding.detail}"
                )
    assert unexpected == []
    assert used == set(ALLOWED), "an allow-list entry no longer matches anything: remove it"


def test_parliament_would_catch_the_over_grants_the_review_found() -> None:
    """The analysis is not vacuous: the grants items 9 removed are findings."""
    wildcard_action = policy_docs.Document(
        "probe",
        "identity",
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":'
        '["kms:GenerateDataKey*"],"Resource":"*"}]}',
    )
    issues = {f.issue for f in policy_docs.analyze(wildcard_action)}
    assert "RESOURCE_STAR" in issues
    unknown = policy_docs.Document(
        "probe",
        "identity",
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":'
        '["secretsmanager:RotateSecrets"],"Resource":'
        '"arn:aws:secretsmanager:us-east-1:123456789012:secret:cio/*"}]}',
    )
    assert {f.issue for f in policy_docs.analyze(unknown)} == {"UNKNOWN_ACTION"}


def test_the_allow_list_stays_short() -> None:
    assert len(ALLOWED) <= 3
    assert all(reason.strip() for reason in ALLOWED.values())
