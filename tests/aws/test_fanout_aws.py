"""AWS: the daily pass is one unit of work per credential on the work queue, and a failing
credential retries alone: the program's daily schedule, queue and event source mapping
firing in the local stack (`advance`). Customer.io hanging on every probe: tests/test_fanout.py."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from localcloud.aws_harness import AwsHarness
from localcloud.counting import AwsCalls
from rotation.state import Phase
from tests.promises import AwsUnits, provision_idle, skip_days_aws


def timeout(aws: AwsHarness) -> int:
    assert aws.stack.aws is not None and aws.stack.aws.function is not None
    return aws.stack.aws.function.timeout


def test_a_failing_credential_retries_alone(aws, cio, clock):
    keys = provision_idle(aws, cio, ["healthy", "broken"])
    skip_days_aws(aws, timedelta(hours=20))  # 05:00 the next day
    units = AwsUnits(aws)
    # The broken credential's state document is unreadable all day (marked for deletion).
    state_id = aws.rt.store.state_id(aws.secrets["broken"])
    aws.sm.delete_secret(SecretId=state_id, RecoveryWindowInDays=7)
    probes_before = len(cio.log)
    aws.advance(timedelta(hours=24))
    assert units.of("healthy") == 1  # its daily unit, once
    assert units.of("broken") > 10  # retried alone, every visibility timeout (30 minutes)
    assert len(cio.log) - probes_before == 1  # only the healthy key was probed
    aws.sm.restore_secret(SecretId=state_id)
    aws.advance(timedelta(hours=1))
    assert aws.state("broken").phase is Phase.IDLE
    assert keys["healthy"].secret not in str(units.per_credential)


def test_a_daily_pass_at_300_ms_stays_under_customerios_limit(aws, cio, clock):
    """The smaller, deterministic version of bench.wakeups' 10,000 (same code path)."""
    names = [f"cred-{i:03d}" for i in range(60)]
    provision_idle(aws, cio, names)
    skip_days_aws(aws, timedelta(hours=20))  # 05:00 the next day: every key idle
    units = AwsUnits(aws)
    cio.pace, cio.latency, cio.rate_limit = clock, 0.3, 10
    calls = AwsCalls(aws.rt.store.client)
    before = len(cio.log)
    with calls.counting() as counted:
        aws.advance(timedelta(hours=2))
    assert len(cio.log) - before == 60 and cio.over_limit == 0  # one probe each, none refused
    assert counted == Counter(GetSecretValue=2 * 60)  # 2 store calls per idle credential
    assert units.batches == 6  # batches of 10
    assert aws.stack.aws is not None and aws.stack.aws.longest <= timeout(aws)
