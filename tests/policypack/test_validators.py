"""The policy pack's validators, called directly, and the stack judged by them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from infra.config import parse_config
from infra.gcp_iam import PROJECT_WIDE_GRANT_TYPES
from infra.program import BuildOptions, build
from policypack import validators as v
from policypack.policies import build_policies
from rotation import conventions as cv
from tests.program.harness import (
    Evaluation,
    Recorded,
    evaluate,
    make_source_tree,
    sample_raw_config,
)

WEBHOOK = "https://hooks.example.com/services/T000/B000/policy-pack"
BUILD_MEMBER = "serviceAccount:cio-builder@test-project.iam.gserviceaccount.com"


def _doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


ALLOW_SCOPED = {
    "Effect": "Allow",
    "Action": ["secretsmanager:GetSecretValue"],
    "Resource": ["arn:aws:secretsmanager:us-east-1:123456789012:secret:cio/*"],
}


@pytest.mark.parametrize(
    ("props", "violations"),
    [
        ({"rotationRules": {"automaticallyAfterDays": 90}}, 0),
        ({"rotationRules": {"automaticallyAfterDays": 90.0}}, 0),  # as the engine sends it
        ({"rotationRules": {"automaticallyAfterDays": 1}}, 0),
        ({"rotationRules": {"automaticallyAfterDays": 91}}, 1),
        ({"rotationRules": {"automaticallyAfterDays": 0}}, 1),
        ({"rotationRules": {"scheduleExpression": "rate(30 days)"}}, 0),
        ({"rotationRules": {"scheduleExpression": "rate(2160 hours)"}}, 0),
        ({"rotationRules": {"scheduleExpression": "rate(2161 hours)"}}, 1),
        ({"rotationRules": {"scheduleExpression": "rate(120 days)"}}, 1),
        ({"rotationRules": {"scheduleExpression": "cron(0 8 1 */6 ? *)"}}, 1),
        ({"rotationRules": {}}, 1),
        ({}, 1),
    ],
)
def test_aws_rotation_at_most_90_days(props: dict[str, Any], violations: int) -> None:
    assert len(v.rotation_at_most_90_days(v.AWS_SECRET_ROTATION, props)) == violations


@pytest.mark.parametrize(
    ("props", "violations"),
    [
        ({"rotation": {"rotationPeriod": "7776000s"}}, 0),
        ({"rotation": {"rotationPeriod": "3600s"}}, 0),
        ({"rotation": {"rotationPeriod": "7776001s"}}, 1),
        ({"rotation": {"rotationPeriod": "15552000s"}}, 1),
        ({"rotation": {"rotationPeriod": "90d"}}, 1),
        ({"labels": {"cio-rotation-managed": "true"}}, 1),  # managed, no rotation at all
        ({"labels": {"cio-rotation-inbox-of": "cio-x"}}, 0),  # an inbox needs none
    ],
)
def test_gcp_rotation_period_at_most_90_days(props: dict[str, Any], violations: int) -> None:
    assert len(v.rotation_at_most_90_days(v.GCP_SECRET, props)) == violations


def test_rotation_rule_ignores_other_resources() -> None:
    assert v.rotation_at_most_90_days("aws:s3/bucket:Bucket", {}) == []
    assert v.GCP_MANAGED_LABEL == cv.GCP_LABEL_MANAGED  # the pack reads the program's label


@pytest.mark.parametrize(
    ("props", "violations"),
    [
        ({"kmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/abcd"}, 0),
        ({"kmsKeyId": "alias/cio-credentials"}, 0),
        ({}, 1),
        ({"kmsKeyId": ""}, 1),
        ({"kmsKeyId": "alias/aws/secretsmanager"}, 1),
        ({"kmsKeyId": "arn:aws:kms:us-east-1:123456789012:alias/aws/secretsmanager"}, 1),
    ],
)
def test_customer_managed_kms(props: dict[str, Any], violations: int) -> None:
    assert len(v.customer_managed_kms(v.AWS_SECRET, props)) == violations
    assert v.customer_managed_kms(v.GCP_SECRET, props) == []


@pytest.mark.parametrize(
    ("resource", "wildcard"),
    [
        ("*", True),
        ("arn:aws:secretsmanager:*:123456789012:secret:cio/*", True),
        ("arn:aws:secretsmanager:us-east-1:*:secret:cio/*", True),
        ("arn:aws:secretsmanager:us-east-1:123456789012:secret:*", True),
        ("arn:aws:s3:::*", True),
        ("arn:aws:sns:us-east-1:123456789012:*", True),
        ("arn:aws:logs:us-east-1:123456789012:log-group:*", True),
        ("arn:aws:secretsmanager:us-east-1:123456789012:secret:cio/*", False),
        ("arn:aws:secretsmanager:us-east-1:123456789012:secret:cio/*/inbox-*", False),
        ("arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/cio-rotator:*", False),
        ("arn:aws:sns:us-east-1:123456789012:cio-rotation-notifications", False),
        ("arn:aws:kms:us-east-1:123456789012:key/1234", False),
    ],
)
def test_wildcard_resource_detection(resource: str, wildcard: bool) -> None:
    assert v.is_wildcard_resource(resource) is wildcard


def test_no_wildcard_resources_in_identity_policies() -> None:
    star = {"Effect": "Allow", "Action": ["sns:Publish"], "Resource": "*"}
    not_resource = {"Effect": "Allow", "Action": ["s3:*"], "NotResource": ["arn:aws:s3:::b"]}
    broad_deny = {"Effect": "Deny", "Action": ["*"], "Resource": "*"}
    for type_ in ("aws:iam/policy:Policy", "aws:iam/rolePolicy:RolePolicy"):
        assert v.no_wildcard_resources(type_, {"policy": _doc(ALLOW_SCOPED, broad_deny)}) == []
        assert len(v.no_wildcard_resources(type_, {"policy": _doc(star)})) == 1
        assert len(v.no_wildcard_resources(type_, {"policy": _doc(not_resource)})) == 1
        assert v.no_wildcard_resources(type_, {"policy": "{not json"}) == [
            "the policy is not valid JSON."
        ]
    inline = {"inlinePolicies": [{"name": "x", "policy": _doc(star)}]}
    assert len(v.no_wildcard_resources("aws:iam/role:Role", inline)) == 1
    as_mapping = {"policy": {"Statement": {**star, "Sid": "One"}}}
    assert v.no_wildcard_resources("aws:iam/userPolicy:UserPolicy", as_mapping) == [
        "statement One allows resource '*'."
    ]
    # Key policies are resource policies: their "*" is the key itself.
    assert v.no_wildcard_resources("aws:kms/key:Key", {"policy": _doc(star)}) == []


def test_listing_secrets_is_the_one_action_allowed_on_star() -> None:
    """The operator CLI's discovery: ListSecrets has no resource-level permission."""
    from infra.aws_policies import LIST_SECRETS

    assert frozenset({LIST_SECRETS}) == v.LIST_ONLY_ACTIONS
    listing = {"Effect": "Allow", "Action": [LIST_SECRETS], "Resource": "*"}
    as_string = {"Effect": "Allow", "Action": LIST_SECRETS, "Resource": ["*"]}
    widened = {"Effect": "Allow", "Action": [LIST_SECRETS, "secretsmanager:DescribeSecret"]}
    type_ = "aws:iam/policy:Policy"
    assert v.no_wildcard_resources(type_, {"policy": _doc(listing, as_string)}) == []
    assert len(v.no_wildcard_resources(type_, {"policy": _doc({**widened, "Resource": "*"})})) == 1
    other_list = {"Effect": "Allow", "Action": ["secretsmanager:BatchGetSecretValue"]}
    assert (
        len(v.no_wildcard_resources(type_, {"policy": _doc({**other_list, "Resource": "*"})})) == 1
    )
    sloppy = {"Effect": "Allow", "Action": [LIST_SECRETS], "Resource": "arn:aws:*"}
    assert len(v.no_wildcard_resources(type_, {"policy": _doc(sloppy)})) == 1


