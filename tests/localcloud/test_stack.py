"""The local stack: the Pulumi program deployed into the local cloud, and its clock.

What it proves: every resource type the program declares is created locally or listed
as not held; a re-deploy behaves like `pulumi up`; the functions get the environment
the program declared (and a mismatch between the program's metadata and the rotator's
fails the drill, naming it); `advance` fires every kind of cloud timer, in time order.
"""

from __future__ import annotations

import json
import types
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pulumi
import pytest
from moto import mock_aws
from rich.console import Console

import infra.aws_component
import infra.metadata
from infra.config import parse_config
from infra.program import BuildOptions, build
from localcloud import aws_stack, gcp_stack
from localcloud.aws_harness import REGION, AwsHarness
from localcloud.aws_runtime import LocalAwsRuntime
from localcloud.aws_stack import LocalDeployError
from localcloud.customerio import FakeCustomerIO
from localcloud.gcp_harness import GcpHarness
from localcloud.program_mocks import evaluate
from localcloud.secretmanager_emulator import SecretManagerEmulator
from localcloud.stack import COMPONENT_PREFIX, LocalStack
from rotation import conventions as cv
from rotation import metadata as rotation_metadata
from rotation.clock import SimulatedClock
from tests.gcp.conftest import emulator, emulator_server, gcp  # noqa: F401 (fixtures)
from tests.program.harness import sample_raw_config

WEBHOOK = "https://hooks.example.com/services/T000/B000/local-stack"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def richest_config() -> Any:
    """Both clouds, consumers on both, a chat webhook: every type the program can declare."""
    raw = {**sample_raw_config(3), "chat_webhook_url": WEBHOOK}
    return parse_config(raw, frozenset({"chat_webhook_url"}))


# -- coverage: created, or listed as not held -------------------------------------------------


def test_every_type_the_program_declares_is_created_or_listed_as_not_held(tmp_path) -> None:
    config = richest_config()

    def program() -> dict[str, Any]:
        options = BuildOptions(build_dir=tmp_path, chat_webhook_url=pulumi.Output.secret(WEBHOOK))
        return build(config, options).outputs

    declared = {r.type for r in evaluate(program).resources}
    known = set(aws_stack.CREATORS) | set(aws_stack.NOT_HELD)
    known |= set(gcp_stack.CREATORS) | set(gcp_stack.NOT_HELD)
    unknown = {t for t in declared if t not in known and not t.startswith(COMPONENT_PREFIX)}
    assert not unknown, (
        f"the program declares {sorted(unknown)}: create them in localcloud/aws_stack.py or "
        "gcp_stack.py (CREATORS), or list them with the reason in NOT_HELD"
    )
    assert not (set(aws_stack.CREATORS) & set(aws_stack.NOT_HELD))
    assert not (set(gcp_stack.CREATORS) & set(gcp_stack.NOT_HELD))


@pytest.fixture
def both(
    cio: FakeCustomerIO,
    clock: SimulatedClock,
    emulator: SecretManagerEmulator,  # noqa: F811
) -> Iterator[LocalStack]:
    with mock_aws():
        runtime = LocalAwsRuntime()
        with runtime.active():
            stack = LocalStack(clock=clock, cio=cio, emulator=emulator, aws_runtime=runtime)
            yield stack.up(richest_config(), chat_webhook_url=WEBHOOK)


def test_the_deployed_stack_holds_what_the_local_cloud_can(both: LocalStack) -> None:
    assert both.unknown_types() == set()
    aws_held, aws_total = both.held("aws")
    gcp_held, gcp_total = both.held("gcp")
    # Only the consumer attachments name principals outside the local account.
    outside = {r.type for r in both.not_held() if r.cloud == "aws"}
    assert outside == {
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    }
    assert aws_held == aws_total - 2
    assert 0 < gcp_held < gcp_total
    assert {r.type for r in both.not_held() if r.cloud == "gcp"} <= set(gcp_stack.NOT_HELD)
    # Real answers: the ARN in the outputs is the one moto holds.
    sm = boto3.client("secretsmanager", region_name=REGION)
    arn = both.outputs["credentials"]["cred-000"]["aws_secret_arn"]
    assert sm.describe_secret(SecretId=arn)["ARN"] == arn
    assert "AWS: the local cloud holds" in both.summary()


# -- pulumi up again ----------------------------------------------------------------------------


