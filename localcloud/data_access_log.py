"""Cloud Logging's Data Access audit log of Secret Manager reads, over real HTTP.

There is no local Cloud Logging: this answers `POST /v2/entries:list` with the reads
recorded in `reads`, newest first, each in the documented LogEntry + AuditLog shape,
keeping those whose resource the query's filter names. The rotator's drain check reads
it (CIO_LOGGING_URL) as it reads Google's.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from localcloud.served import Served, loopback_server
from rotation.stores.usage import GCP_ACCESS_METHOD


class DataAccessLog(Served):
    """`entries:list` over the recorded reads: (principal, secret name, when)."""

    def __init__(self, project: str, server: HTTPServer | None = None) -> None:
        self.server = server or loopback_server()
        self.project = project
        self.reads: list[tuple[str, str, datetime]] = []
        self.calls = 0

    def _add_routes(self) -> None:
        self.server.expect_request("/v2/entries:list", method="POST").respond_with_handler(
            self.list
        )

    def list(self, request: Request) -> Response:
        self.calls += 1
        wanted = str(json.loads(request.get_data() or b"{}").get("filter", ""))
        entries = [
            self.entry(who, secret, at)
            for who, secret, at in sorted(self.reads, key=lambda r: r[2], reverse=True)
            if f'"{secret}/versions/"' in wanted
        ]
        return Response(json.dumps({"entries": entries}), content_type="application/json")

    def entry(self, who: str, secret: str, at: datetime) -> dict[str, Any]:
        """A Data Access audit log entry of AccessSecretVersion (LogEntry + AuditLog)."""
        return {
            "logName": f"projects/{self.project}/logs/cloudaudit.googleapis.com%2Fdata_access",
            "protoPayload": {
                "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
                "serviceName": "secretmanager.googleapis.com",
                "methodName": GCP_ACCESS_METHOD,
                "resourceName": f"{secret}/versions/latest",
                "authenticationInfo": {"principalEmail": who},
            },
            "timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "resource": {"type": "audited_resource", "labels": {"service": "secretmanager"}},
        }
