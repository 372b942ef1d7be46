"""The AWS half: secrets, their key, the rotation Lambda, its schedule, roles and alarms.

No secret value ever passes through Pulumi: secrets are created empty (no
SecretVersion resources) and the first value arrives through `cio-rotate submit`
and the same verification as every rotation.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import aws_policies as policies
from infra import naming
from infra.bundle import AWS_HANDLER, Bundle
from infra.config import CredentialSpec, StackConfig
from infra.metadata import aws_inbox_tags, aws_live_tags
from infra.sweep import AWS_INPUT_LIMIT_BYTES, plan_chunks, sweep_event
from rotation import conventions as cv

LAMBDA_RUNTIME = "python3.12"
LAMBDA_TIMEOUT_SECONDS = 300
LAMBDA_MEMORY_MB = 256
SECRET_RECOVERY_DAYS = 30  # a deleted live secret can be restored for a month


@dataclass(frozen=True)
class AwsRotationArgs:
    config: StackConfig
    bundle: Bundle
    chat_webhook_url: pulumi.Output[str] | None = None  # a Pulumi secret


@dataclass(frozen=True)
class AwsCredentialSecrets:
    live: aws.secretsmanager.Secret
    inbox: aws.secretsmanager.Secret
    rotation: aws.secretsmanager.SecretRotation


def function_environment(
    config: StackConfig, topic_arn: pulumi.Input[str], chat_webhook_url: pulumi.Output[str] | None
) -> dict[str, pulumi.Input[str]]:
    """The rotator's environment: the calendar and where to notify (names from conventions)."""
    s = config.schedule
    env: dict[str, pulumi.Input[str]] = {
        cv.ENV_SNS_TOPIC_ARN: topic_arn,
        cv.ENV_ROTATION_DAYS: str(s.rotation_days),
        cv.ENV_LEAD_DAYS: str(s.lead_days),
        cv.ENV_ESCALATE_DAYS: str(s.escalate_days),
        cv.ENV_REMINDER_DAYS: str(s.reminder_days),
        cv.ENV_GRACE_HOURS: str(s.grace_hours),
        cv.ENV_EMERGENCY_GRACE_MINUTES: str(s.emergency_grace_minutes),
        cv.ENV_EMERGENCY_DEADLINE_HOURS: str(s.emergency_deadline_hours),
        cv.ENV_CLI_NAME: naming.CLI_NAME,
    }
    if chat_webhook_url is not None:
        env[cv.ENV_CHAT_WEBHOOK_URL] = pulumi.Output.secret(chat_webhook_url)
    return env


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

        account_id = aws.get_caller_identity_output(opts=invoke).account_id
        region = aws.get_region_output(opts=invoke).region
        partition = aws.get_partition_output(opts=invoke).partition
        scope = pulumi.Output.all(partition, region, account_id).apply(
            lambda a: policies.AwsScope(partition=a[0], region=a[1], account_id=a[2], prefix=prefix)
        )

        # Keys: one for the secrets (usable only through Secrets Manager), one for the topic.
        self.secrets_key = self._key(
            f"{name}-secrets-key",
            f"Customer.io credentials under {prefix}/ (Secrets Manager only)",
            f"alias/{prefix}-credentials",
            scope.apply(lambda s: policies.to_json(policies.secrets_key_policy(s))),
            child,
        )
        self.topic_key = self._key(
            f"{name}-topic-key",
            f"{prefix} rotation notifications topic",
            f"alias/{prefix}-notifications",
            scope.apply(lambda s: policies.to_json(policies.topic_key_policy(s))),
            child,
        )

        # Notifications: operators subscribe by e-mail; chat tools subscribe to the topic.
        self.topic = aws.sns.Topic(
            f"{name}-notifications",
            name=f"{prefix}-rotation-notifications",
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
            # The rotator is the only writer of its state tags and checks them before it
            # writes them (tags have no compare-and-swap). Serialising every invocation
            # (Secrets Manager steps, sweeps, emergencies) is what makes that
            # check-then-write safe. Throttled asynchronous events are retried by Lambda.
            reserved_concurrent_executions=1,
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables=function_environment(cfg, self.topic.arn, args.chat_webhook_url)
            ),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                log_format="Text", log_group=self.log_group.name
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.log_group]),
        )
        self.rotator_policy = aws.iam.RolePolicy(
            f"{name}-rotator-policy",
            role=self.rotator_role.id,
            policy=pulumi.Output.all(
                scope,
                self.secrets_key.arn,
                self.topic_key.arn,
                self.topic.arn,
                self.log_group.arn,
                self.function.arn,
            ).apply(
                lambda a: policies.to_json(
                    policies.rotator_policy(
                        a[0],
                        secrets_key_arn=a[1],
                        topic_key_arn=a[2],
                        topic_arn=a[3],
                        log_group_arn=a[4],
                        function_arn=a[5],
                    )
                )
            ),
            opts=child,
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
        # Secrets Manager may invoke the rotator, for secrets of this account only.
        self.permission = aws.lambda_.Permission(
            f"{name}-secretsmanager-invoke",
            action="lambda:InvokeFunction",
            function=self.function.name,
            principal="secretsmanager.amazonaws.com",
            source_account=account_id,
            opts=child,
        )

        # The credentials.
        self.credentials: dict[str, AwsCredentialSecrets] = {}
        for spec in cfg.credentials:
            self.credentials[spec.name] = self._credential(name, spec, cfg)

        self._sweep_schedules(name, cfg, account_id)

        aws.cloudwatch.MetricAlarm(
            f"{name}-rotator-errors",
            name=f"{function_name}-errors",
            alarm_description="The Customer.io rotator failed; see its log group.",
            namespace="AWS/Lambda",
            metric_name="Errors",
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

        # Operators (assume a role) and consumers (a managed policy).
        self.operator_role = aws.iam.Role(
            f"{name}-operator-role",
            name=f"{prefix}-rotation-operator",
            description="Hands Customer.io keys to the rotator; cannot read live keys",
            assume_role_policy=policies.to_json(
                policies.operator_trust_policy(cfg.aws.operator_principals)
            ),
            max_session_duration=3600,
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-operator-policy",
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
            name=f"{prefix}-credentials-consumer",
            description="Read the current Customer.io credentials (managed secrets only)",
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
        prefix = cfg.name_prefix
        live_name = naming.aws_secret_name(prefix, spec.name)
        inbox = aws.secretsmanager.Secret(
            f"{name}-{spec.name}-inbox",
            name=naming.aws_inbox_name(prefix, spec.name),
            description=f"Submission inbox of {live_name}: operators add versions, the "
            "rotator verifies and consumes them. Applications never read it.",
            kms_key_id=self.secrets_key.arn,
            recovery_window_in_days=7,
            tags=aws_inbox_tags(spec, live_name),
            opts=pulumi.ResourceOptions(parent=self),
        )
        live = aws.secretsmanager.Secret(
            f"{name}-{spec.name}-live",
            name=live_name,
            description=f"Customer.io {spec.kind.value} credential {spec.name!r}; "
            f"bootstrap with `{naming.bootstrap_command(spec.name)}`.",
            kms_key_id=self.secrets_key.arn,
            recovery_window_in_days=SECRET_RECOVERY_DAYS,
            tags=inbox.arn.apply(lambda arn: aws_live_tags(spec, arn)),
            # The rotator records its state in `cio-state:*` tags at run time. After a
            # refresh those tags are in state and a plain `pulumi up` would delete them,
            # losing an open rotation; so Pulumi sets tags at creation and then leaves
            # them to the rotator (tagsAll is derived from tags, so it follows).
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["tags"]),
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
                parent=self, depends_on=[self.permission, self.rotator_policy]
            ),
        )
        return AwsCredentialSecrets(live=live, inbox=inbox, rotation=rotation)

    def _sweep_schedules(self, name: str, cfg: StackConfig, account_id: pulumi.Output[str]) -> None:
        """Daily sweeps over explicit secret lists (so no ListSecrets), staggered chunks."""
        role = aws.iam.Role(
            f"{name}-scheduler-role",
            description="EventBridge Scheduler: daily sweep of the Customer.io rotator",
            assume_role_policy=account_id.apply(
                lambda a: policies.to_json(policies.scheduler_trust_policy(a))
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        role_policy = aws.iam.RolePolicy(
            f"{name}-scheduler-policy",
            role=role.id,
            policy=self.function.arn.apply(
                lambda arn: policies.to_json(policies.scheduler_invoke_policy(arn))
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        by_secret_name = {
            naming.aws_secret_name(cfg.name_prefix, n): c.live.arn
            for n, c in self.credentials.items()
        }
        for chunk in plan_chunks(list(by_secret_name)):
            event = pulumi.Output.all(*[by_secret_name[s] for s in chunk.credentials]).apply(
                _checked_sweep_event
            )
            aws.scheduler.Schedule(
                f"{name}-sweep-{chunk.index:02d}",
                name=f"{cfg.name_prefix}-rotation-sweep-{chunk.index:02d}",
                description=f"Daily reconcile of {len(chunk.credentials)} Customer.io credentials",
                schedule_expression=chunk.aws_cron,
                schedule_expression_timezone="UTC",
                flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
                target=aws.scheduler.ScheduleTargetArgs(
                    arn=self.function.arn,
                    role_arn=role.arn,
                    input=event,
                    retry_policy=aws.scheduler.ScheduleTargetRetryPolicyArgs(
                        maximum_retry_attempts=3, maximum_event_age_in_seconds=3600
                    ),
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[role_policy]),
            )


def _checked_sweep_event(arns: list[str]) -> str:
    event = sweep_event(arns)
    if len(event.encode()) > AWS_INPUT_LIMIT_BYTES:  # unreachable with plan_chunks' bound
        raise ValueError("a sweep schedule's input exceeds EventBridge Scheduler's 256 KB")
    return event
