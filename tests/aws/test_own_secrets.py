"""Issue 21: the rotator acts only on secrets its own stack created.

`<prefix>/*` also matches secrets anyone creates under the prefix. Beside the IAM
condition on the stack tag (tests/aws/test_least_privilege.py), the rotator checks the
tag itself, from the DescribeSecret its snapshot makes anyway: a secret with every
`managed` tag but no stack tag, or another stack's, is refused naming it and both stacks,
and nothing of it is read, written or rotated.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from localcloud.aws_harness import PREFIX
from localcloud.stack import STACK
from rotation import conventions as cv
from rotation.credentials import Kind, Region
from rotation.metadata import aws_config_tags

NAME = "marketing-track"


def _squatter(aws: Any, name: str, stack: str | None) -> str:
    """A live secret under the prefix, tagged like a managed one, that the stack did not
    create: its inbox holds a good key, so acting on it would show."""
    tags = aws_config_tags(name, Kind.TRACK, Region.US, "1001")
    inbox = aws.sm.create_secret(Name=f"{PREFIX}/{name}/inbox")["ARN"]
    tags[cv.TAG_INBOX] = inbox
    if stack is not None:
        tags[cv.TAG_STACK] = stack
    arn: str = aws.sm.create_secret(
        Name=f"{PREFIX}/{name}",
        SecretString=json.dumps({"site_id": "s", "api_key": "theirs", "region": "us"}),
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )["ARN"]
    return arn


def _versions(aws: Any, arn: str) -> list[Any]:
    return sorted(
        (v["VersionId"], sorted(v["VersionStages"]))
        for v in aws.sm.list_secret_version_ids(SecretId=arn)["Versions"]
    )


@pytest.mark.parametrize("owner", [None, "someone-elses"], ids=["untagged", "other-stack"])
def test_a_secret_the_stack_did_not_create_is_never_acted_on(
    aws: Any, cio: Any, owner: str | None
) -> None:
    aws.provision(NAME, "track", "us", workspace="1001")
    squatter = _squatter(aws, "squatter", owner)
    before = _versions(aws, squatter)
    for event in [
        {"action": cv.ACTION_RECONCILE, "secret_id": squatter},
        {"action": cv.ACTION_SUBMITTED, "secret_id": squatter},
        {"action": cv.ACTION_EMERGENCY, "secret_id": squatter, "reason": "drill"},
        {"Step": "createSecret", "SecretId": squatter, "ClientRequestToken": "t" * 32},
    ]:
        with pytest.raises(RuntimeError) as info:
            aws.invoke(event)
        message = str(info.value)
        assert "OtherStacksSecret" in message and f"{PREFIX}/squatter" in message
        assert repr(STACK) in message  # this rotator's stack, and whose it is
        assert (repr(owner) if owner else "no stack") in message
    # The sweep goes on with its own credentials and leaves the other one alone.
    out = aws.invoke({"action": cv.ACTION_SWEEP, "secret_ids": [squatter, aws.secrets[NAME]]})
    assert out.get("queued") == 2
    aws.advance(timedelta(0))  # the queue's mapping brings both units to the function
    assert aws.stack.aws is not None and aws.stack.aws.hidden == {}  # dropped, not retried
    assert _versions(aws, squatter) == before
    assert not [n for n in aws.notifications() if "squatter" in json.dumps(n)]