def test_the_drains_reads_and_one_namespace_of_metrics_are_allowed_on_star() -> None:
    """CloudWatch's metric actions and CloudTrail's LookupEvents take no resource: exactly
    the drain's three reads may name "*", and PutMetricData only bound to one namespace."""
    from infra import aws_policies

    type_ = "aws:iam/policy:Policy"
    assert set(aws_policies.DRAIN_READ_ACTIONS) == v.STAR_ONLY_READS
    ok = _doc(aws_policies.drain_reads(), aws_policies.usage_reports())
    assert v.no_wildcard_resources(type_, {"policy": ok}) == []

    def refused(statement: dict[str, object]) -> int:
        return len(v.no_wildcard_resources(type_, {"policy": _doc(statement)}))

    reads = aws_policies.drain_reads()
    # One more action, or a whole service, in the same statement: refused.
    assert refused({**reads, "Action": [*reads["Action"], "cloudwatch:DeleteAlarms"]}) == 1
    assert refused({**reads, "Action": ["cloudwatch:*"]}) == 1
    assert refused({**reads, "Action": ["cloudtrail:LookupEvents", "s3:GetObject"]}) == 1
    writes = aws_policies.usage_reports()
    assert refused({k: x for k, x in writes.items() if k != "Condition"}) == 1  # any namespace
    assert refused({**writes, "Condition": {"StringLike": {"cloudwatch:namespace": "*"}}}) == 1
    two = {"StringEquals": {"cloudwatch:namespace": ["CioRotation", "AWS/EC2"]}}
    assert refused({**writes, "Condition": two}) == 1


