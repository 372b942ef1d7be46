"""Secrets Manager API calls per promotion, and machine time from submit to promoted.

Runs N scheduled rotations on moto with the local Customer.io, counting every
Secrets Manager call (botocore's before-call event) made by the operator's side
and by the rotator, and timing submit → promoted. Prints numbers only.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from moto import mock_aws

from localcloud.aws_harness import AwsHarness, fake_aws_environment
from localcloud.customerio import FakeCustomerIO
from rotation.clock import SimulatedClock
from rotation.state import Phase


def count_calls(client: Any, counter: Counter[str], side: str) -> None:
    def hook(model: Any, **_: Any) -> None:
        counter[f"{side}:{model.name}"] += 1

    client.meta.events.register("before-call.secretsmanager", hook)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rotations", type=int, default=20)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)
    fake_aws_environment()
    cio = FakeCustomerIO().start()
    clock = SimulatedClock(datetime(2026, 1, 1, tzinfo=UTC))
    durations: list[float] = []
    calls: Counter[str] = Counter()
    cio_calls = 0
    try:
        with mock_aws():
            h = AwsHarness(cio=cio, clock=clock)
            with h.runtime.active():
                h.provision("bench", "track", "us", workspace="1")
                h.submit("bench", cio.new_track_key("1"))
                count_calls(h.sm, calls, "operator")
                count_calls(h.rt.store.client, calls, "rotator")
                for _ in range(args.rotations):
                    clock.advance(timedelta(days=77))
                    h.sweep()
                    calls.clear()
                    before = len(cio.log)
                    key = cio.new_track_key("1")
                    start = time.perf_counter()
                    h.submit("bench", key)
                    durations.append(time.perf_counter() - start)
                    cio_calls += len(cio.log) - before
                    snap = h.rt.store.snapshot(h.secrets["bench"])
                    assert snap.state.phase is Phase.PROMOTED
                    assert snap.state.current_fp == key.fingerprint
                    per_promotion = dict(calls)
                    # close the rotation before the next one
                    clock.advance(timedelta(days=2))
                    for k in list(cio.track_keys):
                        if k[1] != key.secret:
                            del cio.track_keys[k]
                    h.sweep()
    finally:
        cio.stop()
    total = sum(per_promotion.values())
    print(f"promotions measured: {len(durations)}")
    print(
        "submit -> promoted machine time (ms): "
        f"median {statistics.median(durations) * 1000:.1f}, "
        f"mean {statistics.mean(durations) * 1000:.1f}, "
        f"max {max(durations) * 1000:.1f}"
    )
    print(f"Secrets Manager API calls per promotion (last run): {total}")
    for name, count in sorted(per_promotion.items()):
        print(f"  {name}: {count}")
    print(f"Customer.io calls per promotion: {cio_calls / len(durations):.1f}")


if __name__ == "__main__":
    main()
