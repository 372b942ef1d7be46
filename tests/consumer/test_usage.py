"""Applications report which key they hold (cio_consumer.usage), without ever being slowed.

AWS through moto's CloudWatch, GCP through the real google-cloud-monitoring client (REST)
against the local Monitoring emulator. Call counts, not timings: the cost of `get()` is
measured by bench/loader_get.py.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import boto3
import pytest
import requests
from cio_consumer import track_loader
from cio_consumer.credentials import fingerprint
from cio_consumer.usage import (
    AWS_METRIC,
    AWS_NAMESPACE,
    GCP_METRIC_TYPE,
    CloudMonitoringSink,
    CloudWatchSink,
    KeyUse,
    UsageReporter,
    default_service_name,
    reporting_enabled,
)
from moto import mock_aws

from localcloud.monitoring_emulator import MonitoringEmulator
from rotation.stores.gcp import build_client
from tests.consumer.stores import Ticker

KEY = "a1b2c3d4e5f6a7b8c9d0"  # pragma: allowlist secret
DOC = {"site_id": "site-1", "api_key": KEY, "region": "us"}


class RecordingSink:
    """Keeps what it is sent; can be made to fail or to hang until released."""

    def __init__(self) -> None:
        self.batches: list[list[KeyUse]] = []
        self.fail: Exception | None = None
        self.release = threading.Event()
        self.release.set()
        self.entered = threading.Event()

    def send(self, uses: Sequence[KeyUse]) -> None:
        self.entered.set()
        self.release.wait(10)
        if self.fail is not None:
            raise self.fail
        self.batches.append(list(uses))

    @property
    def uses(self) -> list[KeyUse]:
        return [u for batch in self.batches for u in batch]


@pytest.fixture
def aws_secret() -> Iterator[tuple[str, object]]:
    with mock_aws():
        sm = boto3.client("secretsmanager", region_name="us-east-1")
        arn = sm.create_secret(
            Name=f"cio/app-{secrets.token_hex(3)}", SecretString=json.dumps(DOC)
        )["ARN"]
        yield str(arn), sm


def _reporter(sink: object, **kw: object) -> UsageReporter:
    return UsageReporter(sink, service_name="billing-api", instance="host-1:42", **kw)  # type: ignore[arg-type]


def test_first_get_reports_at_once_then_at_most_once_a_minute(aws_secret):
    from cio_consumer import AwsSecretsManagerSource

    arn, sm = aws_secret
    sink = RecordingSink()
    ticker = Ticker()
    loader = track_loader(
        AwsSecretsManagerSource(arn, client=sm), monotonic=ticker, usage=_reporter(sink)
    )
    for _ in range(1000):
        loader.get()
    assert loader.usage is not None and loader.usage.flush(5)
    assert len(sink.uses) == 1  # 1,000 gets in the first minute: one report
    use = sink.uses[0]
    assert (use.fingerprint, use.service, use.instance) == (
        fingerprint(KEY),
        "billing-api",
        "host-1:42",
    )
    assert use.secret == arn.split(":", 6)[-1]

    ticker.now += 59
    loader.get()
    loader.usage.flush(5)
    assert len(sink.uses) == 1
    ticker.now += 2  # 61 s after the first report
    for _ in range(100):
        loader.get()
    loader.usage.flush(5)
    assert len(sink.uses) == 2  # per process and credential: once a minute
    ticker.now += 120  # an hour of steady use is 60 reports at most
    loader.get()
    loader.usage.flush(5)
    assert len(sink.uses) == 3


def test_a_new_key_is_reported_when_it_is_loaded(aws_secret):
    from cio_consumer import AwsSecretsManagerSource

    arn, sm = aws_secret
    sink = RecordingSink()
    ticker = Ticker()
    loader = track_loader(
        AwsSecretsManagerSource(arn, client=sm), monotonic=ticker, ttl=60, usage=_reporter(sink)
    )
    loader.get()
    new_key = "f" * 20
    sm.put_secret_value(SecretId=arn, SecretString=json.dumps({**DOC, "api_key": new_key}))
    ticker.now += 61  # the cache expires: the reload finds the promoted key
    loader.get()
    assert loader.usage is not None and loader.usage.flush(5)
    assert [u.fingerprint for u in sink.uses] == [fingerprint(KEY), fingerprint(new_key)]


def test_cloudwatch_points_land_in_the_namespace_the_rotator_reads(aws_secret):
    from cio_consumer import AwsSecretsManagerSource

    arn, sm = aws_secret
    cw = boto3.client("cloudwatch", region_name="us-east-1")
    reporter = _reporter(CloudWatchSink(cw))
    loader = track_loader(AwsSecretsManagerSource(arn, client=sm), usage=reporter)
    loader.get()
    assert reporter.flush(5)
    metrics = cw.list_metrics(Namespace=AWS_NAMESPACE, MetricName=AWS_METRIC)["Metrics"]
    assert len(metrics) == 1
    dims = {d["Name"]: d["Value"] for d in metrics[0]["Dimensions"]}
    assert dims == {
        "Secret": arn.split(":", 6)[-1],
        "Fingerprint": fingerprint(KEY),
        "Service": "billing-api",
        "Instance": "host-1:42",
    }
    assert KEY not in json.dumps(metrics)


def test_close_reports_the_held_key_once_more(aws_secret):
    from cio_consumer import AwsSecretsManagerSource

    arn, sm = aws_secret
    sink = RecordingSink()
    ticker = Ticker()
    loader = track_loader(
        AwsSecretsManagerSource(arn, client=sm), monotonic=ticker, usage=_reporter(sink)
    )
    loader.get()
    assert loader.usage is not None and loader.usage.flush(5)
    loader.close()  # within the minute: still reported, so the rotator sees when it left
    assert len(sink.uses) == 2
    loader.usage.close()  # what interpreter exit does: every held key, once more
    assert len(sink.uses) == 3
    ticker.now += 61
    assert loader.get().api_key == KEY  # a closed reporter takes nothing more; get() works
    assert len(sink.uses) == 3


def test_a_failing_or_hanging_endpoint_changes_nothing_for_the_application(aws_secret, caplog):
    from cio_consumer import AwsSecretsManagerSource

    arn, sm = aws_secret
    sink = RecordingSink()
    sink.release.clear()  # the metrics endpoint hangs
    ticker = Ticker()
    reporter = _reporter(sink, close_timeout=0.05)
    loader = track_loader(AwsSecretsManagerSource(arn, client=sm), monotonic=ticker, usage=reporter)
    assert loader.get().api_key == KEY
    assert sink.entered.wait(5)  # the reporter's thread is stuck in send()
    for _ in range(5):
        ticker.now += 61
        assert loader.get().api_key == KEY  # returns while the sender hangs
    assert reporter.flush(0.01) is False  # bounded wait, then the caller goes on
    loader.close()  # bounded too
    sink.fail = ConnectionError(f"refused while sending {KEY}")
    with caplog.at_level(logging.DEBUG, logger="cio_consumer"):
        sink.release.set()
        assert reporter.flush(5)
        ticker.now += 61
        loader.get()
        assert reporter.flush(5)
    assert sink.uses == []  # every send failed
    assert KEY not in caplog.text
    failures = [r for r in caplog.records if "usage report failed" in r.getMessage()]
    assert len(failures) == 1  # once per kind of failure, not once per report


def test_reporting_is_on_by_default_and_off_by_choice(aws_secret, monkeypatch):
    from cio_consumer import AwsSecretsManagerSource

    arn, sm = aws_secret
    monkeypatch.setenv("CIO_USAGE_REPORTING", "on")
    loader = track_loader(AwsSecretsManagerSource(arn, client=sm))
    assert isinstance(loader.usage, UsageReporter)
    assert isinstance(loader.usage.sink, CloudWatchSink)
    assert loader.usage.sink.region_name == "us-east-1"
    assert track_loader(AwsSecretsManagerSource(arn, client=sm), usage=None).usage is None
    monkeypatch.setenv("CIO_USAGE_REPORTING", "off")
    assert track_loader(AwsSecretsManagerSource(arn, client=sm)).usage is None
    with pytest.raises(ValueError, match="usage must be"):
        track_loader(AwsSecretsManagerSource(arn, client=sm), usage="yes")


def test_service_name_follows_opentelemetry(monkeypatch):
    monkeypatch.setenv("OTEL_SERVICE_NAME", "checkout")
    assert default_service_name() == "checkout"
    monkeypatch.delenv("OTEL_SERVICE_NAME")
    assert default_service_name().startswith("unknown_service:")
    assert UsageReporter(RecordingSink(), service_name="given").service == "given"
    assert reporting_enabled({}) and not reporting_enabled({"CIO_USAGE_REPORTING": "0"})


@pytest.fixture(scope="module")
def monitoring() -> Iterator[MonitoringEmulator]:
    emulator = MonitoringEmulator().start()
    yield emulator
    emulator.stop()


def test_gcp_points_reach_cloud_monitoring_through_the_real_client(monitoring, emulator):
    from cio_consumer import GcpSecretManagerSource

    client = build_client(emulator.endpoint)
    name = client.create_secret(
        request={
            "parent": "projects/apps",
            "secret_id": f"app-{secrets.token_hex(4)}",
            "secret": {"replication": {"automatic": {}}},
        }
    ).name
    client.add_secret_version(
        request={"parent": name, "payload": {"data": json.dumps(DOC).encode()}}
    )
    sink = CloudMonitoringSink("apps", requests.Session(), endpoint=monitoring.address)
    reporter = _reporter(sink)
    loader = track_loader(GcpSecretManagerSource(name, client=client), usage=reporter)
    loader.get()
    assert reporter.flush(5)
    (series,) = monitoring.series.values()
    assert series.metric_type == GCP_METRIC_TYPE
    assert series.labels == {
        "secret": name,
        "fingerprint": fingerprint(KEY),
        "service": "billing-api",
        "instance": "host-1:42",
    }
    # What the rotator reads: timeSeries.list filtered on the old fingerprint.
    listed = requests.get(
        f"{monitoring.address}/v3/projects/apps/timeSeries",
        params={
            "filter": f'metric.type = "{GCP_METRIC_TYPE}" AND '
            f'metric.labels.fingerprint = "{fingerprint(KEY)}"',
            "interval.startTime": "2020-01-01T00:00:00Z",
            "interval.endTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        timeout=5,
    ).json()["timeSeries"]
    assert [ts["metric"]["labels"]["service"] for ts in listed] == ["billing-api"]


def test_gcp_monitoring_refusal_is_swallowed(monitoring):
    monitoring.fail_with = 503
    try:
        reporter = _reporter(
            CloudMonitoringSink("apps", requests.Session(), endpoint=monitoring.address)
        )
        reporter.note("projects/apps/secrets/x", "deadbeef")
        assert reporter.flush(5)
        assert reporter.sent == 0 and reporter.send_calls == 1
    finally:
        monitoring.fail_with = None
