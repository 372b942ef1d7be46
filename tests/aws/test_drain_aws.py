"""AWS, through the local stack: "delete the old key now" waits for the drain.

Applications are the consumer library itself (cio_consumer loaders reading the live secret
from moto's Secrets Manager, reporting with its UsageReporter into moto's CloudWatch, on
the simulated clock); CloudTrail's event history is the local one (localcloud/cloudtrail).
The test plays the applications and the operator only: nothing here sweeps or runs
`check`; every drain check comes from the credential's own wake-up as simulated time
passes.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from localcloud.apps import MONTH_SECONDS, LocalApps
from localcloud.aws_harness import REGION
from localcloud.cloudtrail import CloudTrailHistory, assumed_role_client
from rotation.engine import Engine
from rotation.policy import DRAIN_CHECK_EVERY, Policy
from rotation.state import Phase
from tests.promises import MAX_LAG, Cloud, aws_cloud

NAME = "billing-track"
QUIET = timedelta(minutes=Policy().drain_quiet_minutes)


def apps_of(cloud: Cloud, arn: str) -> LocalApps:
    return LocalApps.on_aws(cloud.clock, cloud.advance, arn, REGION)


@pytest.fixture
def trail(clock: Any) -> Iterator[CloudTrailHistory]:
    with CloudTrailHistory(clock=clock.now).active() as history:
        yield history


@pytest.fixture
def cloud(aws: Any, cio: Any, clock: Any) -> Cloud:
    return aws_cloud(aws, cio, clock)


def promote_new_key(cloud: Cloud) -> datetime:
    """The operator hands over a new key (a rotation opens with the submission)."""
    cloud.submit(NAME, cloud.cio.new_track_key("1001"))
    st = cloud.state(NAME)
    assert st.phase is Phase.PROMOTED and st.promoted_at is not None
    return st.promoted_at


def revoke_notices(cloud: Cloud) -> list[tuple[datetime, str]]:
    return [
        (s.at, s.notification.body)
        for s in cloud.notices
        if s.notification.credential == NAME and s.notification.notice == "revoke_now"
    ]


def engine(cloud: Cloud) -> Engine:
    found: Engine = cloud.harness.rt.engine
    return found


def test_the_delete_notice_waits_for_a_straggler_and_follows_its_restart(cloud, trail, logs):
    cloud.provision(NAME)
    cloud.submit(NAME, cloud.cio.new_track_key("1001"))
    apps = apps_of(cloud, cloud.harness.secrets[NAME])
    apps.start("billing-api", "api-1")
    apps.start("billing-api", "api-2")
    cron = apps.start(
        "billing-cron", "cron-host:7", ttl=MONTH_SECONDS
    )  # caches the key for a month
    old = apps.keys()["cron-host:7"]
    apps.run(timedelta(minutes=30))

    promoted_at = promote_new_key(cloud)
    new = cloud.state(NAME).current_fp
    apps.run(timedelta(hours=1))
    assert apps.keys() == {"api-1": new, "api-2": new, "cron-host:7": old}
    st = cloud.state(NAME)
    assert revoke_notices(cloud) == []  # the straggler holds the delete notice back
    assert st.drain_on_new == 2 and st.drain_unconfirmed == ""
    assert [h.split("|")[0] for h in st.drain_holders] == ["billing-cron/cron-host:7"]
    assert st.drain_checked_at is not None and st.drain_checked_at > promoted_at + QUIET
    rotator = engine(cloud)
    waiting = [line for line in _drain_audits(logs) if "drain.waiting" in line]
    assert rotator.drain_checks == len(waiting) >= 9  # at the quiet period's end, then every 5 min
    # Rotator reads per drain check: ListMetrics x2 (old and new fingerprint), GetMetricData
    # x1, and CloudTrail LookupEvents, one per page of 50 GetSecretValue events in the window
    # (a day before the promotion until now: here 1 page, then 2 as the apps' reads add up).
    assert rotator.drain_reads == 3 * rotator.drain_checks + trail.lookups
    assert rotator.drain_checks <= trail.lookups <= 2 * rotator.drain_checks

    apps.stop(cron)  # the straggler restarts: a new process reads the new key
    restarted = cloud.clock.now()
    apps.start("billing-cron", "cron-host:8", ttl=MONTH_SECONDS)
    assert apps.keys()["cron-host:8"] == new
    apps.run(QUIET + 2 * DRAIN_CHECK_EVERY)

    [(at, body)] = revoke_notices(cloud)
    assert restarted < at <= restarted + QUIET + DRAIN_CHECK_EVERY
    assert "No application has used the old key for 15 minutes (3 reporting processes" in body
    assert "Still on the old key" not in body and "could not confirm" not in body
    assert cloud.state(NAME).drained_at is not None


def test_a_straggler_that_never_moves_is_named_at_the_grace_maximum(aws, cloud, trail):
    aws.policy = Policy(grace_hours=1)
    cloud.provision(NAME)
    cloud.submit(NAME, cloud.cio.new_track_key("1001"))
    arn = aws.secrets[NAME]
    apps = apps_of(cloud, arn)
    apps.start("billing-api", "api-1")
    apps.start("billing-cron", "cron-host:7", ttl=MONTH_SECONDS)
    legacy_role, legacy = assumed_role_client("legacy-batch", REGION)
    legacy.get_secret_value(SecretId=arn)  # reads once at deploy time, never again
    apps.run(timedelta(minutes=20))

    promoted_at = promote_new_key(cloud)
    apps.run(timedelta(minutes=75))

    [(at, body)] = revoke_notices(cloud)
    grace_end = promoted_at + timedelta(hours=1)
    assert grace_end <= at <= grace_end + MAX_LAG
    assert "The grace period's maximum is over (1 reporting process on the new key)" in body
    assert "billing-cron on cron-host:7 (reports the old key; last seen" in body
    assert f"{legacy_role} (read the secret before the promotion, not since" in body
    assert "fail (401) until they load the new key" in body
    st = cloud.state(NAME)
    assert st.drained_at is None and len(st.drain_holders) == 2


def test_an_unreadable_audit_trail_waits_for_the_maximum_and_says_so(aws, cloud, logs):
    """No local CloudTrail history: LookupEvents fails, as it would without the grant."""
    aws.policy = Policy(grace_hours=1)
    cloud.provision(NAME)
    cloud.submit(NAME, cloud.cio.new_track_key("1001"))
    apps = apps_of(cloud, aws.secrets[NAME])
    apps.start("billing-api", "api-1")
    promoted_at = promote_new_key(cloud)
    apps.run(timedelta(minutes=70))  # everyone moved at once: only the trail is unknown

    [(at, body)] = revoke_notices(cloud)
    assert promoted_at + timedelta(hours=1) <= at <= promoted_at + timedelta(hours=1) + MAX_LAG
    assert "could not confirm that nobody uses the old key: CloudTrail could not be read" in body
    st = cloud.state(NAME)
    assert st.drained_at is None and st.drain_on_new == 1
    # Blind checks back off: the first at the quiet period's end, then the maximum's.
    assert len(_drain_audits(logs)) == 2


def test_with_revoke_first_nothing_waits(aws, cloud, trail, logs):
    cloud.provision(NAME)
    old = cloud.cio.new_track_key("1001")
    cloud.submit(NAME, old)
    aws.invoke(
        {
            "action": "emergency",
            "secret_id": aws.secrets[NAME],
            "reason": "key leaked in a log",
            "revoke_first": True,
        }
    )
    cloud.cio.delete_key(old)
    promote_new_key(cloud)
    st = cloud.state(NAME)
    assert not st.drain_waits and st.grace_until == st.promoted_at
    cloud.advance(timedelta(minutes=20))
    assert cloud.state(NAME).phase is Phase.IDLE  # closed: the old key is refused
    assert engine(cloud).drain_checks == 0 and _drain_audits(logs) == []


def _drain_audits(logs: Any) -> list[str]:
    """The drain decisions in the audit trail (one JSON line each)."""
    return [line for line in logs.lines if '"event": "drain.' in line]
