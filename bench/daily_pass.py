"""The daily pass at scale: N idle credentials on the local AWS, Customer.io at 300 ms and 10/s.

Run: `nice .venv/bin/python -m bench.daily_pass [N] [DEPLOYED]` (default 10000 10; for
10,000 about 40 minutes on a shared 2-core machine: creating 12 min, bootstrapping 12 min,
the pass 12 min of machine time). What ran at which scale:

- The Pulumi program is deployed into the local cloud (under Pulumi's mocks) for DEPLOYED
  credentials: the function, its environment, the work queue and its event source mapping,
  the wake-up group, the daily schedule, each credential's secrets.
- The other N - DEPLOYED credentials are created in moto directly, with the inputs the
  program gave the first credential's resources, renamed (the local stack's own creators,
  `localcloud/aws_stack.py`), and the daily schedule's input is updated to the manifest the
  program would write for all N (`infra.sweep.manifest_event`, which also checks it fits
  EventBridge Scheduler's 256 KB). Evaluating the program itself for 10,000 credentials
  under mocks takes too long here (`bench.program_eval`: 500 in about 20 s, growing faster
  than linearly); its resource count is measured at 10 and 1,000 instead, and extrapolated
  only because the count is exactly linear (printed).
- Every credential is bootstrapped with its own key through the rotator (`submitted`).
- Then one simulated day: at 06:00 UTC the program's schedule sends the sweep, the sweep
  hands every credential to the work queue, Lambda's poller (on the simulated clock) hands
  the function batches of 10, each credential's daily pass reads its state and probes its
  key once. The fake Customer.io spends 300 ms of simulated time per request and refuses
  (429, counted) any request over 10 in one second.

Printed: store calls per credential (counted on the rotator's client), probes, the most
requests the fake saw in any one second, refusals, the longest invocation, and the daily
pass's wall time for 1,000 and 10,000 credentials computed from those counts. The local
poller runs one batch at a time (the stack allows 2 at once, each instance limited to 5
probes/s, CIO_PROBE_RATE), so the window measured here is one instance's; the bound for two
is the design's (2 x 5/s), not a measurement.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any
from unittest.mock import patch

from moto import mock_aws
from moto.core.utils import camelcase_to_underscores
from moto.secretsmanager.models import SecretsStore
from moto.sqs.models import Queue

from bench.program_eval import measure
from infra import naming
from infra.aws_component import LAMBDA_TIMEOUT_SECONDS, WORK_BATCH, WORK_CONCURRENCY
from infra.sweep import AWS_INPUT_LIMIT_BYTES, manifest_event
from lambdas.aws_rotation import handler as rotator
from localcloud import aws_stack
from localcloud.aws_harness import PREFIX, AwsHarness, fake_aws_environment
from localcloud.counting import AwsCalls
from localcloud.customerio import FakeCustomerIO
from rotation import conventions as cv
from rotation.clock import SimulatedClock
from rotation.verify import APP_API_RATE
from tests.program.harness import make_source_tree
from tests.promises import skip_days_aws

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LATENCY = 0.3


def names_of(n: int) -> list[str]:
    return [f"cred-{i:05d}" for i in range(n)]


@contextmanager
def indexed_secrets() -> Iterator[None]:
    """moto finds a secret by scanning all of them (SecretsStore.__getitem__ and friends),
    which at 30,000 secrets is most of the run. A name, or a full ARN through its name, is
    looked up at once and checked; anything else falls back to moto's own scan. The same
    secret comes back either way: only the time differs."""
    scan_get, scan_contains = SecretsStore.__getitem__, SecretsStore.__contains__

    def direct(store: SecretsStore, key: str) -> Any:
        hit = dict.get(store, key)
        if hit is not None and hit.name == key:
            return hit
        if key.startswith("arn:") and ":secret:" in key:
            tail = key.split(":secret:", 1)[1]
            hit = dict.get(store, tail[:-7])
            if hit is not None and hit.arn == key:
                return hit
        return None

    def getitem(store: SecretsStore, key: str) -> Any:
        return direct(store, key) or scan_get(store, key)

    def contains(store: SecretsStore, key: str) -> bool:
        return direct(store, key) is not None or scan_contains(store, key)

    def get(store: SecretsStore, key: str) -> Any:
        return direct(store, key) or (scan_get(store, key) if scan_contains(store, key) else None)

    with (
        patch.object(SecretsStore, "__getitem__", getitem),
        patch.object(SecretsStore, "__contains__", contains),
        patch.object(SecretsStore, "get", get),
    ):
        yield


class _QueueAttributes(Mapping[str, Any]):
    """moto's `Queue.attributes`, each one computed when asked for. moto builds them all,
    counting every message for ApproximateNumberOfMessages, on each SendMessage (for
    ContentBasedDeduplication) and each message received (MessageRetentionPeriod): at
    10,000 queued units that is most of the run, and stretches the sweep's own invocation
    past the Lambda timeout in machine time. The same values come back, when asked."""

    def __init__(self, queue: Queue) -> None:
        self.queue = queue
        names = list(queue.BASE_ATTRIBUTES)
        if queue.fifo_queue:
            names += queue.FIFO_ATTRIBUTES
        if queue.kms_master_key_id:  # type: ignore[attr-defined]
            names += queue.KMS_ATTRIBUTES
        if queue.policy:
            names.append("Policy")
        if queue.redrive_policy:
            names.append("RedrivePolicy")
        self.names = list(dict.fromkeys(names))

    def __getitem__(self, name: str) -> Any:
        if name not in self.names:
            raise KeyError(name)
        if name == "Policy":
            return self.queue.policy
        if name == "RedrivePolicy" and self.queue.redrive_policy:
            return json.dumps(self.queue.redrive_policy)
        value = getattr(self.queue, camelcase_to_underscores(name))
        return str(value).lower() if isinstance(value, bool) else value

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


@contextmanager
def lazy_queue_attributes() -> Iterator[None]:
    with patch.object(Queue, "attributes", property(_QueueAttributes)):
        yield


def _renamed(value: Any, exact: Mapping[str, str], old: str, new: str) -> Any:
    """`value` with every string that names the template credential naming `new` instead:
    an id or ARN of one of its resources (exact) becomes the clone's, a name is replaced."""
    if isinstance(value, str):
        return exact.get(value, value.replace(old, new))
    if isinstance(value, dict):
        return {k: _renamed(v, exact, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v, exact, old, new) for v in value]
    return value


