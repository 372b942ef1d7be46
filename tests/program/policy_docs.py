"""Every IAM and KMS policy document the program generates, and parliament's view of them.

Shared by the least-privilege test (tests/aws/test_least_privilege.py) and the bench
(bench/policies.py), so both judge exactly the same documents.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import parliament
import pulumi

from infra.config import parse_config
from infra.program import BuildOptions, build
from tests.program.harness import Evaluation, evaluate, sample_raw_config

WEBHOOK = "https://hooks.example.com/services/T000/B000/parliament"

# Where each resource type keeps its policy documents, and what kind they are.
# Identity policies say what a principal may do; resource policies (key policies, topic
# policies, trust policies) say who may act on one resource.
POLICY_PROPS: dict[str, tuple[str, str]] = {
    "aws:iam/rolePolicy:RolePolicy": ("policy", "identity"),
    "aws:iam/policy:Policy": ("policy", "identity"),
    "aws:iam/role:Role": ("assumeRolePolicy", "trust"),
    "aws:kms/key:Key": ("policy", "resource"),
    "aws:sns/topicPolicy:TopicPolicy": ("policy", "resource"),
}


@dataclass(frozen=True)
class Document:
    resource: str  # the Pulumi resource name
    kind: str  # identity | trust | resource
    text: str

    @property
    def statements(self) -> int:
        return len(json.loads(self.text)["Statement"])


@dataclass(frozen=True)
class Finding:
    resource: str
    issue: str
    severity: str
    detail: str


def render(source_tree: Path, build_dir: Path) -> Evaluation:
    """The AWS half with every optional document present (chat webhook, consumers)."""
    raw = {**sample_raw_config(3, clouds=("aws",)), "chat_webhook_url": WEBHOOK}
    config = parse_config(raw, frozenset({"chat_webhook_url"}))

    def program() -> dict[str, Any]:
        options = BuildOptions(
            repo_root=source_tree,
            build_dir=build_dir,
            now=datetime(2025, 3, 1, tzinfo=UTC),
            chat_webhook_url=pulumi.Output.secret(WEBHOOK),
        )
        return build(config, options).outputs

    return evaluate(program)


def documents(ev: Evaluation) -> list[Document]:
    found: list[Document] = []
    for resource in ev.resources:
        if resource.type in POLICY_PROPS:
            prop, kind = POLICY_PROPS[resource.type]
            text = resource.inputs.get(prop)
            if isinstance(text, str):
                found.append(Document(resource.name, kind, text))
    return found


def analyze(document: Document) -> Iterator[Finding]:
    """parliament's findings, with the severity its own config gives each issue."""
    policy = parliament.analyze_policy_string(
        document.text,
        ignore_private_auditors=True,
        include_community_auditors=False,
    )
    for finding in policy.findings:
        parliament.enhance_finding(finding)
        yield Finding(document.resource, finding.issue, finding.severity, str(finding.detail))
