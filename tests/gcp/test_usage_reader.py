"""The drain's evidence on GCP: the consumer library's Cloud Monitoring points (through the
local Monitoring emulator) and the Data Access audit log of AccessSecretVersion (a
recorded page in the documented LogEntry / AuditLog shape), read by GcpUsageReader."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests
from cio_consumer.usage import CloudMonitoringSink, KeyUse
from pytest_httpserver import HTTPServer

from localcloud.monitoring_emulator import MonitoringEmulator
from rotation.drain import drain
from rotation.stores.usage import GCP_ACCESS_METHOD, GcpUsageReader

NOW = datetime(2026, 3, 23, 9, 30, tzinfo=UTC)
PROMOTED = NOW - timedelta(minutes=30)
OLD, NEW = "0ld0ld00", "9e99e999"
SECRET = "projects/apps/secrets/billing-track"  # pragma: allowlist secret (a name)


def _entry(who: str, at: datetime, code: int = 0) -> dict[str, object]:
    """A Data Access audit log entry as Cloud Logging returns it (LogEntry + AuditLog)."""
    payload: dict[str, object] = {
        "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
        "serviceName": "secretmanager.googleapis.com",
        "methodName": GCP_ACCESS_METHOD,
        "resourceName": f"{SECRET}/versions/latest",
        "authenticationInfo": {"principalEmail": who},
        "authorizationInfo": [
            {"permission": "secretmanager.versions.access", "granted": code == 0}
        ],
    }
    if code:
        payload["status"] = {"code": code, "message": "Permission denied."}
    return {
        "logName": "projects/apps/logs/cloudaudit.googleapis.com%2Fdata_access",
        "protoPayload": payload,
        "timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "insertId": f"id-{who}-{at.timestamp():.0f}",
        "resource": {"type": "audited_resource", "labels": {"service": "secretmanager"}},
    }


@pytest.fixture
def monitoring() -> Iterator[MonitoringEmulator]:
    emulator = MonitoringEmulator().start()
    yield emulator
    emulator.stop()


@pytest.fixture
def logging_api() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.stop()


def test_reports_and_reads_from_monitoring_and_the_data_access_log(monitoring, logging_api):
    sink = CloudMonitoringSink("apps", requests.Session(), endpoint=monitoring.address)
    sink.send(
        [
            KeyUse(SECRET, NEW, "api", "a:1", NOW - timedelta(minutes=3)),
            KeyUse(SECRET, OLD, "cron", "c:7", NOW - timedelta(minutes=2)),
        ]
    )
    # Two pages, newest first, as entries.list returns them with orderBy timestamp desc.
    first = {
        "entries": [
            _entry("api@apps.iam.gserviceaccount.com", PROMOTED + timedelta(minutes=4)),
            _entry("intruder@example.com", PROMOTED + timedelta(minutes=3), code=7),
        ],
        "nextPageToken": "p2",
    }
    second = {
        "entries": [
            _entry("batch@apps.iam.gserviceaccount.com", PROMOTED - timedelta(minutes=40)),
            _entry("api@apps.iam.gserviceaccount.com", PROMOTED - timedelta(minutes=41)),
        ]
    }
    bodies: list[dict[str, object]] = []

    def entries_list(request):
        from werkzeug import Response

        body = json.loads(request.get_data())
        bodies.append(body)
        page = second if body.get("pageToken") == "p2" else first
        return Response(json.dumps(page), content_type="application/json")

    logging_api.expect_request("/v2/entries:list", method="POST").respond_with_handler(entries_list)
    reader = GcpUsageReader(
        requests.Session(),
        "apps",
        monitoring_endpoint=monitoring.address,
        logging_endpoint=f"http://127.0.0.1:{logging_api.port}",
    )
    evidence = reader.evidence(SECRET, [OLD, NEW], PROMOTED - timedelta(hours=1), NOW)

    assert evidence.audit_read and evidence.calls == 4  # 2 timeSeries.list, 2 log pages
    assert GCP_ACCESS_METHOD in str(bodies[0]["filter"]) and SECRET in str(bodies[0]["filter"])
    result = drain(
        evidence.reports,
        evidence.reads,
        old_fingerprint=OLD,
        new_fingerprint=NEW,
        promoted_at=PROMOTED,
        now=NOW,
        quiet=timedelta(minutes=15),
    )
    # The refused read gave nobody the key; api read since the promotion; batch did not.
    assert [s.who for s in result.stragglers] == [
        "cron on c:7",
        "batch@apps.iam.gserviceaccount.com",
    ]


def test_an_unreadable_log_is_said_not_guessed(monitoring):
    reader = GcpUsageReader(
        requests.Session(),
        "apps",
        monitoring_endpoint=monitoring.address,
        logging_endpoint="http://127.0.0.1:9",  # nothing listens: the read fails
    )
    evidence = reader.evidence(SECRET, [OLD], NOW - timedelta(hours=1), NOW)
    assert not evidence.audit_read
    assert "Cloud Logging could not be read" in evidence.audit_problem
