"""Google's Pub/Sub and Cloud Logging REST APIs as the operator CLI uses them, in-process.

`topics.publish` is delivered to the function the way Eventarc does; `entries:list`
answers with the function's audit lines. Used by the CLI tests and the drill.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from requests import PreparedRequest, Response
from requests.adapters import BaseAdapter

from localcloud.gcp_harness import pubsub_message
from rotation.state import format_time


class GoogleApis(BaseAdapter):
    """Pub/Sub `topics.publish` (delivered to the function as Eventarc does) and
    Cloud Logging `entries:list` (the function's audit lines), over the REST shapes."""

    def __init__(self, harness: Any) -> None:
        super().__init__()
        self.harness = harness
        self.entries: list[dict[str, Any]] = []
        self.published: list[dict[str, Any]] = []
        self.queries: list[dict[str, Any]] = []
        self.deny: set[str] = set()

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> Response:
        path = urlsplit(request.url or "").path
        body = json.loads(request.body or b"{}")
        if path.endswith(":publish"):
            if "publish" in self.deny:
                return _answer(request, 403, _denied("pubsub.topics.publish"))
            ids = []
            for message in body["messages"]:
                doc = json.loads(base64.b64decode(message["data"]))
                self.published.append(doc)
                self.harness.deliver(pubsub_message(message.get("attributes", {}), doc))
                self.harness.pump()
                ids.append(str(len(self.published)))
            return _answer(request, 200, {"messageIds": ids})
        if path == "/v2/entries:list":
            if "logs" in self.deny:
                return _answer(request, 403, _denied("logging.logEntries.list"))
            self.queries.append(body)
            # Cloud Logging gives every entry an insertId (unique per log): kept as stored.
            entries = [{"insertId": f"{e['n']:08x}-fake", **e} for e in self.entries]
            if body.get("orderBy") == "timestamp asc":
                return _answer(request, 200, {"entries": entries})
            newest_first = sorted(entries, key=lambda e: e["n"], reverse=True)
            return _answer(request, 200, {"entries": newest_first})
        return _answer(request, 404, {"error": {"code": 404, "message": path}})

    def close(self) -> None:
        return None


class CloudRunLogging(logging.Handler):
    """Cloud Run turns the function's JSON lines into structured entries, which
    `entries:list` then answers with. Timestamped by `clock` (the local stack's simulated
    time) when given, else by a synthetic minute that keeps the order."""

    def __init__(self, apis: GoogleApis, clock: Callable[[], datetime] | None = None) -> None:
        super().__init__(logging.INFO)
        self.apis = apis
        self.clock = clock

    def emit(self, record: logging.LogRecord) -> None:
        n = len(self.apis.entries)
        stamp = format_time(self.clock()) if self.clock else f"2026-01-01T00:00:{n % 60:02d}Z"
        self.apis.entries.append(
            {"n": n, "timestamp": stamp, "jsonPayload": json.loads(record.getMessage())}
        )


def _denied(permission: str) -> dict[str, Any]:
    return {
        "error": {
            "code": 403,
            "message": f"Permission '{permission}' denied on resource (or it may not exist).",
            "status": "PERMISSION_DENIED",
        }
    }


def _answer(request: PreparedRequest, status: int, doc: dict[str, Any]) -> Response:
    response = Response()
    response.status_code = status
    response._content = json.dumps(doc).encode()
    response.headers["Content-Type"] = "application/json"
    response.url = request.url or ""
    response.request = request
    response.encoding = "utf-8"
    return response
