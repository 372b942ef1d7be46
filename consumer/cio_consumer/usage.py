"""Tell the rotator which key this process uses, so the old key is deleted only once unused.

Customer.io shows no per-key usage, so the rotator cannot see who still sends with an
old key. Each loader reports the fingerprint of the key it serves (first 8 hex of its
SHA-256, as in every notice: never key material) with who is reporting: the service
(`service_name`, else `OTEL_SERVICE_NAME`, else OpenTelemetry's `unknown_service:<program>`)
and the instance (`host:pid`). The rotator reads these points back and sends "delete the
old key now" when the old fingerprint has been quiet long enough.

Reporting is on by default and must never cost the application anything:

- `note()` is what the loader calls; it only records the latest use and wakes a daemon
  thread, at most once per `interval` per credential. It never blocks and never raises.
- The thread sends everything due in one call to a `UsageSink` (a CloudWatch metric on
  AWS, a Cloud Monitoring custom metric on GCP). A failing or hanging endpoint delays
  nothing but the next report; failures are logged once per kind at DEBUG, without
  detail that could carry a secret.
- `close()` (and interpreter exit) sends a last report, waiting at most `close_timeout`.

Set `CIO_USAGE_REPORTING=off` (or pass `usage=None` to a loader) to opt out.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import sys
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

log = logging.getLogger("cio_consumer.usage")

ENV_SERVICE_NAME = "OTEL_SERVICE_NAME"  # the OpenTelemetry convention
ENV_REPORTING = "CIO_USAGE_REPORTING"  # "off" / "0" / "false" disables reporting
DEFAULT_INTERVAL_SECONDS = 60.0
DEFAULT_CLOSE_TIMEOUT_SECONDS = 2.0

# Where the points go: one fact, one place (the rotator and the Pulumi program read these).
AWS_NAMESPACE = "CioRotation"
AWS_METRIC = "KeyInUse"
AWS_DIMENSIONS = ("Secret", "Fingerprint", "Service", "Instance")
GCP_METRIC_TYPE = "custom.googleapis.com/cio_rotation/key_in_use"
GCP_LABELS = ("secret", "fingerprint", "service", "instance")
# Dimension values and label values are short strings (CloudWatch: 1..1024 characters).
MAX_VALUE_LENGTH = 250


def reporting_enabled(environ: dict[str, str] | None = None) -> bool:
    """False when the application opted out with CIO_USAGE_REPORTING=off."""
    value = (environ if environ is not None else os.environ).get(ENV_REPORTING, "")
    return value.strip().lower() not in {"off", "0", "false", "no"}


def default_service_name(environ: dict[str, str] | None = None) -> str:
    """OTEL_SERVICE_NAME, else OpenTelemetry's own fallback `unknown_service:<program>`."""
    env = environ if environ is not None else os.environ
    name = env.get(ENV_SERVICE_NAME, "").strip()
    if name:
        return name
    program = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
    return f"unknown_service:{program or 'python'}"


