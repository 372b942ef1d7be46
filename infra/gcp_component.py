"""The GCP half: secrets with rotation topics, the Cloud Function, its trigger, sweep and alerts.

Secret Manager never rotates anything: at `next_rotation_time` it publishes
SECRET_ROTATE to the secret's topic, and every new inbox version publishes
SECRET_VERSION_ADD to the same topic; the function reacts to both. No credential
passes through Pulumi (no SecretVersion of a managed secret); the one version it
writes is the optional chat webhook URL's, already a Pulumi config secret, mounted
into the function rather than written into its configuration.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pulumi
import pulumi_gcp as gcp
import pulumiverse_time as time

from infra import gcp_iam, naming
from infra.bundle import GCP_ENTRY_POINT, Bundle
from infra.config import CredentialSpec, StackConfig
from infra.metadata import (
    gcp_inbox_annotations,
    gcp_inbox_labels,
    gcp_live_annotations,
    gcp_live_labels,
)
from infra.sweep import GCP_CRON, GCP_JOB_LIMIT_BYTES, stack_manifest
from rotation import conventions as cv
from rotation.metadata import gcp_config_annotations
from rotation.notify_gcp import NOTICE_FIELD, notice_policy
from rotation.stores.gcp_quota import ROTATOR_READS_PER_SECOND
from rotation.verify import APP_API_RATE

FUNCTION_RUNTIME = "python312"
FUNCTION_TIMEOUT_SECONDS = 540  # the maximum for event-driven functions
PUBSUB_PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"
# Cloud Run functions allow 32 KiB of environment in total; the managed-secrets list
# (a fallback: every sweep message names its secrets) is only set while it fits here.
MANAGED_SECRETS_ENV_BUDGET = 16 * 1024
REQUIRED_APIS = (
    "iam.googleapis.com",  # service accounts and the custom role
    "cloudresourcemanager.googleapis.com",  # the build account's project-level log grant
    "storage.googleapis.com",  # the source bucket (on by default, unless an org turned it off)
    "secretmanager.googleapis.com",
    "pubsub.googleapis.com",
    "cloudfunctions.googleapis.com",
    "run.googleapis.com",
    "eventarc.googleapis.com",
    "cloudbuild.googleapis.com",
    "artifactregistry.googleapis.com",
    "cloudscheduler.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
)


@dataclass(frozen=True)
class GcpRotationArgs:
    config: StackConfig
    bundle: Bundle
    now: datetime  # when the first SECRET_ROTATE should be computed from
    chat_webhook_url: pulumi.Output[str] | None = None  # a Pulumi secret


@dataclass(frozen=True)
class BuildIdentity:
    """The function's own build service account, its image repository and its grants."""

    account: gcp.serviceaccount.Account
    repository: gcp.artifactregistry.Repository
    grants: list[pulumi.Resource]
    ready: pulumi.Resource  # the wait after the grants: what the build depends on

    @property
    def service_account(self) -> pulumi.Output[str]:
        """The form build_config.service_account takes: projects/P/serviceAccounts/EMAIL."""
        return self.account.name


@dataclass(frozen=True)
class GcpCredentialSecrets:
    live: gcp.secretmanager.Secret
    inbox: gcp.secretmanager.Secret
    latest_version: str  # what applications read


def managed_secrets_env(names: list[str]) -> str | None:
    """ENV_MANAGED_SECRETS's value, or None when it would crowd the 32 KiB env limit."""
    value = ",".join(names)
    return value if len(value.encode()) <= MANAGED_SECRETS_ENV_BUDGET else None


def rotation_time(now: datetime, rotation_days: int, lead_days: int) -> str:
    """First SECRET_ROTATE: when the rotation should open. The function moves it later."""
    first = now.astimezone(UTC) + timedelta(days=rotation_days - lead_days)
    return first.strftime("%Y-%m-%dT%H:%M:%SZ")


