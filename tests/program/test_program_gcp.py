"""The GCP component under Pulumi's mocks: secrets, function, trigger, sweep, IAM, alerts."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

from infra import gcp_iam
from infra.bundle import GCP_ENTRY_POINT
from infra.config import parse_config
from infra.gcp_component import managed_secrets_env
from infra.program import BuildOptions, build
from rotation import conventions as cv
from rotation.notify_gcp import notice_policy
from rotation.policy import Policy
from tests.program.conftest import NOW, WEBHOOK
from tests.program.harness import (
    ENDPOINT,
    Evaluation,
    Recorded,
    evaluate,
    sample_raw_config,
    unwrap_secret,
)

SECRET_T = "gcp:secretmanager/secret:Secret"
MEMBER_T = "gcp:secretmanager/secretIamMember:SecretIamMember"
PROJECT = "test-project"
CREDENTIALS = ["cred-000", "cred-001", "cred-002", "cred-003"]
RUNTIME_SA = f"serviceAccount:cio-rotator@{PROJECT}.iam.gserviceaccount.com"
TRIGGER_SA = f"serviceAccount:cio-trigger@{PROJECT}.iam.gserviceaccount.com"
BUILD_SA = f"serviceAccount:cio-builder@{PROJECT}.iam.gserviceaccount.com"
SM_AGENT = "serviceAccount:service-123456789@gcp-sa-secretmanager.iam.gserviceaccount.com"
ROTATION_TOPIC = f"projects/{PROJECT}/topics/cio-rotation-events"
PUBLISHER_READY = "gcp-secretmanager-agent-publishes-propagated"
EVENTARC_AGENT = "serviceAccount:service-123456789@gcp-sa-eventarc.iam.gserviceaccount.com"
SOURCES_BUCKET = "gcf-v2-sources-123456789-europe-west1"
SLEEP_T = "time:index/sleep:Sleep"


def _secret(ev: Evaluation, secret_id: str) -> Recorded:
    [match] = [r for r in ev.of_type(SECRET_T) if r.inputs["secretId"] == secret_id]
    return match


def _grants(ev: Evaluation) -> set[tuple[str, str, str]]:
    return {
        (r.inputs["secretId"], r.inputs["role"], r.inputs["member"]) for r in ev.of_type(MEMBER_T)
    }


def test_every_gcp_resource_is_a_child_of_the_component(evaluation: Evaluation) -> None:
    for resource in evaluation.resources:
        if resource.type.startswith("gcp:"):
            assert evaluation.options[resource.name].parent == "gcp", resource.name


def test_live_secret_rotates_every_90_days_through_the_topic(evaluation: Evaluation) -> None:
    for name in CREDENTIALS:
        live = _secret(evaluation, f"cio-{name}")
        assert live.inputs["replication"] == {"auto": {}}
        assert live.inputs["rotation"] == {
            "rotationPeriod": "7776000s",
            "nextRotationTime": "2025-05-16T12:00:00Z",  # NOW + (90 - 14) days
        }
        assert live.inputs["topics"] == [{"name": ROTATION_TOPIC}]
        options = evaluation.options[live.name]
        assert set(options.ignore_changes) == {
            "rotation.nextRotationTime",
            "annotations",
            "versionAliases",
        }
        # After the agent's publisher grant has propagated (a wait on it).
        assert options.depends_on == (PUBLISHER_READY,)
        inbox = _secret(evaluation, f"cio-{name}-inbox")
        assert inbox.inputs["topics"] == [{"name": ROTATION_TOPIC}]
        assert "rotation" not in inbox.inputs
        assert evaluation.options[inbox.name].depends_on == (PUBLISHER_READY,)
    assert "gcp-secretmanager-agent-publishes" in evaluation.depends_on(PUBLISHER_READY)
    # The one version Pulumi writes is the chat webhook's, never a credential's.
    [version] = evaluation.of_type("gcp:secretmanager/secretVersion:SecretVersion")
    assert version.inputs["secret"] == f"projects/{PROJECT}/secrets/cio_chat_webhook"


def test_labels_and_annotations_follow_the_conventions(evaluation: Evaluation) -> None:
    secrets = f"projects/{PROJECT}/secrets"
    live = _secret(evaluation, "cio-cred-000").inputs
    assert live["labels"] == {
        cv.GCP_LABEL_MANAGED: "true",
        cv.GCP_LABEL_CREDENTIAL: "cred-000",
        cv.GCP_LABEL_KIND: "track",
        cv.GCP_LABEL_REGION: "us",
        cv.GCP_LABEL_WORKSPACE: "112233",
        cv.GCP_LABEL_STACK: evaluation.stack,  # the Pulumi stack, for notices and the CLI
    }
    assert live["annotations"] == {cv.GCP_ANNOTATION_INBOX: f"{secrets}/cio-cred-000-inbox"}
    inbox = _secret(evaluation, "cio-cred-000-inbox").inputs
    assert inbox["labels"] == {
        cv.GCP_LABEL_CREDENTIAL: "cred-000",
        cv.GCP_LABEL_STACK: evaluation.stack,
    }
    assert inbox["annotations"] == {cv.GCP_ANNOTATION_INBOX_OF: f"{secrets}/cio-cred-000"}
    webhook = _secret(evaluation, "cio-cred-002").inputs["labels"]
    assert webhook[cv.GCP_LABEL_KIND] == "webhook_signing"
    assert cv.GCP_LABEL_REGION not in webhook
    # The endpoint is on the inbox, whose annotations Pulumi owns (see below).
    annotations = _secret(evaluation, "cio-cred-002-inbox").inputs["annotations"]
    assert annotations[cv.GCP_ANNOTATION_WEBHOOK_ENDPOINT] == ENDPOINT
    assert (
        cv.GCP_ANNOTATION_WEBHOOK_ENDPOINT
        not in _secret(evaluation, "cio-cred-002").inputs["annotations"]
    )
    # The GCP names are the AWS tag keys with ':' made legal.
    for tag, gcp_name in [
        (cv.TAG_MANAGED, cv.GCP_LABEL_MANAGED),
        (cv.TAG_KIND, cv.GCP_LABEL_KIND),
        (cv.TAG_INBOX, cv.GCP_ANNOTATION_INBOX),
        (cv.TAG_INBOX_OF, cv.GCP_ANNOTATION_INBOX_OF),
    ]:
        assert tag.replace(":", "-") == gcp_name
    key_rule = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
    value_rule = re.compile(r"^[a-z0-9_-]{0,63}$")
    for secret in evaluation.of_type(SECRET_T):
        for k, v in secret.inputs["labels"].items():
            assert key_rule.match(k) and value_rule.match(v), (k, v)


def test_secret_manager_agent_publishes_to_the_rotation_topic(evaluation: Evaluation) -> None:
    agent = evaluation.named("gcp-secretmanager-agent").inputs
    assert agent["service"] == "secretmanager.googleapis.com"
    binding = evaluation.named("gcp-secretmanager-agent-publishes").inputs
    assert binding == {
        "project": PROJECT,
        "topic": "cio-rotation-events",
        "role": "roles/pubsub.publisher",
        "member": SM_AGENT,
    }


def test_grants_are_per_secret_and_least_privilege(evaluation: Evaluation) -> None:
    # The project-level grants Google leaves no narrower form of: the build account reads
    # Cloud Functions' own source bucket (one bucket, by condition) and writes build logs;
    # the Eventarc agent holds its own role; operators list secrets (discovery by label)
    # through a custom role of that one permission. And the drain's two custom roles
    # (Monitoring and Logging grant on the project at the lowest): the rotator and
    # operators read, consumers write key-usage points.
    project_wide = [r for r in evaluation.resources if r.type in gcp_iam.PROJECT_WIDE_GRANT_TYPES]
    lister = f"projects/{PROJECT}/roles/cio_secret_lister"
    writer, reader = (f"projects/{PROJECT}/roles/{i}" for i in gcp_iam.drain_role_ids("cio"))
    assert sorted((r.inputs["role"], r.inputs["member"]) for r in project_wide) == sorted(
        [
            (gcp_iam.STORAGE_OBJECT_VIEWER, BUILD_SA),
            (gcp_iam.LOG_WRITER, BUILD_SA),
            (gcp_iam.EVENTARC_SERVICE_AGENT, EVENTARC_AGENT),
            (lister, "group:platform-oncall@example.com"),
            (reader, RUNTIME_SA),
            (reader, "group:platform-oncall@example.com"),
            (writer, f"serviceAccount:app@{PROJECT}.iam.gserviceaccount.com"),
        ]
    )
    roles = {r.inputs["roleId"]: set(r.inputs["permissions"]) for r in evaluation.of_type(
        "gcp:projects/iAMCustomRole:IAMCustomRole")}  # fmt: skip
    assert roles["cio_usage_writer"] == {"monitoring.timeSeries.create"}
    assert roles["cio_drain_reader"] == set(gcp_iam.DRAIN_READER_PERMISSIONS)
    [audit] = evaluation.of_type("gcp:projects/iAMAuditConfig:IAMAuditConfig")
    assert audit.inputs["service"] == "secretmanager.googleapis.com"
    assert audit.inputs["auditLogConfigs"] == [{"logType": "DATA_READ"}]
    lister_role = evaluation.named("gcp-secret-lister-role").inputs
    assert lister_role["roleId"] == "cio_secret_lister" and lister_role["project"] == PROJECT
    assert lister_role["permissions"] == ["secretmanager.secrets.list"]
    assert {r.type for r in project_wide} == {"gcp:projects/iAMMember:IAMMember"}
    [sources] = [r for r in project_wide if r.inputs["role"] == gcp_iam.STORAGE_OBJECT_VIEWER]
    expression = sources.inputs["condition"]["expression"]
    assert expression == (
        f'resource.name == "projects/_/buckets/{SOURCES_BUCKET}" || '
        f'resource.name.startsWith("projects/_/buckets/{SOURCES_BUCKET}/")'
    )
    assert all("condition" not in r.inputs for r in project_wide if r is not sources)
    custom_role = f"projects/{PROJECT}/roles/cio_rotator"
    role = evaluation.named("gcp-rotator-role").inputs
    assert role["roleId"] == "cio_rotator"
    assert set(role["permissions"]) == set(gcp_iam.ROTATOR_PERMISSIONS)
    assert "secretmanager.secrets.update" in role["permissions"]
    assert not any(p.startswith(("resourcemanager.", "iam.")) for p in role["permissions"])
    operator = "group:platform-oncall@example.com"
    consumer = f"serviceAccount:app@{PROJECT}.iam.gserviceaccount.com"
    expected = set()
    for name in CREDENTIALS:
        live, inbox = f"cio-{name}", f"cio-{name}-inbox"
        expected |= {
            (live, custom_role, RUNTIME_SA),
            (inbox, custom_role, RUNTIME_SA),
            (inbox, gcp_iam.SECRET_VERSION_ADDER, operator),
            (inbox, gcp_iam.SECRET_VIEWER, operator),
            (live, gcp_iam.SECRET_VIEWER, operator),
            (live, gcp_iam.SECRET_ACCESSOR, consumer),
        }
    expected.add(("cio_chat_webhook", gcp_iam.SECRET_ACCESSOR, RUNTIME_SA))
    assert _grants(evaluation) == expected
    accessors = {g for g in _grants(evaluation) if g[1] == gcp_iam.SECRET_ACCESSOR}
    assert all(not s.endswith("-inbox") for s, _, _ in accessors)
    assert {m for s, _, m in accessors if s == "cio_chat_webhook"} == {RUNTIME_SA}
    adders = {g for g in _grants(evaluation) if g[1] == gcp_iam.SECRET_VERSION_ADDER}
    assert all(s.endswith("-inbox") for s, _, _ in adders)


def test_function_gen2(evaluation: Evaluation) -> None:
    fn = evaluation.named("gcp-rotator").inputs
    assert fn["location"] == "europe-west1" and fn["name"] == "cio-rotator"
    build = fn["buildConfig"]
    assert build["runtime"] == "python312" and build["entryPoint"] == GCP_ENTRY_POINT
    source = build["source"]["storageSource"]
    obj = evaluation.named("gcp-source-object").inputs
    assert source == {"bucket": "test-project-cio-rotator-src", "object": obj["name"]}
    digest = hashlib.sha256(Path(obj["source"].path).read_bytes()).hexdigest()
    assert obj["name"] == f"rotator-{digest[:20]}.zip"
    service, is_secret = unwrap_secret(fn["serviceConfig"])
    # Item 7: the URL is not in the function's configuration, only a secret version.
    assert not is_secret, "nothing secret left in the service config"
    assert WEBHOOK not in json.dumps(service)
    assert service["secretEnvironmentVariables"] == [
        {
            "key": cv.ENV_CHAT_WEBHOOK_URL,
            "projectId": PROJECT,
            "secret": "cio_chat_webhook",
            "version": "1",
        }
    ]
    # max instances is a cost cap now (3 by default), not the serialisation.
    assert service["maxInstanceCount"] == 3 and service["maxInstanceRequestConcurrency"] == 1
    assert service["serviceAccountEmail"] == RUNTIME_SA.split(":", 1)[1]
    assert service["ingressSettings"] == "ALLOW_INTERNAL_ONLY"
    env = service["environmentVariables"]
    assert cv.ENV_CHAT_WEBHOOK_URL not in env
    # Notices say where they come from: the stack and the project.
    assert env[cv.ENV_STACK] == evaluation.stack and env["GOOGLE_CLOUD_PROJECT"] == PROJECT
    assert Policy.from_env(env) == Policy() and Policy().to_env().items() <= env.items()
    assert env[cv.ENV_PUBSUB_TOPIC] == f"projects/{PROJECT}/topics/cio-rotation-notifications"
    assert env[cv.ENV_MANAGED_SECRETS].split(",") == [
        f"projects/{PROJECT}/secrets/cio-{n}" for n in CREDENTIALS
    ]
    assert env[cv.ENV_ROTATION_DAYS] == "90" and env[cv.ENV_LEAD_DAYS] == "14"
    trigger = fn["eventTrigger"]
    assert trigger["eventType"] == "google.cloud.pubsub.topic.v1.messagePublished"
    assert trigger["pubsubTopic"] == ROTATION_TOPIC
    assert trigger["serviceAccountEmail"] == TRIGGER_SA.split(":", 1)[1]
    assert trigger["retryPolicy"] == "RETRY_POLICY_RETRY"
    invoker = evaluation.named("gcp-trigger-invokes").inputs
    assert invoker["role"] == "roles/run.invoker" and invoker["member"] == TRIGGER_SA
    assert invoker["name"] == "cio-rotator"
    bucket = evaluation.named("gcp-source").inputs
    assert bucket["uniformBucketLevelAccess"] is True
    assert bucket["publicAccessPrevention"] == "enforced"
    assert {"gcp-chat-webhook-rotator", "gcp-chat-webhook-version"} <= evaluation.depends_on(
        "gcp-rotator"
    )


def test_function_builds_as_its_own_account(evaluation: Evaluation) -> None:
    """Item 4: a build account of its own, with reading the source, pushing the image and
    writing logs, granted before the function is built."""
    build = evaluation.named("gcp-rotator").inputs["buildConfig"]
    account = evaluation.named("gcp-builder-sa")
    assert build["serviceAccount"] == account.outputs["name"]
    assert account.inputs["accountId"] == "cio-builder"
    repository = evaluation.named("gcp-builds")
    assert build["dockerRepository"] == repository.id
    assert repository.inputs["format"] == "DOCKER"
    grants = {
        "gcp-builder-reads-source": ("bucket", "test-project-cio-rotator-src"),
        "gcp-builder-reads-function-sources": ("project", PROJECT),
        "gcp-builder-pushes-images": ("repository", "cio-rotator-builds"),
        "gcp-builder-writes-logs": ("project", PROJECT),
    }
    for name, (field, target) in grants.items():
        grant = evaluation.named(name).inputs
        assert grant["member"] == BUILD_SA and grant[field] == target, name
        # Granted, then waited on, before the build: the wait follows every grant.
        assert name in evaluation.depends_on("gcp-builder-grants-propagated"), name
    assert "gcp-builder-grants-propagated" in evaluation.options["gcp-rotator"].depends_on
    assert evaluation.named("gcp-builder-reads-source").inputs["role"] == (
        "roles/storage.objectViewer"
    )
    assert evaluation.named("gcp-builder-pushes-images").inputs["role"] == (
        "roles/artifactregistry.writer"
    )


def test_first_deploy_order_grants_then_waits_then_what_needs_them(
    evaluation: Evaluation,
) -> None:
    """Issue 21: each grant a following resource needs in the same update is followed by a
    wait the resource depends on: the build's grants, the Eventarc agent (created, then
    granted), the Secret Manager agent's publisher grant, the chat secret's accessor."""
    sleeps = {r.name: r for r in evaluation.of_type(SLEEP_T)}
    assert set(sleeps) == {
        "gcp-builder-grants-propagated",
        "gcp-eventarc-agent-role-propagated",
        "gcp-secretmanager-agent-publishes-propagated",
        "gcp-chat-webhook-rotator-propagated",
    }
    assert all(r.inputs["createDuration"] == gcp_iam.IAM_PROPAGATION for r in sleeps.values())
    agent = evaluation.named("gcp-eventarc-agent")
    assert agent.inputs["service"] == "eventarc.googleapis.com"
    role = evaluation.named("gcp-eventarc-agent-role")
    assert role.inputs["member"] == EVENTARC_AGENT
    assert "gcp-eventarc-agent" in evaluation.depends_on(role.name)
    assert role.name in evaluation.depends_on("gcp-eventarc-agent-role-propagated")
    function_waits = evaluation.options["gcp-rotator"].depends_on
    for sleep in ("gcp-builder-grants-propagated", "gcp-eventarc-agent-role-propagated"):
        assert sleep in function_waits
    assert "gcp-chat-webhook-rotator-propagated" in evaluation.depends_on("gcp-rotator")
    # A wait is replaced (and waits again) when a grant it follows is replaced.
    builder = sleeps["gcp-builder-grants-propagated"].inputs["triggers"]
    assert len(builder) == 4
    # The order of registration is the order of creation a real `up` follows.
    order = [r.name for r in evaluation.resources]
    for before, after in [
        ("gcp-builder-reads-function-sources", "gcp-builder-grants-propagated"),
        ("gcp-builder-grants-propagated", "gcp-rotator"),
        ("gcp-eventarc-agent", "gcp-eventarc-agent-role"),
        ("gcp-eventarc-agent-role", "gcp-eventarc-agent-role-propagated"),
        ("gcp-eventarc-agent-role-propagated", "gcp-rotator"),
        ("gcp-secretmanager-agent-publishes-propagated", "gcp-cred-000-live"),
    ]:
        assert order.index(before) < order.index(after), (before, after)


def test_topics_and_publishers(evaluation: Evaluation) -> None:
    publishers = {
        (r.inputs["topic"], r.inputs["member"])
        for r in evaluation.of_type("gcp:pubsub/topicIAMMember:TopicIAMMember")
    }
    assert publishers == {
        ("cio-rotation-events", SM_AGENT),
        ("cio-rotation-events", RUNTIME_SA),  # the sweep: one message per credential
        ("cio-rotation-notifications", RUNTIME_SA),
        ("cio-rotation-events", "group:platform-oncall@example.com"),
    }


def test_daily_sweep_publishes_the_secret_list(evaluation: Evaluation) -> None:
    [job] = evaluation.of_type("gcp:cloudscheduler/job:Job")
    assert job.inputs["schedule"] == "0 6 * * *" and job.inputs["timeZone"] == "Etc/UTC"
    target = job.inputs["pubsubTarget"]
    assert target["topicName"] == ROTATION_TOPIC
    event = json.loads(base64.b64decode(target["data"]))
    assert event == {
        "action": cv.ACTION_SWEEP,
        "secret_ids": [f"projects/{PROJECT}/secrets/cio-{n}" for n in CREDENTIALS],
    }


def test_warnings_alert_the_operators(evaluation: Evaluation) -> None:
    """Item 2: a log-match condition, so no new log-based metric the policy must wait for."""
    assert not evaluation.of_type("gcp:logging/metric:Metric")
    channels = evaluation.of_type("gcp:monitoring/notificationChannel:NotificationChannel")
    assert sorted(c.inputs["labels"]["email_address"] for c in channels) == [
        "oncall@example.com",
        "platform@example.com",
    ]
    policy = evaluation.named("gcp-rotator-alert").inputs
    assert sorted(policy["notificationChannels"]) == sorted(c.outputs["name"] for c in channels)
    [condition] = policy["conditions"]
    assert set(condition) == {"displayName", "conditionMatchedLog"}
    log_filter = condition["conditionMatchedLog"]["filter"]
    assert "severity>=WARNING" in log_filter
    assert 'resource.labels.service_name="cio-rotator"' in log_filter
    assert policy["alertStrategy"]["notificationRateLimit"] == {"period": "300s"}


def test_every_notice_is_mailed_whole_by_a_policy_per_credential(evaluation: Evaluation) -> None:
    """Issue 20: the policy the local Monitoring evaluates is the one the program declares."""
    channels = evaluation.of_type("gcp:monitoring/notificationChannel:NotificationChannel")
    where = f"GCP stack {evaluation.stack}, project {PROJECT}"
    for name in ("cred-000", "cred-001", "cred-002"):
        declared = evaluation.named(f"gcp-{name}-notices").inputs
        spec = notice_policy("cio-rotator", name, where)
        [condition] = declared["conditions"]
        assert condition["conditionMatchedLog"] == {
            "filter": spec.filter,
            "labelExtractors": spec.label_extractors,
        }
        assert declared["documentation"] == {
            "subject": spec.subject,
            "content": spec.content,
            "mimeType": "text/markdown",
        }
        assert declared["displayName"] == spec.display_name
        assert declared["alertStrategy"]["notificationRateLimit"] == {"period": "300s"}
        assert sorted(declared["notificationChannels"]) == sorted(
            c.outputs["name"] for c in channels
        )
    # The catch-all policy leaves notices to their own policies.
    catch_all = evaluation.named("gcp-rotator-alert").inputs["conditions"][0]
    assert (
        "NOT jsonPayload.cio_notification.notification_id:*"
        in catch_all["conditionMatchedLog"]["filter"]
    )


def test_outputs(evaluation: Evaluation) -> None:
    out = evaluation.outputs
    for name in CREDENTIALS:
        entry = out["credentials"][name]
        assert (
            entry["gcp_secret_version"] == f"projects/{PROJECT}/secrets/cio-{name}/versions/latest"
        )
        assert entry["bootstrap_command"] == f"cio-rotate submit {name}"
    assert out["gcp_rotation_topic"] == ROTATION_TOPIC
    assert out["gcp_notifications_topic"] == f"projects/{PROJECT}/topics/cio-rotation-notifications"
    assert out["gcp_function_name"] == "cio-rotator"
    assert out["policy"] == Policy().to_env()


def test_managed_secrets_env_stays_inside_the_function_env_limit() -> None:
    names = [f"projects/{PROJECT}/secrets/cio-credential-{i:04d}" for i in range(500)]
    assert managed_secrets_env(names[:10]) == ",".join(names[:10])
    assert managed_secrets_env(names) is None  # 500 names: the sweep messages carry them


def _webhook_inbox(
    endpoint: str, source_tree: Path, build_dir: Path
) -> tuple[Recorded, Evaluation]:
    raw = sample_raw_config(3, clouds=("gcp",))
    raw["credentials"][2]["webhook_endpoint"] = endpoint
    config = parse_config(raw, frozenset())

    def program() -> dict[str, object]:
        options = BuildOptions(repo_root=source_tree, build_dir=build_dir, now=NOW)
        return build(config, options).outputs

    ev = evaluate(program)
    return _secret(ev, "cio-cred-002-inbox"), ev


def test_a_changed_webhook_endpoint_reaches_a_managed_input(
    source_tree: Path, tmp_path: Path
) -> None:
    """The live secret's annotations are the rotator's state (Pulumi ignores their changes);
    the inbox's are Pulumi's alone, so a new endpoint in config is an update on `up`."""
    new = "https://hooks.example.com/customerio/v2"
    before, ev = _webhook_inbox(ENDPOINT, source_tree, tmp_path / "a")
    after, _ = _webhook_inbox(new, source_tree, tmp_path / "b")
    assert before.inputs["annotations"][cv.GCP_ANNOTATION_WEBHOOK_ENDPOINT] == ENDPOINT
    assert after.inputs["annotations"][cv.GCP_ANNOTATION_WEBHOOK_ENDPOINT] == new
    assert ev.options[before.name].ignore_changes == ()  # nothing of the inbox is ignored
    live = _secret(ev, "cio-cred-002")
    assert "annotations" in ev.options[live.name].ignore_changes  # the state stays the rotator's


def test_the_cli_knows_the_functions_account_by_the_functions_name(evaluation: Evaluation) -> None:
    """`cio-rotate drain` leaves the function's own reads out of the Data Access log by
    this name (rotation.operator.gcp.runtime_account)."""
    from rotation.operator.gcp import runtime_account

    fn = evaluation.named("gcp-rotator").inputs
    assert f"serviceAccount:{runtime_account(fn['name'], PROJECT)}" == RUNTIME_SA
    assert fn["serviceConfig"]["serviceAccountEmail"] == RUNTIME_SA.split(":", 1)[1]
