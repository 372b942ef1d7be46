"""`CredentialLoader.get()` on a warm cache, with key-usage reporting on vs off.

The application's hot path: every request calls `get()`. Reporting (cio_consumer.usage)
must cost it next to nothing. Rows: reporting off (`usage=None`), and on with a sink
that accepts everything (the send happens on the reporter's thread, so its cost never
lands here), each the median of R rounds of N calls, interleaved so drift hits both.
Run from a checkout without cio_consumer.usage, it times the loader as it was (one row).
Prints numbers only.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from cio_consumer import track_loader
from cio_consumer.sources import SecretSnapshot

DOC = json.dumps({"site_id": "site-1", "api_key": "0" * 20, "region": "us"}).encode()


class StaticSource:
    """A store that always answers the same version (no I/O: only get() is timed)."""

    description = "bench secret"
    usage_secret = "bench/secret"  # noqa: S105  # pragma: allowlist secret (a name)

    def fetch(self, include_previous: bool = False) -> SecretSnapshot:
        return SecretSnapshot(DOC, "v1")


class NullSink:
    def send(self, uses: Sequence[Any]) -> None:
        return None


def _per_call_ns(get: Callable[[], object], calls: int) -> float:
    start = time.perf_counter_ns()
    for _ in range(calls):
        get()
    return (time.perf_counter_ns() - start) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    try:
        from cio_consumer.usage import UsageReporter
    except ImportError:  # the loader before usage reporting
        loader = track_loader(StaticSource())
        loader.get()
        base = [_per_call_ns(loader.get, args.calls) for _ in range(args.rounds)]
        print(f"loader.get() warm, before reporting existed: {statistics.median(base):.1f} ns")
        return
    off = track_loader(StaticSource(), usage=None)
    reporter = UsageReporter(NullSink(), service_name="bench", instance="bench:1")
    on = track_loader(StaticSource(), usage=reporter)
    off.get()
    on.get()
    rows: dict[str, list[float]] = {"off": [], "on": []}
    for _ in range(args.rounds):
        rows["off"].append(_per_call_ns(off.get, args.calls))
        rows["on"].append(_per_call_ns(on.get, args.calls))
    reporter.close()
    median_off = statistics.median(rows["off"])
    median_on = statistics.median(rows["on"])
    print(f"loader.get() warm, reporting off: {median_off:.1f} ns")
    print(f"loader.get() warm, reporting on:  {median_on:.1f} ns")
    print(f"ratio on/off: {median_on / median_off:.3f}x")
    print(f"usage points sent during the run: {reporter.sent} (once a minute per credential)")


if __name__ == "__main__":
    main()
