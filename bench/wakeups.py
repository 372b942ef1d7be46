"""Wake-ups and the daily pass, measured on the local cloud (simulated time).

Run: `.venv/bin/python -m bench.wakeups [N]` (default 200). Prints:

- the lag between each promised moment and its notice, on both clouds, with no sweep
  and no `check` (tests/promises.py's scenarios, time passing with the local stack's `advance`);
- the units of work and Customer.io calls of a healthy credential while another fails
  all day (AWS: the broken one's state document unreadable);
- the daily pass of N idle credentials on AWS with Customer.io answering in 300 ms
  (simulated) and enforcing 10 requests/s: store calls and probes per credential as
  counted, refusals by the fake's limit, and from those counts the wall time of the
  pass for 1,000 and 10,000 credentials (the bound is the larger of the rate limit's
  and the two work-queue instances' own latency).
"""

from __future__ import annotations

import sys
from collections import Counter
from datetime import UTC, datetime, timedelta

from moto import mock_aws

from infra.aws_component import LAMBDA_TIMEOUT_SECONDS, WORK_BATCH, WORK_CONCURRENCY
from localcloud.aws_harness import AwsHarness, fake_aws_environment
from localcloud.counting import AwsCalls
from localcloud.customerio import FakeCustomerIO
from localcloud.gcp_harness import GcpHarness
from localcloud.secretmanager_emulator import SecretManagerEmulator
from rotation.clock import SimulatedClock
from rotation.verify import APP_API_RATE
from tests.promises import (
    AwsUnits,
    aws_cloud,
    emergency_rotation,
    gcp_cloud,
    scheduled_rotation,
    skip_days_aws,
)

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LATENCY = 0.3


def lags(cio: FakeCustomerIO, emulator: SecretManagerEmulator) -> None:
    print("lag between each promised moment and its notice (simulated, no sweep, no check)")
    for cloud_name in ("aws", "gcp"):
        for scene, run in (("scheduled", scheduled_rotation), ("emergency", emergency_rotation)):
            cio.reset()
            emulator.reset()
            clock = SimulatedClock(START)
            if cloud_name == "aws":
                with mock_aws():
                    h = AwsHarness(cio=cio, clock=clock)
                    with h.runtime.active():
                        found = run(aws_cloud(h, cio, clock), "bench-track")
            else:
                g = GcpHarness(cio=cio, clock=clock, emulator=emulator)
                found = run(gcp_cloud(g, cio, clock), "bench-track")
            shown = ", ".join(f"{k} {_mins(v)}" for k, v in found.items())
            print(f"  {cloud_name} {scene:9}  {shown}   max {_mins(max(found.values()))}")


def _mins(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 60:.0f} min"


def healthy_while_another_fails(cio: FakeCustomerIO) -> None:
    cio.reset()
    clock = SimulatedClock(START)
    with mock_aws():
        h = AwsHarness(cio=cio, clock=clock)
        with h.runtime.active():
            for name in ("healthy", "broken"):
                h.provision(name, "track", "us", workspace="1001")
                h.submit(name, cio.new_track_key("1001"))
            skip_days_aws(h, timedelta(days=1) - timedelta(hours=4))
            units = AwsUnits(h)
            state_id = h.rt.store.state_id(h.secrets["broken"])
            h.sm.delete_secret(SecretId=state_id, RecoveryWindowInDays=7)
            probes = len(cio.log)
            h.advance(timedelta(hours=24))
            print("one credential failing all day (AWS, 24 h simulated)")
            print(
                f"  healthy: {units.of('healthy')} unit of work, "
                f"{len(cio.log) - probes} Customer.io call; "
                f"broken: {units.of('broken')} units (its own retries only)"
            )


def daily_pass(cio: FakeCustomerIO, n: int) -> None:
    cio.reset()
    clock = SimulatedClock(START)
    with mock_aws():
        h = AwsHarness(cio=cio, clock=clock)
        with h.runtime.active():
            names = [f"cred-{i:05d}" for i in range(n)]
            h.provision_many(
                [
                    {"name": x, "kind": "track", "region": "us", "workspace_id": "1001"}
                    for x in names
                ]
            )
            for name in names:
                h.submit(name, cio.new_track_key("1001"))
            skip_days_aws(h, timedelta(hours=20))  # 05:00 the next day; every key is idle
            cio.pace, cio.latency, cio.rate_limit = clock, LATENCY, int(APP_API_RATE)
            calls = AwsCalls(h.rt.store.client)
            before = len(cio.log)
            with calls.counting() as counted:
                h.advance(timedelta(hours=2))
            probes = len(cio.log) - before
            store: Counter[str] = counted
            longest = h.stack.aws.longest if h.stack.aws else 0.0
    per_store = sum(store.values()) / n
    per_probe = probes / n
    print(f"daily pass of {n} idle credentials on AWS (300 ms probes, 10/s enforced by the fake)")
    print(
        f"  per credential: {per_store:.2f} store calls ({dict(store)}), "
        f"{per_probe:.2f} Customer.io calls; refused by the limit: {cio.over_limit}; "
        f"longest invocation {longest:.1f} s of {LAMBDA_TIMEOUT_SECONDS}"
    )
    for total in (1_000, 10_000):
        requests = total * per_probe
        by_rate = requests / APP_API_RATE
        by_latency = requests * LATENCY / WORK_CONCURRENCY
        units = -(-total // WORK_BATCH)
        print(
            f"  {total:>6} credentials: {requests:.0f} probes; rate limit alone "
            f"{by_rate:.0f} s, {WORK_CONCURRENCY} instances x 300 ms {by_latency:.0f} s -> "
            f"{max(by_rate, by_latency) / 60:.1f} min, in {units} batches of {WORK_BATCH}"
        )


def main(n: int) -> None:
    fake_aws_environment()
    cio = FakeCustomerIO().start()
    emulator = SecretManagerEmulator().start()
    try:
        lags(cio, emulator)
        healthy_while_another_fails(cio)
        daily_pass(cio, n)
    finally:
        cio.stop()
        emulator.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