def test_the_drains_custom_roles_alone_are_bound_on_the_project_and_stay_narrow() -> None:
    member = "gcp:projects/iAMMember:IAMMember"
    reader = {"role": "projects/my-proj/roles/cio_drain_reader", "member": "group:ops@x.com"}
    writer = {"role": "projects/my-proj/roles/cio_usage_writer", "member": "serviceAccount:a@b"}
    assert v.no_project_wide_grants(member, reader) == []
    assert v.no_project_wide_grants(member, writer) == []
    other = {"role": "projects/my-proj/roles/cio_rotator", "member": "group:ops@x.com"}
    assert len(v.no_project_wide_grants(member, other)) == 1
    conditioned = {**reader, "condition": {"expression": "true"}}
    assert len(v.no_project_wide_grants(member, conditioned)) == 1
    binding = "gcp:projects/iAMBinding:IAMBinding"  # a binding replaces others' members
    assert len(v.no_project_wide_grants(binding, {**reader, "members": ["group:ops@x.com"]})) == 1
    role = "gcp:projects/iAMCustomRole:IAMCustomRole"
    exact = {"roleId": "cio_usage_writer", "permissions": ["monitoring.timeSeries.create"]}
    assert v.drain_roles_are_narrow(role, exact) == []
    wider = {
        **exact,
        "permissions": ["monitoring.timeSeries.create", "secretmanager.versions.access"],
    }
    [problem] = v.drain_roles_are_narrow(role, wider)
    assert "cio_usage_writer" in problem and "secretmanager.versions.access" in problem
    reads = {"roleId": "x_drain_reader", "permissions": ["logging.logEntries.list"]}
    assert len(v.drain_roles_are_narrow(role, reads)) == 1  # fewer is a different role too
    assert v.drain_roles_are_narrow(role, {"roleId": "cio_rotator", "permissions": []}) == []


def test_no_project_wide_grants() -> None:
    assert PROJECT_WIDE_GRANT_TYPES == v.PROJECT_WIDE_GRANT_TYPES
    for type_ in sorted(v.PROJECT_WIDE_GRANT_TYPES):
        [message] = v.no_project_wide_grants(type_, {"role": "roles/secretmanager.admin"})
        assert "roles/secretmanager.admin" in message
    assert v.no_project_wide_grants("gcp:secretmanager/secretIamMember:SecretIamMember", {}) == []
    assert v.no_project_wide_grants("gcp:projects/iAMCustomRole:IAMCustomRole", {}) == []
    # The build account's log writing is the one project-level grant allowed, as a member.
    log_writer = {"role": "roles/logging.logWriter", "member": "serviceAccount:b@p.iam"}
    assert v.no_project_wide_grants("gcp:projects/iAMMember:IAMMember", log_writer) == []
    assert len(v.no_project_wide_grants("gcp:projects/iAMBinding:IAMBinding", log_writer)) == 1
    # The operators' listing role (by its name; `lister_role_is_list_only` keeps it to
    # secretmanager.secrets.list), to a person, group or service account, unconditioned.
    lister = {"role": "projects/p-123456/roles/cio_secret_lister", "member": "group:ops@x.io"}
    assert v.no_project_wide_grants("gcp:projects/iAMMember:IAMMember", lister) == []
    for broader in (
        {**lister, "role": "roles/secretmanager.viewer"},
        {**lister, "role": "projects/p-123456/roles/cio_rotator"},
        {**lister, "member": "allAuthenticatedUsers"},
    ):
        assert len(v.no_project_wide_grants("gcp:projects/iAMMember:IAMMember", broader)) == 1
    role = {"roleId": "cio_secret_lister", "permissions": ["secretmanager.secrets.list"]}
    assert v.lister_role_is_list_only(v.GCP_CUSTOM_ROLE, role) == []
    more = {**role, "permissions": ["secretmanager.secrets.list", "secretmanager.versions.access"]}
    [message] = v.lister_role_is_list_only(v.GCP_CUSTOM_ROLE, more)
    assert "secretmanager.versions.access" in message
    assert v.lister_role_is_list_only(v.GCP_CUSTOM_ROLE, {"roleId": "cio_rotator"}) == []


