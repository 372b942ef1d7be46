"""A local Customer.io that behaves like the documented API, over real HTTP.

Serves both regions under `/us` and `/eu` path prefixes, so the rotator's
`CUSTOMERIO_TRACK_URL` / `CUSTOMERIO_APP_URL` overrides can be
`http://127.0.0.1:PORT/{region}`. Keys are registered, revoked and faulted by
the test; the server never records a key, only paths and statuses.

Private (`sk_`) keys follow the scheme docs/CUSTOMERIO.md infers: Bearer on the App
API's `GET /v1/workspaces` of the key's region. A test can make the fake answer
them somewhere else (`private_path`, `private_auth`), as if Customer.io documented
another scheme, to show the rotator's per-stack override. Public (`pk_`) keys
authenticate nowhere a server would read data: they answer 401.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from localcloud.served import Served, loopback_server
from rotation.clock import Pace
from rotation.credentials import Credential, Kind, Region


@dataclass
class Fault:
    status: int
    retry_after: str | None = None
    delay: float = 0.0


@dataclass
class _TrackKey:
    workspace: str
    region: str
    legacy_field: bool = False


@dataclass
class _AppKey:
    """A key sent as a token: an App API key, a private `sk_` key or a public `pk_` key."""

    workspaces: tuple[str, ...]
    region: str
    scope: str = "app"  # app | private | public
    answers_anywhere: bool = False  # private only: accepted on both regions' hosts


DEFAULT_PRIVATE_PATH = "/v1/workspaces"


@dataclass
class FakeCustomerIO(Served):
    server: HTTPServer = field(default_factory=loopback_server)
    track_keys: dict[tuple[str, str], _TrackKey] = field(default_factory=dict)
    app_keys: dict[str, _AppKey] = field(default_factory=dict)
    faults: deque[Fault] = field(default_factory=deque)
    latency: float = 0.0
    log: list[tuple[str, int]] = field(default_factory=list)
    suppressed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    identified: list[str] = field(default_factory=list)
    events: list[tuple[str, str]] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)  # transactional message ids sent
    issued: list[str] = field(default_factory=list)  # every secret handed out, for leak scans
    # Where and how this Customer.io checks private keys (the inferred scheme by default).
    private_path: str = DEFAULT_PRIVATE_PATH
    private_auth: str = "bearer"  # bearer | basic (key as user, empty password)
    # Customer.io's App API limit (10 requests/s): more in any one second answers 429, and
    # each one is counted in `over_limit`. 0: no limit. `pace`: a simulated clock (sleep,
    # monotonic) that `latency` is spent on instead of real time, and the limit measured by.
    rate_limit: int = 0
    pace: Pace | None = None
    over_limit: int = 0
    peak: int = 0  # the most requests seen in any one second (measured while rate_limit is set)
    # Keys whose every check hangs (a broken shard, say): `hang_seconds` spent, then 504.
    hanging: set[str] = field(default_factory=set)
    hang_seconds: float = 10.0
    _recent: deque[float] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _add_routes(self) -> None:
        """Both regions' hosts, as path prefixes `/us` and `/eu`; the first match answers."""
        routes = [
            ("GET", "/api/v1/accounts/region", self._region),
            ("GET", "/v1/workspaces", self._workspaces),
            ("POST", "/api/v1/customers/[^/]+/suppress", self._suppress),
            ("DELETE", "/api/v1/customers/[^/]+", self._delete),
            # What the official `customerio` package calls (Track identify/track, App send_email).
            ("PUT", "/api/v1/customers/[^/]+", self._identify),
            ("POST", "/api/v1/customers/[^/]+/events", self._event),
            ("POST", "/v1/send/email", self._send_email),
            # Last, so it only sees what no route above takes: a moved private-key endpoint, or 404.
            ("GET", "/.*", self._other_get),
        ]
        for method, path, handler in routes:
            pattern = re.compile(rf"^/(us|eu){path}$")
            self.server.expect_request(pattern, method=method).respond_with_handler(handler)

    @property
    def base_url(self) -> str:
        return f"{self.address}/{{region}}"

    def env(self) -> dict[str, str]:
        return {"CUSTOMERIO_TRACK_URL": self.base_url, "CUSTOMERIO_APP_URL": self.base_url}

    # -- the test's controls ---------------------------------------------------

    def reset(self) -> None:
        """Forget every key, fault and log line; back to the inferred private-key scheme."""
        with self._lock:
            self.track_keys.clear()
            self.app_keys.clear()
            self.faults.clear()
            self.log.clear()
            self.suppressed.clear()
            self.deleted.clear()
            self.identified.clear()
            self.events.clear()
            self.emails.clear()
            self.latency = 0.0
            self.rate_limit = 0
            self.pace = None
            self.over_limit = 0
            self.peak = 0
            self._recent.clear()
            self.hanging.clear()
            self.hang_seconds = 10.0
            self.private_path = DEFAULT_PRIVATE_PATH
            self.private_auth = "bearer"

    def new_track_key(self, workspace: str, region: str = "us", legacy: bool = False) -> Credential:
        site_id, api_key = secrets.token_hex(10), secrets.token_hex(10)
        with self._lock:
            self.track_keys[(site_id, api_key)] = _TrackKey(workspace, region, legacy)
            self.issued += [site_id, api_key]
        return Credential(Kind.TRACK, api_key, Region(region), site_id)

    def new_app_key(self, workspaces: tuple[str, ...], region: str = "us") -> Credential:
        key = secrets.token_hex(16)
        with self._lock:
            self.app_keys[key] = _AppKey(workspaces, region)
            self.issued.append(key)
        return Credential(Kind.APP, key, Region(region))

    def new_private_key(
        self, workspaces: tuple[str, ...], region: str = "us", answers_anywhere: bool = False
    ) -> Credential:
        """A private key; account-scoped when it sees several workspaces.

        `answers_anywhere`: the key is accepted on both regions' hosts and its answer
        names its region (how a global endpoint might behave), so a wrong region shows
        in the answer rather than as a 401.
        """
        key = "sk_" + secrets.token_hex(16)
        with self._lock:
            self.app_keys[key] = _AppKey(workspaces, region, "private", answers_anywhere)
            self.issued.append(key)
        return Credential(Kind.PRIVATE, key, Region(region))

    def new_public_key(self, workspace: str, region: str = "us") -> str:
        """A public key: what a browser or mobile app embeds. Not a secret, not a Credential."""
        key = "pk_" + secrets.token_hex(16)
        with self._lock:
            self.app_keys[key] = _AppKey((workspace,), region, "public")
            self.issued.append(key)
        return key

    def delete_key(self, credential: Credential) -> None:
        """What an operator does in the dashboard: the key stops working."""
        with self._lock:
            self.track_keys.pop((credential.site_id or "", credential.secret), None)
            self.app_keys.pop(credential.secret, None)

    def is_live(self, credential: Credential) -> bool:
        return (credential.site_id or "", credential.secret) in self.track_keys or (
            credential.secret in self.app_keys
        )

    def fail_next(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        with self._lock:
            self.faults.extend(Fault(status, retry_after) for _ in range(times))

    def slow_next(self, seconds: float, times: int = 1) -> None:
        with self._lock:
            self.faults.extend(Fault(200, None, seconds) for _ in range(times))

    # -- the API -----------------------------------------------------------------

    def _fault(self, request: Request) -> Response | None:
        with self._lock:
            fault = self.faults.popleft() if self.faults else None
            limited = self._over_limit()
        self._spend(self.latency)
        if limited:
            return self._answer(
                request, 429, {"meta": {"error": "rate limited"}}, {"Retry-After": "1"}
            )
        if fault is None:
            return None
        if fault.delay:
            self._spend(fault.delay)
            return None
        headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
        return self._answer(request, fault.status, {"meta": {"error": "fault"}}, headers)

    def _spend(self, seconds: float) -> None:
        if not seconds:
            return
        if self.pace is not None:
            self.pace.sleep(seconds)
        else:
            time.sleep(seconds)

    def _over_limit(self) -> bool:
        """Whether this request is one more than `rate_limit` in the last second (counted)."""
        if not self.rate_limit:
            return False
        now = self.pace.monotonic() if self.pace is not None else time.monotonic()
        while self._recent and self._recent[0] <= now - 1.0:
            self._recent.popleft()
        self._recent.append(now)
        self.peak = max(self.peak, len(self._recent))
        if len(self._recent) > self.rate_limit:
            self.over_limit += 1
            return True
        return False

    def hang(self, credential: Credential) -> None:
        """Every check of this key hangs `hang_seconds` (on `pace`), then answers 504."""
        with self._lock:
            self.hanging.add(credential.secret)

    def _hung(self, request: Request, secret: str) -> Response | None:
        if secret not in self.hanging:
            return None
        self._spend(self.hang_seconds)
        return self._answer(request, 504, {"meta": {"error": "gateway timeout"}})

    def _answer(
        self, request: Request, status: int, body: object, headers: dict[str, str] | None = None
    ) -> Response:
        self.log.append((request.path, status))
        return Response(
            json.dumps(body), status=status, headers=headers, content_type="application/json"
        )

    def _basic(self, request: Request) -> tuple[str, str] | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return None
        return user, password

    def _region(self, request: Request) -> Response:
        fault = self._fault(request)
        if fault is not None:
            return fault
        auth = self._basic(request)
        hung = self._hung(request, auth[1]) if auth else None
        if hung is not None:
            return hung
        key = self.track_keys.get(auth) if auth else None
        if key is None:
            # The spec documents 400 for bad credentials on this endpoint.
            return self._answer(request, 400, {"meta": {"error": "invalid credentials"}})
        region_field = "data_center" if key.legacy_field else "region"
        host = "https://track-eu.customer.io" if key.region == "eu" else "https://track.customer.io"
        return self._answer(
            request,
            200,
            {"url": host, region_field: key.region, "environment_id": int(key.workspace)},
        )

    def _bearer(self, request: Request) -> str:
        header = request.headers.get("Authorization", "")
        return header[7:] if header.startswith("Bearer ") else ""

    def _workspaces(self, request: Request) -> Response:
        fault = self._fault(request)
        if fault is not None:
            return fault
        token = self._bearer(request)
        hung = self._hung(request, token)
        if hung is not None:
            return hung
        key = self.app_keys.get(token)
        if key is not None and key.scope == "app":
            host_region = request.path.split("/")[1]
            if key.region != host_region:
                # A key of the other region answers 401 on this host, like a wrong key.
                return self._unauthorized(request)
            return self._workspace_list(request, key)
        if self.private_path == DEFAULT_PRIVATE_PATH:
            return self._private(request)
        return self._unauthorized(request)

    def _other_get(self, request: Request) -> Response:
        """GETs no other route takes: the private-key endpoint when it moved, else 404."""
        if "/" + request.path.split("/", 2)[2] == self.private_path:
            fault = self._fault(request)
            return fault if fault is not None else self._private(request)
        return self._answer(request, 404, {"meta": {"error": "not found"}})

    def _private(self, request: Request) -> Response:
        """A private key, sent with this Customer.io's scheme, to its region's host."""
        if self.private_auth == "basic":
            auth = self._basic(request)
            token = auth[0] if auth is not None and auth[1] == "" else ""
        else:
            token = self._bearer(request)
        key = self.app_keys.get(token)
        if key is not None and key.scope == "public":
            return self._answer(request, 401, {"meta": {"error": "public keys cannot read data"}})
        host_region = request.path.split("/")[1]
        if (
            key is None
            or key.scope != "private"
            or (key.region != host_region and not key.answers_anywhere)
        ):
            return self._unauthorized(request)
        return self._workspace_list(request, key, with_region=key.answers_anywhere)

    def _workspace_list(
        self, request: Request, key: _AppKey, with_region: bool = False
    ) -> Response:
        body: dict[str, object] = {
            "workspaces": [{"id": int(w), "name": f"workspace {w}"} for w in key.workspaces]
        }
        if with_region:
            body["region"] = key.region
        return self._answer(request, 200, body)

    def _unauthorized(self, request: Request) -> Response:
        return self._answer(request, 401, {"meta": {"error": "unauthorized"}})

    def _track_auth_ok(self, request: Request) -> bool:
        """A Track key pair (Basic), or a private key (Bearer): it works with every API."""
        auth = self._basic(request)
        if auth is not None and auth in self.track_keys:
            return True
        key = self.app_keys.get(self._bearer(request))
        return key is not None and key.scope == "private"

    def _track_call(self, request: Request, record: Callable[[list[str]], None]) -> Response:
        """A Track API call: a queued fault, 401 without Track auth, else `record` it and 200.

        `record` is given the request path's segments.
        """
        fault = self._fault(request)
        if fault is not None:
            return fault
        if not self._track_auth_ok(request):
            return self._unauthorized(request)
        record(request.path.split("/"))
        return self._answer(request, 200, {})

    def _suppress(self, request: Request) -> Response:
        return self._track_call(request, lambda path: self.suppressed.append(path[-2]))

    def _delete(self, request: Request) -> Response:
        return self._track_call(request, lambda path: self.deleted.append(path[-1]))

    def _identify(self, request: Request) -> Response:
        return self._track_call(request, lambda path: self.identified.append(path[-1]))

    def _event(self, request: Request) -> Response:
        def record(path: list[str]) -> None:
            name = str((request.get_json(silent=True) or {}).get("name", ""))
            self.events.append((path[-2], name))

        return self._track_call(request, record)

    def _send_email(self, request: Request) -> Response:
        """App API transactional send: Bearer auth with an App (or `sk_` private) key."""
        fault = self._fault(request)
        if fault is not None:
            return fault
        header = request.headers.get("Authorization", "")
        key = self.app_keys.get(header[7:] if header.startswith("Bearer ") else "")
        if key is None or key.region != request.path.split("/")[1]:
            return self._unauthorized(request)
        message = str((request.get_json(silent=True) or {}).get("transactional_message_id", ""))
        self.emails.append(message)
        delivery = secrets.token_hex(8)
        return self._answer(request, 200, {"delivery_id": delivery, "queued_at": int(time.time())})
