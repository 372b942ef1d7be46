"""Application processes on the local AWS: the consumer library itself, on simulated time.

Each process is a `cio_consumer` loader reading the live secret from moto's Secrets
Manager and reporting the key it serves with the library's own UsageReporter into moto's
CloudWatch, exactly as an application would, with the local stack's clock as both its
monotonic and wall clock. The drill and the drain tests start, run and restart them while
simulated time passes, so the rotator's drain reads what applications really write.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import boto3
from cio_consumer import AwsSecretsManagerSource, track_loader
from cio_consumer.loader import CredentialLoader
from cio_consumer.usage import CloudWatchSink, UsageReporter

from rotation.clock import SimulatedClock

# How often a running process serves a request (and so may report, at most once a minute).
REQUEST_EVERY = timedelta(minutes=5)
MONTH_SECONDS = 30 * 86_400.0  # a cache that outlives any grace period: a straggler's


@dataclass
class App:
    """One application process: a loader of the live secret, reporting the key it serves."""

    service: str
    instance: str
    loader: CredentialLoader[Any]

    def serve(self) -> str:
        """One request: the key it uses (its fingerprint), reported as the library does."""
        fingerprint: str = self.loader.get().fingerprint
        if self.loader.usage is not None:
            self.loader.usage.flush(5)
        return fingerprint


@dataclass
class LocalApps:
    """The processes reading one live secret; `run` lets time pass while they serve."""

    clock: SimulatedClock
    advance: Callable[[timedelta], Any]  # the local stack's: fires what the clouds would
    secret_arn: str
    region: str
    running: list[App] = field(default_factory=list)

    def start(self, service: str, instance: str, *, ttl: float = 300.0) -> App:
        """A process starts: it reads the secret and reports its key at once."""
        clock = self.clock
        reporter = UsageReporter(
            CloudWatchSink(boto3.client("cloudwatch", region_name=self.region)),
            service_name=service,
            instance=instance,
            wall_clock=clock.now,
        )
        source = AwsSecretsManagerSource(
            self.secret_arn, client=boto3.client("secretsmanager", region_name=self.region)
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a month-long cache is the straggler's own choice
            loader = track_loader(
                source,
                ttl=ttl,
                emergency_grace=max(ttl * 4, 900.0),
                max_stale=None,
                monotonic=lambda: clock.now().timestamp(),
                usage=reporter,
            )
        app = App(service, instance, loader)
        app.serve()
        self.running.append(app)
        return app

    def stop(self, app: App) -> None:
        """The process exits: its last report goes out (the library's close())."""
        app.loader.close()
        self.running.remove(app)

    def run(self, duration: timedelta) -> None:
        """Let `duration` pass while every running process serves requests."""
        end = self.clock.now() + duration
        while self.clock.now() < end:
            for app in self.running:
                app.serve()
            self.advance(min(REQUEST_EVERY, end - self.clock.now()))

    def keys(self) -> dict[str, str]:
        """The key each running process uses, by instance."""
        return {a.instance: a.loader.get().fingerprint for a in self.running}