def test_no_secret_values() -> None:
    assert len(v.no_secret_values(v.AWS_SECRET_VERSION, {"secretString": "x"})) == 1
    assert len(v.no_secret_values(v.GCP_SECRET_VERSION, {"secretData": "x"})) == 1
    assert len(v.no_secret_values(v.AWS_SECRET, {"secretString": "x"})) == 1
    assert v.no_secret_values(v.AWS_SECRET, {"name": "cio/x"}) == []
    # The chat webhook's version is a notification setting, not a managed credential.
    chat = {"secret": "projects/p/secrets/cio_chat_webhook", "secretData": "x"}
    assert v.no_secret_values(v.GCP_SECRET_VERSION, chat) == []
    credential = {"secret": "projects/p/secrets/cio-marketing-track", "secretData": "x"}
    assert len(v.no_secret_values(v.GCP_SECRET_VERSION, credential)) == 1


ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
KEY = "aws:kms/key:Key"


def test_no_not_action_in_identity_and_resource_policies() -> None:
    not_action = {"Effect": "Allow", "NotAction": ["iam:*"], "Resource": ["arn:aws:s3:::b"]}
    [message] = v.no_not_action(ROLE_POLICY, {"policy": _doc(not_action)})
    assert "NotAction" in message
    key_policy = {**not_action, "Principal": {"AWS": "arn:aws:iam::1:root"}}
    assert len(v.no_not_action(KEY, {"policy": _doc(key_policy)})) == 1
    deny = {**not_action, "Effect": "Deny"}  # a Deny with NotAction only takes away
    assert v.no_not_action(ROLE_POLICY, {"policy": _doc(deny)}) == []
    assert v.no_not_action(ROLE_POLICY, {"policy": _doc(ALLOW_SCOPED)}) == []


