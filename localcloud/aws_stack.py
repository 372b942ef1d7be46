"""The AWS resources of the Pulumi program, created in moto as the mocks register them.

Each creator takes the inputs the program gave (Pulumi's camelCase wire names) and
makes the real moto call, answering with what AWS answers (ARN, name, id). The
rotation Lambda is bound to the in-process handler, built from exactly the
environment, timeout and memory the program declared. Also here: what AWS fires
by itself (EventBridge Scheduler schedules, Secrets Manager's rotation schedule).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.scheduler.models import scheduler_backends
from moto.secretsmanager.models import secretsmanager_backends
from moto.sns.models import sns_backends

from lambdas.aws_rotation import handler as rotator
from localcloud.aws_runtime import LocalAwsRuntime
from localcloud.customerio import FakeCustomerIO
from localcloud.timers import Due, Stopwatch, is_one_time, schedule_next
from rotation.clock import SimulatedClock
from rotation.verify import Verifier, build_session
from rotation.workqueue import Budget

REGION = "us-east-1"
ACCOUNT = DEFAULT_ACCOUNT_ID

Answer = tuple[str, dict[str, Any]]  # (id, outputs), what the mocks answer the engine


class LocalDeployError(RuntimeError):
    """The program declared something the rotator cannot run with; the message says what."""


class NotHeld(Exception):
    """This resource lies outside the local account (e.g. a principal not in the stack)."""


class LambdaTimeout(RuntimeError):
    """The invocation ran past the timeout the program declared."""


@dataclass
class DeclaredFunction:
    """The rotation Lambda as the program declared it (memory is recorded, not enforced)."""

    name: str
    arn: str
    env: dict[str, str]
    timeout: int
    memory: int


def _tags(tags: Mapping[str, str] | None) -> list[dict[str, str]]:
    return [{"Key": k, "Value": str(v)} for k, v in (tags or {}).items()]


def _plain(value: Any) -> Any:
    """Pulumi secrets reach the mocks as signed envelopes; the cloud gets the value."""
    if isinstance(value, dict) and "value" in value and len(value) == 2:
        return value["value"]
    return value


_SESSION: boto3.session.Session | None = None


def local_client(service: str) -> Any:
    """A client of the local account, from one boto3 session per process: its loader
    parses each service model once, where moto, resetting boto3's default session at every
    mock start, would have every test parse a dozen models again (about 1 s a deploy).
    moto answers clients of any session while a mock is active."""
    global _SESSION
    if _SESSION is None:
        _SESSION = boto3.session.Session(region_name=REGION)
    return _SESSION.client(service)  # type: ignore[call-overload]


@dataclass
class LocalAws:
    """One AWS account and region in moto, with the program's function in-process."""

    clock: SimulatedClock
    cio: FakeCustomerIO
    runtime: LocalAwsRuntime
    function: DeclaredFunction | None = None
    rt: rotator.Runtime | None = None
    schedule_created: dict[str, datetime] = field(default_factory=dict)
    schedule_fired: dict[str, datetime] = field(default_factory=dict)
    rotation_enabled: dict[str, datetime] = field(default_factory=dict)  # secret ARN -> when
    # Lambda's SQS poller, on the simulated clock: a received message is hidden until
    # `hidden[id]` (its receive + the queue's visibility timeout), first received at
    # `received[id]` (the retention period counts from there).
    hidden: dict[str, datetime] = field(default_factory=dict)
    received: dict[str, datetime] = field(default_factory=dict)
    received_handles: dict[str, str] = field(default_factory=dict)
    invocations: int = 0
    longest: float = 0.0  # the longest invocation, in seconds (simulated and real)

    def __post_init__(self) -> None:
        client = local_client

        self.sm = client("secretsmanager")
        self.sns = client("sns")
        self.lam = client("lambda")
        self.iam = client("iam")
        self.kms = client("kms")
        self.logs = client("logs")
        self.ssm = client("ssm")
        self.events = client("events")
        self.cloudwatch = client("cloudwatch")
        self.scheduler = client("scheduler")
        self.sqs = client("sqs")
        self.runtime.on_rotated = self._rotated

    # -- the function ------------------------------------------------------------------

    def bind(self, fn: DeclaredFunction) -> None:
        """Run `fn` in-process: refuse an environment missing what the rotator reads."""
        missing = [v for v in rotator.REQUIRED_ENV if not fn.env.get(v)]
        if missing:
            raise LocalDeployError(
                f"the program gives the Lambda {fn.name} no {', '.join(missing)}, which "
                "lambdas/aws_rotation/handler.py needs (REQUIRED_ENV): set it in "
                "infra/aws_component.py (function_environment)."
            )
        self.function = fn
        self.rt = None  # a new configuration is a cold start
        self.runtime.register(fn.name, self._invoke)

    def runtime_env(self) -> dict[str, str]:
        """The declared environment, plus where the local Customer.io listens."""
        assert self.function is not None, "deploy the stack first"
        # Lambda sets AWS_REGION itself (a reserved variable the program cannot declare).
        return {**self.function.env, "AWS_REGION": REGION, **self.cio.env()}

    def warm(self) -> rotator.Runtime:
        """The warm instance: built at the first invocation, as Lambda's cold start does."""
        if self.rt is None:
            env = self.runtime_env()
            self.rt = rotator.build_runtime(
                env=env,
                clock=self.clock,
                verifier=Verifier(session=build_session(backoff_factor=0.01), env=env),
            )
        return self.rt

    def _invoke(self, event: dict[str, Any], context: Any) -> Any:
        """One invocation with the context's remaining time (the declared timeout, counted
        in real and simulated seconds: a slow Customer.io spends simulated time); past the
        timeout it fails as Lambda's would (in-process code cannot be stopped, so the limit
        is checked when it returns)."""
        fn = self.function
        assert fn is not None
        watch = Stopwatch(self.clock)
        self.invocations += 1
        result = rotator.handle(
            event,
            self.warm(),
            Budget(lambda: fn.timeout - watch.elapsed()),
            invoked_arn=str(getattr(context, "invoked_function_arn", "") or ""),
        )
        took = watch.elapsed()
        self.longest = max(self.longest, took)
        if took > fn.timeout:
            raise LambdaTimeout(f"Task timed out after {fn.timeout}.00 seconds")
        return result

    # -- creators, by Pulumi type -----------------------------------------------------

    def create(self, typ: str, name: str, inputs: dict[str, Any]) -> Answer:
        creator = CREATORS[typ]
        return creator(self, name, inputs)

    def update(self, typ: str, rid: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        updater = UPDATERS.get(typ)
        if updater is not None and old != new:
            updater(self, rid, old, new)

    def secret(self, _: str, i: dict[str, Any]) -> Answer:
        out = self.sm.create_secret(
            Name=i["name"],
            Description=i.get("description", ""),
            KmsKeyId=i.get("kmsKeyId", ""),
            Tags=_tags(i.get("tags")),
        )
        return out["ARN"], {**i, "arn": out["ARN"], "name": i["name"]}

    def secret_tags(self, rid: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        before, after = old.get("tags") or {}, new.get("tags") or {}
        gone = [k for k in before if k not in after]
        if gone:
            self.sm.untag_resource(SecretId=rid, TagKeys=gone)
        if after != before:
            self.sm.tag_resource(SecretId=rid, Tags=_tags(after))

    def secret_rotation(self, _: str, i: dict[str, Any]) -> Answer:
        days = int(i["rotationRules"]["automaticallyAfterDays"])
        self.rotation_enabled[i["secretId"]] = self.clock.now()
        self.sm.rotate_secret(
            SecretId=i["secretId"],
            RotationLambdaARN=i["rotationLambdaArn"],
            RotationRules={"AutomaticallyAfterDays": days},
            RotateImmediately=bool(i.get("rotateImmediately", True)),
        )
        return i["secretId"], dict(i)

    def key(self, _: str, i: dict[str, Any]) -> Answer:
        meta = self.kms.create_key(Description=i.get("description", ""), Policy=i["policy"])
        key_id = meta["KeyMetadata"]["KeyId"]
        if i.get("enableKeyRotation"):
            self.kms.enable_key_rotation(KeyId=key_id)
        return key_id, {**i, "arn": meta["KeyMetadata"]["Arn"], "keyId": key_id}

    def alias(self, _: str, i: dict[str, Any]) -> Answer:
        self.kms.create_alias(AliasName=i["name"], TargetKeyId=i["targetKeyId"])
        arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:{i['name']}"
        return i["name"], {**i, "arn": arn}

    def topic(self, _: str, i: dict[str, Any]) -> Answer:
        attributes = {"KmsMasterKeyId": i["kmsMasterKeyId"]} if i.get("kmsMasterKeyId") else {}
        arn = self.sns.create_topic(Name=i["name"], Attributes=attributes)["TopicArn"]
        return arn, {**i, "arn": arn}

    def subscription(self, _: str, i: dict[str, Any]) -> Answer:
        arn = self.sns.subscribe(
            TopicArn=i["topic"], Protocol=i["protocol"], Endpoint=i["endpoint"]
        )["SubscriptionArn"]
        return arn, {**i, "arn": arn}

    def topic_policy(self, _: str, i: dict[str, Any]) -> Answer:
        self.sns.set_topic_attributes(
            TopicArn=i["arn"], AttributeName="Policy", AttributeValue=i["policy"]
        )
        return i["arn"], dict(i)

    def parameter(self, _: str, i: dict[str, Any]) -> Answer:
        args: dict[str, Any] = {
            "Name": i["name"],
            "Type": i.get("type", "String"),
            "Value": _plain(i["value"]),
            "Description": i.get("description", ""),
        }
        if i.get("keyId"):
            args["KeyId"] = i["keyId"]
        self.ssm.put_parameter(**args)
        arn = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{i['name']}"
        return i["name"], {**i, "arn": arn}

    def log_group(self, _: str, i: dict[str, Any]) -> Answer:
        self.logs.create_log_group(logGroupName=i["name"])
        if i.get("retentionInDays"):
            self.logs.put_retention_policy(
                logGroupName=i["name"], retentionInDays=int(i["retentionInDays"])
            )
        arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{i['name']}"
        return i["name"], {**i, "arn": arn}

    def role(self, _: str, i: dict[str, Any]) -> Answer:
        args: dict[str, Any] = {
            "RoleName": i["name"],
            "AssumeRolePolicyDocument": i["assumeRolePolicy"],
            "Description": i.get("description", ""),
        }
        if i.get("maxSessionDuration"):
            args["MaxSessionDuration"] = int(i["maxSessionDuration"])
        arn = self.iam.create_role(**args)["Role"]["Arn"]
        return i["name"], {**i, "arn": arn}

    def role_policy(self, _: str, i: dict[str, Any]) -> Answer:
        self.iam.put_role_policy(
            RoleName=i["role"], PolicyName=i["name"], PolicyDocument=i["policy"]
        )
        return f"{i['role']}:{i['name']}", dict(i)

    def role_policy_update(self, rid: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        self.role_policy("", new)

    def policy(self, _: str, i: dict[str, Any]) -> Answer:
        arn = self.iam.create_policy(
            PolicyName=i["name"], PolicyDocument=i["policy"], Description=i.get("description", "")
        )["Policy"]["Arn"]
        return arn, {**i, "arn": arn}

    def role_attachment(self, _: str, i: dict[str, Any]) -> Answer:
        try:
            self.iam.attach_role_policy(RoleName=i["role"], PolicyArn=i["policyArn"])
        except self.iam.exceptions.NoSuchEntityException:
            raise NotHeld(f"role {i['role']} is not in the local account") from None
        return f"{i['role']}-{i['policyArn']}", dict(i)

    def user_attachment(self, _: str, i: dict[str, Any]) -> Answer:
        try:
            self.iam.attach_user_policy(UserName=i["user"], PolicyArn=i["policyArn"])
        except self.iam.exceptions.NoSuchEntityException:
            raise NotHeld(f"user {i['user']} is not in the local account") from None
        return f"{i['user']}-{i['policyArn']}", dict(i)

    def lambda_function(self, _: str, i: dict[str, Any]) -> Answer:
        env = {k: str(v) for k, v in ((i.get("environment") or {}).get("variables") or {}).items()}
        code = i.get("code")
        path = getattr(code, "path", None)
        zipped = Path(path).read_bytes() if path else b""
        arn = self.lam.create_function(
            FunctionName=i["name"],
            Runtime=i["runtime"],
            Role=i["role"],
            Handler=i["handler"],
            Code={"ZipFile": zipped},
            Timeout=int(i.get("timeout", 3)),
            MemorySize=int(i.get("memorySize", 128)),
            Environment={"Variables": env},
        )["FunctionArn"]
        self.bind(
            DeclaredFunction(
                name=i["name"],
                arn=arn,
                env=env,
                timeout=int(i.get("timeout", 3)),
                memory=int(i.get("memorySize", 128)),
            )
        )
        return i["name"], {**i, "arn": arn, "invokeArn": arn}

    def lambda_update(self, rid: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        env = {
            k: str(v) for k, v in ((new.get("environment") or {}).get("variables") or {}).items()
        }
        timeout, memory = int(new.get("timeout", 3)), int(new.get("memorySize", 128))
        got = self.lam.update_function_configuration(
            FunctionName=rid, Environment={"Variables": env}, Timeout=timeout, MemorySize=memory
        )
        self.bind(DeclaredFunction(rid, got["FunctionArn"], env, timeout, memory))

    def invoke_config(self, _: str, i: dict[str, Any]) -> Answer:
        on_failure = ((i.get("destinationConfig") or {}).get("onFailure") or {}).get("destination")
        args: dict[str, Any] = {
            "FunctionName": i["functionName"],
            "MaximumRetryAttempts": int(i.get("maximumRetryAttempts", 2)),
            "MaximumEventAgeInSeconds": int(i.get("maximumEventAgeInSeconds", 21600)),
        }
        if on_failure:
            args["DestinationConfig"] = {"OnFailure": {"Destination": on_failure}}
        self.lam.put_function_event_invoke_config(**args)
        return i["functionName"], dict(i)

    def lambda_alias(self, _: str, i: dict[str, Any]) -> Answer:
        """An alias the way Lambda keeps it: invoking it runs the function with the alias's
        ARN as the context's invoked_function_arn (localcloud/aws_runtime.py)."""
        got = self.lam.create_alias(
            FunctionName=i["functionName"],
            Name=i["name"],
            FunctionVersion=i.get("functionVersion") or "$LATEST",
            Description=i.get("description") or "",
        )
        return got["AliasArn"], {**i, "arn": got["AliasArn"], "invokeArn": got["AliasArn"]}

    def permission(self, name: str, i: dict[str, Any]) -> Answer:
        statement = i.get("statementId") or name
        args: dict[str, Any] = {
            "FunctionName": i["function"],
            "StatementId": statement,
            "Action": i["action"],
            "Principal": i["principal"],
        }
        if i.get("sourceAccount"):
            args["SourceAccount"] = i["sourceAccount"]
        if i.get("sourceArn"):
            args["SourceArn"] = i["sourceArn"]
        self.lam.add_permission(**args)
        return statement, {**i, "statementId": statement}

    def _schedule_args(self, i: dict[str, Any]) -> dict[str, Any]:
        target = i["target"]
        t: dict[str, Any] = {"Arn": target["arn"], "RoleArn": target["roleArn"]}
        if target.get("input") is not None:
            t["Input"] = target["input"]
        retry = target.get("retryPolicy")
        if retry:
            t["RetryPolicy"] = {
                "MaximumRetryAttempts": int(retry.get("maximumRetryAttempts", 185)),
                "MaximumEventAgeInSeconds": int(retry.get("maximumEventAgeInSeconds", 86400)),
            }
        window = i.get("flexibleTimeWindow") or {"mode": "OFF"}
        args: dict[str, Any] = {
            "Name": i["name"],
            "GroupName": i.get("groupName") or "default",
            "ScheduleExpression": i["scheduleExpression"],
            "ScheduleExpressionTimezone": i.get("scheduleExpressionTimezone") or "UTC",
            "FlexibleTimeWindow": {"Mode": window.get("mode", "OFF")},
            "Target": t,
            "State": i.get("state") or "ENABLED",
        }
        if i.get("description"):
            args["Description"] = i["description"]
        return args

    def schedule(self, _: str, i: dict[str, Any]) -> Answer:
        args = self._schedule_args(i)
        arn = self.scheduler.create_schedule(**args)["ScheduleArn"]
        return f"{args['GroupName']}/{i['name']}", {**i, "arn": arn}

    def schedule_update(self, rid: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        self.scheduler.update_schedule(**self._schedule_args(new))

    def schedule_group(self, _: str, i: dict[str, Any]) -> Answer:
        arn = self.scheduler.create_schedule_group(Name=i["name"])["ScheduleGroupArn"]
        return i["name"], {**i, "arn": arn}

    def queue(self, name: str, i: dict[str, Any]) -> Answer:
        attributes: dict[str, str] = {}
        for key, attr in (
            ("visibilityTimeoutSeconds", "VisibilityTimeout"),
            ("messageRetentionSeconds", "MessageRetentionPeriod"),
            ("redrivePolicy", "RedrivePolicy"),
        ):
            if i.get(key) is not None:
                value = i[key]
                attributes[attr] = str(int(value)) if isinstance(value, float) else str(value)
        url = self.sqs.create_queue(QueueName=i.get("name") or name, Attributes=attributes)[
            "QueueUrl"
        ]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        return url, {**i, "arn": arn, "url": url, "name": i.get("name") or name}

    def queue_policy(self, _: str, i: dict[str, Any]) -> Answer:
        self.sqs.set_queue_attributes(QueueUrl=i["queueUrl"], Attributes={"Policy": i["policy"]})
        return i["queueUrl"], dict(i)

    def event_source_mapping(self, _: str, i: dict[str, Any]) -> Answer:
        args: dict[str, Any] = {
            "EventSourceArn": i["eventSourceArn"],
            "FunctionName": i["functionName"],
        }
        if i.get("batchSize"):
            args["BatchSize"] = int(i["batchSize"])
        if i.get("functionResponseTypes"):
            args["FunctionResponseTypes"] = list(i["functionResponseTypes"])
        scaling = i.get("scalingConfig") or {}
        if scaling.get("maximumConcurrency"):
            args["ScalingConfig"] = {"MaximumConcurrency": int(scaling["maximumConcurrency"])}
        got = self.lam.create_event_source_mapping(**args)
        return got["UUID"], {**i, "uuid": got["UUID"], "functionArn": got["FunctionArn"]}

    def rule(self, _: str, i: dict[str, Any]) -> Answer:
        args: dict[str, Any] = {"Name": i["name"], "Description": i.get("description", "")}
        if i.get("eventPattern"):
            args["EventPattern"] = i["eventPattern"]
        if i.get("scheduleExpression"):
            args["ScheduleExpression"] = i["scheduleExpression"]
        arn = self.events.put_rule(**args)["RuleArn"]
        return i["name"], {**i, "arn": arn}

    def rule_target(self, name: str, i: dict[str, Any]) -> Answer:
        target_id = i.get("targetId") or name
        self.events.put_targets(Rule=i["rule"], Targets=[{"Id": target_id, "Arn": i["arn"]}])
        return f"{i['rule']}-{target_id}", {**i, "targetId": target_id}

    def alarm(self, _: str, i: dict[str, Any]) -> Answer:
        self.cloudwatch.put_metric_alarm(
            AlarmName=i["name"],
            AlarmDescription=i.get("alarmDescription", ""),
            Namespace=i["namespace"],
            MetricName=i["metricName"],
            Dimensions=[{"Name": k, "Value": v} for k, v in (i.get("dimensions") or {}).items()],
            Statistic=i["statistic"],
            Period=int(i["period"]),
            EvaluationPeriods=int(i["evaluationPeriods"]),
            Threshold=float(i["threshold"]),
            ComparisonOperator=i["comparisonOperator"],
            TreatMissingData=i.get("treatMissingData", "missing"),
            AlarmActions=list(i.get("alarmActions") or []),
        )
        arn = self.cloudwatch.describe_alarms(AlarmNames=[i["name"]])["MetricAlarms"][0]["AlarmArn"]
        return i["name"], {**i, "arn": arn}

    # -- what AWS fires by itself --------------------------------------------------------

    def _rotated(self, secret_arn: str) -> None:
        """A rotation succeeded: Secrets Manager's schedule counts from now."""
        self.rotation_enabled[secret_arn] = self.clock.now()

    def _schedules(self) -> list[Any]:
        backend = scheduler_backends[ACCOUNT][REGION]
        return [s for g in backend.schedule_groups.values() for s in g.schedules.values()]

    def due(self, after: datetime) -> list[Due]:
        """Every timer's next moment after `after`: (when, what, fire)."""
        out: list[Due] = []
        for s in self._schedules():
            created = self.schedule_created.setdefault(s.arn, after)
            # UpdateSchedule replaces every field, State defaulting to ENABLED (Scheduler
            # API reference); moto keeps None then.
            if (s.state or "ENABLED") != "ENABLED":
                continue
            last = self.schedule_fired.get(s.arn)
            when = schedule_next(
                s.schedule_expression,
                max(after, last) if last else after - timedelta(seconds=1),
                created=created,
                timezone=s.schedule_expression_timezone,
                what=f"schedule {s.group_name}/{s.name}",
            )
            if when is not None:
                out.append((when, f"schedule {s.group_name}/{s.name}", self._fire_schedule(s)))
        backend = secretsmanager_backends[ACCOUNT][REGION]
        for secret in dict.values(backend.secrets):
            days = getattr(secret, "auto_rotate_after_days", 0)
            if not getattr(secret, "rotation_enabled", False) or not days:
                continue
            base = self.rotation_enabled.get(secret.arn)
            if base is None:
                continue
            when = base + timedelta(days=int(days))
            out.append((max(when, after), f"rotation {secret.name}", self._fire_rotation(secret)))
        for mapping in self._queue_mappings():
            when = self._next_visible(mapping["EventSourceArn"], after)
            if when is not None:
                queue = mapping["EventSourceArn"].rsplit(":", 1)[-1]
                out.append((when, f"poll {queue}", self._poll(mapping)))
        return out

    # -- Lambda's SQS poller ---------------------------------------------------------------
    #
    # As the Lambda developer guide ("Using Lambda with Amazon SQS") describes it: the
    # poller receives up to BatchSize messages and invokes the function synchronously with
    # them; on success it deletes them, except, with ReportBatchItemFailures, those the
    # function names in `batchItemFailures`; on a function error none. What is not deleted
    # becomes visible again when the queue's visibility timeout (counted from the receive)
    # ends, and is received again; a message older than the retention period is dropped.
    # One batch at a time (in-process: MaximumConcurrency is recorded, not needed).

    # Moto's own visibility runs on real time: a received message stays hidden there (12 h,
    # SQS's maximum) while the simulated timer in `hidden` decides when it is visible again.
    _HIDE = 43200

    def _queue_mappings(self) -> list[dict[str, Any]]:
        mappings = self.lam.list_event_source_mappings().get("EventSourceMappings", [])
        return [
            m for m in mappings if m.get("State") == "Enabled" and ":sqs:" in m["EventSourceArn"]
        ]

    def _queue_url(self, queue_arn: str) -> str:
        return str(self.sqs.get_queue_url(QueueName=queue_arn.rsplit(":", 1)[-1])["QueueUrl"])

    def _queue_attributes(self, url: str) -> dict[str, str]:
        got = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
        return dict(got["Attributes"])

    def _next_visible(self, queue_arn: str, after: datetime) -> datetime | None:
        """When the poller next finds a message: now if any is visible, else the earliest
        end of a visibility timeout on this queue."""
        attributes = self._queue_attributes(self._queue_url(queue_arn))
        if int(attributes.get("ApproximateNumberOfMessages", "0")):
            return after
        hidden = [at for key, at in self.hidden.items() if key.startswith(queue_arn + "/")]
        return max(min(hidden), after) if hidden else None

    def _poll(self, mapping: dict[str, Any]) -> Callable[[], None]:
        def fire() -> None:
            queue_arn = mapping["EventSourceArn"]
            url = self._queue_url(queue_arn)
            now = self.clock.now()
            attributes = self._queue_attributes(url)
            visibility = timedelta(seconds=int(attributes.get("VisibilityTimeout", "30")))
            retention = timedelta(seconds=int(attributes.get("MessageRetentionPeriod", "345600")))
            for key, at in list(self.hidden.items()):
                if key.startswith(queue_arn + "/") and at <= now:
                    del self.hidden[key]
                    receipt = self.received_handles.pop(key)
                    self.sqs.change_message_visibility(
                        QueueUrl=url, ReceiptHandle=receipt, VisibilityTimeout=0
                    )
            got = self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(int(mapping.get("BatchSize") or 10), 10),
                VisibilityTimeout=self._HIDE,
                AttributeNames=["All"],
            ).get("Messages", [])
            batch = []
            for m in got:
                key = f"{queue_arn}/{m['MessageId']}"
                first = self.received.setdefault(key, now)
                if now - first > retention:
                    self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                    self.received.pop(key, None)
                    continue
                batch.append(m)
            if not batch:
                return
            records = [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m.get("Attributes", {}),
                    "messageAttributes": {},
                    "md5OfBody": m.get("MD5OfBody", ""),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": queue_arn,
                    "awsRegion": REGION,
                }
                for m in batch
            ]
            response = self.lam.invoke(
                FunctionName=mapping["FunctionArn"],
                Payload=json.dumps({"Records": records}).encode(),
            )
            body = json.loads(response["Payload"].read() or b"null")
            if response.get("FunctionError"):
                failed = {m["MessageId"] for m in batch}
            elif "ReportBatchItemFailures" in (mapping.get("FunctionResponseTypes") or []):
                items = (
                    (body or {}).get("batchItemFailures") or [] if isinstance(body, dict) else []
                )
                failed = {str(f["itemIdentifier"]) for f in items}
            else:
                failed = set()
            for m in batch:
                key = f"{queue_arn}/{m['MessageId']}"
                if m["MessageId"] in failed:
                    self.hidden[key] = now + visibility
                    self.received_handles[key] = m["ReceiptHandle"]
                else:
                    self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                    self.received.pop(key, None)

        return fire

    def _fire_schedule(self, s: Any) -> Callable[[], None]:
        def fire() -> None:
            self.schedule_fired[s.arn] = self.clock.now()
            target = s.target
            payload = target.get("Input") or "{}"
            arn = str(target["Arn"])
            if arn.startswith("arn:aws:lambda:"):
                self.lam.invoke(FunctionName=arn, InvocationType="Event", Payload=payload.encode())
            elif arn.startswith("arn:aws:sqs:"):
                url = self.sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"]
                self.sqs.send_message(QueueUrl=url, MessageBody=payload)
            else:
                raise LocalDeployError(
                    f"schedule {s.group_name}/{s.name} targets {arn}: the local cloud delivers "
                    "to Lambda functions and SQS queues only."
                )
            if is_one_time(s.schedule_expression) and s.action_after_completion == "DELETE":
                self.scheduler.delete_schedule(Name=s.name, GroupName=s.group_name)

        return fire

    def _fire_rotation(self, secret: Any) -> Callable[[], None]:
        def fire() -> None:
            self.rotation_enabled[secret.arn] = self.clock.now()
            try:
                self.sm.rotate_secret(SecretId=secret.arn)
            except self.sm.exceptions.InvalidRequestException:
                # AWS re-attempts the unfinished rotation on its own instead.
                self.runtime.reattempt_unfinished(secretsmanager_backends[ACCOUNT][REGION])

        return fire

    # -- looking ---------------------------------------------------------------------------

    def email_inboxes(self) -> dict[str, list[dict[str, Any]]]:
        """What each e-mail subscriber of each topic would have received, oldest first."""
        backend = sns_backends[ACCOUNT][REGION]
        out: dict[str, list[dict[str, Any]]] = {}
        for sub in backend.subscriptions.values():
            if sub.protocol not in ("email", "email-json"):
                continue
            topic = backend.topics.get(sub.topic.arn)
            if topic is None:
                continue
            for _, message, subject, _, _ in topic.sent_notifications:
                out.setdefault(sub.endpoint, []).append({"subject": subject, "body": message})
        return out


Creator = Callable[[LocalAws, str, dict[str, Any]], Answer]
Updater = Callable[[LocalAws, str, dict[str, Any], dict[str, Any]], None]

CREATORS: dict[str, Creator] = {
    "aws:secretsmanager/secret:Secret": LocalAws.secret,
    "aws:secretsmanager/secretRotation:SecretRotation": LocalAws.secret_rotation,
    "aws:kms/key:Key": LocalAws.key,
    "aws:kms/alias:Alias": LocalAws.alias,
    "aws:sns/topic:Topic": LocalAws.topic,
    "aws:sns/topicSubscription:TopicSubscription": LocalAws.subscription,
    "aws:sns/topicPolicy:TopicPolicy": LocalAws.topic_policy,
    "aws:ssm/parameter:Parameter": LocalAws.parameter,
    "aws:cloudwatch/logGroup:LogGroup": LocalAws.log_group,
    "aws:cloudwatch/metricAlarm:MetricAlarm": LocalAws.alarm,
    "aws:cloudwatch/eventRule:EventRule": LocalAws.rule,
    "aws:cloudwatch/eventTarget:EventTarget": LocalAws.rule_target,
    "aws:iam/role:Role": LocalAws.role,
    "aws:iam/rolePolicy:RolePolicy": LocalAws.role_policy,
    "aws:iam/policy:Policy": LocalAws.policy,
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": LocalAws.role_attachment,
    "aws:iam/userPolicyAttachment:UserPolicyAttachment": LocalAws.user_attachment,
    "aws:lambda/function:Function": LocalAws.lambda_function,
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": LocalAws.invoke_config,
    "aws:lambda/permission:Permission": LocalAws.permission,
    "aws:lambda/alias:Alias": LocalAws.lambda_alias,
    "aws:lambda/eventSourceMapping:EventSourceMapping": LocalAws.event_source_mapping,
    "aws:scheduler/schedule:Schedule": LocalAws.schedule,
    "aws:scheduler/scheduleGroup:ScheduleGroup": LocalAws.schedule_group,
    "aws:sqs/queue:Queue": LocalAws.queue,
    "aws:sqs/queuePolicy:QueuePolicy": LocalAws.queue_policy,
}

# What `pulumi up` changes in place when a re-deploy gives new inputs (others are kept).
UPDATERS: dict[str, Updater] = {
    "aws:secretsmanager/secret:Secret": LocalAws.secret_tags,
    "aws:iam/rolePolicy:RolePolicy": LocalAws.role_policy_update,
    "aws:lambda/function:Function": LocalAws.lambda_update,
    "aws:scheduler/schedule:Schedule": LocalAws.schedule_update,
}

# Types the local account cannot hold (none today: attachments to principals outside the
# stack are reported per resource, through NotHeld).
NOT_HELD: dict[str, str] = {}
