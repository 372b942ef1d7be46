"""`cio-rotate drain NAME` on GCP: the consumer library's Cloud Monitoring points (the local
Monitoring emulator over real HTTP) and the Data Access audit log (Cloud Logging's
entries.list), read by the operator's backend."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from cio_consumer.usage import CloudMonitoringSink, KeyUse
from requests import PreparedRequest, Response
from requests.adapters import BaseAdapter

from localcloud.monitoring_emulator import MonitoringEmulator
from rotation.operator.backend import EXIT_UNKNOWN, EXIT_WAITING
from rotation.operator.gcp import runtime_account
from rotation.state import Phase
from rotation.stores.usage import GCP_ACCESS_METHOD
from tests.cli.test_cli_gcp import NAME, promoted


class Forward(BaseAdapter):
    """monitoring.googleapis.com, answered by the local emulator (same paths and bodies)."""

    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = target.rstrip("/")
        self.session = requests.Session()
        self.session.trust_env = False

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> Response:
        parts = urlsplit(request.url or "")
        request.url = f"{self.target}{parts.path}" + (f"?{parts.query}" if parts.query else "")
        return self.session.send(request, timeout=kwargs.get("timeout"))

    def close(self) -> None:
        self.session.close()


@pytest.fixture
def monitoring() -> Iterator[MonitoringEmulator]:
    emulator = MonitoringEmulator().start()
    yield emulator
    emulator.stop()


def _report(monitoring: MonitoringEmulator, gcp: Any, service: str, fp: str) -> None:
    secret = gcp.secrets[NAME]  # projects/P/secrets/S
    CloudMonitoringSink(secret.split("/")[1], requests.Session(), endpoint=monitoring.address).send(
        [KeyUse(secret, fp, service, f"{service}-0:1", gcp.clock.now())]
    )


def test_a_straggler_reporting_to_cloud_monitoring_is_named(gcli, monitoring):
    gcli.session.mount("https://monitoring.googleapis.com", Forward(monitoring.address))
    promoted(gcli)
    st = gcli.gcp.state(NAME)
    assert st.phase is Phase.PROMOTED
    gcli.gcp.clock.advance(timedelta(minutes=2))
    _report(monitoring, gcli.gcp, "api", st.current_fp)
    _report(monitoring, gcli.gcp, "cron", st.previous_fp)
    result = gcli.run("drain", NAME, "--json")
    assert result.exit_code == EXIT_WAITING, result.output
    doc = json.loads(result.stdout)
    assert [(h["who"], h["evidence"]) for h in doc["holders"]] == [
        ("cron/cron-0:1", "reports the old key")
    ]
    assert doc["on_new"] == 1 and doc["audit_read"] is True and doc["problems"] == []
    # Two timeSeries.list (old and new fingerprint) and one page of the audit log.
    assert doc["calls"] == 3 and monitoring.list_calls == 2


def test_monitoring_refusing_is_unknown_and_names_the_permission(gcli, monitoring):
    gcli.session.mount("https://monitoring.googleapis.com", Forward(monitoring.address))
    promoted(gcli)
    monitoring.fail_with = 403
    result = gcli.run("drain", NAME)
    assert result.exit_code == EXIT_UNKNOWN, result.output
    text = " ".join(result.output.split())
    assert "the drain is unknown" in text
    assert "monitoring.timeSeries.list): HTTP 403" in text


def _access(apis: Any, who: str, at: Any, secret: str) -> None:
    """A Data Access audit log entry of AccessSecretVersion, as Cloud Logging returns it."""
    apis.entries.append(
        {
            "n": len(apis.entries),
            "logName": "projects/p/logs/cloudaudit.googleapis.com%2Fdata_access",
            "timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "protoPayload": {
                "methodName": GCP_ACCESS_METHOD,
                "resourceName": f"{secret}/versions/latest",
                "authenticationInfo": {"principalEmail": who},
            },
        }
    )


def test_a_reader_from_before_the_promotion_is_named_but_not_the_function(gcli, monitoring):
    gcli.session.mount("https://monitoring.googleapis.com", Forward(monitoring.address))
    promoted(gcli)
    st = gcli.gcp.state(NAME)
    secret = gcli.gcp.secrets[NAME]
    project = secret.split("/")[1]
    function = json.loads(Path(gcli.outputs_file()).read_text())["gcp_function_name"]
    before = st.promoted_at - timedelta(minutes=30)
    _access(gcli.apis, runtime_account(function, project), before, secret)
    _access(gcli.apis, f"batch@{project}.iam.gserviceaccount.com", before, secret)
    result = gcli.run("drain", NAME, "--json")
    assert result.exit_code == EXIT_WAITING, result.output
    doc = json.loads(result.stdout)
    assert [(h["who"], h["evidence"]) for h in doc["holders"]] == [
        (
            f"batch@{project}.iam.gserviceaccount.com",
            "read the secret before the promotion, not since",
        )
    ]