def test_a_redeploy_keeps_resources_and_adds_the_new_credential(aws: AwsHarness) -> None:
    first = aws.provision("first", "track", "us", workspace="1")
    aws.submit("first", aws.cio.new_track_key("1"))
    second = aws.provision("second", "app", "eu")
    assert aws.secrets == {"first": first, "second": second}
    assert aws.current_value("first") is not None  # kept, value and all
    schedule = boto3.client("scheduler", region_name=REGION).get_schedule(Name="cio-rotation-sweep")
    # The manifest names the secrets (their ARNs' random suffix is not known before).
    assert json.loads(schedule["Target"]["Input"])["secret_ids"] == ["cio/first", "cio/second"]
    assert {first.split(":secret:")[1][:-7], second.split(":secret:")[1][:-7]} == {
        "cio/first",
        "cio/second",
    }


def test_the_function_runs_with_the_environment_the_program_declared(aws: AwsHarness) -> None:
    aws.provision("env", "track", "us")
    fn = aws.stack.aws.function if aws.stack.aws else None
    assert fn is not None and (fn.timeout, fn.memory) == (300, 256)
    config = boto3.client("lambda", region_name=REGION).get_function_configuration(
        FunctionName=fn.name
    )
    assert config["Environment"]["Variables"] == fn.env
    assert fn.env[cv.ENV_SNS_TOPIC_ARN] == aws.topic_arn
    assert aws.rt.engine.policy.rotation_days == int(fn.env[cv.ENV_ROTATION_DAYS])


# -- the program and the rotator, tested together ------------------------------------------------


def _renamed(original: Any, old: str, new: str) -> Any:
    def renamed(*args: Any, **kwargs: Any) -> dict[str, str]:
        out = dict(original(*args, **kwargs))
        if old in out:
            out[new] = out.pop(old)
        return out

    return renamed


def _program_metadata(monkeypatch: pytest.MonkeyPatch, **renames: str) -> None:
    """A copy of the program's metadata with names changed; the rotator keeps its own."""
    copy = types.SimpleNamespace(**vars(rotation_metadata))
    if "tag" in renames:
        copy.aws_config_tags = _renamed(
            rotation_metadata.aws_config_tags, cv.TAG_KIND, renames["tag"]
        )
    if "label" in renames:
        copy.gcp_config_labels = _renamed(
            rotation_metadata.gcp_config_labels, cv.GCP_LABEL_KIND, renames["label"]
        )
    monkeypatch.setattr(infra.metadata, "metadata", copy)
    if "env" in renames:
        monkeypatch.setattr(
            infra.aws_component,
            "function_environment",
            _renamed(
                infra.aws_component.function_environment, cv.ENV_SNS_TOPIC_ARN, renames["env"]
            ),
        )


