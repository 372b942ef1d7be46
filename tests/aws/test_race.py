"""Rotator invocations racing in threads, with no concurrency limit: no update is lost.

Each thread is its own invocation (its own boto3 client, store and engine) on the
same moto account. The state document's compare-and-swap (a revision-derived
ClientRequestToken) is the only thing keeping them apart.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import boto3
import pytest
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.secretsmanager.models import secretsmanager_backends

from lambdas.aws_rotation import handler as rotator
from localcloud.aws_harness import REGION
from rotation import conventions as cv
from rotation.engine import Engine
from rotation.errors import StateConflict
from rotation.notices import Notice
from rotation.state import Phase, RotationState
from rotation.stores.aws import AwsSecretsStore
from rotation.stores.base import Snapshot

NAME = "raced"


def remind(tag: str) -> Callable[[Snapshot], RotationState]:
    """A write that must survive: a notice with a tag no other write uses."""
    return lambda snap: snap.state.with_notice(Notice.REMINDER, tag)


def test_racing_invocations_never_lose_a_state_write(aws, cio):
    arn = aws.provision(NAME, "track", "us", workspace="1001")
    aws.submit(NAME, cio.new_track_key("1001"))
    writers, each = 4, 10
    errors: list[BaseException] = []
    conflicts: list[int] = []

    def invocation(n: int) -> None:
        store = AwsSecretsStore(boto3.client("secretsmanager", region_name=REGION))
        template = aws.rt.engine
        engine = Engine(
            store=store,
            verifier=template.verifier,
            notifier=template.notifier,
            clock=template.clock,
            max_attempts=1000,
        )
        retried = 0
        real = store._write_state

        def counted(*args, **kwargs):
            nonlocal retried
            try:
                return real(*args, **kwargs)
            except Exception:
                retried += 1
                raise

        store._write_state = counted  # type: ignore[method-assign]
        try:
            for i in range(each):
                with store.session():
                    engine._apply(arn, remind(f"{n}-{i}"))
        except BaseException as err:  # reported below
            errors.append(err)
        conflicts.append(retried)

    before = AwsSecretsStore(aws.sm).snapshot(arn).state.notice_seq
    threads = [threading.Thread(target=invocation, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sum(conflicts) > 0  # they really raced: stale writes were refused and retried
    final = AwsSecretsStore(aws.sm).snapshot(arn).state
    assert final.notice_seq - before == writers * each
    assert sum(1 for e in final.outbox if e.startswith("reminder.")) == writers * each


def test_two_writers_of_one_revision_one_wins(aws, cio):
    arn = aws.provision(NAME, "track", "us", workspace="1001")
    a, b = AwsSecretsStore(aws.sm), AwsSecretsStore(aws.sm)
    snap = a.snapshot(arn)
    a.save_state(arn, snap.state.with_notice(Notice.OPENED), snap.revision)
    with pytest.raises(StateConflict):
        b.save_state(arn, snap.state.with_notice(Notice.ESCALATED), snap.revision)
    assert b.snapshot(arn).state.outbox[0].startswith("opened/")


# -- one step delivered 16 times at once (issue 21) -----------------------------------

DELIVERIES = 16


def _open_with_a_submission(aws: Any, cio: Any, clock: Any) -> tuple[str, str, Any]:
    """A rotation waiting for its key, the key in the inbox, and the empty AWSPENDING
    version RotateSecret creates before it calls the function (no step run yet)."""
    arn = aws.provision(NAME, "track", "us", workspace="1001")
    aws.submit(NAME, cio.new_track_key("1001"))
    clock.advance(timedelta(days=76))
    aws.sweep()
    new = cio.new_track_key("1001")
    aws._remember(new.to_json())
    AwsSecretsStore(aws.sm).write_submission(arn, new.to_json().encode("utf-8"))
    token = str(uuid.uuid4())
    secret = secretsmanager_backends[DEFAULT_ACCOUNT_ID][REGION].secrets[arn]
    secret.versions[token] = {
        "createdate": int(time.time()),
        "version_id": token,
        "version_stages": ["AWSPENDING"],
    }
    return arn, token, new


def _deliver_at_once(aws: Any, event: dict[str, Any]) -> list[str]:
    """`event` delivered DELIVERIES times at once, each to its own warm instance; returns
    what each failed delivery raised (what Secrets Manager would record as RotationFailed)."""
    env = {cv.ENV_SNS_TOPIC_ARN: aws.topic_arn, **aws.cio.env()}
    runtimes = [
        rotator.build_runtime(env=env, clock=aws.clock, verifier=aws.rt.engine.verifier)
        for _ in range(DELIVERIES)
    ]
    for rt in runtimes:
        rt.engine.policy = aws.policy
    failures: list[str] = []
    start = threading.Barrier(DELIVERIES)

    def deliver(rt: Any) -> None:
        start.wait()
        try:
            rotator.handle(dict(event), rt)
        except Exception as err:  # what the invocation reports to Secrets Manager
            failures.append(f"{type(err).__name__}: {err}")

    threads = [threading.Thread(target=deliver, args=(rt,)) for rt in runtimes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return failures


@pytest.mark.parametrize("step", ["createSecret", "finishSecret"])
def test_sixteen_racing_deliveries_of_one_step_all_succeed(aws, cio, clock, step):
    """A duplicate delivery that finds its outcome already reached (staged, promoted)
    returns success: no RotationFailed for a rotation that succeeded. One promotion,
    one promotion notice."""
    arn, token, new = _open_with_a_submission(aws, cio, clock)
    event = {"SecretId": arn, "ClientRequestToken": token}
    if step == "finishSecret":
        rotator.handle({**event, "Step": "createSecret"}, aws.rt)
    sent = len(aws.notifications())
    failures = _deliver_at_once(aws, {**event, "Step": step})
    print(f"\n{step}: {len(failures)} of {DELIVERIES} racing deliveries failed")
    assert failures == []
    if step == "createSecret":
        rotator.handle({**event, "Step": "finishSecret"}, aws.rt)
    snap = AwsSecretsStore(aws.sm).snapshot(arn)
    assert snap.current_version == token and snap.state.phase is Phase.PROMOTED
    assert aws.current_value(NAME)["api_key"] == new.secret
    promoted = [n for n in aws.notifications()[sent:] if "promoted" in (n["subject"] or "").lower()]
    assert len(promoted) <= 1
    assert sum(1 for e in snap.state.outbox if e.startswith("promoted")) <= 1


def test_a_real_conflict_still_fails(aws, cio, clock):
    """Only another outcome is a conflict: a promotion expecting a current version that
    is no longer current, of a version that did not become current, raises."""
    arn, token, _ = _open_with_a_submission(aws, cio, clock)
    rotator.handle({"Step": "createSecret", "SecretId": arn, "ClientRequestToken": token}, aws.rt)
    with aws.rt.store.session(), pytest.raises(StateConflict):
        aws.rt.engine._promote_once(arn, b"", token, expected_current=str(uuid.uuid4()))
    assert AwsSecretsStore(aws.sm).snapshot(arn).current_version != token
