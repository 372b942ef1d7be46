"""The program tests' helpers: sample configs and source trees, on top of the shared mocks.

The mock machinery itself (RecordingMocks, evaluate) lives in localcloud/program_mocks.py,
which the local stack uses too: one place for how the program is run under mocks.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from infra.bundle import REPO_ROOT
from localcloud.program_mocks import (
    ACCOUNT,
    GCP_PROJECT_NUMBER,
    ORGANIZATION,
    PARTITION,
    REGION,
    Evaluation,
    Options,
    Recorded,
    RecordingMocks,
    evaluate,
    stack_exports,
)

__all__ = [
    "ACCOUNT",
    "ENDPOINT",
    "GCP_PROJECT_NUMBER",
    "ORGANIZATION",
    "PARTITION",
    "REGION",
    "Evaluation",
    "Options",
    "Recorded",
    "RecordingMocks",
    "evaluate",
    "make_source_tree",
    "sample_raw_config",
    "stack_exports",
    "unwrap_secret",
]

ENDPOINT = "https://hooks.example.com/customerio/deliveries"


def sample_raw_config(
    credentials: int = 3, clouds: tuple[str, ...] = ("aws", "gcp")
) -> dict[str, Any]:
    """A valid raw stack config with `credentials` credentials of every kind."""
    kinds = [
        {"kind": "track", "region": "us", "workspace_id": "112233"},
        {"kind": "app", "region": "eu"},
        {"kind": "webhook_signing", "webhook_endpoint": ENDPOINT},
    ]
    # With both clouds, every credential on both (two credentials of one name, explicitly).
    where = {"cloud": "both"} if len(clouds) > 1 else {}
    creds = [
        {"name": f"cred-{i:03d}", **kinds[i % len(kinds)], **where} for i in range(credentials)
    ]
    return {
        "clouds": list(clouds),
        "credentials": creds,
        "operator_emails": ["oncall@example.com", "platform@example.com"],
        "aws_operator_principals": [f"arn:aws:iam::{ACCOUNT}:role/platform-oncall"],
        "aws_consumer_principals": [
            f"arn:aws:iam::{ACCOUNT}:role/app-backend",
            f"arn:aws:iam::{ACCOUNT}:user/legacy-batch",
        ],
        "gcp_project": "test-project",
        "gcp_region": "europe-west1",
        "gcp_operator_members": ["group:platform-oncall@example.com"],
        "gcp_consumer_members": ["serviceAccount:app@test-project.iam.gserviceaccount.com"],
    }


def make_source_tree(root: Path, repo: Path = REPO_ROOT) -> Path:
    """A copy of the function sources, with stand-in entry points where none exist yet.

    The GCP entry point is written by another engineer; the bundle builder refuses to
    build without it, so the program tests supply a minimal one.
    """
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(repo / "rotation", root / "rotation", ignore=ignore)
    shutil.copytree(repo / "lambdas", root / "lambdas", ignore=ignore)
    handler = root / "lambdas" / "aws_rotation" / "handler.py"
    if not handler.exists():
        handler.write_text("def handler(event, context):\n    return None\n")
    main = root / "lambdas" / "gcp_rotation" / "main.py"
    if not main.exists():
        main.parent.mkdir(parents=True, exist_ok=True)
        main.write_text("def handle_event(cloud_event):\n    return None\n")
    return root


_SECRET_SIG = ("4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270")


def unwrap_secret(value: Any) -> tuple[Any, bool]:
    """Mocks see Pulumi secrets as signed envelopes: (plain value, was it a secret?)."""
    if isinstance(value, dict) and value.get(_SECRET_SIG[0]) == _SECRET_SIG[1]:
        return value["value"], True
    return value, False
