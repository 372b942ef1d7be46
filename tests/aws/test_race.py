"""Rotator invocations racing in threads, with no concurrency limit: no update is lost.

Each thread is its own invocation (its own boto3 client, store and engine) on the
same moto account. The state document's compare-and-swap (a revision-derived
ClientRequestToken) is the only thing keeping them apart.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import boto3
import pytest

from localcloud.aws_harness import REGION
from rotation.engine import Engine
from rotation.errors import StateConflict
from rotation.notices import Notice
from rotation.state import RotationState
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
