"""A small local Cloud Monitoring (v3 REST), for key-usage reports and the rotator's drain read.

Only what key-usage reporting needs, with the semantics of the public REST reference:

- `POST /v3/projects/{p}/timeSeries` (timeSeries.create): each series has one point;
  at most 200 series per call; a point older than the series' last point, or a series
  written again within 5 seconds, fails with 400 INVALID_ARGUMENT (Monitoring's own
  rules), and the whole call is refused.
- `GET /v3/projects/{p}/timeSeries` (timeSeries.list): `filter` with `metric.type = "..."`
  and `metric.labels.KEY = "..."` clauses joined by AND, `interval.startTime` /
  `interval.endTime`, `view=FULL`; series newest point first, as the API returns them.
- Errors in Google's JSON shape `{"error": {"code", "message", "status"}}`.

Nothing it stores is secret (fingerprints and names only).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from localcloud.served import Served, loopback_server

MAX_SERIES_PER_CALL = 200
MIN_POINT_SPACING = timedelta(seconds=5)
_CLAUSE = re.compile(r'^\s*(metric\.type|metric\.labels\.([a-z_][a-z0-9_]*))\s*=\s*"([^"]*)"\s*$')


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _format_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _error(code: int, status: str, message: str) -> Response:
    body = {"error": {"code": code, "message": message, "status": status}}
    return Response(json.dumps(body), status=code, content_type="application/json")


@dataclass
class Series:
    metric_type: str
    labels: dict[str, str]
    resource: dict[str, Any]
    points: list[tuple[datetime, int]] = field(default_factory=list)  # oldest first


class MonitoringEmulator(Served):
    """timeSeries.create and timeSeries.list over real HTTP on 127.0.0.1."""

    def __init__(self, server: HTTPServer | None = None) -> None:
        self.server = server or loopback_server()
        self.series: dict[tuple[str, str, tuple[tuple[str, str], ...]], Series] = {}
        self.create_calls = 0
        self.list_calls = 0
        self.fail_with: int | None = None  # answer every request with this HTTP status
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self.series.clear()
            self.create_calls = 0
            self.list_calls = 0
            self.fail_with = None

    def _add_routes(self) -> None:
        path = re.compile(r"^/v3/projects/[^/]+/timeSeries$")
        self.server.expect_request(path, method="POST").respond_with_handler(self._create)
        self.server.expect_request(path, method="GET").respond_with_handler(self._list)

    def _create(self, request: Request) -> Response:
        with self._lock:
            self.create_calls += 1
            if self.fail_with is not None:
                return _error(self.fail_with, "UNAVAILABLE", "The service is unavailable.")
            project = request.path.split("/")[3]
            body = json.loads(request.get_data() or b"{}")
            given = body.get("timeSeries", [])
            if not given or len(given) > MAX_SERIES_PER_CALL:
                return _error(400, "INVALID_ARGUMENT", "1 to 200 time series per request.")
            staged: list[tuple[Series, datetime, int]] = []
            for ts in given:
                metric = ts.get("metric", {})
                points = ts.get("points", [])
                if len(points) != 1:
                    return _error(400, "INVALID_ARGUMENT", "Exactly one point per time series.")
                labels = {str(k): str(v) for k, v in metric.get("labels", {}).items()}
                key = (project, str(metric.get("type", "")), tuple(sorted(labels.items())))
                series = self.series.get(key) or Series(
                    key[1], labels, dict(ts.get("resource", {}))
                )
                point = points[0]
                at = _parse_time(point["interval"]["endTime"])
                value = int(point.get("value", {}).get("int64Value", 0))
                if series.points and at < series.points[-1][0] + MIN_POINT_SPACING:
                    return _error(
                        400,
                        "INVALID_ARGUMENT",
                        "Points must be written in order, one per series every 5 seconds.",
                    )
                staged.append((series, at, value))
            for series, at, value in staged:
                key = (project, series.metric_type, tuple(sorted(series.labels.items())))
                series.points.append((at, value))
                self.series[key] = series
        return Response("{}", content_type="application/json")

    def _list(self, request: Request) -> Response:
        with self._lock:
            self.list_calls += 1
            if self.fail_with is not None:
                return _error(self.fail_with, "UNAVAILABLE", "The service is unavailable.")
            project = request.path.split("/")[3]
            wanted_type = ""
            wanted_labels: dict[str, str] = {}
            for clause in request.args.get("filter", "").split(" AND "):
                match = _CLAUSE.match(clause)
                if not match:
                    return _error(400, "INVALID_ARGUMENT", f"Unsupported filter: {clause!r}")
                if match.group(2):
                    wanted_labels[match.group(2)] = match.group(3)
                else:
                    wanted_type = match.group(3)
            end = _parse_time(request.args["interval.endTime"])
            start_text = request.args.get("interval.startTime")
            start = _parse_time(start_text) if start_text else end
            out = []
            for (proj, mtype, _), series in self.series.items():
                if proj != project or mtype != wanted_type:
                    continue
                if any(series.labels.get(k) != v for k, v in wanted_labels.items()):
                    continue
                points = [(at, v) for at, v in series.points if start <= at <= end]
                if not points:
                    continue
                out.append(
                    {
                        "metric": {"type": mtype, "labels": series.labels},
                        "resource": series.resource,
                        "metricKind": "GAUGE",
                        "valueType": "INT64",
                        "points": [
                            {
                                "interval": {
                                    "startTime": _format_time(at),
                                    "endTime": _format_time(at),
                                },
                                "value": {"int64Value": str(v)},
                            }
                            for at, v in reversed(points)
                        ],
                    }
                )
        return Response(json.dumps({"timeSeries": out}), content_type="application/json")
