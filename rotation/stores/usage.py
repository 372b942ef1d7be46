"""Reading the drain's evidence from each cloud: key-usage reports and audit-trail reads.

What the consumer library writes (cio_consumer.usage) and who read the live secret
(the cloud's audit trail), turned into rotation.drain's plain records. Cloud details
stay here, as for the stores; the engine sees `UsageReader` only.

Reads per drain check, both clouds: one metrics list per fingerprint asked about (old
and new: 2), one metric-data read (AWS only; GCP's list carries the points), and the
audit trail's pages for the window (usually 1; at most `max_audit_pages`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from rotation.drain import KeyReport, SecretRead, latest_reads
from rotation.errors import reason_of

# Where the consumer library reports (cio_consumer/usage.py owns these; the rotator must
# not import the consumer package, so they are repeated here and a test keeps them equal).
AWS_NAMESPACE = "CioRotation"
AWS_METRIC = "KeyInUse"
GCP_METRIC_TYPE = "custom.googleapis.com/cio_rotation/key_in_use"
GCP_ACCESS_METHOD = "google.cloud.secretmanager.v1.SecretManagerService.AccessSecretVersion"
MAX_AUDIT_PAGES = 20


class AuditUnreadable(Exception):
    """The audit trail could not be read whole; the drain then counts reports only."""


@dataclass(frozen=True)
class Evidence:
    reports: tuple[KeyReport, ...]
    reads: tuple[SecretRead, ...]
    audit_read: bool
    audit_problem: str = ""
    calls: int = 0  # cloud API calls this read made


class UsageReader(Protocol):
    def evidence(
        self, secret_id: str, fingerprints: Sequence[str], since: datetime, now: datetime
    ) -> Evidence:
        """Reports of `fingerprints` and reads of `secret_id` between `since` and `now`."""


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _principal_of(record: dict[str, Any]) -> str:
    """The role behind an assumed-role session (what a person recognises), else the ARN."""
    identity = record.get("userIdentity", {}) or {}
    issuer = (identity.get("sessionContext", {}) or {}).get("sessionIssuer", {}) or {}
    return str(issuer.get("arn") or identity.get("arn") or identity.get("principalId") or "")


class AwsUsageReader:
    """CloudWatch `ListMetrics` + `GetMetricData`; CloudTrail `LookupEvents` (90 days of
    management events, which include Secrets Manager's `GetSecretValue`, with no trail
    to configure). LookupEvents takes one attribute: the event name, then the events
    are matched to the secret by `requestParameters.secretId` (ARN or name)."""

    def __init__(
        self, cloudwatch: Any, cloudtrail: Any, max_audit_pages: int = MAX_AUDIT_PAGES
    ) -> None:
        self.cloudwatch = cloudwatch
        self.cloudtrail = cloudtrail
        self.max_audit_pages = max_audit_pages

    def evidence(
        self, secret_id: str, fingerprints: Sequence[str], since: datetime, now: datetime
    ) -> Evidence:
        calls = 0
        streams: list[dict[str, Any]] = []
        for fp in fingerprints:
            calls += 1
            listed = self.cloudwatch.list_metrics(
                Namespace=AWS_NAMESPACE,
                MetricName=AWS_METRIC,
                Dimensions=[{"Name": "Fingerprint", "Value": fp}],
            )
            streams += listed.get("Metrics", [])
        reports: list[KeyReport] = []
        if streams:
            calls += 1
            queries = [
                {
                    "Id": f"m{i}",
                    "MetricStat": {"Metric": metric, "Period": 60, "Stat": "SampleCount"},
                    "ReturnData": True,
                }
                for i, metric in enumerate(streams[:500])
            ]
            got = self.cloudwatch.get_metric_data(
                MetricDataQueries=queries,
                StartTime=since,
                # EndTime is exclusive: a report sent this very minute counts too.
                EndTime=now + timedelta(seconds=60),
                ScanBy="TimestampDescending",
            )
            by_id = {r["Id"]: r for r in got.get("MetricDataResults", [])}
            for i, metric in enumerate(streams[:500]):
                stamps = [_utc(t) for t in by_id.get(f"m{i}", {}).get("Timestamps", [])]
                if not stamps:
                    continue
                dims = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
                reports.append(
                    KeyReport(
                        dims.get("Service", "?"),
                        dims.get("Instance", "?"),
                        dims.get("Fingerprint", ""),
                        max(stamps),
                    )
                )
        reads, audit_ok, problem, audit_calls = self._reads(secret_id, since, now)
        return Evidence(tuple(reports), tuple(reads), audit_ok, problem, calls + audit_calls)

    def _reads(
        self, secret_id: str, since: datetime, now: datetime
    ) -> tuple[list[SecretRead], bool, str, int]:
        # A caller names the secret by ARN, by the ARN's name (with Secrets Manager's
        # 6-character suffix) or by its plain name.
        names = {secret_id}
        if secret_id.startswith("arn:"):
            suffixed = secret_id.split(":", 6)[-1]
            names |= {suffixed, suffixed[:-7]}
        events: list[tuple[str, datetime]] = []
        token: str | None = None
        calls = 0
        try:
            while True:
                if calls >= self.max_audit_pages:
                    return (
                        latest_reads(events),
                        False,
                        f"CloudTrail holds more than {self.max_audit_pages * 50} GetSecretValue "
                        "events in the window; only the newest were read",
                        calls,
                    )
                kwargs: dict[str, Any] = {
                    "LookupAttributes": [
                        {"AttributeKey": "EventName", "AttributeValue": "GetSecretValue"}
                    ],
                    "StartTime": since,
                    "EndTime": now,
                    "MaxResults": 50,
                }
                if token:
                    kwargs["NextToken"] = token
                calls += 1
                page = self.cloudtrail.lookup_events(**kwargs)
                for event in page.get("Events", []):
                    record = json.loads(event.get("CloudTrailEvent") or "{}")
                    wanted = str((record.get("requestParameters") or {}).get("secretId", ""))
                    if wanted not in names:
                        continue
                    if record.get("errorCode"):
                        continue  # a refused read gave nobody the key
                    events.append((_principal_of(record), _utc(event["EventTime"])))
                token = page.get("NextToken")
                if not token:
                    return latest_reads(events), True, "", calls
        except Exception as err:  # the drain goes on with reports; the notice says so
            return [], False, f"CloudTrail could not be read ({reason_of(err)})", calls


class GcpUsageReader:
    """Cloud Monitoring `timeSeries.list` and Cloud Logging `entries.list` (Data Access
    audit logs of `AccessSecretVersion`, which the program enables for Secret Manager),
    over REST with an authorised `requests` session."""

    def __init__(
        self,
        session: Any,
        project: str,
        *,
        monitoring_endpoint: str = "https://monitoring.googleapis.com",
        logging_endpoint: str = "https://logging.googleapis.com",
        max_audit_pages: int = MAX_AUDIT_PAGES,
    ) -> None:
        self.session = session
        self.project = project
        self.monitoring_endpoint = monitoring_endpoint.rstrip("/")
        self.logging_endpoint = logging_endpoint.rstrip("/")
        self.max_audit_pages = max_audit_pages

    def evidence(
        self, secret_id: str, fingerprints: Sequence[str], since: datetime, now: datetime
    ) -> Evidence:
        calls = 0
        reports: list[KeyReport] = []
        for fp in fingerprints:
            calls += 1
            response = self.session.get(
                f"{self.monitoring_endpoint}/v3/projects/{self.project}/timeSeries",
                params={
                    "filter": f'metric.type = "{GCP_METRIC_TYPE}" AND '
                    f'metric.labels.fingerprint = "{fp}"',
                    "interval.startTime": _rfc3339(since),
                    "interval.endTime": _rfc3339(now),
                },
                timeout=(3.05, 30),
            )
            response.raise_for_status()
            for series in response.json().get("timeSeries", []):
                labels = series.get("metric", {}).get("labels", {})
                stamps = [
                    datetime.fromisoformat(p["interval"]["endTime"].replace("Z", "+00:00"))
                    for p in series.get("points", [])
                ]
                if stamps:
                    reports.append(
                        KeyReport(
                            labels.get("service", "?"),
                            labels.get("instance", "?"),
                            labels.get("fingerprint", fp),
                            max(stamps),
                        )
                    )
        reads, ok, problem, audit_calls = self._reads(secret_id, since, now)
        return Evidence(tuple(reports), tuple(reads), ok, problem, calls + audit_calls)

    def _reads(
        self, secret_id: str, since: datetime, now: datetime
    ) -> tuple[list[SecretRead], bool, str, int]:
        body: dict[str, Any] = {
            "resourceNames": [f"projects/{self.project}"],
            "filter": (
                f'protoPayload.methodName="{GCP_ACCESS_METHOD}" AND '
                f'protoPayload.resourceName:"{secret_id}/versions/" AND '
                f'timestamp>="{_rfc3339(since)}" AND timestamp<="{_rfc3339(now)}"'
            ),
            "orderBy": "timestamp desc",
            "pageSize": 1000,
        }
        events: list[tuple[str, datetime]] = []
        calls = 0
        try:
            while True:
                if calls >= self.max_audit_pages:
                    return (
                        latest_reads(events),
                        False,
                        "the Data Access audit log holds more reads than one check reads",
                        calls,
                    )
                calls += 1
                response = self.session.post(
                    f"{self.logging_endpoint}/v2/entries:list", json=body, timeout=(3.05, 30)
                )
                response.raise_for_status()
                page = response.json()
                for entry in page.get("entries", []):
                    payload = entry.get("protoPayload", {})
                    if (payload.get("status") or {}).get("code"):
                        continue  # a refused read gave nobody the key
                    who = str((payload.get("authenticationInfo") or {}).get("principalEmail", ""))
                    at = datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00"))
                    events.append((who, at))
                token = page.get("nextPageToken")
                if not token:
                    return latest_reads(events), True, "", calls
                body["pageToken"] = token
        except Exception as err:
            return [], False, f"Cloud Logging could not be read ({reason_of(err)})", calls


def _rfc3339(value: datetime) -> str:
    return _utc(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
