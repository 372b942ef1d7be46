"""Issue 21: operators' invocations of the rotator carry operator actions only.

Operators may invoke the rotator's `operator` alias alone (their IAM grant names its ARN:
tests/aws/test_least_privilege.py shows the function itself is denied to them). Through
the alias, the deployed function runs the operator actions and refuses a rotation Step,
a work-queue batch and a sweep, with an audit event and without touching anything;
unqualified, Secrets Manager's steps, the queue and the schedules keep working.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from localcloud.aws_harness import FUNCTION
from rotation import conventions as cv
from rotation.state import Mode, Phase

NAME = "marketing-track"


def _via_alias(aws: Any, event: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    """(failed, body) of an invocation of the operator alias, as the CLI makes it."""
    response = aws.lam.invoke(
        FunctionName=FUNCTION, Qualifier=cv.OPERATOR_ALIAS, Payload=json.dumps(event).encode()
    )
    body = json.loads(response["Payload"].read() or b"null")
    return bool(response.get("FunctionError")), dict(body or {})


def _versions(aws: Any, arn: str) -> list[tuple[str, list[str]]]:
    return sorted(
        (v["VersionId"], sorted(v["VersionStages"]))
        for v in aws.sm.list_secret_version_ids(SecretId=arn)["Versions"]
    )


@pytest.fixture
def live(aws: Any, cio: Any, clock: Any) -> str:
    """A bootstrapped track credential whose rotation is open, with a pending version."""
    arn: str = aws.provision(NAME, "track", "us", workspace="1001")
    aws.submit(NAME, cio.new_track_key("1001"))
    clock.advance(timedelta(days=76))
    aws.sweep()
    return arn


def test_a_rotation_step_through_the_alias_is_refused_and_audited(
    aws: Any, live: str, caplog: pytest.LogCaptureFixture
) -> None:
    before = aws.rt.store.snapshot(live, fresh=True)
    versions = _versions(aws, live)
    token = "0" * 32
    for step in ("createSecret", "finishSecret"):
        failed, body = _via_alias(
            aws, {"Step": step, "SecretId": live, "ClientRequestToken": token}
        )
        assert failed and body["errorType"] == "EntryRefused", body
        assert "only Secrets Manager sends those" in body["errorMessage"]
        assert "cio-rotate" in body["errorMessage"]  # what to use instead
    after = aws.rt.store.snapshot(live, fresh=True)
    assert after.revision == before.revision  # nothing was written
    assert _versions(aws, live) == versions
    refused = [r.getMessage() for r in caplog.records if "invocation.refused" in r.getMessage()]
    assert len(refused) == 2 and all('"outcome": "refused"' in line for line in refused)


@pytest.mark.parametrize(
    "event",
    [
        {"action": cv.ACTION_SWEEP, "secret_ids": ["x"]},
        {"Records": [{"messageId": "m", "body": "{}"}]},
        {"action": "something-else", "secret_id": "x"},
    ],
    ids=["sweep", "queue-batch", "unknown-action"],
)
def test_only_operator_actions_pass_the_alias(aws: Any, live: str, event: dict[str, Any]) -> None:
    failed, body = _via_alias(aws, event)
    assert failed and body["errorType"] == "EntryRefused", body


def test_operator_actions_run_through_the_alias(aws: Any, live: str) -> None:
    failed, body = _via_alias(
        aws, {"action": cv.ACTION_EMERGENCY, "secret_id": live, "reason": "laptop stolen"}
    )
    assert not failed, body
    st = aws.rt.store.snapshot(live, fresh=True).state
    assert st.phase is Phase.AWAITING_KEY and st.mode is Mode.EMERGENCY
    failed, body = _via_alias(aws, {"action": cv.ACTION_RECONCILE, "secret_id": live})
    assert not failed, body


def test_unqualified_invocations_keep_every_door_of_the_stack(
    aws: Any, cio: Any, live: str
) -> None:
    """Secrets Manager (RotateSecret's steps), the daily sweep and the queue's batches
    invoke the function itself: a whole rotation still completes that way."""
    key = cio.new_track_key("1001")
    assert aws.submit(NAME, key)["outcome"] == "submitted"
    assert aws.rt.store.snapshot(live, fresh=True).state.current_fp == key.fingerprint
    assert aws.sweep()  # the schedule's sweep, unqualified, fans out to the queue


def test_a_stack_without_the_alias_tells_the_operator_to_run_pulumi_up(aws: Any) -> None:
    """A rotator deployed before the alias existed: the CLI says what to do, not just
    'not found'."""
    from localcloud.aws_harness import REGION
    from rotation.operator.aws import AwsBackend
    from rotation.operator.backend import NotFound
    from rotation.operator.config import CredentialRef, OperatorConfig

    arn = aws.provision(NAME, "track", "us", workspace="1001")
    aws.lam.delete_alias(FunctionName=FUNCTION, Name=cv.OPERATOR_ALIAS)
    ref = CredentialRef(NAME, "aws", arn, "track", "us")
    backend = AwsBackend(OperatorConfig(aws_region=REGION, function_name=FUNCTION))
    with pytest.raises(NotFound) as info:
        backend.invoke(ref, cv.ACTION_RECONCILE)
    assert f"{cv.OPERATOR_ALIAS!r} alias" in str(info.value) and "`pulumi up`" in str(info.value)