def default_instance() -> str:
    """This process, as people find it: host name and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _clip(value: str) -> str:
    value = value.strip() or "-"
    return value[:MAX_VALUE_LENGTH]


@dataclass(frozen=True)
class KeyUse:
    """One report: this process served the key with `fingerprint` from `secret` at `at`."""

    secret: str
    fingerprint: str
    service: str
    instance: str
    at: datetime


class UsageSink(Protocol):
    """Where reports go. `send` may raise: the reporter swallows and logs it."""

    def send(self, uses: Sequence[KeyUse]) -> None: ...


class CloudWatchSink:
    """AWS: one `PutMetricData` point per use, value 1, in namespace `CioRotation`.

    The consumer policy allows `cloudwatch:PutMetricData` only with
    `cloudwatch:namespace` = `CioRotation`.
    """

    BATCH = 1000  # PutMetricData's documented maximum of metric data items per call

    def __init__(self, client: Any = None, *, region_name: str | None = None) -> None:
        self._client = client
        self.region_name = region_name

    @property
    def client(self) -> Any:
        """Built on first use, on the reporter's thread: never on the application's."""
        if self._client is None:
            import boto3  # only when used

            self._client = boto3.client("cloudwatch", region_name=self.region_name)
        return self._client

    def send(self, uses: Sequence[KeyUse]) -> None:
        data = [
            {
                "MetricName": AWS_METRIC,
                "Dimensions": [
                    {"Name": name, "Value": _clip(value)}
                    for name, value in zip(
                        AWS_DIMENSIONS,
                        (u.secret, u.fingerprint, u.service, u.instance),
                        strict=True,
                    )
                ],
                "Timestamp": u.at,
                "Value": 1.0,
                "Unit": "Count",
            }
            for u in uses
        ]
        for start in range(0, len(data), self.BATCH):
            self.client.put_metric_data(
                Namespace=AWS_NAMESPACE, MetricData=data[start : start + self.BATCH]
            )


class CloudMonitoringSink:
    """GCP: one point per use of the custom metric `cio_rotation/key_in_use` (gauge, 1),
    through Cloud Monitoring's REST API (`projects.timeSeries.create`).

    REST through google-auth's AuthorizedSession: Google's Python client for Monitoring
    speaks gRPC only, and an application should not need gRPC to say which key it holds.
    The resource is `global` in the secret's project; the labels carry the reporter.
    Monitoring accepts one point per series every 5 seconds and 200 series per call:
    the reporter's once-a-minute cadence stays far inside both.
    """

    ENDPOINT = "https://monitoring.googleapis.com"
    SCOPE = "https://www.googleapis.com/auth/monitoring.write"
    BATCH = 200
    TIMEOUT_SECONDS = 10.0

    def __init__(
        self,
        project: str,
        session: Any = None,
        *,
        credentials: Any = None,
        endpoint: str = ENDPOINT,
    ) -> None:
        self.project = project
        self._session = session
        self.credentials = credentials
        self.endpoint = endpoint.rstrip("/")

    @property
    def session(self) -> Any:
        """Built on first use, on the reporter's thread, with the secret client's
        credentials when known (the same identity reads the key and reports its use)."""
        if self._session is None:
            from google.auth.transport.requests import AuthorizedSession  # the `gcp` extra

            credentials = self.credentials
            if credentials is None:
                import google.auth

                credentials, _ = google.auth.default(scopes=[self.SCOPE])
            self._session = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
        return self._session

    def send(self, uses: Sequence[KeyUse]) -> None:
        series = [
            {
                "metric": {
                    "type": GCP_METRIC_TYPE,
                    "labels": {
                        label: _clip(value)
                        for label, value in zip(
                            GCP_LABELS,
                            (u.secret, u.fingerprint, u.service, u.instance),
                            strict=True,
                        )
                    },
                },
                "resource": {"type": "global", "labels": {"project_id": self.project}},
                "points": [
                    {
                        "interval": {
                            "endTime": u.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                        },
                        "value": {"int64Value": "1"},
                    }
                ],
            }
            for u in uses
        ]
        url = f"{self.endpoint}/v3/projects/{self.project}/timeSeries"
        for start in range(0, len(series), self.BATCH):
            response = self.session.post(
                url,
                json={"timeSeries": series[start : start + self.BATCH]},
                timeout=self.TIMEOUT_SECONDS,
            )
            response.raise_for_status()


class UsageReporter:
    """Collects key uses from any number of loaders; one daemon thread sends them."""

    def __init__(
        self,
        sink: UsageSink,
        *,
        service_name: str | None = None,
        instance: str | None = None,
        interval: float = DEFAULT_INTERVAL_SECONDS,
        close_timeout: float = DEFAULT_CLOSE_TIMEOUT_SECONDS,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive (seconds between reports).")
        self.sink = sink
        self.service = _clip(service_name or default_service_name())
        self.instance = _clip(instance or default_instance())
        self.interval = interval
        self.close_timeout = close_timeout
        self._wall_clock = wall_clock
        # The latest use of each (secret, fingerprint) not yet sent: a process that moved to
        # a promoted key reports when it last used the old one too.
        self._pending: dict[tuple[str, str], KeyUse] = {}
        self._last: dict[str, str] = {}  # the fingerprint each secret was last seen with
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._failures: set[str] = set()
        self.sent = 0  # points handed to the sink, for metrics and tests
        self.send_calls = 0
        _live_reporters.add(self)

    def note(self, secret: str, fingerprint: str) -> None:
        """Record that `secret`'s key with `fingerprint` is in use now. Never blocks or raises."""
        try:
            use = KeyUse(secret, fingerprint, self.service, self.instance, self._wall_clock())
            with self._lock:
                if self._closed:
                    return
                self._pending[(secret, fingerprint)] = use
                self._last[secret] = fingerprint
                self._idle.clear()
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="cio-usage-reporter", daemon=True
                    )
                    self._thread.start()
            self._wake.set()
        except Exception as err:  # reporting must never affect the application
            self._failed("note", err)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything noted so far was handed to the sink; False on timeout."""
        self._wake.set()
        return self._idle.wait(self.close_timeout if timeout is None else timeout)

    def close(self) -> None:
        """Report every key still held, once more and now (the rotator learns when this
        process stopped using it), wait at most `close_timeout`, then stop reporting."""
        if self._closed:
            return
        for secret, fingerprint in list(self._last.items()):
            self.note(secret, fingerprint)
        self.flush()
        with self._lock:
            self._closed = True
        self._wake.set()

    def _take(self) -> list[KeyUse]:
        with self._lock:
            uses = list(self._pending.values())
            self._pending.clear()
            if not uses:
                self._idle.set()
            return uses

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            uses = self._take()
            while uses:
                try:
                    self.send_calls += 1
                    self.sink.send(uses)
                    self.sent += len(uses)
                except Exception as err:
                    self._failed("send", err)
                uses = self._take()
            if self._closed:
                return

    def _failed(self, what: str, err: Exception) -> None:
        """Log a failure kind once, by type only: an SDK message might quote a request."""
        kind = f"{what}:{type(err).__name__}"
        if kind in self._failures:
            return
        self._failures.add(kind)
        log.debug("key usage report failed (%s); reporting goes on", kind)


_live_reporters: weakref.WeakSet[UsageReporter] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    """At exit, every reporter sends its last report (bounded by its close_timeout)."""
    for reporter in list(_live_reporters):
        reporter.close()


_shared: dict[tuple[str, ...], UsageReporter] = {}
_shared_lock = threading.Lock()


def shared_reporter(
    destination: tuple[str, str],
    make_sink: Callable[[], UsageSink],
    service_name: str | None = None,
) -> UsageReporter:
    """One reporter (one thread) per destination and service per process, however many
    loaders."""
    key = (*destination, service_name or "")
    with _shared_lock:
        reporter = _shared.get(key)
        if reporter is None or reporter._closed:
            reporter = UsageReporter(make_sink(), service_name=service_name)
            _shared[key] = reporter
        return reporter
