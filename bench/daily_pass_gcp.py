"""The daily pass on the local GCP: N idle credentials, Customer.io at 300 ms and 10/s,
Secret Manager's 600 metadata reads a minute enforced.

Run: `.venv/bin/python -m bench.daily_pass_gcp [N] [MAX_INSTANCES]` (default 300 5).
Everything is deployed by the program (the job, the topic and trigger, the function's
environment: CIO_PROBE_RATE and CIO_GCP_READ_RATE from `gcp_max_instances`), each
credential bootstrapped through the function, then one simulated day: at 06:00 the job
publishes the sweep, the function fans out one message per credential, each message is
one credential's daily unit. The local function runs one delivery at a time, so it is
one instance's pace that is measured; the pass time for N credentials across all
instances is computed from the per-instance shares (printed).

Printed: Secret Manager calls per credential (by method), Customer.io calls, the most
metadata reads in any minute against the quota and refusals, the most Customer.io
requests in any second against its limit, and the pass wall time for 1,000 and 10,000.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta

from localcloud.counting import GcpCalls
from localcloud.customerio import FakeCustomerIO
from localcloud.gcp_harness import GcpHarness
from localcloud.secretmanager_emulator import SecretManagerEmulator
from rotation.clock import SimulatedClock
from rotation.stores.gcp_quota import PROJECT_READS_PER_MINUTE, ROTATOR_READS_PER_SECOND
from rotation.verify import APP_API_RATE
from tests.promises import SWEEP, provision_idle, skip_days_gcp

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LATENCY = 0.3


def gcp_daily_pass(n: int, max_instances: int) -> None:
    cio = FakeCustomerIO().start()
    emulator = SecretManagerEmulator().start()
    clock = SimulatedClock(START)
    started = time.perf_counter()
    try:
        h = GcpHarness(cio=cio, clock=clock, emulator=emulator)
        h.config["gcp_max_instances"] = max_instances
        names = [f"cred-{i:05d}" for i in range(n)]
        provision_idle(h, cio, names)
        print(f"GCP daily pass of {n} idle credentials, gcp_max_instances {max_instances}")
        print(f"  deployed and bootstrapped ({time.perf_counter() - started:.0f} s)")
        skip_days_gcp(h, timedelta(hours=20))  # 05:00 the next day: every key idle
        cio.pace, cio.latency, cio.rate_limit = clock, LATENCY, int(APP_API_RATE)
        emulator.metadata_reads.clear()
        emulator.read_quota = PROJECT_READS_PER_MINUTE
        probes_before, fired_before = len(cio.log), len(h.stack.fired)
        with GcpCalls(emulator).counting() as calls:
            # To 06:00: the job fires and Pub/Sub delivers every unit at once, the clock
            # moving with each wait (the rate limiters, Customer.io's 300 ms).
            six = clock.now().replace(hour=6, minute=0, second=0, microsecond=0)
            h.advance(six - clock.now())  # ends at the job's moment: the clock then moved
            sweep_at = next(f.at for f in h.stack.fired[fired_before:] if SWEEP in f.what)
            took = clock.now() - sweep_at
            h.advance(timedelta(hours=12))  # what was not acknowledged, redelivered
        probes = len(cio.log) - probes_before
        local = h.stack.gcp
        assert local is not None
    finally:
        emulator.stop()
        cio.stop()
    per_call = {k: round(v / n, 2) for k, v in sorted(calls.items())}
    print(
        f"  per credential: {sum(calls.values()) / n:.2f} Secret Manager calls {per_call}, "
        f"{probes / n:.2f} Customer.io calls"
    )
    print(
        f"  metadata reads in any minute: at most {emulator.peak_reads_per_minute()} "
        f"(quota {PROJECT_READS_PER_MINUTE}; this instance's share "
        f"{ROTATOR_READS_PER_SECOND / max_instances * 60:g}); refused: {emulator.quota_refused}"
    )
    print(
        f"  Customer.io requests in any 1 s: at most {cio.peak} (limit {int(APP_API_RATE)}); "
        f"refused: {cio.over_limit}; deliveries not acknowledged: {len(local.nacked)}"
    )
    print(
        f"  one instance, from the sweep ({sweep_at:%H:%M} UTC) to its last unit: "
        f"{took.total_seconds() / 60:.1f} min simulated "
        f"({time.perf_counter() - started:.0f} s of machine time in all)"
    )
    reads = calls.get("get", 0) / n  # metadata reads per credential (GetSecret)
    for total in (1_000, 10_000):
        by_probes = total * probes / n / APP_API_RATE
        by_reads = total * reads / ROTATOR_READS_PER_SECOND
        print(
            f"  {total:>6} credentials: Customer.io's 10/s alone {by_probes / 60:.1f} min, "
            f"the rotator's {ROTATOR_READS_PER_SECOND:g} reads/s {by_reads / 60:.1f} min -> "
            f"{max(by_probes, by_reads) / 60:.1f} min"
        )


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    gcp_daily_pass(args[0] if args else 300, args[1] if len(args) > 1 else 5)
