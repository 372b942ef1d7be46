"""`cio-rotate status` over many credentials: store calls per credential, and how soon the
first credential is on the screen.

The stack is found by its tags (ListSecrets, no outputs file) on moto in server mode
(localcloud.served_aws), every credential with a first key. Time to the first line is
measured on a fresh `python -m rotation.cli status` process reading its stdout as it comes
(a pipe: whole lines), from the start of the process to the first credential's block and
to the end. The calls are counted once in-process on the same account, by operation, with
boto3's own event hooks. Prints numbers only: machine time on loopback, no network latency.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _first_line_ms(env: dict[str, str]) -> tuple[float, float]:
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rotation.cli", "status"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    first = 0.0
    for line in proc.stdout:
        if not first and " (aws, " in line:
            first = (time.perf_counter() - start) * 1000
    proc.wait()
    if proc.returncode != 0:
        raise SystemExit(f"status exited {proc.returncode}")
    return first, (time.perf_counter() - start) * 1000


def _calls(credentials: int) -> Counter[str]:
    import boto3
    from typer.testing import CliRunner

    from localcloud.aws_harness import REGION
    from rotation.cli import Overrides, app

    session = boto3.session.Session(region_name=REGION)
    seen: Counter[str] = Counter()

    def record(event_name: str, **_: Any) -> None:
        seen[event_name.rsplit(".", 1)[-1]] += 1

    session.events.register("before-call.*.*", record)
    result = CliRunner().invoke(app, ["status", "--json"], obj=Overrides(session=session))
    if result.exit_code != 0:
        raise SystemExit(result.output)
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--credentials", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)

    from localcloud.served_aws import served_aws

    with served_aws() as account:
        for i in range(args.credentials):
            name = f"bench-{i:03d}"
            account.provision(name)
            account.harness.submit(name, account.cio.new_track_key("1001", "us"))
        env = account.env()
        calls = _calls(args.credentials)
        runs = [_first_line_ms(env) for _ in range(args.runs)]
    n = args.credentials
    per = {op: count / n for op, count in sorted(calls.items()) if count >= n}
    once = {op: count for op, count in sorted(calls.items()) if count < n}
    print(f"cio-rotate status, {n} credentials found by tags (moto server, loopback)")
    print(
        "  store calls per credential: "
        + ", ".join(f"{op} {v:g}" for op, v in per.items())
        + f" ({sum(per.values()):g} in all); once per run: "
        + ", ".join(f"{op} {c}" for op, c in once.items())
    )
    first = statistics.median(r[0] for r in runs)
    total = statistics.median(r[1] for r in runs)
    print(
        f"  fresh process, median of {args.runs}: first credential on screen {first:.0f} ms, "
        f"all {n} {total:.0f} ms"
    )


if __name__ == "__main__":
    main()
