"""Wake-ups and the daily pass, measured on the local cloud (simulated time).

Run: `.venv/bin/python -m bench.wakeups [N]` (default 200). Prints:

- the lag between each promised moment and its notice, on both clouds, with no sweep
  and no `check` (tests/promises.py's scenarios, time passing with the local stack's `advance`);
- the units of work and Customer.io calls of a healthy credential while another fails
  all day (AWS: the broken one's state document unreadable);
- the daily pass of N idle credentials on AWS, all deployed by the program, with
  Customer.io answering in 300 ms (simulated) and enforcing 10 requests/s
  (`bench.daily_pass`, which runs 10,000 on its own).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

from moto import mock_aws

from bench.daily_pass import daily_pass
from localcloud.aws_harness import AwsHarness, fake_aws_environment
from localcloud.customerio import FakeCustomerIO
from localcloud.gcp_harness import GcpHarness
from localcloud.secretmanager_emulator import SecretManagerEmulator
from rotation.clock import SimulatedClock
from tests.promises import (
    AwsUnits,
    aws_cloud,
    emergency_rotation,
    gcp_cloud,
    retirement,
    scheduled_rotation,
    skip_days_aws,
)

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LATENCY = 0.3


def lags(cio: FakeCustomerIO, emulator: SecretManagerEmulator) -> None:
    print("lag between each promised moment and its notice (simulated, no sweep, no check)")
    for cloud_name in ("aws", "gcp"):
        scenes = (
            ("scheduled", scheduled_rotation),
            ("emergency", emergency_rotation),
            ("retirement", retirement),
        )
        for scene, run in scenes:
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
            print(f"  {cloud_name} {scene:10}  {shown}   max {_mins(max(found.values()))}")


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


def main(n: int) -> None:
    fake_aws_environment()
    cio = FakeCustomerIO().start()
    emulator = SecretManagerEmulator().start()
    try:
        lags(cio, emulator)
        healthy_while_another_fails(cio)
    finally:
        cio.stop()
        emulator.stop()
    daily_pass(n, deployed=n)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
