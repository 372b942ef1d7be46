"""Asking Customer.io whether a key works, with the cheapest side-effect-free calls.

Every outcome is one of three: accepted (with the workspace the key belongs to),
rejected (Customer.io said no: tell the operator why) or inconclusive (we could
not get an answer: keep the current key and try again later). Only the first
can ever lead to a promotion.

Private (`sk_`) keys are checked with a scheme Customer.io does not document (see
docs/CUSTOMERIO.md, "inferred"): `Authorization: Bearer <key>` on `GET /v1/workspaces`
of the region's App host, overridable per stack by `CIO_PRIVATE_PROBE_URL` and
`CIO_PRIVATE_PROBE_AUTH`. Because the scheme is a guess, only a clear 200 naming
a workspace counts as accepted and only a 401 as rejected: everything else is
inconclusive, so a wrong guess keeps the current key instead of promoting one.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:  # imported where used: the functions' cold start does not load requests
    import requests

from rotation import conventions as cv
from rotation.clock import Pace, SystemClock
from rotation.credentials import Credential, Kind, Region
from rotation.errors import KeyRejected, VerificationInconclusive, WrongWorkspace

log = logging.getLogger(__name__)

TRACK_HOSTS = {Region.US: "https://track.customer.io", Region.EU: "https://track-eu.customer.io"}
APP_HOSTS = {Region.US: "https://api.customer.io", Region.EU: "https://api-eu.customer.io"}
RETRY_STATUSES = (429, 500, 502, 503, 504)
# Inferred (docs/CUSTOMERIO.md): the App API's workspace list is a side-effect-free check
# that names the workspace(s) a private key belongs to.
PRIVATE_PROBE_PATH = "/v1/workspaces"
_LOOPBACK_NAMES = ("localhost",)


@dataclass(frozen=True)
class Accepted:
    """Customer.io took the key, and told us where it belongs."""

    workspace: str  # Track: environment_id; App, private: the sorted workspace ids the key sees
    region: str


@dataclass(frozen=True)
class Rejected:
    """Customer.io refused the key: a verdict about the key, safe to act on."""

    reason: str
    status: int | None


@dataclass(frozen=True)
class Inconclusive:
    """Customer.io could not be asked (outage, allowlist, unknown answer): never a verdict."""

    reason: str
    detail: str


ProbeResult = Accepted | Rejected | Inconclusive


@dataclass(frozen=True)
class VerifiedKey:
    """A key that passed every check in this attempt. Only `Verifier.verify` makes one."""

    credential: Credential
    workspace: str


def build_session(
    attempts: int = 4, backoff_factor: float = 0.5, retry_after_max: int = 20
) -> requests.Session:
    """A session that retries 429 and 5xx with backoff, honouring a bounded Retry-After."""
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    retry = Retry(
        total=attempts - 1,
        connect=attempts - 1,
        read=attempts - 1,
        status=attempts - 1,
        redirect=0,
        allowed_methods=frozenset({"GET", "POST"}),
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff_factor,
        backoff_max=10,
        respect_retry_after_header=True,
        retry_after_max=retry_after_max,
        raise_on_status=False,
        raise_on_redirect=False,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


# Customer.io's App API allows 10 requests/s per account (docs/CUSTOMERIO.md). A stack runs
# at most a few rotator instances at once, each gets its share (CIO_PROBE_RATE).
APP_API_RATE = 10.0
# The background probes (daily check, revocation probes) make one short attempt: an
# inconclusive answer is asked again by the credential's own next wake-up.
SHORT_TIMEOUT = (3.05, 5.0)


class RateLimiter:
    """At most `rate` requests a second from this instance, counted over any `per` seconds
    (a sliding window, so a burst can never reach twice the rate as a token bucket's can)."""

    def __init__(self, rate: float, pace: Pace | None = None, per: float = 1.0) -> None:
        if rate <= 0:
            raise ValueError("the rate must be positive")
        # None: the engine's clock, bound when the engine is wired (`Verifier.pace_with`),
        # so the drill and the tests wait on simulated time; real time otherwise.
        self.pace: Pace | None = pace
        # `per`: the window a quota is counted over (1 s for Customer.io, 60 s for a
        # per-minute quota, which then allows its bursts).
        self.window = max(1, int(rate * per))  # requests per window
        self.span = self.window / rate  # seconds per window (`per` for a whole rate)
        self.sent: deque[float] = deque()
        self.waited = 0.0

    def acquire(self) -> None:
        """Wait (on `pace`) until one more request stays within the rate, and count it."""
        if self.pace is None:
            self.pace = SystemClock()
        now = self.pace.monotonic()
        while self.sent and self.sent[0] <= now - self.span:
            self.sent.popleft()
        if len(self.sent) >= self.window:
            # A millisecond past the window's edge, so no float rounding lands on it.
            wait = self.sent[0] + self.span - now + 0.001
            self.pace.sleep(wait)
            self.waited += wait
            now = self.pace.monotonic()
            while self.sent and self.sent[0] <= now - self.span:
                self.sent.popleft()
        self.sent.append(now)


def rate_setting(
    env: Mapping[str, str], name: str, default: float, most: float, why: str = ""
) -> float:
    """A per-second rate from the environment variable `name`: `default` unset, refused
    in words unless above 0 and at most `most` (`why` says whose limit that is)."""
    raw = str(env.get(name) or "").strip()
    try:
        rate = float(raw) if raw else default
    except ValueError:
        raise ValueError(f"{name} must be a number per second") from None
    if not 0 < rate <= most:
        raise ValueError(f"{name} must be above 0 and at most {most:g}{why}")
    return rate


def probe_rate(env: Mapping[str, str]) -> float:
    """This instance's share of Customer.io's rate (CIO_PROBE_RATE), the whole rate unset."""
    return rate_setting(env, cv.ENV_PROBE_RATE, APP_API_RATE, APP_API_RATE)


class Verifier:
    """Customer.io probes. Hosts come from the region, or from the environment in tests.

    Every request waits its turn at `limiter`. A submission's verification retries 429 and
    5xx (`session`); a background probe (`probe(short=True)`) makes one attempt
    (`short_session`) with a short timeout, so a hung Customer.io costs seconds, not a minute.
    """

    def __init__(
        self,
        session: requests.Session | None = None,
        env: Mapping[str, str] | None = None,
        timeout: tuple[float, float] = (3.05, 10.0),
        limiter: RateLimiter | None = None,
        short_session: requests.Session | None = None,
        short_timeout: tuple[float, float] | None = None,
    ) -> None:
        env = os.environ if env is None else env
        self.session = session or build_session()
        self.short_session = short_session
        self.timeout = timeout
        self.short_timeout = short_timeout or (
            min(timeout[0], SHORT_TIMEOUT[0]),
            min(timeout[1], SHORT_TIMEOUT[1]),
        )
        self.limiter = limiter or RateLimiter(probe_rate(env))
        self.track_override = env.get(cv.ENV_TRACK_URL, "").rstrip("/")
        self.app_override = env.get(cv.ENV_APP_URL, "").rstrip("/")
        self.private_url = env.get(cv.ENV_PRIVATE_PROBE_URL, "").strip()
        self.private_auth = env.get(cv.ENV_PRIVATE_PROBE_AUTH, "").strip().lower() or "bearer"

    def pace_with(self, clock: object) -> None:
        """Let the limiter wait on the engine's clock, unless it was given its own."""
        if self.limiter.pace is None and hasattr(clock, "monotonic") and hasattr(clock, "sleep"):
            self.limiter.pace = clock

    def track_host(self, region: Region) -> str:
        # An override may hold "{region}" so a local server can play both regions.
        return self.track_override.replace("{region}", region.value) or TRACK_HOSTS[region]

    def app_host(self, region: Region) -> str:
        return self.app_override.replace("{region}", region.value) or APP_HOSTS[region]

    def private_probe_url(self, region: Region) -> str:
        """Where a private key is checked: a "/path" goes to the region's App host."""
        template = self.private_url or PRIVATE_PROBE_PATH
        if template.startswith("/"):
            return self.app_host(region) + template.replace("{region}", region.value)
        return template.replace("{region}", region.value)

    def _private_request(self, credential: Credential) -> tuple[str, dict[str, Any]] | Inconclusive:
        """URL and auth for a private key, or why the stack's probe settings cannot be used.

        A setting that is wrong makes every private probe inconclusive (the current
        key stays) rather than sending the key somewhere it should not go.
        """
        assert credential.region is not None
        url = self.private_probe_url(credential.region)
        problem = _unsafe_url(url)
        if problem:
            return Inconclusive("misconfigured", f"{cv.ENV_PRIVATE_PROBE_URL}: {problem}")
        if self.private_auth == "bearer":
            return url, {"headers": {"Authorization": f"Bearer {credential.secret}"}}
        if self.private_auth == "basic":
            return url, {"auth": (credential.secret, "")}
        schemes = " or ".join(cv.PRIVATE_PROBE_AUTH_SCHEMES)
        return Inconclusive("misconfigured", f"{cv.ENV_PRIVATE_PROBE_AUTH} must be {schemes}")

    def probe(self, credential: Credential, *, short: bool = False) -> ProbeResult:
        """One side-effect-free call with this key; never raises for HTTP outcomes.

        `short`: one attempt, short timeout (the background probes)."""
        if credential.kind is Kind.WEBHOOK_SIGNING:
            return Accepted(workspace="", region="")
        assert credential.region is not None
        auth_kw: dict[str, Any]
        if credential.kind is Kind.TRACK:
            assert credential.site_id is not None
            url = self.track_host(credential.region) + "/api/v1/accounts/region"
            auth_kw = {"auth": (credential.site_id, credential.secret)}
        elif credential.kind is Kind.PRIVATE:
            prepared = self._private_request(credential)
            if isinstance(prepared, Inconclusive):
                return prepared
            url, auth_kw = prepared
        else:
            url = self.app_host(credential.region) + "/v1/workspaces"
            auth_kw = {"headers": {"Authorization": f"Bearer {credential.secret}"}}
        import requests
        from urllib3.exceptions import ConnectTimeoutError, ReadTimeoutError

        if short and self.short_session is None:
            self.short_session = build_session(attempts=1)
            # Adapters mounted for particular hosts (an in-process Customer.io, a proxy) serve
            # the short probes too: only the retry policy differs.
            for prefix, adapter in self.session.adapters.items():
                if prefix not in ("http://", "https://"):
                    self.short_session.mount(prefix, adapter)
        session = self.short_session if short and self.short_session is not None else self.session
        timeout = self.short_timeout if short else self.timeout
        self.limiter.acquire()
        try:
            response = session.get(url, timeout=timeout, allow_redirects=False, **auth_kw)
        except requests.Timeout:
            return Inconclusive("timeout", "Customer.io did not answer in time")
        except requests.RequestException as err:
            # Retries exhausted on read timeouts surface as a ConnectionError around them.
            cause = getattr(err.args[0], "reason", None) if err.args else None
            if isinstance(cause, TimeoutError | ReadTimeoutError | ConnectTimeoutError):
                return Inconclusive("timeout", "Customer.io did not answer in time")
            return Inconclusive("unreachable", type(err).__name__)
        return self._classify(credential, response)

    def _classify(self, credential: Credential, response: requests.Response) -> ProbeResult:
        if credential.kind is Kind.PRIVATE:
            return _classify_private(credential, response)
        status = response.status_code
        if status == 200:
            try:
                body = response.json()
            except ValueError:
                return Inconclusive("bad_response", "Customer.io answered 200 without JSON")
            if not isinstance(body, dict):
                return Inconclusive("bad_response", "Customer.io answered 200 without an object")
            if credential.kind is Kind.TRACK:
                workspace = str(body.get("environment_id", ""))
                region = str(body.get("region") or body.get("data_center") or "").lower()
                return Accepted(workspace=workspace, region=region)
            items = body.get("workspaces", []) or []
            if not isinstance(items, list) or not all(isinstance(w, dict) for w in items):
                return Inconclusive("bad_response", "Customer.io answered 200 without workspaces")
            ids = sorted(str(w.get("id", "")) for w in items)
            assert credential.region is not None
            return Accepted(workspace=" ".join(ids), region=credential.region.value)
        if status in (400, 401):
            reason = "unauthorized"
            if credential.kind is Kind.APP and status == 401:
                reason = "unauthorized_or_wrong_region"
            return Rejected(reason=reason, status=status)
        return _unanswered(status)

    def verify(
        self,
        candidate: Credential,
        current: Credential | None,
        expected_workspace: str,
        configured_region: Region | None,
        current_fp: str = "",
    ) -> VerifiedKey:
        """All safety checks before promotion; raises a domain error naming the fix.

        "Differs from current" compares with the current key, or with its recorded
        fingerprint when the caller did not read it (a key is its secret: the same
        secret under another site ID is the same key)."""
        from rotation import runbook  # the verdicts' prose, loaded on the first verification

        label = candidate.label
        if candidate.same_key_as(current) or (current_fp and candidate.fingerprint == current_fp):
            raise KeyRejected(runbook.rejection_text("same_as_current", label), "same_as_current")
        if configured_region is not None and candidate.region not in (None, configured_region):
            raise KeyRejected(runbook.rejection_text("wrong_region", label), "wrong_region")
        result = self.probe(candidate)
        if isinstance(result, Inconclusive):
            raise VerificationInconclusive(
                runbook.inconclusive_text(result.reason, result.detail, label),
                result.reason,
                result.detail,
            )
        if isinstance(result, Rejected):
            raise KeyRejected(
                runbook.rejection_text(result.reason, label, status=result.status),
                result.reason,
                detail=str(result.status or ""),
            )
        other_region = answered_other_region(candidate.kind, result, configured_region)
        if other_region:
            raise KeyRejected(
                runbook.rejection_text("wrong_region", label, detail=other_region),
                "wrong_region",
                detail=other_region,
            )
        # A signing key names no workspace: a workspace_id configured on one is not checked.
        if (
            expected_workspace
            and candidate.kind is not Kind.WEBHOOK_SIGNING
            and not same_workspace(candidate.kind, result, expected_workspace)
        ):
            detail = f"{result.workspace or 'unknown'} instead of {expected_workspace}"
            raise WrongWorkspace(
                runbook.rejection_text("wrong_workspace", label, detail=detail),
                "wrong_workspace",
                detail=detail,
            )
        return VerifiedKey(credential=candidate, workspace=result.workspace)

    def workspace_of(self, credential: Credential) -> str | None:
        """The workspace the (current) key belongs to, or None when it cannot be learnt."""
        result = self.probe(credential)
        return result.workspace if isinstance(result, Accepted) else None


def answered_other_region(
    kind: Kind, result: Accepted, configured_region: Region | None
) -> str | None:
    """The region Customer.io says the key is in, when that is not the configured one.

    Track answers name the region; a private-key answer may (App keys never do: a
    key of the other region answers 401 on this host instead).
    """
    if kind not in (Kind.TRACK, Kind.PRIVATE) or configured_region is None:
        return None
    if result.region and result.region != configured_region.value:
        return result.region
    return None


def same_workspace(kind: Kind, result: Accepted, expected: str) -> bool:
    """Whether the key that answered `result` reaches the expected workspace(s).

    `expected` is one workspace id, or the space-separated ids the current key sees.
    - App keys list the account's workspaces: the same account shares at least one.
    - Private keys may be scoped to one workspace or to the whole account (Customer.io
      does not say), so the answer may list several workspaces. The check passes only
      if every expected workspace is among them: a configured workspace id must be
      listed, and a replacement must reach every workspace the current key reaches,
      or some application would lose access.
    - Track keys belong to exactly one workspace: it must be the same.
    """
    if kind is Kind.APP:
        return bool(set(result.workspace.split()) & set(expected.split()))
    if kind is Kind.PRIVATE:
        seen = set(result.workspace.split())
        return bool(seen) and set(expected.split()) <= seen
    return result.workspace == expected


def _classify_private(credential: Credential, response: requests.Response) -> ProbeResult:
    """Only a clear 200 naming a workspace is accepted and only a 401 rejected: the scheme
    is inferred, so any other answer (400, 404, a 200 without a workspace) is inconclusive."""
    status = response.status_code
    if status == 200:
        try:
            body = response.json()
        except ValueError:
            body = None
        ids = _workspace_ids(body)
        if ids is None:
            return Inconclusive(
                "bad_response",
                "Customer.io answered 200 without a workspace: the probe endpoint may have "
                f"changed (see {cv.ENV_PRIVATE_PROBE_URL})",
            )
        assert credential.region is not None and isinstance(body, dict)
        region = str(body.get("region") or body.get("data_center") or "").lower()
        return Accepted(workspace=" ".join(ids), region=region or credential.region.value)
    if status == 401:
        return Rejected(reason="unauthorized_or_wrong_region", status=status)
    if status == 400:
        return Inconclusive("unexpected", "HTTP 400: not a documented answer for private keys")
    return _unanswered(status)


def _workspace_ids(body: object) -> list[str] | None:
    """Workspace ids from `{"workspaces": [{"id": ...}, ...]}`, `{"workspace": {"id": ...}}`
    or `{"environment_id": ...}`; None when the answer names none."""
    if not isinstance(body, dict):
        return None
    items = body.get("workspaces")
    if items is None and isinstance(body.get("workspace"), dict):
        items = [body["workspace"]]
    if items is None and "environment_id" in body:
        items = [{"id": body["environment_id"]}]
    if not isinstance(items, list) or not items:
        return None
    ids: set[str] = set()
    for item in items:
        wid = item.get("id") if isinstance(item, dict) else None
        if isinstance(wid, bool) or not isinstance(wid, int | str) or not str(wid).strip():
            return None
        ids.add(str(wid).strip())
    return sorted(ids)


def _unanswered(status: int) -> Inconclusive:
    """Statuses that say nothing about the key itself."""
    if status == 403:
        return Inconclusive("forbidden", "403: an IP allowlist may block the rotator")
    if status == 429:
        return Inconclusive("rate_limited", "429 after retries")
    if status >= 500:
        return Inconclusive("unavailable", f"{status} after retries")
    if 300 <= status < 400:
        return Inconclusive("redirected", f"{status}: call the key's regional host")
    return Inconclusive("unexpected", f"HTTP {status}")


def _unsafe_url(url: str) -> str:
    """Why a private key must not be sent to `url`, or "" when it may.

    A private key opens every Customer.io API, so it only goes over HTTPS to a
    customer.io host, or to this machine (the local fake Customer.io, the drill).
    """
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return "not a URL"
    if parts.scheme not in ("https", "http") or not host:
        return "must be an http(s) URL"
    if _is_loopback(host):
        return ""
    if parts.scheme != "https":
        return "a private key is only sent over https"
    if host != "customer.io" and not host.endswith(".customer.io"):
        return "a private key is only sent to a customer.io host"
    return ""


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
