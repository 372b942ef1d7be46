"""The `pulumi stack output --json` document of a local stack, as the CLI reads it.

The program's own outputs (infra/program.py), as the deployed LocalStack resolved
them: the CLI tests, the benches and the drill point `cio-rotate` at the local
cloud exactly the way a platform engineer's saved outputs file would.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from infra import naming

AWS_LOG_GROUP = naming.rotator_log_group_name("cio")  # the program's, with its default prefix


class Deployed(Protocol):
    @property
    def outputs(self) -> dict[str, Any]: ...


def stack_outputs(deployed: Deployed) -> dict[str, Any]:
    """The outputs as JSON would carry them (a copy: the CLI may not change the stack's)."""
    doc: dict[str, Any] = json.loads(json.dumps(deployed.outputs))
    return doc


def aws_outputs(deployed: Deployed) -> dict[str, Any]:
    return stack_outputs(deployed)


def gcp_outputs(deployed: Deployed) -> dict[str, Any]:
    return stack_outputs(deployed)


def both_outputs(aws: Deployed, gcp: Deployed) -> dict[str, Any]:
    """One stack on both clouds: the document `pulumi stack output --json` prints for it
    (the local clouds deploy one program each; a real stack holds both in one)."""
    a, g = stack_outputs(aws), stack_outputs(gcp)
    credentials: dict[str, dict[str, Any]] = {}
    for doc in (a, g):
        for name, entry in doc.get("credentials", {}).items():
            credentials.setdefault(name, {}).update(entry)
    return {**a, **g, "credentials": credentials}
