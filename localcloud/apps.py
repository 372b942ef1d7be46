"""Application processes on the local cloud: the consumer library itself, on simulated time.

Each process is a `cio_consumer` loader reading the live secret (moto's Secrets Manager,
or the local Secret Manager through the real Google client) and reporting the key it
serves with the library's own UsageReporter (into moto's CloudWatch, or the local Cloud
Monitoring), exactly as an application would, with the local stack's clock as both its
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
import requests
from cio_consumer import AwsSecretsManagerSource, GcpSecretManagerSource, track_loader
from cio_consumer.loader import CredentialLoader
from cio_consumer.sources import SecretSource
from cio_consumer.usage import CloudMonitoringSink, CloudWatchSink, UsageReporter, UsageSink

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
    source: Callable[[], SecretSource]  # a new process's own client of the secret store
    sink: Callable[[], UsageSink]  # ... and of the metrics service
    running: list[App] = field(default_factory=list)

    @classmethod
    def on_aws(
        cls, clock: SimulatedClock, advance: Callable[[timedelta], Any], arn: str, region: str
    ) -> LocalApps:
        """Processes reading `arn` from moto, reporting into moto's CloudWatch."""
        return cls(
            clock,
            advance,
            lambda: AwsSecretsManagerSource(
                arn, client=boto3.client("secretsmanager", region_name=region)
            ),
            lambda: CloudWatchSink(boto3.client("cloudwatch", region_name=region)),
        )

    @classmethod
    def on_gcp(
        cls,
        clock: SimulatedClock,
        advance: Callable[[timedelta], Any],
        secret: str,
        client: Any,
        project: str,
        monitoring: str,
    ) -> LocalApps:
        """Processes reading `secret` from the local Secret Manager (`client`), reporting
        into the local Cloud Monitoring at `monitoring`."""
        return cls(
            clock,
            advance,
            lambda: GcpSecretManagerSource(secret, client=client),
            lambda: CloudMonitoringSink(project, requests.Session(), endpoint=monitoring),
        )

    def start(self, service: str, instance: str, *, ttl: float = 300.0) -> App:
        """A process starts: it reads the secret and reports its key at once."""
        clock = self.clock
        reporter = UsageReporter(
            self.sink(), service_name=service, instance=instance, wall_clock=clock.now
        )
        source = self.source()
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
