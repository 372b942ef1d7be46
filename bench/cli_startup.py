"""`cio-rotate` start-up time: median of 10 runs of `--help` and of `status` on a local stack.

Each run is a fresh process, as an operator's shell starts it (`python -m rotation.cli`,
what the `cio-rotate` entry point runs), so the figures include the interpreter,
the imports and, for `status`, the boto3 client and the DescribeSecret calls. The
local stack is moto in server mode (in this process, on 127.0.0.1) holding
credentials provisioned as the Pulumi program does, each with a first key handed
over through the in-process rotator. Prints numbers only.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _median_ms(argv: list[str], env: dict[str, str], runs: int) -> tuple[float, float, float]:
    times: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        # argv is built above from sys.executable and fixed arguments: nothing untrusted.
        done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, check=False)  # noqa: S603
        times.append((time.perf_counter() - start) * 1000)
        if done.returncode != 0:
            sys.stderr.write(done.stderr.decode("utf-8", "replace"))
            raise SystemExit(f"{' '.join(argv[2:])} exited {done.returncode}")
    return statistics.median(times), min(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--credentials", type=int, default=3)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)

    from moto.server import ThreadedMotoServer

    from localcloud.aws_harness import REGION, AwsHarness, fake_aws_environment
    from localcloud.customerio import FakeCustomerIO
    from localcloud.stack_outputs import aws_outputs
    from rotation.clock import SimulatedClock

    fake_aws_environment()
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    os.environ["AWS_ENDPOINT_URL"] = endpoint  # the harness's clients and the CLI's
    cio = FakeCustomerIO().start()
    try:
        harness = AwsHarness(cio=cio, clock=SimulatedClock(datetime(2026, 1, 1, tzinfo=UTC)))
        with harness.runtime.active():
            for i in range(args.credentials):
                name = f"bench-{i}"
                harness.provision(name, "track", "us", workspace=str(1000 + i))
                harness.submit(name, cio.new_track_key(str(1000 + i)))
        with tempfile.TemporaryDirectory() as tmp:
            outputs = Path(tmp) / "outputs.json"
            outputs.write_text(json.dumps(aws_outputs(harness)))
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("CIO_")},
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_DEFAULT_REGION": REGION,
                "COLUMNS": "80",
            }
            cli = [sys.executable, "-m", "rotation.cli"]
            baseline = _median_ms([sys.executable, "-c", "pass"], env, args.runs)
            help_ms = _median_ms([*cli, "--help"], env, args.runs)
            status_ms = _median_ms([*cli, "--outputs", str(outputs), "status"], env, args.runs)
    finally:
        cio.stop()
        server.stop()

    print(f"cio-rotate start-up, median of {args.runs} runs (fresh process each; min-max)")
    print(
        f"  python -c pass (baseline)   {baseline[0]:6.0f} ms  ({baseline[1]:.0f}-{baseline[2]:.0f})"
    )
    print(
        f"  cio-rotate --help           {help_ms[0]:6.0f} ms  ({help_ms[1]:.0f}-{help_ms[2]:.0f})"
    )
    print(
        f"  cio-rotate status ({args.credentials} cred.) {status_ms[0]:6.0f} ms  "
        f"({status_ms[1]:.0f}-{status_ms[2]:.0f}; local Secrets Manager: moto server)"
    )


if __name__ == "__main__":
    main()
