"""The `pulumi stack output --json` document for a local account, as the CLI reads it.

One builder for the CLI tests and the drill, so both point `cio-rotate` at the
local cloud exactly the way a platform engineer's saved outputs file would.
"""

from __future__ import annotations

from typing import Any

from localcloud.aws_harness import FUNCTION, PREFIX
from localcloud.gcp_harness import TOPIC
from localcloud.local_stack import STACK

AWS_LOG_GROUP = f"/aws/lambda/{FUNCTION}"


def aws_outputs(secrets: dict[str, str], log_group: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "credentials": {
            name: {
                "kind": "",  # informational in the outputs; the CLI reads the secret's tags
                "region": "",
                "bootstrap_command": f"cio-rotate submit {name}",
                "aws_secret_arn": arn,
                "aws_secret_name": f"{PREFIX}/{name}",
                "aws_inbox_name": f"{PREFIX}/{name}/inbox",
            }
            for name, arn in secrets.items()
        },
        "aws_rotator_function_name": FUNCTION,
        "aws_operator_role_arn": "arn:aws:iam::123456789012:role/cio-operator",
        "stack": STACK,
    }
    if log_group:
        doc["aws_rotator_log_group"] = log_group
    return doc


def gcp_outputs(secrets: dict[str, str]) -> dict[str, Any]:
    return {
        "credentials": {
            name: {
                "kind": "",
                "region": "",
                "bootstrap_command": f"cio-rotate submit {name}",
                "gcp_secret_version": f"{live}/versions/latest",
                "gcp_inbox_secret": f"{live}-inbox",
            }
            for name, live in secrets.items()
        },
        "gcp_rotation_topic": TOPIC,
        "gcp_function_name": "cio-rotator",
        "stack": STACK,
    }


def both_outputs(
    aws_secrets: dict[str, str], gcp_secrets: dict[str, str], log_group: str | None = None
) -> dict[str, Any]:
    """One stack on both clouds: the document `pulumi stack output --json` prints for it."""
    aws, gcp = aws_outputs(aws_secrets, log_group), gcp_outputs(gcp_secrets)
    credentials: dict[str, dict[str, Any]] = {}
    for doc in (aws, gcp):
        for name, entry in doc["credentials"].items():
            credentials.setdefault(name, {}).update(entry)
    return {**aws, **gcp, "credentials": credentials}