class GcpRotation(pulumi.ComponentResource):
    """Everything the rotation needs in one GCP project and region."""

    def __init__(
        self, name: str, args: GcpRotationArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cio:gcp:Rotation", name, None, opts)
        cfg = args.config
        assert cfg.gcp is not None, "GcpRotation needs gcp settings in the config"
        gc = cfg.gcp
        prefix = cfg.name_prefix
        child = pulumi.ResourceOptions(parent=self)

        apis = [
            gcp.projects.Service(
                f"{name}-api-{api.split('.')[0]}",
                project=gc.project,
                service=api,
                disable_on_destroy=False,  # other workloads may use the same APIs
                opts=child,
            )
            for api in REQUIRED_APIS
        ]
        after_apis = pulumi.ResourceOptions(parent=self, depends_on=apis)
        # Every resource waits for the APIs: on a fresh project, enabling them races
        # the first calls otherwise (each resource's needs are checked in the tests).
        self._after_apis = after_apis

        # Topics. Secret Manager's service agent must be able to publish before any
        # secret names the topic, or secret creation fails.
        self.rotation_topic = gcp.pubsub.Topic(
            f"{name}-rotation-events",
            project=gc.project,
            name=f"{prefix}-rotation-events",
            opts=after_apis,
        )
        agent = gcp.projects.ServiceIdentity(
            f"{name}-secretmanager-agent",
            project=gc.project,
            service="secretmanager.googleapis.com",
            opts=after_apis,
        )
        agent_can_publish = gcp.pubsub.TopicIAMMember(
            f"{name}-secretmanager-agent-publishes",
            project=gc.project,
            topic=self.rotation_topic.name,
            role=gcp_iam.PUBSUB_PUBLISHER,
            member=agent.email.apply(gcp_iam.service_agent_member),
            opts=child,
        )
        # A secret naming the topic is refused until the agent's grant has propagated.
        agent_can_publish_ready = self._propagated(
            f"{name}-secretmanager-agent-publishes", [agent_can_publish]
        )
        self.notifications_topic = gcp.pubsub.Topic(
            f"{name}-notifications",
            project=gc.project,
            name=f"{prefix}-rotation-notifications",
            opts=after_apis,
        )

        # Identities: the function runs as one account, its trigger invokes as another.
        self.runtime_account = gcp.serviceaccount.Account(
            f"{name}-rotator-sa",
            project=gc.project,
            account_id=f"{prefix}-rotator",
            display_name="Customer.io credential rotator (Cloud Function runtime)",
            opts=after_apis,
        )
        self.trigger_account = gcp.serviceaccount.Account(
            f"{name}-trigger-sa",
            project=gc.project,
            account_id=f"{prefix}-trigger",
            display_name="Customer.io rotator trigger (invokes the function only)",
            opts=after_apis,
        )
        self.custom_role = gcp.projects.IAMCustomRole(
            f"{name}-rotator-role",
            project=gc.project,
            role_id=gcp_iam.custom_role_id(prefix),
            title="Customer.io credential rotator",
            description="Bound on each managed secret only, never on the project.",
            permissions=list(gcp_iam.ROTATOR_PERMISSIONS),
            opts=after_apis,
        )
        # The daily sweep publishes one message per credential to its own topic.
        gcp.pubsub.TopicIAMMember(
            f"{name}-rotator-fans-out",
            project=gc.project,
            topic=self.rotation_topic.name,
            role=gcp_iam.PUBSUB_PUBLISHER,
            member=self.runtime_account.member,
            opts=child,
        )
        gcp.pubsub.TopicIAMMember(
            f"{name}-rotator-notifies",
            project=gc.project,
            topic=self.notifications_topic.name,
            role=gcp_iam.PUBSUB_PUBLISHER,
            member=self.runtime_account.member,
            opts=child,
        )
        # Operators trigger emergencies and resumes by publishing to the rotation topic;
        # the function re-reads everything from Secret Manager, so a message is a nudge.
        for i, member in enumerate(gc.operator_members):
            gcp.pubsub.TopicIAMMember(
                f"{name}-operator-{i}-publishes",
                project=gc.project,
                topic=self.rotation_topic.name,
                role=gcp_iam.PUBSUB_PUBLISHER,
                member=member,
                opts=child,
            )

        self._operators_list_secrets(name, gc.project, prefix, gc.operator_members, after_apis)
        self._drain(name, gc.project, prefix, gc.operator_members, gc.consumer_members)

        self.credentials: dict[str, GcpCredentialSecrets] = {}
        grants = gcp_iam.people_grants(gc.operator_members, gc.consumer_members)
        for spec in cfg.credentials:
            self.credentials[spec.name] = self._credential(
                name, spec, args, agent_can_publish_ready, grants
            )

        self.function = self._function(name, args, apis)
        self._sweep_jobs(name, cfg)
        self._alerts(name, cfg)

        self.register_outputs(
            {
                "rotation_topic": self.rotation_topic.id,
                "notifications_topic": self.notifications_topic.id,
                "function_name": self.function.name,
                "latest_versions": {n: c.latest_version for n, c in self.credentials.items()},
            }
        )

    def _drain(
        self,
        name: str,
        project: str,
        prefix: str,
        operators: Sequence[str],
        consumers: Sequence[str],
    ) -> None:
        """The drain's evidence (gcp_iam: USAGE_WRITER_PERMISSIONS / DRAIN_READER_PERMISSIONS):
        consumers write key-usage points, the rotator and operators read them and the Data
        Access log of the secrets' reads, which this turns on for Secret Manager."""
        child = pulumi.ResourceOptions(parent=self)
        writer_id, reader_id = gcp_iam.drain_role_ids(prefix)
        writer = gcp.projects.IAMCustomRole(
            f"{name}-usage-writer-role",
            project=project,
            role_id=writer_id,
            title="Customer.io key usage reporter",
            description="Applications report which Customer.io key they use (one permission).",
            permissions=list(gcp_iam.USAGE_WRITER_PERMISSIONS),
            opts=self._after_apis,
        )
        reader = gcp.projects.IAMCustomRole(
            f"{name}-drain-reader-role",
            project=project,
            role_id=reader_id,
            title="Customer.io key drain reader",
            description="Reads key-usage points and the Data Access log of secret reads.",
            permissions=list(gcp_iam.DRAIN_READER_PERMISSIONS),
            opts=self._after_apis,
        )
        members: list[tuple[str, pulumi.Input[str], gcp.projects.IAMCustomRole]] = [
            ("rotator-reads-drain", self.runtime_account.member, reader),
            *((f"operator-{i}-reads-drain", m, reader) for i, m in enumerate(operators)),
            *((f"app-{i}-reports-usage", m, writer) for i, m in enumerate(consumers)),
        ]
        for label, member, role in members:
            gcp.projects.IAMMember(
                f"{name}-{label}", project=project, role=role.name, member=member, opts=child
            )
        gcp.projects.IAMAuditConfig(
            f"{name}-secret-reads-audited",
            project=project,
            service=gcp_iam.AUDITED_SERVICE,
            audit_log_configs=[
                gcp.projects.IAMAuditConfigAuditLogConfigArgs(log_type=gcp_iam.AUDITED_LOG_TYPE)
            ],
            opts=self._after_apis,
        )

    def _credential(
        self,
        name: str,
        spec: CredentialSpec,
        args: GcpRotationArgs,
        publisher_ready: pulumi.Resource,
        grants: list[gcp_iam.SecretGrant],
    ) -> GcpCredentialSecrets:
        cfg = args.config
        assert cfg.gcp is not None
        project = cfg.gcp.project
        live_id = naming.gcp_secret_id(cfg.name_prefix, spec.name)
        inbox_id = naming.gcp_inbox_id(cfg.name_prefix, spec.name)
        topics = [gcp.secretmanager.SecretTopicArgs(name=self.rotation_topic.id)]
        # A live credential's secrets are protected: removing it from the config fails
        # `pulumi up` naming the secret, instead of deleting a key applications still read.
        # `retired: true` (set once `cio-rotate retire` reports RETIRED) lifts it.
        after_agent = pulumi.ResourceOptions(
            parent=self, depends_on=[publisher_ready], protect=spec.protected
        )
        inbox = gcp.secretmanager.Secret(
            f"{name}-{spec.name}-inbox",
            project=project,
            secret_id=inbox_id,
            replication=gcp.secretmanager.SecretReplicationArgs(
                auto=gcp.secretmanager.SecretReplicationAutoArgs()
            ),
            # SECRET_VERSION_ADD on the inbox is how a submission reaches the function.
            topics=topics,
            labels=gcp_inbox_labels(spec, pulumi.get_stack()),
            # The webhook endpoint (a URL: no label can hold it) lives here, not on the live
            # secret: the rotator never writes the inbox's metadata, so Pulumi owns these
            # annotations outright and a config change reaches the rotator on `pulumi up`.
            annotations={
                **gcp_inbox_annotations(naming.gcp_secret_name(project, live_id)),
                **gcp_config_annotations(spec.webhook_endpoint or ""),
            },
            opts=after_agent,
        )
        live = gcp.secretmanager.Secret(
            f"{name}-{spec.name}-live",
            project=project,
            secret_id=live_id,
            replication=gcp.secretmanager.SecretReplicationArgs(
                auto=gcp.secretmanager.SecretReplicationAutoArgs()
            ),
            rotation=gcp.secretmanager.SecretRotationArgs(
                rotation_period=f"{cfg.schedule.rotation_period_seconds}s",
                next_rotation_time=rotation_time(
                    args.now, cfg.schedule.rotation_days, cfg.schedule.lead_days
                ),
            ),
            topics=topics,
            labels=gcp_live_labels(spec, pulumi.get_stack()),
            annotations=gcp_live_annotations(naming.gcp_secret_name(project, inbox_id)),
            # The function moves nextRotationTime after each promotion, keeps its state
            # in `cio-state-*` annotations and points the `current`/`previous` aliases
            # at versions; Pulumi sets these once and must never undo them.
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[publisher_ready],
                ignore_changes=["rotation.nextRotationTime", "annotations", "versionAliases"],
                protect=spec.protected,
            ),
        )
        secrets = {gcp_iam.Target.LIVE: live, gcp_iam.Target.INBOX: inbox}
        for target, secret in secrets.items():
            gcp.secretmanager.SecretIamMember(
                f"{name}-{spec.name}-{target.value}-rotator",
                project=project,
                secret_id=secret.secret_id,
                role=self.custom_role.name,
                member=self.runtime_account.member,
                opts=pulumi.ResourceOptions(parent=self),
            )
        for grant in grants:
            gcp.secretmanager.SecretIamMember(
                f"{name}-{spec.name}-{grant.target.value}-{grant.label}",
                project=project,
                secret_id=secrets[grant.target].secret_id,
                role=grant.role,
                member=grant.member,
                opts=pulumi.ResourceOptions(parent=self),
            )
        return GcpCredentialSecrets(
            live=live, inbox=inbox, latest_version=naming.gcp_latest_version(project, live_id)
        )

    def _function(
        self, name: str, args: GcpRotationArgs, apis: list[gcp.projects.Service]
    ) -> gcp.cloudfunctionsv2.Function:
        cfg = args.config
        assert cfg.gcp is not None
        gc = cfg.gcp
        bucket = gcp.storage.Bucket(
            f"{name}-source",
            project=gc.project,
            name=f"{gc.project}-{cfg.name_prefix}-rotator-src",
            location=gc.region.upper(),
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            force_destroy=True,  # holds only build inputs
            opts=pulumi.ResourceOptions(parent=self, depends_on=apis),
        )
        # A gen2 function does not redeploy when an object changes under the same
        # name: the object is named by content hash, so new code is a new name.
        source = gcp.storage.BucketObject(
            f"{name}-source-object",
            bucket=bucket.name,
            name=f"rotator-{args.bundle.sha256[:20]}.zip",
            source=pulumi.FileAsset(str(args.bundle.path)),
            opts=pulumi.ResourceOptions(parent=self),
        )
        env: dict[str, pulumi.Input[str]] = {
            **cfg.schedule.to_env(),
            cv.ENV_PUBSUB_TOPIC: self.notifications_topic.id,
            "GOOGLE_CLOUD_PROJECT": gc.project,
            cv.ENV_CLI_NAME: naming.CLI_NAME,
            cv.ENV_STACK: pulumi.get_stack(),
            # The sweep's fan-out (one message per credential) and each event's deadline.
            cv.ENV_ROTATION_TOPIC: self.rotation_topic.id,
            cv.ENV_FUNCTION_TIMEOUT: str(FUNCTION_TIMEOUT_SECONDS),
            # Each instance's share of Customer.io's 10 requests/s (one request at a time
            # per instance, at most max_instances of them).
            cv.ENV_PROBE_RATE: f"{APP_API_RATE / gc.max_instances:g}",
            # And of Secret Manager's 600 metadata reads a minute per project (the rest
            # is left to operators: rotation/stores/gcp_quota.py).
            cv.ENV_GCP_READ_RATE: f"{ROTATOR_READS_PER_SECOND / gc.max_instances:g}",
            # The drain ignores the function's own reads of the secrets (Data Access log).
            cv.ENV_ROTATOR_PRINCIPAL: self.runtime_account.email,
        }
        managed = managed_secrets_env(
            [naming.gcp_secret_name(gc.project, naming.gcp_secret_id(cfg.name_prefix, c.name))
             for c in cfg.credentials]
        )  # fmt: skip
        if managed is not None:
            env[cv.ENV_MANAGED_SECRETS] = managed
        secret_env, secret_env_ready = self._chat_webhook(name, args)
        builder = self._build_identity(name, cfg, bucket)
        eventarc_ready = self._eventarc_agent(name, cfg)
        function = gcp.cloudfunctionsv2.Function(
            f"{name}-rotator",
            project=gc.project,
            location=gc.region,
            name=naming.rotator_function_name(cfg.name_prefix),
            description="Customer.io credential rotator",
            build_config=gcp.cloudfunctionsv2.FunctionBuildConfigArgs(
                runtime=FUNCTION_RUNTIME,
                entry_point=GCP_ENTRY_POINT,
                # Its own build identity: organisations that stop automatic grants to
                # default service accounts leave the default one unable to build.
                service_account=builder.service_account,
                docker_repository=builder.repository.id,
                source=gcp.cloudfunctionsv2.FunctionBuildConfigSourceArgs(
                    storage_source=gcp.cloudfunctionsv2.FunctionBuildConfigSourceStorageSourceArgs(
                        bucket=bucket.name, object=source.name
                    )
                ),
            ),
            service_config=gcp.cloudfunctionsv2.FunctionServiceConfigArgs(
                # A cost cap, not a correctness device: every state write is an etag
                # compare-and-swap, so concurrent instances are safe. One request per
                # instance keeps each invocation's memory and logs its own.
                max_instance_count=gc.max_instances,
                max_instance_request_concurrency=1,
                min_instance_count=0,
                available_memory="256M",
                timeout_seconds=FUNCTION_TIMEOUT_SECONDS,
                service_account_email=self.runtime_account.email,
                environment_variables=env,
                secret_environment_variables=secret_env,
                ingress_settings="ALLOW_INTERNAL_ONLY",
                all_traffic_on_latest_revision=True,
            ),
            event_trigger=gcp.cloudfunctionsv2.FunctionEventTriggerArgs(
                trigger_region=gc.region,
                event_type=PUBSUB_PUBLISHED,
                pubsub_topic=self.rotation_topic.id,
                retry_policy="RETRY_POLICY_RETRY",
                service_account_email=self.trigger_account.email,
            ),
            # Every grant the build, the trigger and the revision rely on, propagated.
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[*apis, builder.ready, eventarc_ready, *secret_env_ready],
            ),
        )
        # The trigger's identity may invoke this function's service and nothing else.
        gcp.cloudrunv2.ServiceIamMember(
            f"{name}-trigger-invokes",
            project=gc.project,
            location=gc.region,
            name=function.name,
            role=gcp_iam.RUN_INVOKER,
            member=self.trigger_account.member,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return function

    def _sweep_jobs(self, name: str, cfg: StackConfig) -> None:
        """One daily job whose message is the manifest, so the function needs no
        secrets.list; the function publishes one message per credential from it."""
        assert cfg.gcp is not None
        gc = cfg.gcp
        ids = [
            naming.gcp_secret_name(gc.project, naming.gcp_secret_id(cfg.name_prefix, spec.name))
            for spec in cfg.credentials
        ]
        event = stack_manifest(ids, GCP_JOB_LIMIT_BYTES)
        gcp.cloudscheduler.Job(
            f"{name}-sweep",
            project=gc.project,
            region=gc.region,
            name=f"{cfg.name_prefix}-rotation-sweep",
            description=f"Daily reconcile of {len(ids)} Customer.io credentials",
            schedule=GCP_CRON,
            time_zone="Etc/UTC",
            pubsub_target=gcp.cloudscheduler.JobPubsubTargetArgs(
                topic_name=self.rotation_topic.id,
                data=base64.b64encode(event.encode()).decode(),
            ),
            opts=self._after_apis,
        )

    def _chat_webhook(
        self, name: str, args: GcpRotationArgs
    ) -> tuple[
        list[gcp.cloudfunctionsv2.FunctionServiceConfigSecretEnvironmentVariableArgs] | None,
        list[pulumi.Resource],
    ]:
        """The chat webhook URL in Secret Manager, mounted as the function's env variable.

        The function's configuration then names a secret version, not the URL: reading the
        configuration (run.services.get, cloudfunctions.functions.get) reveals nothing.
        Only the runtime account may access it.
        """
        if args.chat_webhook_url is None:
            return None, []
        cfg = args.config
        assert cfg.gcp is not None
        project = cfg.gcp.project
        secret = gcp.secretmanager.Secret(
            f"{name}-chat-webhook",
            project=project,
            secret_id=naming.gcp_chat_secret_id(cfg.name_prefix),
            replication=gcp.secretmanager.SecretReplicationArgs(
                auto=gcp.secretmanager.SecretReplicationAutoArgs()
            ),
            labels={"cio-rotation-purpose": "chat-webhook"},
            opts=self._after_apis,
        )
        version = gcp.secretmanager.SecretVersion(
            f"{name}-chat-webhook-version",
            secret=secret.id,
            secret_data=_as_secret(args.chat_webhook_url),
            opts=pulumi.ResourceOptions(parent=self),
        )
        access = gcp.secretmanager.SecretIamMember(
            f"{name}-chat-webhook-rotator",
            project=project,
            secret_id=secret.secret_id,
            role=gcp_iam.SECRET_ACCESSOR,
            member=self.runtime_account.member,
            opts=pulumi.ResourceOptions(parent=self),
        )
        # The new revision reads the secret as it starts: the grant must have propagated.
        access_ready = self._propagated(f"{name}-chat-webhook-rotator", [access])
        env = [
            gcp.cloudfunctionsv2.FunctionServiceConfigSecretEnvironmentVariableArgs(
                key=cv.ENV_CHAT_WEBHOOK_URL,
                project_id=project,
                secret=secret.secret_id,
                # The version number, not "latest": a new URL is a new version, which
                # redeploys the function instead of waiting for its next cold start.
                version=version.version,
            )
        ]
        return env, [version, access_ready]

    def _build_identity(
        self, name: str, cfg: StackConfig, bucket: gcp.storage.Bucket
    ) -> BuildIdentity:
        """A build service account with exactly what a Cloud Functions build needs.

        Reading the source object (on the bucket, and in the copy Cloud Functions makes in
        its own `gcf-v2-sources-*` bucket: a project-level grant conditioned on that one
        bucket, since it does not exist before the first deploy), pushing the image (on
        the stack's own repository) and writing build logs (logging has no narrower scope
        than the project). See gcp_iam for why each project-level grant is unavoidable.
        """
        assert cfg.gcp is not None
        gc = cfg.gcp
        child = pulumi.ResourceOptions(parent=self)
        account = gcp.serviceaccount.Account(
            f"{name}-builder-sa",
            project=gc.project,
            account_id=f"{cfg.name_prefix}-builder",
            display_name="Customer.io rotator build (Cloud Build for the function)",
            opts=self._after_apis,
        )
        repository = gcp.artifactregistry.Repository(
            f"{name}-builds",
            project=gc.project,
            location=gc.region,
            repository_id=f"{cfg.name_prefix}-rotator-builds",
            format="DOCKER",
            description="Images of the Customer.io rotator function",
            opts=self._after_apis,
        )
        grants: list[pulumi.Resource] = [
            gcp.storage.BucketIAMMember(
                f"{name}-builder-reads-source",
                bucket=bucket.name,
                role=gcp_iam.STORAGE_OBJECT_VIEWER,
                member=account.member,
                opts=child,
            ),
            gcp.artifactregistry.RepositoryIamMember(
                f"{name}-builder-pushes-images",
                project=gc.project,
                location=gc.region,
                repository=repository.name,
                role=gcp_iam.ARTIFACT_WRITER,
                member=account.member,
                opts=child,
            ),
            gcp.projects.IAMMember(
                f"{name}-builder-reads-function-sources",
                project=gc.project,
                role=gcp_iam.STORAGE_OBJECT_VIEWER,
                member=account.member,
                condition=self._project_number(gc.project).apply(
                    lambda number: gcp.projects.IAMMemberConditionArgs(
                        **gcp_iam.bucket_condition(
                            gcp_iam.functions_source_bucket(number, gc.region)
                        )
                    )
                ),
                opts=child,
            ),
            gcp.projects.IAMMember(
                f"{name}-builder-writes-logs",
                project=gc.project,
                role=gcp_iam.LOG_WRITER,
                member=account.member,
                opts=child,
            ),
        ]
        ready = self._propagated(f"{name}-builder-grants", grants)
        return BuildIdentity(account=account, repository=repository, grants=grants, ready=ready)

    def _operators_list_secrets(
        self,
        name: str,
        project: str,
        prefix: str,
        operators: Sequence[str],
        opts: pulumi.ResourceOptions,
    ) -> None:
        """`secretmanager.secrets.list` alone, on the project, for the stack's operators:
        `cio-rotate` finds its stack by label. Names and labels, never a value."""
        role_id = gcp_iam.secret_lister_role_id(prefix)
        role = gcp.projects.IAMCustomRole(
            f"{name}-secret-lister-role",
            project=project,
            role_id=role_id,
            title="Customer.io rotation: find the stack's secrets",
            description="secretmanager.secrets.list only (names and labels, never values), "
            "for cio-rotate's discovery. Bound on the project to the stack's operators.",
            permissions=list(gcp_iam.SECRET_LISTER_PERMISSIONS),
            opts=opts,
        )
        for i, member in enumerate(operators):
            gcp.projects.IAMMember(
                f"{name}-operator-{i}-lists-secrets",
                project=project,
                role=gcp_iam.project_role(project, role_id),  # known at preview
                member=member,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[role]),
            )

    def _project_number(self, project: str) -> pulumi.Output[str]:
        """The project's number (bucket names and service agents carry it, not its id)."""
        found = gcp.organizations.get_project_output(
            project_id=project, opts=pulumi.InvokeOutputOptions(parent=self)
        )
        return found.number

    def _eventarc_agent(self, name: str, cfg: StackConfig) -> pulumi.Resource:
        """Eventarc's service agent, created and granted its role before any trigger exists.

        Enabling the API does not reliably create the agent or grant it in time for a
        trigger created in the same update ("Permission denied while using the Eventarc
        Service Agent"): the stack does both, then waits for the grant to propagate.
        """
        assert cfg.gcp is not None
        agent = gcp.projects.ServiceIdentity(
            f"{name}-eventarc-agent",
            project=cfg.gcp.project,
            service=gcp_iam.EVENTARC_SERVICE,
            opts=self._after_apis,
        )
        grant = gcp.projects.IAMMember(
            f"{name}-eventarc-agent-role",
            project=cfg.gcp.project,
            role=gcp_iam.EVENTARC_SERVICE_AGENT,
            member=agent.email.apply(gcp_iam.service_agent_member),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return self._propagated(f"{name}-eventarc-agent-role", [grant])

    def _propagated(self, name: str, grants: list[pulumi.Resource]) -> pulumi.Resource:
        """A wait after `grants`, for what needs them in the same update to depend on.

        IAM is eventually consistent; `time.Sleep` waits once when created (and again
        only when a grant it follows is replaced), as pulumi-gcp's own "Cloudfunctions2
        Basic Builder" example does before a build.
        """
        return time.Sleep(
            f"{name}-propagated",
            create_duration=gcp_iam.IAM_PROPAGATION,
            triggers={
                f"grant{i}": grant.id
                for i, grant in enumerate(grants)
                if isinstance(grant, pulumi.CustomResource)
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=grants),
        )

    def _alerts(self, name: str, cfg: StackConfig) -> None:
        """Every notice reaches the operators' e-mail, whole; other warnings too.

        One log-match policy per credential mails its notices (rotation/notify_gcp.py:
        the function writes each notice as one structured entry, the policy's label
        extractors carry its text into the documentation). Log-match conditions, not a
        log-based metric: Cloud Monitoring answers 404 for a new metric for minutes after
        it is created, which fails the first `up`. A last policy mails what else the
        function logs at WARNING or above (failures), rate-limited as Monitoring requires.
        """
        assert cfg.gcp is not None
        gc = cfg.gcp
        function_name = naming.rotator_function_name(cfg.name_prefix)
        channels = [
            gcp.monitoring.NotificationChannel(
                f"{name}-operator-email-{i}",
                project=gc.project,
                type="email",
                display_name=f"Customer.io rotation operator {email}",
                labels={"email_address": email},
                opts=self._after_apis,
            )
            for i, email in enumerate(cfg.operator_emails)
        ]
        where = f"GCP stack {pulumi.get_stack()}, project {gc.project}"
        for spec in cfg.credentials:
            policy = notice_policy(function_name, spec.name, where)
            gcp.monitoring.AlertPolicy(
                f"{name}-{spec.name}-notices",
                project=gc.project,
                display_name=policy.display_name,
                combiner="OR",
                conditions=[
                    gcp.monitoring.AlertPolicyConditionArgs(
                        display_name=f"a notice for {spec.name}",
                        condition_matched_log=gcp.monitoring.AlertPolicyConditionConditionMatchedLogArgs(
                            filter=policy.filter, label_extractors=policy.label_extractors
                        ),
                    )
                ],
                alert_strategy=gcp.monitoring.AlertPolicyAlertStrategyArgs(
                    notification_rate_limit=gcp.monitoring.AlertPolicyAlertStrategyNotificationRateLimitArgs(
                        period=policy.rate_limit_period
                    ),
                    auto_close=policy.auto_close,
                ),
                notification_channels=[c.name for c in channels],
                documentation=gcp.monitoring.AlertPolicyDocumentationArgs(
                    subject=policy.subject, content=policy.content, mime_type="text/markdown"
                ),
                opts=self._after_apis,
            )
        gcp.monitoring.AlertPolicy(
            f"{name}-rotator-alert",
            project=gc.project,
            display_name=f"{function_name}: warnings or errors ({where})",
            combiner="OR",
            conditions=[
                gcp.monitoring.AlertPolicyConditionArgs(
                    display_name="rotator logged WARNING or above, not a notice",
                    condition_matched_log=gcp.monitoring.AlertPolicyConditionConditionMatchedLogArgs(
                        filter=warnings_filter(function_name),
                    ),
                )
            ],
            # Log-match policies must rate-limit their notifications.
            alert_strategy=gcp.monitoring.AlertPolicyAlertStrategyArgs(
                notification_rate_limit=gcp.monitoring.AlertPolicyAlertStrategyNotificationRateLimitArgs(
                    period="300s"
                ),
                auto_close="1800s",
            ),
            notification_channels=[c.name for c in channels],
            documentation=gcp.monitoring.AlertPolicyDocumentationArgs(
                content=f"The Customer.io rotator ({where}) logged a warning or an error that "
                "is not a notice (those arrive on their own). Its log entries say which "
                "credential and what failed.",
                mime_type="text/markdown",
            ),
            opts=self._after_apis,
        )


def warnings_filter(function_name: str) -> str:
    """The rotator's own log entries at WARNING or above that are not notices."""
    return (
        'resource.type="cloud_run_revision" '
        f'AND resource.labels.service_name="{function_name}" '
        f"AND severity>=WARNING AND NOT jsonPayload.{NOTICE_FIELD}.notification_id:*"
    )


def _as_secret(value: pulumi.Output[str]) -> pulumi.Output[str]:
    """Marks a value secret in state and previews whatever its origin."""
    secret: pulumi.Output[str] = pulumi.Output.secret(value)
    return secret
