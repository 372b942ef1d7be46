"""AWS: the daily pass is one unit of work per credential on the work queue, each
invocation inside its timeout, and a failing credential retries alone: the program's
daily schedule, queue and event source mapping firing in the local stack (`advance`)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from localcloud.aws_harness import AwsHarness
from localcloud.counting import AwsCalls
from rotation.state import Phase
from tests.promises import AwsUnits, skip_days_aws


def provision(aws: AwsHarness, cio: Any, names: list[str]) -> dict[str, Any]:
    aws.provision_many(
        [{"name": n, "kind": "track", "region": "us", "workspace_id": "1001"} for n in names]
    )
    keys = {}
    for name in names:
        keys[name] = cio.new_track_key("1001")
        aws.submit(name, keys[name])
    return keys


def timeout(aws: AwsHarness) -> int:
    assert aws.stack.aws is not None and aws.stack.aws.function is not None
    return aws.stack.aws.function.timeout


def test_50_credentials_with_customerio_hanging_each_get_their_calendar_step(aws, cio, clock):
    names = [f"cred-{i:02d}" for i in range(50)]
    keys = provision(aws, cio, names)
    skip_days_aws(aws, timedelta(days=77) - timedelta(hours=4))  # 05:00 on the day they open
    units = AwsUnits(aws)
    cio.pace = clock
    cio.hang_seconds = 40.0  # every check hangs 40 s (simulated), then 504
    for key in keys.values():
        cio.hang(key)
    aws.advance(timedelta(hours=23))
    states = {name: aws.state(name) for name in names}
    assert {s.phase for s in states.values()} == {Phase.AWAITING_KEY}  # every one opened
    assert all(s.live_unknown_since is not None for s in states.values())  # probed, once
    assert aws.stack.aws is not None and aws.stack.aws.longest <= timeout(aws)
    assert aws.runtime.errors == []  # no invocation timed out
    # 7 hung probes fit in 300 s with 30 s to spare: the rest of each batch was handed on.
    assert units.batches > 50 // 10
    assert sum(units.of(n) for n in names) >= 50


def test_a_failing_credential_retries_alone(aws, cio, clock):
    keys = provision(aws, cio, ["healthy", "broken"])
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
    provision(aws, cio, names)
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