@pytest.mark.parametrize(
    ("type_", "props", "violations"),
    [
        (
            "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
            {"role": "r", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
            1,
        ),
        (
            "aws:iam/userPolicyAttachment:UserPolicyAttachment",
            {"user": "u", "policyArn": "arn:aws:iam::aws:policy/PowerUserAccess"},
            1,
        ),
        (
            "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
            {"role": "r", "policyArn": "arn:aws:iam::123456789012:policy/AdministratorAccess"},
            0,  # a customer policy of that name is judged by the other rules
        ),
        (
            "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
            {"role": "r", "policyArn": "arn:aws:iam::123456789012:policy/cio-consumer"},
            0,
        ),
        (
            "aws:iam/role:Role",
            {"managedPolicyArns": ["arn:aws-us-gov:iam::aws:policy/IAMFullAccess"]},
            1,
        ),
        (ROLE_POLICY, {"policy": _doc({"Effect": "Allow", "Action": "*", "Resource": "*"})}, 1),
        ("gcp:secretmanager/secretIamMember:SecretIamMember", {"role": "roles/owner"}, 1),
        ("gcp:pubsub/topicIAMMember:TopicIAMMember", {"role": "roles/editor"}, 1),
        ("gcp:pubsub/topicIAMMember:TopicIAMMember", {"role": "roles/pubsub.publisher"}, 0),
    ],
)
def test_no_admin_policies(type_: str, props: dict[str, Any], violations: int) -> None:
    assert len(v.no_admin_policies(type_, props)) == violations


@pytest.mark.parametrize(
    ("type_", "principal", "violations"),
    [
        (KEY, "*", 1),
        (KEY, {"AWS": "*"}, 1),
        ("aws:sns/topicPolicy:TopicPolicy", {"AWS": ["arn:aws:iam::1:root", "*"]}, 1),
        ("aws:secretsmanager/secretPolicy:SecretPolicy", {"AWS": "*"}, 1),
        (KEY, {"AWS": "arn:aws:iam::123456789012:root"}, 0),
        ("aws:sns/topicPolicy:TopicPolicy", {"Service": "events.amazonaws.com"}, 0),
    ],
)
def test_no_public_resource_policies(type_: str, principal: Any, violations: int) -> None:
    statement = {"Effect": "Allow", "Principal": principal, "Action": "x:Y", "Resource": "*"}
    assert len(v.no_public_resource_policies(type_, {"policy": _doc(statement)})) == violations


def test_no_public_trust_policy_or_permission() -> None:
    trust = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
    role = {"assumeRolePolicy": _doc(trust)}
    assert len(v.no_public_resource_policies("aws:iam/role:Role", role)) == 1
    permission = "aws:lambda/permission:Permission"
    assert len(v.no_public_resource_policies(permission, {"principal": "*"})) == 1
    service = {"principal": "secretsmanager.amazonaws.com"}
    assert v.no_public_resource_policies(permission, service) == []


@pytest.mark.parametrize("member", ["allUsers", "allAuthenticatedUsers"])
def test_no_public_members_on_a_secret(member: str) -> None:
    secret_member = "gcp:secretmanager/secretIamMember:SecretIamMember"
    props = {"role": "roles/secretmanager.secretAccessor", "member": member}
    [message] = v.no_public_members(secret_member, props)
    assert member in message
    binding = "gcp:secretmanager/secretIamBinding:SecretIamBinding"
    assert len(v.no_public_members(binding, {"members": ["group:a@b.c", member]})) == 1
    policy = json.dumps({"bindings": [{"role": "roles/x", "members": [member]}]})
    assert len(v.no_public_members("gcp:secretmanager/secretIamPolicy:SecretIamPolicy",
                                   {"policyData": policy})) == 1  # fmt: skip
    assert v.no_public_members(secret_member, {"member": "group:oncall@example.com"}) == []


@pytest.mark.parametrize(
    ("name", "value", "violations"),
    [
        ("CIO_CHAT_WEBHOOK_URL", "https://chat.example.com/x", 1),  # named like one
        ("NOTIFY", "https://hooks.slack.com/services/T0/B0/abc", 1),  # looks like one
        ("NOTIFY", "https://discord.com/api/webhooks/1/abc", 1),
        ("UPSTREAM", "https://user:pa55@example.com/", 1),
        ("UPSTREAM", "https://example.com/callback?token=abc", 1),
        ("KEY_ID", "AKIAABCDEFGHIJKLMNOP", 1),
        ("DB_PASSWORD", "hunter2", 1),
        ("CIO_CHAT_WEBHOOK_PARAMETER", "/cio/rotation/chat-webhook-url", 0),
        ("CIO_MANAGED_SECRETS", "projects/p/secrets/cio-a,projects/p/secrets/cio-b", 0),
        ("CIO_SNS_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:cio-notifications", 0),
        ("CIO_ROTATION_DAYS", "90", 0),
        ("API_KEY", "", 0),  # empty: nothing to leak
    ],
)
def test_no_credentials_in_function_env(name: str, value: str, violations: int) -> None:
    lambda_props = {"environment": {"variables": {name: value}}}
    problems = v.no_credentials_in_function_env("aws:lambda/function:Function", lambda_props)
    assert len(problems) == violations
    assert all(value not in p or not value for p in problems), "the value is never echoed"
    gcp_props = {"serviceConfig": {"environmentVariables": {name: value}}}
    gcp_fn = "gcp:cloudfunctionsv2/function:Function"
    assert len(v.no_credentials_in_function_env(gcp_fn, gcp_props)) == violations


def test_the_previous_program_shape_is_refused() -> None:
    """What the review found (item 7): the chat URL in both functions' environments."""
    url = "https://hooks.example.com/services/T000/B000/xoxb-secret-part"
    env = {cv.ENV_CHAT_WEBHOOK_URL: url, cv.ENV_ROTATION_DAYS: "90"}
    lam = v.no_credentials_in_function_env(
        "aws:lambda/function:Function", {"environment": {"variables": env}}
    )
    gcf = v.no_credentials_in_function_env(
        "gcp:cloudfunctionsv2/function:Function", {"serviceConfig": {"environmentVariables": env}}
    )
    assert len(lam) == 1 and len(gcf) == 1


def _args(type_: str, props: dict[str, Any]) -> ResourceValidationArgs:
    options = PolicyResourceOptions(
        protect=False,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
    )
    return ResourceValidationArgs(type_, props, f"urn:pulumi:s::p::{type_}::r", "r", options, None)


def test_policies_are_mandatory_and_report_through_the_sdk() -> None:
    policies = {p.name: p for p in build_policies()}
    assert set(policies) == set(v.VALIDATORS)
    assert all(p.enforcement_level is not None and p.enforcement_level.value == "mandatory"
               for p in policies.values())  # fmt: skip
    reported: list[str] = []
    policy = policies["no-secret-values-in-pulumi"]
    assert isinstance(policy, ResourceValidationPolicy)
    args = _args(v.GCP_SECRET_VERSION, {"secretData": "x"})
    policy.validate(args, lambda message, _: reported.append(message))
    assert len(reported) == 1 and "cio-rotate submit" in reported[0]


def _violations(ev: Evaluation) -> list[tuple[str, str, str]]:
    return [
        (r.type, r.name, message)
        for r in ev.resources
        for _, check in v.VALIDATORS.values()
        for message in check(r.type, r.inputs)
    ]


def _changed(resource: Recorded, **inputs: Any) -> Recorded:
    return Recorded(resource.type, resource.name, {**resource.inputs, **inputs}, {}, resource.id)


def test_the_pack_passes_the_stack_and_fails_each_broader_grant(tmp_path: Path) -> None:
    """Issue 21: the grants the first deploy needs pass; each broader one is refused."""
    source = make_source_tree(tmp_path / "src")
    config = parse_config(sample_raw_config(3), frozenset())
    options = BuildOptions(
        repo_root=source, build_dir=tmp_path / "b", now=datetime(2025, 1, 1, tzinfo=UTC)
    )
    ev = evaluate(lambda: build(config, options).outputs)
    assert _violations(ev) == []
    sources = ev.named("gcp-builder-reads-function-sources")
    agent_role = ev.named("gcp-eventarc-agent-role")
    logs = ev.named("gcp-builder-writes-logs")
    consumer = ev.named("aws-consumer-policy")
    permission = ev.named("aws-secretsmanager-invoke")
    lister_grant = ev.named("gcp-operator-0-lists-secrets")
    lister_role = ev.named("gcp-secret-lister-role")
    assert lister_role.inputs["permissions"] == ["secretmanager.secrets.list"]
    document = json.loads(consumer.inputs["policy"])
    unconditioned = [
        {k: s[k] for k in ("Sid", "Effect", "Action", "Resource")} for s in document["Statement"]
    ]
    any_stage = [
        {**s, "Condition": {"Null": {"secretsmanager:VersionId": "true"}}}
        if s["Sid"] == "ReadCurrentKeys"
        else s
        for s in document["Statement"]
    ]
    broader = {
        "project-wide storage.admin": _changed(sources, role="roles/storage.admin"),
        "project-wide objectViewer": _changed(sources, condition=None),
        "objectViewer on another bucket": _changed(
            sources,
            condition={
                "title": "x",
                "expression": 'resource.name.startsWith("projects/_/buckets/")',
            },
        ),
        "roles/editor": _changed(logs, role="roles/editor"),
        "the Eventarc role to someone else": _changed(agent_role, member=BUILD_MEMBER),
        "a binding instead of a member": Recorded(
            "gcp:projects/iAMBinding:IAMBinding",
            "x",
            {"role": "roles/logging.logWriter", "members": [BUILD_MEMBER]},
            {},
            "x",
        ),
        "a consumer policy without the VersionStage condition": _changed(
            consumer, policy=json.dumps({**document, "Statement": unconditioned})
        ),
        "a consumer policy reading any stage": _changed(
            consumer, policy=json.dumps({**document, "Statement": any_stage})
        ),
        "a Lambda permission without source_arn": _changed(permission, sourceArn=None),
        # Operators list secrets on the project through the one-permission role only.
        "project-wide secretmanager.viewer for operators": _changed(
            lister_grant, role="roles/secretmanager.viewer"
        ),
        "project-wide secretAccessor for operators": _changed(
            lister_grant, role="roles/secretmanager.secretAccessor"
        ),
        "another custom role on the project": _changed(
            lister_grant, role="projects/test-project/roles/cio_rotator"
        ),
        "the listing role holding value access": _changed(
            lister_role,
            permissions=["secretmanager.secrets.list", "secretmanager.versions.access"],
        ),
        "the listing role holding another permission": _changed(
            lister_role, permissions=["secretmanager.secrets.get"]
        ),
        "the listing role as a binding": Recorded(
            "gcp:projects/iAMBinding:IAMBinding",
            "x",
            {"role": lister_grant.inputs["role"], "members": [lister_grant.inputs["member"]]},
            {},
            "x",
        ),
    }
    for what, resource in broader.items():
        found = [
            m for _, check in v.VALIDATORS.values() for m in check(resource.type, resource.inputs)
        ]
        assert found, f"the pack lets through {what}"


def test_the_stack_passes_its_own_policy_pack(tmp_path: Path) -> None:
    """Every resource the program declares (both clouds, 12 credentials) is compliant."""
    source = make_source_tree(tmp_path / "src")
    raw = {**sample_raw_config(12), "chat_webhook_url": WEBHOOK}
    config = parse_config(raw, frozenset({"chat_webhook_url"}))
    options = BuildOptions(
        repo_root=source,
        build_dir=tmp_path / "b",
        now=datetime(2025, 1, 1, tzinfo=UTC),
        chat_webhook_url=pulumi.Output.secret(WEBHOOK),
    )
    ev = evaluate(lambda: build(config, options).outputs)
    violations = [
        (r.type, r.name, message)
        for r in ev.resources
        for _, check in v.VALIDATORS.values()
        for message in check(r.type, r.inputs)
    ]
    assert violations == []
    checked = {r.type for r in ev.resources} & {
        v.AWS_SECRET,
        v.AWS_SECRET_ROTATION,
        v.GCP_SECRET,
        *v.IAM_POLICY_PROPS,
    }
    assert len(checked) == 5  # the rules really saw the resources they guard
    guarded = {r.type for r in ev.resources} & {
        *v.RESOURCE_POLICY_PROPS,
        *v.FUNCTION_ENV_PATHS,
        *v.AWS_POLICY_ATTACHMENTS,
        v.AWS_LAMBDA_PERMISSION,
        v.GCP_SECRET_VERSION,
    }
    assert len(guarded) >= 8


_ROTATOR = "arn:aws:lambda:us-east-1:123456789012:function:cio-rotator"


@pytest.mark.parametrize(
    ("resource", "violations"),
    [
        (f"{_ROTATOR}:operator", 0),
        (_ROTATOR, 1),  # the function itself: rotation steps by hand
        (f"{_ROTATOR}:*", 1),
        (f"{_ROTATOR}:$LATEST", 1),
        (f"{_ROTATOR}:other", 1),
        ("*", 1),
    ],
)
def test_operators_invoke_the_operator_alias_only(resource: str, violations: int) -> None:
    """Issue 21: an operator invoke grant on the unqualified function fails the pack."""
    invoke = {"Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": [resource]}
    props = {"name": "cio-operator-prod-us-east-1", "policy": _doc(invoke)}
    rule = v.operators_invoke_the_operator_alias_only
    assert len(rule("aws:iam/rolePolicy:RolePolicy", props)) == violations
    wildcard_action = {**invoke, "Action": ["lambda:*"]}
    assert len(
        rule("aws:iam/rolePolicy:RolePolicy", {**props, "policy": _doc(wildcard_action)})
    ) == (violations)
    # The rotator (RotateSecret needs it) and the scheduler invoke the function itself.
    rotator = {"name": "cio-rotator-prod-us-east-1", "policy": _doc(invoke)}
    assert rule("aws:iam/rolePolicy:RolePolicy", rotator) == []
