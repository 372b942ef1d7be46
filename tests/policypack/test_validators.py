"""The policy pack's validators, called directly, and the stack judged by them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
from tests.program.harness import evaluate, make_source_tree, sample_raw_config


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


def test_no_project_wide_grants() -> None:
    assert PROJECT_WIDE_GRANT_TYPES == v.PROJECT_WIDE_GRANT_TYPES
    for type_ in sorted(v.PROJECT_WIDE_GRANT_TYPES):
        [message] = v.no_project_wide_grants(type_, {"role": "roles/secretmanager.admin"})
        assert "roles/secretmanager.admin" in message
    assert v.no_project_wide_grants("gcp:secretmanager/secretIamMember:SecretIamMember", {}) == []
    assert v.no_project_wide_grants("gcp:projects/iAMCustomRole:IAMCustomRole", {}) == []


def test_no_secret_values() -> None:
    assert len(v.no_secret_values(v.AWS_SECRET_VERSION, {"secretString": "x"})) == 1
    assert len(v.no_secret_values(v.GCP_SECRET_VERSION, {"secretData": "x"})) == 1
    assert len(v.no_secret_values(v.AWS_SECRET, {"secretString": "x"})) == 1
    assert v.no_secret_values(v.AWS_SECRET, {"name": "cio/x"}) == []


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


def test_the_stack_passes_its_own_policy_pack(tmp_path: Path) -> None:
    """Every resource the program declares (both clouds, 12 credentials) is compliant."""
    source = make_source_tree(tmp_path / "src")
    config = parse_config(sample_raw_config(12))
    options = BuildOptions(
        repo_root=source, build_dir=tmp_path / "b", now=datetime(2025, 1, 1, tzinfo=UTC)
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
