"""`cio-rotate evidence` generation time: 100 credentials over a year of audit events.

The local AWS account (moto, in process) holds N credentials provisioned as the Pulumi
program does, each bootstrapped through the in-process rotator, and a rotator log group
holding a year of audit lines per credential (a daily check every day, four rotations:
opened, verified, promoted, notices, revocation pending then confirmed), written as the
rotator writes them (rotation.audit.AuditEvent) with the simulated day's timestamps.
Times the whole report (the state reads, ONE paged FilterLogEvents, the build, the
rendering) per format, and the build and rendering alone. Prints numbers only.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from unittest.mock import patch

START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
ROTATIONS = 4


def _lines(name: str, day0: datetime) -> list[tuple[datetime, str]]:
    """A year of one credential's audit lines, as rotation.audit writes them."""
    from rotation.audit import AuditEvent
    from rotation.state import format_time

    out: list[tuple[datetime, str]] = []
    keys = [f"{name[:4]}{n:04x}" for n in range(ROTATIONS + 1)]

    def add(at: datetime, event: str, rid: str, actor: str, outcome: str, **fps: str) -> None:
        line = AuditEvent(
            event=event,
            credential=name,
            rotation_id=rid,
            mode="scheduled" if rid else "",
            actor=actor,
            outcome=outcome,
            at=format_time(at),
            fingerprints=fps,
        ).to_json()
        out.append((at, line))

    for day in range(365):
        at = day0 + timedelta(days=day)
        current = keys[min(day // 80, ROTATIONS)]
        add(at, "key.alive", "", "rotator", "accepted", current=current)
        if day % 80 == 78 and day // 80 < ROTATIONS:
            rid = f"r{at:%y%m%d}-{name[-4:]}"
            old, new = current, keys[day // 80 + 1]
            add(at, "rotation.opened", rid, "calendar", "ok", current=old)
            add(at, "notification.sent", rid, "rotator", "opened")
            add(at + timedelta(days=1), "key.verified", rid, "bob", "accepted", candidate=new)
            add(at + timedelta(days=1), "key.promoted", rid, "bob", "promoted", current=new)
            add(at + timedelta(days=2), "revocation.pending", rid, "rotator", "alive")
            add(at + timedelta(days=3), "revocation.confirmed", rid, "rotator", "revoked")
    return sorted(out, key=lambda item: item[0])


def _median(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--credentials", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)

    import boto3
    from moto import mock_aws

    from localcloud.aws_harness import REGION, AwsHarness, fake_aws_environment
    from localcloud.customerio import FakeCustomerIO
    from localcloud.stack_outputs import AWS_LOG_GROUP
    from rotation.clock import SimulatedClock
    from rotation.evidence.build import build_report, lookback
    from rotation.evidence.collect import collect, facts_of
    from rotation.evidence.model import Period, Report
    from rotation.evidence.render import render
    from rotation.operator.aws import AwsBackend
    from rotation.operator.config import CredentialRef, OperatorConfig

    fake_aws_environment()
    clock = SimulatedClock(START - timedelta(days=1))
    end = START + timedelta(days=365)
    cio = FakeCustomerIO().start()
    try:
        with (
            mock_aws(),
            patch("moto.logs.models.utcnow", lambda: clock.now().replace(tzinfo=None)),
        ):  # moto's CloudWatch Logs on the simulated clock
            aws = AwsHarness(cio=cio, clock=clock)
            with aws.runtime.active():
                names = [f"cred-{n:03d}" for n in range(args.credentials)]
                for name in names:
                    aws.provision(name, "track", "us", workspace="1001")
                    aws.submit(name, cio.new_track_key("1001"))
                logs = boto3.client("logs", region_name=REGION)
                with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
                    logs.create_log_group(logGroupName=AWS_LOG_GROUP)  # the program declares it
                logs.create_log_stream(logGroupName=AWS_LOG_GROUP, logStreamName="rotator")
                events = sorted(
                    (line for name in names for line in _lines(name, START)),
                    key=lambda item: item[0],
                )
                # moto keeps events no older than 14 days by its clock: ship the year in
                # day-sized batches at the clock of each day, as Lambda would have.
                i = 0
                while i < len(events):
                    day = events[i][0].date()
                    j = i
                    while j < len(events) and events[j][0].date() == day and j - i < 10_000:
                        j += 1
                    clock.advance(events[j - 1][0] - clock.now())
                    logs.put_log_events(
                        logGroupName=AWS_LOG_GROUP,
                        logStreamName="rotator",
                        logEvents=[
                            {"timestamp": int(at.timestamp() * 1000), "message": message}
                            for at, message in events[i:j]
                        ],
                    )
                    i = j
                clock.advance(end - clock.now())
                config = OperatorConfig(aws_region=REGION, log_group=AWS_LOG_GROUP)
                backend = AwsBackend(config)
                refs = [CredentialRef(n, "aws", aws.secrets[n]) for n in names]
                period = Period(START, end)

                def report() -> Report:
                    return collect(refs, lambda _: backend, period, 90, now=end, source="bench")

                built = report()
                totals = {
                    fmt: _median(lambda fmt=fmt: render(report(), fmt), args.runs)  # type: ignore[misc]
                    for fmt in ("json", "csv", "html")
                }
                read_since = lookback(START, 90)
                trail = backend.audit_trail(refs, read_since, end)
                facts = [facts_of(ref, backend) for ref in refs]

                def build() -> object:
                    return build_report(
                        facts,
                        {"aws": trail},
                        period,
                        90,
                        read_since=read_since,
                        generated_at=end,
                        source="bench",
                    )

                build_s = _median(build, args.runs)
                trail_s = _median(lambda: backend.audit_trail(refs, read_since, end), args.runs)
                facts_s = _median(lambda: [facts_of(ref, backend) for ref in refs], args.runs)
                render_ms = {
                    fmt: _median(lambda fmt=fmt: render(built, fmt), args.runs) * 1000  # type: ignore[misc]
                    for fmt in ("json", "csv", "html")
                }
                sizes = {fmt: len(render(built, fmt).encode()) for fmt in ("json", "csv", "html")}
                rotations = sum(len(c.rotations) for c in built.credentials)
    finally:
        cio.stop()
    n = args.credentials
    print(f"evidence, {n} credentials, one year, {len(events)} audit events, {rotations} rotations")
    for fmt, seconds in totals.items():
        print(
            f"  whole report as {fmt} (state reads + FilterLogEvents + build + render): "
            f"{seconds:.2f} s (median of {args.runs})"
        )
    print(
        f"  of which: the trail read (FilterLogEvents, all pages) {trail_s:.2f} s, the state "
        f"reads (DescribeSecret x2 + the state document, per credential) {facts_s:.2f} s"
    )
    print(
        f"  build alone from the read trail: {build_s * 1000:.0f} ms; rendering: "
        + ", ".join(f"{fmt} {ms:.0f} ms" for fmt, ms in render_ms.items())
    )
    for fmt, size in sizes.items():
        print(f"  {fmt} size: {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
