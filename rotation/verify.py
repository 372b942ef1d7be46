"""Asking Customer.io whether a key works, with the cheapest side-effect-free calls.

Every outcome is one of three: accepted (with the workspace the key belongs to),
rejected (Customer.io said no: tell the operator why) or inconclusive (we could
not get an answer: keep the current key and try again later). Only the first
can ever lead to a promotion.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, ReadTimeoutError
from urllib3.util.retry import Retry

from rotation import conventions as cv
from rotation import runbook
from rotation.credentials import Credential, Kind, Region
from rotation.errors import KeyRejected, VerificationInconclusive, WrongWorkspace

log = logging.getLogger(__name__)

TRACK_HOSTS = {Region.US: "https://track.customer.io", Region.EU: "https://track-eu.customer.io"}
APP_HOSTS = {Region.US: "https://api.customer.io", Region.EU: "https://api-eu.customer.io"}
RETRY_STATUSES = (429, 500, 502, 503, 504)


@dataclass(frozen=True)
class Accepted:
    workspace: str  # Track: environment_id; App: the sorted workspace ids the key sees
    region: str


@dataclass(frozen=True)
class Rejected:
    reason: str
    status: int | None


@dataclass(frozen=True)
class Inconclusive:
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


class Verifier:
    """Customer.io probes. Hosts come from the region, or from the environment in tests."""

    def __init__(
        self,
        session: requests.Session | None = None,
        env: Mapping[str, str] | None = None,
        timeout: tuple[float, float] = (3.05, 10.0),
    ) -> None:
        env = os.environ if env is None else env
        self.session = session or build_session()
        self.timeout = timeout
        self.track_override = env.get(cv.ENV_TRACK_URL, "").rstrip("/")
        self.app_override = env.get(cv.ENV_APP_URL, "").rstrip("/")

    def track_host(self, region: Region) -> str:
        # An override may hold "{region}" so a local server can play both regions.
        return self.track_override.replace("{region}", region.value) or TRACK_HOSTS[region]

    def app_host(self, region: Region) -> str:
        return self.app_override.replace("{region}", region.value) or APP_HOSTS[region]

    def probe(self, credential: Credential) -> ProbeResult:
        """One side-effect-free call with this key; never raises for HTTP outcomes."""
        if credential.kind is Kind.WEBHOOK_SIGNING:
            return Accepted(workspace="", region="")
        assert credential.region is not None
        if credential.kind is Kind.TRACK:
            assert credential.site_id is not None
            url = self.track_host(credential.region) + "/api/v1/accounts/region"
            auth_kw: dict[str, Any] = {"auth": (credential.site_id, credential.secret)}
        else:
            url = self.app_host(credential.region) + "/v1/workspaces"
            auth_kw = {"headers": {"Authorization": f"Bearer {credential.secret}"}}
        try:
            response = self.session.get(url, timeout=self.timeout, allow_redirects=False, **auth_kw)
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
        status = response.status_code
        if status == 200:
            try:
                body = response.json()
            except ValueError:
                return Inconclusive("bad_response", "Customer.io answered 200 without JSON")
            if credential.kind is Kind.TRACK:
                workspace = str(body.get("environment_id", ""))
                region = str(body.get("region") or body.get("data_center") or "").lower()
                return Accepted(workspace=workspace, region=region)
            ids = sorted(str(w.get("id", "")) for w in body.get("workspaces", []) or [])
            assert credential.region is not None
            return Accepted(workspace=" ".join(ids), region=credential.region.value)
        if status in (400, 401):
            reason = "unauthorized"
            if credential.kind is Kind.APP and status == 401:
                reason = "unauthorized_or_wrong_region"
            return Rejected(reason=reason, status=status)
        if status == 403:
            return Inconclusive("forbidden", "403: an IP allowlist may block the rotator")
        if status == 429:
            return Inconclusive("rate_limited", "429 after retries")
        if status >= 500:
            return Inconclusive("unavailable", f"{status} after retries")
        if 300 <= status < 400:
            return Inconclusive("redirected", f"{status}: call the key's regional host")
        return Inconclusive("unexpected", f"HTTP {status}")

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
        label = candidate.label
        if candidate.same_key_as(current) or (current_fp and candidate.fingerprint == current_fp):
            raise KeyRejected(runbook.rejection_text("same_as_current", label), "same_as_current")
        if configured_region is not None and candidate.region not in (None, configured_region):
            raise KeyRejected(runbook.rejection_text("wrong_region", label), "wrong_region")
        result = self.probe(candidate)
        if isinstance(result, Inconclusive):
            raise VerificationInconclusive(
                runbook.inconclusive_text(result.reason, result.detail, label)
            )
        if isinstance(result, Rejected):
            raise KeyRejected(
                runbook.rejection_text(result.reason, label, status=result.status),
                result.reason,
                detail=str(result.status or ""),
            )
        if (
            candidate.kind is Kind.TRACK
            and configured_region is not None
            and result.region
            and result.region != configured_region.value
        ):
            raise KeyRejected(
                runbook.rejection_text("wrong_region", label, detail=result.region),
                "wrong_region",
                detail=result.region,
            )
        if expected_workspace and not _same_workspace(candidate.kind, result, expected_workspace):
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


def _same_workspace(kind: Kind, result: Accepted, expected: str) -> bool:
    if kind is Kind.APP:
        # App keys list the account's workspaces: the same account shares at least one.
        return bool(set(result.workspace.split()) & set(expected.split()))
    return result.workspace == expected
