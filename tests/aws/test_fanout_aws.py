"""AWS: the daily pass is one unit of work per credential on the work queue, each
invocation inside its timeout, and a failing credential retries alone."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from localcloud.counting import AwsCalls
from rotation.state import Phase
from tests.local_timers import LAMBDA_TIMEOUT, AwsTimers


def provision(aws, cio, names):
    keys = {}
    for name in names:
        aws.provision(name, "track", "us", workspace="1001")
        keys[name] = cio.new_track_key("1001")
        aws.submit(name, keys[name])
    return keys


def test_50_credentials_with_customerio_hanging_each_get_their_calendar_step(aws, cio, clock):
    names = [f"cred-{i:02d}" for i in range(50)]
    keys = provision(aws, cio, names)
    timers = AwsTimers(aws)
    clock.advance(timedelta(days=77) - timedelta(hours=4))  # 05:00 on the day they open
    cio.pace = clock
    cio.hang_seconds = 40.0  # every check hangs 40 s (simulated), then 504
    for key in keys.values():
        cio.hang(key)
    timers.advance(timedelta(hours=23))
    states = {name: aws.state(name) for name in names}
    assert {s.phase for s in states.values()} == {Phase.AWAITING_KEY}  # every one opened
    assert all(s.live_unknown_since is not None for s in states.values())  # probed, once
    assert timers.longest <= LAMBDA_TIMEOUT
    # 7 hung probes fit in 300 s with 30 s to spare: the rest of each batch was handed on.
    assert timers.invocations > 50 // 10
    assert sum(timers.units[aws.secrets[n]] for n in names) >= 50


def test_a_failing_credential_retries_alone(aws, cio, clock):
    keys = provision(aws, cio, ["healthy", "broken"])
    timers = AwsTimers(aws)
    clock.advance(timedelta(days=1) - timedelta(hours=4))  # 05:00
    # The broken credential's state document is unreadable all day (marked for deletion).
    state_id = aws.rt.store.state_id(aws.secrets["broken"])
    aws.sm.delete_secret(SecretId=state_id, RecoveryWindowInDays=7)
    probes_before = len(cio.log)
    timers.advance(timedelta(hours=24))
    healthy, broken = aws.secrets["healthy"], aws.secrets["broken"]
    assert timers.units[healthy] == 1  # its daily unit, once
    assert timers.units[broken] > 10  # retried alone, every visibility timeout
    assert len(cio.log) - probes_before == 1  # only the healthy key was probed
    aws.sm.restore_secret(SecretId=state_id)
    timers.advance(timedelta(hours=1))
    assert aws.state("broken").phase is Phase.IDLE
    assert keys["healthy"].secret not in str(timers.units)


def test_a_daily_pass_at_300_ms_stays_under_customerios_limit(aws, cio, clock):
    """The smaller, deterministic version of bench.wakeups' 10,000 (same code path)."""
    names = [f"cred-{i:03d}" for i in range(60)]
    provision(aws, cio, names)
    timers = AwsTimers(aws)
    clock.advance(timedelta(hours=20))  # 05:00 the next day: every key idle
    cio.pace, cio.latency, cio.rate_limit = clock, 0.3, 10
    calls = AwsCalls(aws.rt.store.client)
    before = len(cio.log)
    with calls.counting() as counted:
        timers.advance(timedelta(hours=2))
    assert len(cio.log) - before == 60 and cio.over_limit == 0  # one probe each, none refused
    assert counted == Counter(GetSecretValue=2 * 60)  # 2 store calls per idle credential
    assert timers.invocations == 6 and timers.longest <= LAMBDA_TIMEOUT  # batches of 10