@pytest.mark.parametrize(
    ("cloud", "renames", "named"),
    [
        ("aws", {"tag": "cio-rotation:type"}, cv.TAG_KIND),
        ("aws", {"env": "CIO_TOPIC_ARN"}, cv.ENV_SNS_TOPIC_ARN),
        ("gcp", {"label": "cio-rotation-type"}, cv.GCP_LABEL_KIND),
    ],
)
def test_a_metadata_mismatch_fails_the_drills_first_rotation_naming_it(
    monkeypatch: pytest.MonkeyPatch, cloud: str, renames: dict[str, str], named: str
) -> None:
    from drill import aws as aws_drill
    from drill import gcp as gcp_drill

    _program_metadata(monkeypatch, **renames)
    console = Console(width=120, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    with pytest.raises(LocalDeployError) as info:
        (aws_drill if cloud == "aws" else gcp_drill).run(console)
    assert named in str(info.value)
    assert "rotation of marketing-track" in console.export_text()  # the first scene began


# -- advance: what the clouds fire -----------------------------------------------------------------


def recorded(aws: AwsHarness) -> list[dict[str, Any]]:
    """Every event the function receives from now on (the real handler still runs)."""
    events: list[dict[str, Any]] = []
    real = aws.runtime.functions["cio-rotator"]

    def recording(event: dict[str, Any], context: Any) -> Any:
        events.append(event)
        return real(event, context)

    aws.runtime.register("cio-rotator", recording)
    return events


def test_the_programs_daily_sweep_schedule_fires_each_day_at_six(aws: AwsHarness) -> None:
    aws.provision("swept", "track", "us")
    events = recorded(aws)
    fired = aws.advance(timedelta(days=3))
    sweeps = [f for f in fired if f.what.startswith("schedule ")]
    assert [f.at.hour for f in sweeps] == [6, 6, 6]
    assert [f.at.date() for f in sweeps] == [(START + timedelta(days=d)).date() for d in (1, 2, 3)]
    # The schedule's input is the stack's manifest; the sweep hands each credential to the
    # work queue, whose mapping brings it to the function at once, one unit per message.
    assert [f.what for f in fired] == [
        "schedule default/cio-rotation-sweep",
        "poll cio-rotation-work",
    ] * 3
    swept = [e for e in events if "Records" not in e]
    assert swept == [{"action": cv.ACTION_SWEEP, "secret_ids": ["cio/swept"]}] * 3
    units = [json.loads(r["body"]) for e in events for r in e.get("Records", [])]
    assert units == [{"action": cv.ACTION_RECONCILE, "secret_id": "cio/swept", "daily": True}] * 3
    assert aws.clock.now() == START + timedelta(days=3)


def test_a_one_time_schedule_created_through_boto3_fires_once_and_deletes_itself(
    aws: AwsHarness,
) -> None:
    arn = aws.provision("woken", "track", "us")
    events = recorded(aws)
    scheduler = boto3.client("scheduler", region_name=REGION)
    scheduler.create_schedule_group(Name="wake-ups")
    when = START + timedelta(hours=2)
    event = {"action": cv.ACTION_RECONCILE, "secret_id": arn}
    scheduler.create_schedule(
        Name="wake-woken",
        GroupName="wake-ups",
        ScheduleExpression=f"at({when.strftime('%Y-%m-%dT%H:%M:%S')})",
        ScheduleExpressionTimezone="UTC",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": aws.function_arn, "RoleArn": aws.function_arn, "Input": json.dumps(event)},
        ActionAfterCompletion="DELETE",
    )
    fired = aws.advance(timedelta(hours=3))
    assert [(f.at, f.what) for f in fired] == [(when, "schedule wake-ups/wake-woken")]
    assert events == [event]
    assert scheduler.list_schedules(GroupName="wake-ups")["Schedules"] == []
    assert aws.advance(timedelta(hours=3)) == []  # once only


def test_a_schedule_targeting_a_queue_reaches_the_function_through_its_mapping(
    aws: AwsHarness,
) -> None:
    aws.provision("queued", "track", "us")
    bodies: list[str] = []
    aws.runtime.register(
        "cio-rotator",
        lambda event, _: bodies.extend(r["body"] for r in event.get("Records", [])),
    )
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="wake-ups")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    boto3.client("lambda", region_name=REGION).create_event_source_mapping(
        EventSourceArn=queue_arn, FunctionName="cio-rotator"
    )
    boto3.client("scheduler", region_name=REGION).create_schedule(
        Name="via-queue",
        ScheduleExpression="rate(1 hour)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": queue_arn, "RoleArn": aws.function_arn, "Input": '{"hello": 1}'},
    )
    aws.advance(timedelta(minutes=150))
    assert bodies == ['{"hello": 1}', '{"hello": 1}']


def test_secrets_manager_rotates_on_its_own_schedule(aws: AwsHarness) -> None:
    aws.provision("native", "track", "us")  # AutomaticallyAfterDays: 90, no key yet
    fired = aws.advance(timedelta(days=91))
    rotations = [f for f in fired if f.what.startswith("rotation ")]
    assert [(f.at, f.what) for f in rotations] == [
        (START + timedelta(days=90), "rotation cio/native")
    ]
    # No key was ever submitted: the rotator fails createSecret, an honest RotationFailed.
    assert aws.runtime.rotation_events[-1].outcome.startswith("failed at createSecret")


def test_every_email_subscriber_receives_what_the_topic_publishes(aws: AwsHarness) -> None:
    aws.provision("mailed", "track", "us", workspace="1")
    aws.submit("mailed", aws.cio.new_track_key("1"))
    inboxes = aws.stack.aws.email_inboxes() if aws.stack.aws else {}
    assert list(inboxes) == ["operators@example.com"]
    assert [m["subject"] for m in inboxes["operators@example.com"]] == [
        n["subject"] for n in aws.notifications()
    ]


def test_gcp_jobs_fire_and_reach_the_function(
    gcp: GcpHarness,  # noqa: F811
) -> None:
    gcp.provision("swept", "track", "us", workspace="1")  # no key yet
    sweeps = lambda: [s for s in gcp.statuses if s[0] == "action"]  # noqa: E731
    fired = gcp.advance(timedelta(days=2))
    assert [f.what.rsplit("/", 1)[-1] for f in fired] == ["cio-rotation-sweep"] * 2
    # Each day: the sweep, then the one message per credential it published.
    assert sweeps() == [("action", 200)] * 4


