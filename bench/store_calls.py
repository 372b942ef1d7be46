"""Store calls per invocation, counted on the local cloud (deterministic), and sweep time.

AWS: botocore's before-call hook on the rotator's own client and, separately, on
the operator's; GCP: the emulator's request log. Only the calls made inside the
measured step are counted (the bench's own checks read through other clients, or
after counting stopped). Prints numbers only.

- per promotion (AWS): the rotator's Secrets Manager calls from the operator's
  hand-over to the promoted key, all four steps; the calls inside finishSecret;
  the operator's calls for one `submit` (a state read, the inbox write, RotateSecret,
  then one state read per look for the verdict), in process and through the real
  `cio-rotate submit` command, with and without `--no-wait`.
- daily sweep per idle credential, and on the day a rotation opens, on each cloud.
- 1,000 idle credentials swept, each as its own daily unit of work, timed against a bare
  moto loop of the same two reads per credential (the state document, then the current
  value: GetSecretValue twice), so the ratio is the rotator's own overhead.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import boto3
from moto import mock_aws
from typer.testing import CliRunner

from localcloud import store_calls
from localcloud.aws_harness import REGION, AwsHarness, fake_aws_environment
from localcloud.counting import AwsCalls
from localcloud.customerio import FakeCustomerIO
from localcloud.stack_outputs import aws_outputs
from rotation.cli import Overrides, app
from rotation.clock import SimulatedClock

START = store_calls.START


def _fmt(calls: Counter[str]) -> str:
    return (
        f"{sum(calls.values())} (" + ", ".join(f"{n} {k}" for k, n in sorted(calls.items())) + ")"
    )


def aws_promotion(cio: FakeCustomerIO) -> None:
    calls = store_calls.aws_rotation(cio)
    print("AWS, per promotion (scheduled rotation, track key)")
    print(f"  rotator Secrets Manager calls: {_fmt(calls.promotion)}")
    print(f"  calls inside finishSecret: {_fmt(calls.finish_secret)}")
    print(f"  operator hand-over in process (inbox write, RotateSecret): {_fmt(calls.hand_over)}")
    print("AWS, daily sweep")
    print(f"  idle credential: {_fmt(calls.sweep_idle)}")
    print(f"  on the day its rotation opens: {_fmt(calls.sweep_opening)}")


def submit_paths(cio: FakeCustomerIO, rotations: int) -> None:
    """Time submit -> promoted: in process (what the CLI does, minus the CLI), and through
    the real `cio-rotate submit` command (typer's runner), counting the operator's calls."""
    clock = SimulatedClock(START)
    in_process: list[float] = []
    through_cli: list[float] = []
    no_wait: list[float] = []
    last_cli: dict[str, int] = {}
    last_no_wait: dict[str, int] = {}
    with mock_aws():
        h = AwsHarness(cio=cio, clock=clock)
        with h.runtime.active():
            h.provision("bench", "track", "us", workspace="1")
            h.submit("bench", cio.new_track_key("1"))
            session = boto3.session.Session(region_name=REGION)
            counted: Counter[str] = Counter()
            session.events.register(
                "before-call.secretsmanager", lambda model, **_: counted.update([model.name])
            )
            overrides = Overrides(session=session, clock=clock, sleep=lambda _: None)
            outputs = Path(tempfile.mkdtemp(prefix="cio-bench-")) / "outputs.json"
            outputs.write_text(json.dumps(aws_outputs(h)))
            for i in range(3 * rotations):
                clock.advance(timedelta(days=77))
                h.sweep()
                key = cio.new_track_key("1")
                if i % 3 == 0:
                    start = time.perf_counter()
                    h.submit("bench", key)
                    in_process.append(time.perf_counter() - start)
                else:
                    waits = i % 3 == 1
                    counted.clear()
                    start = time.perf_counter()
                    result = CliRunner().invoke(
                        app,
                        ["--outputs", str(outputs), "submit", "bench", "--stdin"]
                        + ([] if waits else ["--no-wait"]),
                        input=key.to_json(),
                        obj=overrides,
                    )
                    (through_cli if waits else no_wait).append(time.perf_counter() - start)
                    if waits:
                        last_cli = dict(counted)
                    else:
                        last_no_wait = dict(counted)
                    assert result.exit_code == (0 if waits else 4), result.output
                assert h.state("bench").current_fp == key.fingerprint
                clock.advance(timedelta(days=2))
                for k in list(cio.track_keys):
                    if k[1] != key.secret:
                        del cio.track_keys[k]
                h.sweep()

    def ms(values: list[float]) -> str:
        return f"median {statistics.median(values) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms"

    print(f"AWS, submit -> promoted ({rotations} rotations each, moto, machine time)")
    print(f"  in process (inbox write + RotateSecret): {ms(in_process)}")
    print(f"  `cio-rotate submit --stdin`: {ms(through_cli)}")
    print(f"  `cio-rotate submit --stdin --no-wait`: {ms(no_wait)}")
    print(
        "  operator Secrets Manager calls of `cio-rotate submit` (hand-over, then one "
        f"look at the verdict): {_fmt(Counter(last_cli))}"
    )
    print(
        "  operator Secrets Manager calls of `cio-rotate submit --no-wait`: "
        f"{_fmt(Counter(last_no_wait))}"
    )


def gcp_sweep(cio: FakeCustomerIO) -> None:
    for kind in ("track", "webhook_signing"):
        calls = store_calls.gcp_rotation(cio, kind)
        print(f"GCP, daily sweep ({kind} key)")
        print(f"  idle credential: {_fmt(calls.sweep_idle)}")
        print(f"  on the day its rotation opens: {_fmt(calls.sweep_opening)}")
        print(f"GCP, per promotion (inbox event to promoted, {kind}): {_fmt(calls.promotion)}")


def aws_thousand(cio: FakeCustomerIO, count: int, repeats: int) -> None:
    clock = SimulatedClock(START)
    sweeps: list[float] = []
    bare: list[float] = []
    with mock_aws():
        h = AwsHarness(cio=cio, clock=clock)
        with h.runtime.active():
            h.provision_many([{"name": f"c{i}", "kind": "webhook_signing"} for i in range(count)])
            for i in range(count):
                h.submit(f"c{i}", f'{{"signing_key": "whsec-bench-key-{i:06d}"}}')
            clock.advance(timedelta(days=1))
            arns = list(h.secrets.values())
            client = boto3.client("secretsmanager", region_name=REGION)
            states = [f"cio/c{i}/state" for i in range(count)]
            calls = AwsCalls(h.rt.store.client)
            for _ in range(repeats):
                start = time.perf_counter()
                for arn, state in zip(arns, states, strict=True):  # the unit's own two reads
                    client.get_secret_value(SecretId=state)
                    client.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")
                bare.append(time.perf_counter() - start)
                with calls.counting() as swept:
                    start = time.perf_counter()
                    h.rt.engine.clock = clock
                    from lambdas.aws_rotation import handler

                    # The daily pass hands each credential to its own unit of work (the
                    # work queue's message): here those units, one after another.
                    for arn in arns:
                        handler.daily(h.rt, arn)
                    sweeps.append(time.perf_counter() - start)
    b, s = statistics.median(bare), statistics.median(sweeps)
    print(f"AWS, {count} idle credentials (median of {repeats})")
    print(f"  bare moto loop, the same 2 GetSecretValue per credential: {b:.2f} s")
    print(f"  daily sweep: {s:.2f} s, {sum(swept.values()) / count:.2f} calls per credential")
    print(f"  ratio: {s / b:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--credentials", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rotations", type=int, default=5)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)
    fake_aws_environment()
    cio = FakeCustomerIO().start()
    try:
        aws_promotion(cio)
        submit_paths(cio, args.rotations)
        gcp_sweep(cio)
        aws_thousand(cio, args.credentials, args.repeats)
    finally:
        cio.stop()


if __name__ == "__main__":
    main()
