"""The whole program, both clouds, rendered under mocks: what a first real `up` needs.

GCP: every resource waits (directly or through the resources it reads) for each API
it calls, since on a fresh project enabling an API races the first call to it.
AWS: every physical name is unique where AWS requires it: IAM names in the account
(whatever the region), every other name in its region, across stacks and regions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pulumi
import pytest

from infra.config import ConfigError, parse_config
from infra.program import BuildOptions, build
from tests.program.harness import ACCOUNT, Evaluation, evaluate, sample_raw_config

WEBHOOK = "https://hooks.example.com/services/T000/B000/readiness"
NOW = datetime(2025, 3, 1, tzinfo=UTC)

FUNCTION_APIS = ("cloudfunctions", "run", "eventarc", "cloudbuild", "artifactregistry")
# The APIs each GCP resource type calls. A type missing here fails the test: whoever adds
# a resource must say which API it needs.
GCP_API_OF: dict[str, tuple[str, ...]] = {
    "gcp:pubsub/topic:Topic": ("pubsub",),
    "gcp:pubsub/topicIAMMember:TopicIAMMember": ("pubsub",),
    "gcp:projects/serviceIdentity:ServiceIdentity": ("secretmanager",),
    "gcp:serviceaccount/account:Account": ("iam",),
    "gcp:projects/iAMCustomRole:IAMCustomRole": ("iam",),
    "gcp:projects/iAMMember:IAMMember": ("cloudresourcemanager",),
    # Audit configs are part of the project's IAM policy (setIamPolicy).
    "gcp:projects/iAMAuditConfig:IAMAuditConfig": ("cloudresourcemanager",),
    "gcp:secretmanager/secret:Secret": ("secretmanager",),
    "gcp:secretmanager/secretVersion:SecretVersion": ("secretmanager",),
    "gcp:secretmanager/secretIamMember:SecretIamMember": ("secretmanager",),
    "gcp:storage/bucket:Bucket": ("storage",),
    "gcp:storage/bucketObject:BucketObject": ("storage",),
    "gcp:storage/bucketIAMMember:BucketIAMMember": ("storage",),
    "gcp:artifactregistry/repository:Repository": ("artifactregistry",),
    "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember": ("artifactregistry",),
    "gcp:cloudfunctionsv2/function:Function": FUNCTION_APIS,
    "gcp:cloudrunv2/serviceIamMember:ServiceIamMember": ("run",),
    "gcp:cloudscheduler/job:Job": ("cloudscheduler",),
    "gcp:monitoring/notificationChannel:NotificationChannel": ("monitoring",),
    "gcp:monitoring/alertPolicy:AlertPolicy": ("monitoring", "logging"),
    "gcp:logging/metric:Metric": ("logging",),
}
API_SERVICE = "gcp:projects/service:Service"

# AWS names IAM keeps per account; every other named resource is per region.
AWS_GLOBAL_TYPES = frozenset({"aws:iam/role:Role", "aws:iam/policy:Policy"})
AWS_UNNAMED = frozenset(
    {  # resources without a physical name of their own
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:iam/userPolicyAttachment:UserPolicyAttachment",
        "aws:sns/topicSubscription:TopicSubscription",
        "aws:sns/topicPolicy:TopicPolicy",
        "aws:lambda/permission:Permission",
        "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig",
        "aws:lambda/eventSourceMapping:EventSourceMapping",
        "aws:secretsmanager/secretRotation:SecretRotation",
        "aws:cloudwatch/eventTarget:EventTarget",
        "aws:kms/key:Key",
    }
)


def render(
    tmp: Path, source_tree: Path, *, region: str, stack: str, prefix: str = "cio", **extra: object
) -> Evaluation:
    raw = {**sample_raw_config(3), "name_prefix": prefix, "chat_webhook_url": WEBHOOK, **extra}
    config = parse_config(raw, frozenset({"chat_webhook_url"}))

    def program() -> dict[str, object]:
        options = BuildOptions(
            repo_root=source_tree,
            build_dir=tmp / f"bundles-{stack}-{region}",
            now=NOW,
            chat_webhook_url=pulumi.Output.secret(WEBHOOK),
        )
        return build(config, options).outputs

    return evaluate(program, region=region, stack=stack)


@pytest.fixture(scope="module")
def renders(
    source_tree: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Evaluation]]:
    tmp = tmp_path_factory.mktemp("renders")
    yield [
        render(tmp, source_tree, region="us-east-1", stack="prod"),
        render(tmp, source_tree, region="eu-west-1", stack="prod"),  # same stack, new region
        render(tmp, source_tree, region="us-east-1", stack="staging", prefix="cio-stg"),
    ]


def test_every_gcp_resource_waits_for_the_apis_it_calls(renders: list[Evaluation]) -> None:
    ev = renders[0]
    apis = {r.inputs["service"].split(".")[0]: r.name for r in ev.of_type(API_SERVICE)}
    checked = 0
    for resource in ev.resources:
        if not resource.type.startswith("gcp:") or resource.type == API_SERVICE:
            continue
        assert resource.type in GCP_API_OF, f"which API does {resource.type} need?"
        waits_for = ev.depends_on(resource.name)
        for api in GCP_API_OF[resource.type]:
            assert api in apis, f"{api}.googleapis.com is not enabled by the stack"
            assert apis[api] in waits_for, f"{resource.name} does not wait for {api}"
        checked += 1
    assert checked > 30


def test_the_apis_include_iam(renders: list[Evaluation]) -> None:
    """Item 3: the stack creates service accounts and a custom role."""
    services = {r.inputs["service"] for r in renders[0].of_type(API_SERVICE)}
    assert "iam.googleapis.com" in services


def _aws_names(ev: Evaluation) -> Counter[tuple[str, ...]]:
    """(scope, service, name) of every physical AWS name; scope is the account or region."""
    names: Counter[tuple[str, ...]] = Counter()
    for r in ev.resources:
        if not r.type.startswith("aws:") or r.type in AWS_UNNAMED:
            continue
        name = r.inputs.get("name")
        assert isinstance(name, str) and name, f"{r.name} ({r.type}) has no explicit name"
        service = r.type.split(":")[1].split("/")[0]
        if r.type in AWS_GLOBAL_TYPES:
            names[(ACCOUNT, service, name)] += 1
        elif r.type == "aws:iam/rolePolicy:RolePolicy":
            names[(ACCOUNT, "iam-inline", str(r.inputs["role"]), name)] += 1
        elif r.type == "aws:lambda/alias:Alias":  # an alias's name is its function's own
            names[(ev.region, "lambda-alias", str(r.inputs["functionName"]), name)] += 1
        else:
            names[(ev.region, service, name)] += 1
    return names


def test_aws_names_are_unique_per_region_and_stack(renders: list[Evaluation]) -> None:
    """Item 10: two regions of one stack, or two stacks, never claim the same name."""
    seen: Counter[tuple[str, ...]] = Counter()
    for ev in renders:
        names = _aws_names(ev)
        assert max(names.values()) == 1, [n for n, c in names.items() if c > 1]
        seen.update(names)
    clashes = [n for n, c in seen.items() if c > 1]
    assert clashes == []


def test_iam_names_carry_stack_and_region(renders: list[Evaluation]) -> None:
    for ev in renders:
        iam = [r for r in ev.resources if r.type.startswith("aws:iam/") and "name" in r.inputs]
        assert len(iam) == 7  # three roles, their three inline policies, the consumer policy
        for r in iam:
            assert ev.stack in r.inputs["name"] and ev.region in r.inputs["name"], r.inputs


def test_reserved_concurrency_and_recovery_window_are_settings(
    source_tree: Path, tmp_path: Path
) -> None:
    """Items 1 and 13: both default off/30 days (other tests), both follow the config."""
    ev = render(
        tmp_path,
        source_tree,
        region="us-east-1",
        stack="prod",
        aws_reserved_concurrency=5,
        aws_secret_recovery_days=0,
        gcp_max_instances=7,
    )
    assert ev.named("aws-rotator").inputs["reservedConcurrentExecutions"] == 5
    secrets = ev.of_type("aws:secretsmanager/secret:Secret")
    assert len(secrets) == 9 and {s.inputs["recoveryWindowInDays"] for s in secrets} == {0}
    assert ev.outputs["aws_secret_recovery_days"] == 0
    assert ev.named("gcp-rotator").inputs["serviceConfig"]["maxInstanceCount"] == 7


def test_a_consumer_of_another_account_is_refused(source_tree: Path, tmp_path: Path) -> None:
    """Item 8: never attach by name a principal of another account to a local namesake."""
    foreign = "arn:aws:iam::999999999999:role/app-backend"
    with pytest.raises(ConfigError) as info:
        render(
            tmp_path,
            source_tree,
            region="us-east-1",
            stack="prod",
            aws_consumer_principals=[foreign],
        )
    error = info.value
    assert isinstance(error, ConfigError), repr(error)
    assert "aws_consumer_principals[0]" in str(error)
    assert "not in the deploying account 123456789012" in str(error)