def test_gcp_next_rotation_time_fires_and_reaches_the_function(
    gcp: GcpHarness,  # noqa: F811
) -> None:
    live = gcp.provision("opened", "track", "us", workspace="1")  # no key yet
    assert gcp.stack.gcp is not None
    gcp.stack.gcp.pause_job("cio-rotation-sweep")  # only the secret's own timer
    # The program set next_rotation_time rotation_days - lead_days after the deploy; Secret
    # Manager publishes SECRET_ROTATE then (and moves it on by the rotation period).
    fired = gcp.advance(timedelta(days=77))
    opened = [f for f in fired if f.what.startswith("SECRET_ROTATE")]
    assert [(f.at, f.what) for f in opened] == [
        (START + timedelta(days=76), f"SECRET_ROTATE {live}")
    ]
    assert ("SECRET_ROTATE", 200) in gcp.statuses
    # The function, woken, moved the same timer to the next moment it owes a notice.
    st = gcp.state("opened")
    secret = gcp.client.get_secret(name=live)
    assert st.wake_at is not None and secret.rotation.next_rotation_time == st.wake_at


def test_the_work_queue_reaches_the_function_in_batches_and_retries_only_the_failures(
    aws: AwsHarness,
) -> None:
    """Lambda's SQS poller as the developer guide describes it: batches of BatchSize,
    `batchItemFailures` (ReportBatchItemFailures) visible again after the queue's
    visibility timeout, counted from the receive; a function error retries the batch."""
    aws.provision("queued", "track", "us")
    assert aws.stack.aws is not None
    url = aws.stack.aws.runtime_env()[cv.ENV_WORK_QUEUE_URL]
    batches: list[list[str]] = []
    crash = {"next": False}

    def function(event: dict[str, Any], _: Any) -> Any:
        bodies = [r["body"] for r in event["Records"]]
        batches.append(bodies)
        if crash["next"]:
            crash["next"] = False
            raise RuntimeError("the function crashed")
        # "fail" fails at its first delivery only.
        failed = [r["messageId"] for r in event["Records"] if r["body"] == "fail"]
        failed = [m for m in failed if sum(b.count("fail") for b in batches) == 1]
        return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}

    aws.runtime.register("cio-rotator", function)
    sqs = boto3.client("sqs", region_name=REGION)
    bodies = ["fail"] + [f"ok-{i}" for i in range(11)]
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body)
    fired = aws.advance(timedelta(minutes=1))
    assert [f.what for f in fired] == ["poll cio-rotation-work"] * 2
    assert [len(b) for b in batches] == [10, 2]
    assert sorted(batches[0] + batches[1]) == sorted(bodies)
    aws.advance(timedelta(minutes=28))  # within the visibility timeout (30 minutes)
    assert len(batches) == 2
    aws.advance(timedelta(minutes=2))
    assert batches[2:] == [["fail"]]  # the failed one alone, once
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"

    batches.clear()
    crash["next"] = True
    sqs.send_message(QueueUrl=url, MessageBody="ok-after-a-crash")
    aws.advance(timedelta(minutes=31))
    # The crash left the batch on the queue: received again when its timeout ended.
    assert batches == [["ok-after-a-crash"], ["ok-after-a-crash"]]


def test_pubsub_retries_a_refused_delivery_with_backoff_on_the_simulated_clock(
    gcp: GcpHarness,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gcp.provision("retried", "track", "us", workspace="1")
    local = gcp.stack.gcp
    assert local is not None and local.function is not None
    calls: list[datetime] = []
    real = gcp.module.handle

    def failing_three_times(data: Any, rt: Any) -> Any:
        calls.append(gcp.clock.now())
        if len(calls) <= 3:
            raise RuntimeError("transient")
        return real(data, rt)

    monkeypatch.setattr(gcp.module, "handle", failing_three_times)
    start = gcp.clock.now()
    local.publish(local.function.trigger_topic, {}, json.dumps({"action": "noop"}).encode())
    gcp.advance(timedelta(minutes=5))
    # Eventarc's subscription: exponential backoff from 10 s (10, 20, 40 s ...).
    assert [int((t - start).total_seconds()) for t in calls] == [0, 10, 30, 70]
    assert gcp.nacked == []