def clone_credentials(h: AwsHarness, template: str, names: list[str]) -> None:
    """Create `names` in moto as the program creates `template` (its held resources, in the
    order the program registered them, renamed), then give the daily schedule the manifest
    the program would write for the whole stack."""
    local = h.stack.aws
    assert local is not None
    mine = [
        r
        for r in h.stack.resources.values()
        if r.held and r.cloud == "aws" and f"-{template}-" in f"{r.name}-"
    ]
    assert mine, f"the program declared no resources for {template}"
    for name in names:
        exact: dict[str, str] = {}
        for r in mine:
            inputs = _renamed(r.inputs, exact, template, name)
            rid, outputs = aws_stack.CREATORS[r.type](local, r.name.replace(template, name), inputs)
            exact[r.id] = rid
            if r.outputs.get("arn") and outputs.get("arn"):
                exact[str(r.outputs["arn"])] = str(outputs["arn"])
        h.secrets[name] = exact[h.secrets[template]]
    sweep = next(
        r for r in h.stack.resources.values() if r.type == "aws:scheduler/schedule:Schedule"
    )
    manifest = [naming.aws_secret_name(PREFIX, n) for n in h.secrets]
    event = manifest_event(manifest, AWS_INPUT_LIMIT_BYTES)
    updated = {**sweep.inputs, "target": {**sweep.inputs["target"], "input": event}}
    aws_stack.UPDATERS[sweep.type](local, sweep.id, sweep.inputs, updated)
    sweep.inputs = updated
    print(f"  the sweep's manifest: {len(manifest)} credentials in {len(event.encode())} bytes")


def bootstrap(h: AwsHarness, cio: FakeCustomerIO, names: list[str]) -> None:
    """Each credential's first key, handed over through the inbox and the rotator's
    `submitted` action (in-process: the Lambda's own code, without moto's invoke)."""
    for name in names:
        arn = h.secrets[name]
        raw = cio.new_track_key("1001").to_json().encode()
        h.rt.store.write_submission(arn, raw, actor="bench")
        out = rotator.handle(
            {"action": cv.ACTION_SUBMITTED, "secret_id": arn, "actor": "bench"}, h.rt
        )
        if out.get("outcome") != "submitted":
            raise SystemExit(f"bootstrap of {name}: {out}")


