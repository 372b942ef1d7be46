"""The AWS half: secrets, their key, the rotation Lambda, its schedule, roles and alarms.

No credential ever passes through Pulumi: secrets are created empty (no
SecretVersion resources) and the first value arrives through `cio-rotate submit`
and the same verification as every rotation. The one value Pulumi writes is the
optional chat webhook URL, already a Pulumi config secret, into an SSM SecureString
the rotator reads (never into the function's configuration).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import aws_policies as policies
from infra import naming
from infra.bundle import AWS_HANDLER, Bundle
from infra.config import (
    ConfigError,
    CredentialSpec,
    StackConfig,
    foreign_consumers,
)
from infra.metadata import aws_inbox_tags, aws_live_tags, aws_state_tags
from infra.sweep import AWS_CRON, AWS_INPUT_LIMIT_BYTES, stack_manifest
from rotation import conventions as cv
from rotation.verify import APP_API_RATE

LAMBDA_RUNTIME = "python3.12"
LAMBDA_TIMEOUT_SECONDS = 300
LAMBDA_MEMORY_MB = 256
# The work queue: one credential per message. Lambda's event source mapping takes batches
# of 10 and runs at most WORK_CONCURRENCY of them at once, so the rotator's probes share
# Customer.io's 10 requests/s (each instance limits itself to its share, CIO_PROBE_RATE).
WORK_BATCH = 10
WORK_CONCURRENCY = 2  # the smallest maximum concurrency an SQS event source accepts
# A message is invisible while a batch works on it: six times the timeout (AWS's advice),
# and a failed unit is tried again after that. A day's units expire with the day.
WORK_VISIBILITY_SECONDS = 6 * LAMBDA_TIMEOUT_SECONDS
WORK_RETENTION_SECONDS = 24 * 3600
# Secrets Manager's own failure events (CloudTrail service events) for this stack's secrets.
ROTATION_FAILURE_EVENTS = ("RotationFailed", "RotationAbandoned")


@dataclass(frozen=True)
class AwsRotationArgs:
    config: StackConfig
    bundle: Bundle
    chat_webhook_url: pulumi.Output[str] | None = None  # a Pulumi secret


@dataclass(frozen=True)
class AwsCredentialSecrets:
    live: aws.secretsmanager.Secret
    inbox: aws.secretsmanager.Secret
    state: aws.secretsmanager.Secret
    rotation: aws.secretsmanager.SecretRotation


def function_environment(
    config: StackConfig,
    topic_arn: pulumi.Input[str],
    chat_parameter: str | None,
    stack: str,
    wakeups: dict[str, pulumi.Input[str]] | None = None,
    principal: pulumi.Input[str] | None = None,
) -> dict[str, pulumi.Input[str]]:
    """The rotator's environment: the calendar (Policy.to_env), where to notify, the stack
    it belongs to (every notice names it, and the commands it prints select it), and
    (`wakeups`) the schedule group, queue and role its wake-ups and fan-out use.

    The chat webhook URL is never here: only the name of the SSM SecureString holding
    it, which reveals nothing to whoever may read the function's configuration.
    """
    env: dict[str, pulumi.Input[str]] = {
        **config.schedule.to_env(),
        cv.ENV_SNS_TOPIC_ARN: topic_arn,
        cv.ENV_CLI_NAME: naming.CLI_NAME,
        cv.ENV_STACK: stack,
        cv.ENV_PROBE_RATE: f"{APP_API_RATE / WORK_CONCURRENCY:g}",
        **(wakeups or {}),
    }
    if chat_parameter is not None:
        env[cv.ENV_CHAT_WEBHOOK_PARAMETER] = chat_parameter
    if principal is not None:
        env[cv.ENV_ROTATOR_PRINCIPAL] = principal  # the drain ignores the rotator's own reads
    return env


def rotation_failed_pattern(scope: policies.AwsScope) -> str:
    """EventBridge pattern: Secrets Manager's rotation failures of this stack's secrets."""
    return policies.to_json(
        {
            "source": ["aws.secretsmanager"],
            "detail-type": ["AWS Service Event via CloudTrail"],
            "detail": {
                "eventSource": ["secretsmanager.amazonaws.com"],
                "eventName": list(ROTATION_FAILURE_EVENTS),
                "additionalEventData": {
                    "SecretId": [{"prefix": scope.managed_secrets.removesuffix("*")}]
                },
            },
        }
    )


def _iam_name(arn: str) -> tuple[str, str]:
    """("role" | "user", name) from an IAM ARN; paths are not part of the name."""
    kind, _, path = arn.split(":", 5)[5].partition("/")
    return kind, path.rsplit("/", 1)[-1]


class AwsRotation(pulumi.ComponentResource):
    """Everything the rotation needs in one AWS account and region."""

    def __init__(
        self, name: str, args: AwsRotationArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cio:aws:Rotation", name, None, opts)
        cfg = args.config
        assert cfg.aws is not None, "AwsRotation needs aws settings in the config"
        prefix = cfg.name_prefix
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOutputOptions(parent=self)

        if cfg.aws.consumer_principals:
            _refuse_foreign_consumers(cfg.aws.consumer_principals, self)
        account_id = aws.get_caller_identity_output(opts=invoke).account_id
        region = aws.get_region_output(opts=invoke).region
        partition = aws.get_partition_output(opts=invoke).partition
        stack = pulumi.get_stack()
        scope = pulumi.Output.all(partition, region, account_id).apply(
            lambda a: policies.AwsScope(
                partition=a[0], region=a[1], account_id=a[2], prefix=prefix, stack=stack
            )
        )

        def iam_name(role: str) -> pulumi.Output[str]:
            """IAM is account-global: its names carry the stack and the region."""
            name: pulumi.Output[str] = region.apply(
                lambda r: naming.iam_name(prefix, role, stack, str(r))
            )
            return name

        chat_parameter = (
            naming.aws_chat_parameter_name(prefix) if args.chat_webhook_url is not None else None
        )

        # Keys: one for the secrets (usable only through Secrets Manager), one for the
        # notifications (the topic and the chat webhook's SSM parameter).
        self.secrets_key = self._key(
            f"{name}-secrets-key",
            f"Customer.io credentials under {prefix}/ (Secrets Manager only)",
            f"alias/{prefix}-credentials",
            scope.apply(lambda s: policies.to_json(policies.secrets_key_policy(s))),
            child,
        )
        self.topic_key = self._key(
            f"{name}-topic-key",
            f"{prefix} rotation notifications (SNS topic, chat webhook parameter)",
            f"alias/{prefix}-notifications",
            scope.apply(
                lambda s: policies.to_json(
                    policies.topic_key_policy(
                        s, chat_parameter, topic_arn=s.topic_arn(naming.aws_topic_name(prefix))
                    )
                )
            ),
            child,
        )

        # Notifications: operators subscribe by e-mail; chat tools subscribe to the topic.
        self.topic = aws.sns.Topic(
            f"{name}-notifications",
            name=naming.aws_topic_name(prefix),
            kms_master_key_id=self.topic_key.arn,
            opts=child,
        )
        for i, email in enumerate(cfg.operator_emails):
            aws.sns.TopicSubscription(
                f"{name}-operator-email-{i}",
                topic=self.topic.arn,
                protocol="email",
                endpoint=email,
                opts=child,
            )
        # The chat webhook URL is a bearer credential: an SSM SecureString under the
        # notifications key, read by the rotator at cold start; never in its environment.
        self.chat_parameter: aws.ssm.Parameter | None = None
        if chat_parameter is not None and args.chat_webhook_url is not None:
            self.chat_parameter = aws.ssm.Parameter(
                f"{name}-chat-webhook",
                name=chat_parameter,
                type="SecureString",
                value=_as_secret(args.chat_webhook_url),
                key_id=self.topic_key.arn,
                description="Chat webhook URL for rotation notices (read by the rotator only)",
                opts=child,
            )

        # Wake-ups and the work queue: one one-time schedule per credential, in a group of
        # its own, sent by the scheduler's role to the queue the rotator works.
        self.work_queue = aws.sqs.Queue(
            f"{name}-work",
            name=f"{prefix}-rotation-work",
            visibility_timeout_seconds=WORK_VISIBILITY_SECONDS,
            message_retention_seconds=WORK_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            opts=child,
        )
        self.wakeup_group = aws.scheduler.ScheduleGroup(
            f"{name}-wakeups", name=f"{prefix}-rotation-wakeups", opts=child
        )
        self.scheduler_role = aws.iam.Role(
            f"{name}-scheduler-role",
            name=iam_name("scheduler"),
            description="EventBridge Scheduler: the Customer.io rotator's sweep and wake-ups",
            assume_role_policy=account_id.apply(
                lambda a: policies.to_json(policies.scheduler_trust_policy(a))
            ),
            opts=child,
        )
        wake_env: dict[str, pulumi.Input[str]] = {
            cv.ENV_WAKE_GROUP: self.wakeup_group.name,
            cv.ENV_WAKE_TARGET_ARN: self.work_queue.arn,
            cv.ENV_WAKE_ROLE_ARN: self.scheduler_role.arn,
            cv.ENV_WORK_QUEUE_URL: self.work_queue.url,
        }

        # The rotator: its own log group (with retention), role and function.
        function_name = naming.rotator_function_name(prefix)
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-rotator-logs",
            name=naming.rotator_log_group_name(prefix),
            retention_in_days=cfg.log_retention_days,
            opts=child,
        )
        self.rotator_role = aws.iam.Role(
            f"{name}-rotator-role",
            name=iam_name("rotator"),
            description="Customer.io credential rotator (Lambda execution role)",
            assume_role_policy=policies.to_json(policies.lambda_trust_policy()),
            opts=child,
        )
        self.function = aws.lambda_.Function(
            f"{name}-rotator",
            name=function_name,
            role=self.rotator_role.arn,
            runtime=LAMBDA_RUNTIME,
            handler=AWS_HANDLER,
            code=pulumi.FileArchive(str(args.bundle.path)),
            source_code_hash=args.bundle.sha256_b64,
            timeout=LAMBDA_TIMEOUT_SECONDS,
            memory_size=LAMBDA_MEMORY_MB,
            # No reservation by default: state writes are compare-and-swap, so concurrent
            # invocations are safe, and a reservation fails on accounts whose quota
            # cannot spare it. An operator may still set one as a cost or blast cap.
            reserved_concurrent_executions=cfg.aws.reserved_concurrency,
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables=function_environment(
                    cfg, self.topic.arn, chat_parameter, stack, wake_env, self.rotator_role.arn
                )
            ),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                log_format="Text", log_group=self.log_group.name
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.log_group]),
        )
        self.rotator_policy = aws.iam.RolePolicy(
            f"{name}-rotator-policy",
            name=iam_name("rotator"),
            role=self.rotator_role.id,
            policy=pulumi.Output.all(
                scope,
                self.secrets_key.arn,
                self.topic_key.arn,
                self.topic.arn,
                self.log_group.arn,
                self.function.arn,
                self.wakeup_group.name,
                self.scheduler_role.arn,
                self.work_queue.arn,
            ).apply(
                lambda a: policies.to_json(
                    policies.rotator_policy(
                        a[0],
                        secrets_key_arn=a[1],
                        topic_key_arn=a[2],
                        topic_arn=a[3],
                        log_group_arn=a[4],
                        function_arn=a[5],
                        chat_parameter=chat_parameter,
                        wakeups=policies.WakeUpGrants(a[6], a[7], a[8]),
                    )
                )
            ),
            opts=child,
        )
        # The work queue feeds the rotator: a failed message comes back alone.
        aws.lambda_.EventSourceMapping(
            f"{name}-work-mapping",
            event_source_arn=self.work_queue.arn,
            function_name=self.function.arn,
            batch_size=WORK_BATCH,
            function_response_types=["ReportBatchItemFailures"],
            scaling_config=aws.lambda_.EventSourceMappingScalingConfigArgs(
                maximum_concurrency=WORK_CONCURRENCY
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.rotator_policy]),
        )
        # Failed asynchronous invocations (sweeps, emergencies) reach the operators.
        aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-rotator-async",
            function_name=self.function.name,
            maximum_retry_attempts=2,
            maximum_event_age_in_seconds=6 * 3600,
            destination_config=aws.lambda_.FunctionEventInvokeConfigDestinationConfigArgs(
                on_failure=aws.lambda_.FunctionEventInvokeConfigDestinationConfigOnFailureArgs(
                    destination=self.topic.arn
                )
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.rotator_policy]),
        )
        # Operators invoke this alias only (their grant names its ARN): through it the
        # rotator takes operator actions alone (lambdas/aws_rotation/handler.py).
        self.operator_alias = aws.lambda_.Alias(
            f"{name}-rotator-operator",
            name=cv.OPERATOR_ALIAS,
            description="Operators' door: operator actions only, never rotation steps",
            function_name=self.function.name,
            function_version="$LATEST",
            opts=child,
        )
        # Secrets Manager may invoke the rotator for this stack's secrets only (confused
        # deputy): without source_arn any secret of the account could rotate with it.
        self.permission = aws.lambda_.Permission(
            f"{name}-secretsmanager-invoke",
            action="lambda:InvokeFunction",
            function=self.function.name,
            principal="secretsmanager.amazonaws.com",
            source_account=account_id,
            source_arn=scope.apply(lambda s: s.managed_secrets),
            opts=child,
        )

        # The credentials.
        self.credentials: dict[str, AwsCredentialSecrets] = {}
        for spec in cfg.credentials:
            self.credentials[spec.name] = self._credential(name, spec, cfg)

        self._sweep_schedule(name, cfg, iam_name)
        self._alarms(name, function_name, scope)

        # Operators (assume a role) and consumers (a managed policy).
        self.operator_role = aws.iam.Role(
            f"{name}-operator-role",
            name=iam_name("operator"),
            description="Hands Customer.io keys to the rotator; cannot read live keys",
            assume_role_policy=policies.to_json(
                policies.operator_trust_policy(cfg.aws.operator_principals)
            ),
            max_session_duration=3600,
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-operator-policy",
            name=iam_name("operator"),
            role=self.operator_role.id,
            policy=pulumi.Output.all(
                scope, self.secrets_key.arn, self.function.arn, self.log_group.arn
            ).apply(
                lambda a: policies.to_json(
                    policies.operator_policy(
                        a[0], secrets_key_arn=a[1], function_arn=a[2], log_group_arn=a[3]
                    )
                )
            ),
            opts=child,
        )
        self.consumer_policy = aws.iam.Policy(
            f"{name}-consumer-policy",
            name=iam_name("consumer"),
            description="Read the current Customer.io credentials (live secrets only)",
            policy=pulumi.Output.all(scope, self.secrets_key.arn).apply(
                lambda a: policies.to_json(policies.consumer_policy(a[0], secrets_key_arn=a[1]))
            ),
            opts=child,
        )
        for i, principal in enumerate(cfg.aws.consumer_principals):
            kind, principal_name = _iam_name(principal)
            if kind == "role":
                aws.iam.RolePolicyAttachment(
                    f"{name}-consumer-{i}",
                    role=principal_name,
                    policy_arn=self.consumer_policy.arn,
                    opts=child,
                )
            else:
                aws.iam.UserPolicyAttachment(
                    f"{name}-consumer-{i}",
                    user=principal_name,
                    policy_arn=self.consumer_policy.arn,
                    opts=child,
                )

        self.register_outputs(
            {
                "operator_role_arn": self.operator_role.arn,
                "consumer_policy_arn": self.consumer_policy.arn,
                "topic_arn": self.topic.arn,
                "function_name": self.function.name,
                "secret_arns": {n: c.live.arn for n, c in self.credentials.items()},
            }
        )

    def _alarms(
        self, name: str, function_name: str, scope: pulumi.Output[policies.AwsScope]
    ) -> None:
        """Errors, throttles and Secrets Manager's own rotation failures page the operators."""
        child = pulumi.ResourceOptions(parent=self)
        for metric, what in (("Errors", "failed"), ("Throttles", "was throttled")):
            aws.cloudwatch.MetricAlarm(
                f"{name}-rotator-{metric.lower()}",
                name=f"{function_name}-{metric.lower()}",
                alarm_description=f"The Customer.io rotator {what}; see its log group.",
                namespace="AWS/Lambda",
                metric_name=metric,
                dimensions={"FunctionName": self.function.name},
                statistic="Sum",
                period=300,
                evaluation_periods=1,
                threshold=0,
                comparison_operator="GreaterThanThreshold",
                treat_missing_data="notBreaching",
                alarm_actions=[self.topic.arn],
                opts=child,
            )
        # A rotation Secrets Manager itself marks failed (its step timed out, the function
        # could not be invoked) raises no Lambda error: it is a CloudTrail service event.
        rule = aws.cloudwatch.EventRule(
            f"{name}-rotation-failed",
            name=f"{function_name}-rotation-failed",
            description="Secrets Manager reports a failed rotation of a managed secret",
            event_pattern=scope.apply(rotation_failed_pattern),
            opts=child,
        )
        self.topic_policy = aws.sns.TopicPolicy(
            f"{name}-notifications-policy",
            arn=self.topic.arn,
            policy=pulumi.Output.all(scope, self.topic.arn, rule.arn).apply(
                lambda a: policies.to_json(
                    policies.topic_policy(a[0], topic_arn=a[1], rule_arns=[a[2]])
                )
            ),
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-rotation-failed-notify",
            rule=rule.name,
            arn=self.topic.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.topic_policy]),
        )

    def _key(
        self,
        resource: str,
        description: str,
        alias: str,
        policy: pulumi.Input[str],
        opts: pulumi.ResourceOptions,
    ) -> aws.kms.Key:
        """A customer-managed key with yearly rotation, its policy and an alias."""
        key = aws.kms.Key(
            resource,
            description=description,
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=policy,
            opts=opts,
        )
        aws.kms.Alias(f"{resource}-alias", name=alias, target_key_id=key.key_id, opts=opts)
        return key

    def _credential(
        self, name: str, spec: CredentialSpec, cfg: StackConfig
    ) -> AwsCredentialSecrets:
        """Three secrets: the live key, its submission inbox and its rotation state."""
        assert cfg.aws is not None
        prefix = cfg.name_prefix
        live_name = naming.aws_secret_name(prefix, spec.name)
        # After `pulumi destroy` a secret waits out its recovery window, during which its
        # name cannot be reused; `aws_secret_recovery_days: 0` deletes at once instead.
        recovery = cfg.aws.secret_recovery_days
        # A live credential's secrets are protected: removing it from the config fails
        # `pulumi up` naming the secret, instead of deleting a key applications still read.
        # `retired: true` (set once `cio-rotate retire` reports RETIRED) lifts it.
        child = pulumi.ResourceOptions(parent=self, protect=spec.protected)
        inbox = aws.secretsmanager.Secret(
            f"{name}-{spec.name}-inbox",
            name=naming.aws_inbox_name(prefix, spec.name),
            description=f"Submission inbox of {live_name}: operators add versions, the "
            "rotator verifies and consumes them. Applications never read it.",
            kms_key_id=self.secrets_key.arn,
            recovery_window_in_days=recovery,
            tags=aws_inbox_tags(spec, live_name, pulumi.get_stack()),
            opts=child,
        )
        state = aws.secretsmanager.Secret(
            f"{name}-{spec.name}-state",
            name=naming.aws_state_name(prefix, spec.name),
            description=f"Rotation state of {live_name} (no key material): written only by "
            "the rotator, with compare-and-swap; operators read it for status and history.",
            kms_key_id=self.secrets_key.arn,
            recovery_window_in_days=recovery,
            tags=aws_state_tags(spec, live_name, pulumi.get_stack()),
            opts=child,
        )
        live = aws.secretsmanager.Secret(
            f"{name}-{spec.name}-live",
            name=live_name,
            description=f"Customer.io {spec.kind.value} credential {spec.name!r}; "
            f"bootstrap with `{naming.bootstrap_command(spec.name)}`.",
            kms_key_id=self.secrets_key.arn,
            recovery_window_in_days=recovery,
            # Configuration only, owned by Pulumi: the rotator writes no tags (its state
            # is the state secret), so config changes must reach them: no ignore_changes.
            tags=pulumi.Output.all(inbox.arn, state.arn).apply(
                lambda a: aws_live_tags(spec, a[0], a[1], pulumi.get_stack())
            ),
            opts=child,
        )
        rotation = aws.secretsmanager.SecretRotation(
            f"{name}-{spec.name}-rotation",
            secret_id=live.id,
            rotation_lambda_arn=self.function.arn,
            rotation_rules=aws.secretsmanager.SecretRotationRotationRulesArgs(
                automatically_after_days=cfg.schedule.rotation_days
            ),
            # Enabling rotation must not rotate an empty secret at once; AWS still runs
            # testSecret as a configuration test, which the rotator passes quietly.
            rotate_immediately=False,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[self.permission, self.rotator_policy, state]
            ),
        )
        return AwsCredentialSecrets(live=live, inbox=inbox, state=state, rotation=rotation)

    def _sweep_schedule(
        self, name: str, cfg: StackConfig, iam_name: Callable[[str], pulumi.Output[str]]
    ) -> None:
        """One daily sweep whose input is the manifest (rotation starts each credential's
        unit of work from it); the same role sends the credentials' wake-ups."""
        role_policy = aws.iam.RolePolicy(
            f"{name}-scheduler-policy",
            name=iam_name("scheduler"),
            role=self.scheduler_role.id,
            policy=pulumi.Output.all(self.function.arn, self.work_queue.arn).apply(
                lambda a: policies.to_json(policies.scheduler_invoke_policy(a[0], a[1]))
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        names = [naming.aws_secret_name(cfg.name_prefix, n) for n in self.credentials]
        event = stack_manifest(names, AWS_INPUT_LIMIT_BYTES)
        aws.scheduler.Schedule(
            f"{name}-sweep",
            name=f"{cfg.name_prefix}-rotation-sweep",
            description=f"Daily reconcile of {len(names)} Customer.io credentials",
            schedule_expression=AWS_CRON,
            schedule_expression_timezone="UTC",
            flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
            target=aws.scheduler.ScheduleTargetArgs(
                arn=self.function.arn,
                role_arn=self.scheduler_role.arn,
                input=event,
                retry_policy=aws.scheduler.ScheduleTargetRetryPolicyArgs(
                    maximum_retry_attempts=3, maximum_event_age_in_seconds=3600
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role_policy]),
        )


def _refuse_foreign_consumers(principals: tuple[str, ...], parent: pulumi.Resource) -> None:
    """Consumers are attached by name in the deploying account: one of another account (or
    partition) would hand every live key to a same-named local role. Asks AWS who is
    deploying (a plain invoke, so the error comes before any resource) and raises the
    config error naming each foreign principal.
    """
    opts = pulumi.InvokeOptions(parent=parent)
    account_id = aws.get_caller_identity(opts=opts).account_id
    partition = aws.get_partition(opts=opts).partition
    problems = foreign_consumers(principals, account_id, partition)
    if problems:
        raise ConfigError(problems)


def _as_secret(value: pulumi.Output[str]) -> pulumi.Output[str]:
    """Marks a value secret in state and previews whatever its origin."""
    secret: pulumi.Output[str] = pulumi.Output.secret(value)
    return secret