def resource_counts() -> None:
    """The program's resources for 10 and 1,000 credentials (both clouds, under mocks)."""
    with TemporaryDirectory() as tmp:
        source = make_source_tree(Path(tmp) / "src")
        small = measure(10, source, Path(tmp) / "a")
        large = measure(1000, source, Path(tmp) / "b")
    per = sum(small.per_credential.values())
    fixed = sum(small.fixed.values())
    linear = (
        large.fixed == small.fixed
        and large.per_credential == small.per_credential
        and large.total - small.total == 990 * per
    )
    print("the program's resources (both clouds, Pulumi mocks)")
    for m in (small, large):
        print(
            f"  {m.credentials:>6} credentials: {m.total} = {sum(m.fixed.values())} shared "
            f"({dict(m.fixed)}) + {m.credentials} x {sum(m.per_credential.values())} "
            f"({dict(m.per_credential)}); evaluated in {m.seconds:.1f} s"
        )
    if linear:
        print(
            f"  exactly linear, so 10,000 credentials: {fixed} + 10000 x {per} = {fixed + 10000 * per}"
        )
    else:
        print("  NOT linear between 10 and 1,000: no extrapolation")


def daily_pass(n: int, deployed: int) -> None:
    fake_aws_environment()
    cio = FakeCustomerIO().start()
    clock = SimulatedClock(START)
    names = names_of(n)
    started = time.perf_counter()
    try:
        with mock_aws(), indexed_secrets(), lazy_queue_attributes():
            h = AwsHarness(cio=cio, clock=clock)
            with h.runtime.active():
                specs = [
                    {"name": x, "kind": "track", "region": "us", "workspace_id": "1001"}
                    for x in names[:deployed]
                ]
                h.provision_many(specs)
                print(f"daily pass of {n} idle credentials on AWS")
                print(
                    f"  deployed by the program: {deployed} ({time.perf_counter() - started:.0f} s)"
                )
                if n > deployed:
                    clone_credentials(h, names[0], names[deployed:])
                    print(
                        f"  created in moto as the program creates them: {n - deployed} "
                        f"({time.perf_counter() - started:.0f} s)"
                    )
                bootstrap(h, cio, names)
                print(f"  bootstrapped {n} ({time.perf_counter() - started:.0f} s)")
                skip_days_aws(h, timedelta(hours=20))  # 05:00 the next day: every key idle
                cio.pace, cio.latency, cio.rate_limit = clock, LATENCY, int(APP_API_RATE)
                calls = AwsCalls(h.rt.store.client)
                before, fired_before = len(cio.log), len(h.stack.fired)
                with calls.counting() as counted:
                    h.advance(timedelta(hours=1, minutes=5))  # to 06:05: the sweep fires
                    for _ in range(24):  # the queue drains (a failed unit returns in 30 min)
                        if not _queued(h):
                            break
                        h.advance(timedelta(minutes=30))
                probes = len(cio.log) - before
                store: Counter[str] = counted
                local = h.stack.aws
                longest = local.longest if local else 0.0
                fired = h.stack.fired[fired_before:]
                sweep_at = next(f.at for f in fired if f.what.endswith("-rotation-sweep"))
                last_poll = max(f.at for f in fired if f.what.startswith("poll "))
    finally:
        cio.stop()
    print(
        f"  from the sweep ({sweep_at:%H:%M} UTC) to the last batch: "
        f"{(last_poll - sweep_at).total_seconds() / 60:.1f} min simulated, one batch at a "
        f"time ({time.perf_counter() - started:.0f} s of machine time in all)"
    )
    per_store = sum(store.values()) / n
    per_probe = probes / n
    print(
        f"  per credential: {per_store:.2f} store calls ({dict(store)}), "
        f"{per_probe:.2f} Customer.io calls ({probes} in all)"
    )
    print(
        f"  most requests in any 1 s: {cio.peak} (limit {int(APP_API_RATE)}); "
        f"refused by the limit: {cio.over_limit}; longest invocation {longest:.1f} s "
        f"of {LAMBDA_TIMEOUT_SECONDS}"
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


def _queued(h: AwsHarness) -> bool:
    """Whether the work queue still holds units (visible, or received and not yet done)."""
    local = h.stack.aws
    assert local is not None
    got = local.sqs.get_queue_attributes(
        QueueUrl=local.runtime_env()[cv.ENV_WORK_QUEUE_URL],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return any(int(v) for v in got.values())


def main(n: int, deployed: int) -> None:
    daily_pass(n, deployed)
    resource_counts()
    sys.stdout.flush()


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    main(args[0] if args else 10_000, args[1] if len(args) > 1 else 10)
