"""GDPR / CCPA erasure: suppress people in Customer.io, with an audit trail.

`POST /api/v1/customers/{id}/suppress` on the Track API deletes the profile,
redacts its activity and blocks the identifier from being re-added (what
Customer.io's GDPR FAQ recommends for right-to-be-forgotten requests; a plain
DELETE lets later calls re-create the person).

- One request: `Eraser.suppress(person_id)`. Authenticates with the current
  track credentials from a loader, on the credential's regional host (or
  `base_url` / `CUSTOMERIO_TRACK_URL`, where `{region}` is replaced).
- Many: `Eraser.bulk_suppress(ids, journal=path)`. Paced by a token bucket
  (default 10 requests/s), idempotent and resumable: every settled id is
  appended to the journal, and a restart skips what the journal has settled.
- Retries 429 and 5xx (and network errors) with exponential backoff,
  honouring `Retry-After`. Other 4xx are recorded as failed. 401/403 reload
  the credentials once (a rotation may just have promoted a new key), then
  stop the whole run: it is not the person's fault, so no id is marked failed.
- Identifiers that cannot be put in a URL path safely (`.`, `..`, empty, a
  slash, control characters, over 150 bytes) are refused before any request:
  `suppress` raises `UnsafeIdentifier`, `bulk_suppress` records them as failed.
- Writes one JSON line per request to the audit sink: person, outcome, HTTP
  status, attempts, region and key fingerprint. Never a key.

Requires the `erasure` extra (requests); the progress bar needs `progress` (rich).
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import quote

import requests

from cio_consumer.credentials import TRACK_HOSTS, TrackCredentials
from cio_consumer.errors import CredentialsRejected
from cio_consumer.identifiers import check_identifier, unsafe_reason

log = logging.getLogger("cio_consumer")
audit_log = logging.getLogger("cio_consumer.audit")

ENV_TRACK_URL = "CUSTOMERIO_TRACK_URL"
DEFAULT_RATE_PER_SECOND = 10.0
DEFAULT_MAX_ATTEMPTS = 6
DEFAULT_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 60.0
MAX_RETRY_AFTER_SECONDS = 300.0

SUPPRESSED = "suppressed"
FAILED = "failed"  # refused for this person (4xx other than 401/403/429): needs a human
DEFERRED = "deferred"  # retries exhausted (429/5xx/network): a re-run tries again
SKIPPED = "skipped"  # settled by an earlier run (journal)
SETTLED = frozenset({SUPPRESSED, FAILED})


class TrackCredentialProvider(Protocol):
    """What the eraser needs from a loader (`CredentialLoader[TrackCredentials]` fits)."""

    def get(self) -> TrackCredentials: ...

    def refresh_on_reject(self, rejected: TrackCredentials | None = None) -> TrackCredentials: ...


@dataclass
class StaticCredentials:
    """Fixed credentials, for one-off scripts that already hold them."""

    credentials: TrackCredentials

    def get(self) -> TrackCredentials:
        return self.credentials

    def refresh_on_reject(self, rejected: TrackCredentials | None = None) -> TrackCredentials:
        return self.credentials


class TokenBucket:
    """At most `rate` acquisitions per second on average, bursts of up to `capacity`."""

    def __init__(
        self,
        rate: float = DEFAULT_RATE_PER_SECOND,
        capacity: float | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive (requests per second).")
        self.rate = rate
        self.capacity = max(1.0, capacity if capacity is not None else rate)
        self._monotonic = monotonic
        self._sleep = sleep
        self._tokens = self.capacity
        self._stamp = monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Take one token, sleeping until one is available."""
        with self._lock:
            while True:
                now = self._monotonic()
                self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                # The epsilon absorbs float rounding, which could otherwise ask for a
                # sleep too short to move the clock, forever.
                if self._tokens >= 1 - 1e-9:
                    self._tokens = max(0.0, self._tokens - 1)
                    return
                self._sleep((1 - self._tokens) / self.rate)


@dataclass(frozen=True)
class ErasureResult:
    person_id: str
    outcome: str
    status: int | None = None
    attempts: int = 0
    detail: str = ""


@dataclass
class BulkSummary:
    suppressed: int = 0
    failed: int = 0
    deferred: int = 0
    skipped: int = 0
    failed_ids: list[str] = field(default_factory=list)
    deferred_ids: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Every id is settled: nothing deferred for a re-run."""
        return self.deferred == 0


def _private_append(path: Path) -> IO[str]:
    """Open for appending, readable by the owner only (the files hold person ids)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    return os.fdopen(fd, "a", encoding="utf-8")


class Journal:
    """Append-only record of settled ids, so a bulk run can be restarted safely.

    One JSON line per settled id, flushed and fsynced before the next id
    starts. A line torn by a crash is ignored (that id is simply done again;
    suppressing twice is harmless on Customer.io's side).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._outcomes: dict[str, str] = {}
        needs_newline = False
        if self.path.exists():
            data = self.path.read_bytes()
            needs_newline = bool(data) and not data.endswith(b"\n")
            for line in data.decode("utf-8", "replace").splitlines():
                try:
                    entry = json.loads(line)
                    self._outcomes[str(entry["id"])] = str(entry["outcome"])
                except (ValueError, KeyError, TypeError):
                    continue
        self._file = _private_append(self.path)
        if needs_newline:
            self._file.write("\n")

    def outcome(self, person_id: str) -> str | None:
        return self._outcomes.get(person_id)

    def record(self, result: ErasureResult) -> None:
        line = {
            "id": result.person_id,
            "outcome": result.outcome,
            "status": result.status,
            "at": _now_iso(),
        }
        self._file.write(json.dumps(line, separators=(",", ":")) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        self._outcomes[result.person_id] = result.outcome

    def close(self) -> None:
        self._file.close()


class JsonLinesAudit:
    """Audit sink appending one JSON object per line to a file (owner-readable only)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def __call__(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":"), sort_keys=True) + "\n"
        with self._lock, _private_append(self.path) as out:
            out.write(line)
            out.flush()
            os.fsync(out.fileno())


def _log_audit(record: dict[str, Any]) -> None:
    audit_log.info(json.dumps(record, separators=(",", ":"), sort_keys=True))


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` as seconds: delta-seconds or an HTTP date; None when absent or invalid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class Eraser:
    """Suppresses people through the Track API; see the module docstring."""

    def __init__(
        self,
        credentials: TrackCredentialProvider,
        *,
        base_url: str | None = None,
        audit: Callable[[dict[str, Any]], None] | str | Path | None = None,
        rate: float = DEFAULT_RATE_PER_SECOND,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        backoff: float = DEFAULT_BACKOFF_SECONDS,
        timeout: float = 10.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        audit_person_id: Callable[[str], str] | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1.")
        self.credentials = credentials
        self.base_url = base_url if base_url is not None else os.environ.get(ENV_TRACK_URL)
        if audit is None:
            self.audit: Callable[[dict[str, Any]], None] = _log_audit
        elif isinstance(audit, str | Path):
            self.audit = JsonLinesAudit(audit)
        else:
            self.audit = audit
        self.bucket = TokenBucket(rate, monotonic=monotonic, sleep=sleep)
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.timeout = timeout
        self.session = session or requests.Session()
        self.sleep = sleep
        self.audit_person_id = audit_person_id

    def url(self, credentials: TrackCredentials, person_id: str) -> str:
        """The suppress endpoint on the credential's regional host (or the override)."""
        base = self.base_url or TRACK_HOSTS[credentials.region]
        base = base.replace("{region}", credentials.region).rstrip("/")
        return f"{base}/api/v1/customers/{quote(person_id, safe='')}/suppress"

    def suppress(self, person_id: str, *, request_id: str = "", actor: str = "") -> ErasureResult:
        """Suppress one person; retries transient failures; writes one audit record.

        Raises `CredentialsRejected` when Customer.io refuses the credentials
        even after a reload from the secret store, and `UnsafeIdentifier` (a
        `ValueError`) before any request for an identifier that cannot be put in
        a URL path safely (see `cio_consumer.identifiers`).
        """
        check_identifier(person_id)
        credentials = self.credentials.get()
        reloaded = False
        attempts = 0
        status: int | None = None
        detail = ""
        while True:
            self.bucket.acquire()
            attempts += 1
            retry_after: float | None = None
            try:
                response = self.session.post(
                    self.url(credentials, person_id),
                    auth=credentials.basic_auth,
                    timeout=self.timeout,
                    allow_redirects=False,  # a redirect would drop the auth header anyway
                )
                status = response.status_code
                retry_after = retry_after_seconds(response.headers.get("Retry-After"))
                detail = ""
            except requests.RequestException as err:
                status, detail = None, f"network error: {type(err).__name__}"
            if status is not None and 200 <= status < 300:
                return self._settle(
                    person_id, SUPPRESSED, status, attempts, "", credentials, request_id, actor
                )
            if status in (401, 403):
                if not reloaded:
                    reloaded = True
                    fresh = self.credentials.refresh_on_reject(credentials)
                    if fresh != credentials:
                        credentials = fresh
                        continue
                self._settle(
                    person_id,
                    DEFERRED,
                    status,
                    attempts,
                    "credentials rejected",
                    credentials,
                    request_id,
                    actor,
                )
                raise CredentialsRejected(
                    f"Customer.io refused the track key fp {credentials.fingerprint} ({status}) "
                    "even after reloading it from the secret store: check that the current key "
                    "exists in the dashboard and has not been deleted early."
                )
            transient = status is None or status == 429 or status >= 500
            if not transient:
                return self._settle(
                    person_id,
                    FAILED,
                    status,
                    attempts,
                    f"refused with {status}",
                    credentials,
                    request_id,
                    actor,
                )
            if attempts >= self.max_attempts:
                return self._settle(
                    person_id,
                    DEFERRED,
                    status,
                    attempts,
                    detail or f"still {status} after {attempts} attempts",
                    credentials,
                    request_id,
                    actor,
                )
            self.sleep(self._delay(attempts, retry_after))

    def _delay(self, attempts: int, retry_after: float | None) -> float:
        backoff = min(MAX_BACKOFF_SECONDS, self.backoff * 2.0 ** (attempts - 1))
        backoff *= 1 + random.random() / 10  # noqa: S311 (jitter, not security)
        if retry_after is not None:
            return max(min(retry_after, MAX_RETRY_AFTER_SECONDS), backoff)
        return backoff

    def _settle(
        self,
        person_id: str,
        outcome: str,
        status: int | None,
        attempts: int,
        detail: str,
        credentials: TrackCredentials,
        request_id: str,
        actor: str,
    ) -> ErasureResult:
        result = ErasureResult(person_id, outcome, status, attempts, detail)
        record: dict[str, Any] = {
            "at": _now_iso(),
            "action": "customerio.suppress",
            **asdict(result),
            "region": credentials.region,
            "key_fp": credentials.fingerprint,
            "request_id": request_id,
            "actor": actor,
        }
        if self.audit_person_id is not None:
            record["person_id"] = self.audit_person_id(person_id)
        self.audit(record)
        return result

    def bulk_suppress(
        self,
        person_ids: Iterable[str],
        *,
        journal: str | Path,
        request_id: str = "",
        actor: str = "",
        progress: bool = False,
        retry_failed: bool = False,
    ) -> BulkSummary:
        """Suppress many people, paced by the token bucket; resumable through `journal`.

        Ids the journal has settled (suppressed, or failed unless `retry_failed`)
        are skipped, so re-running the same list after an interruption does the
        rest and nothing twice. Deferred ids (retries exhausted) are retried on
        the next run.
        """
        book = Journal(journal)
        summary = BulkSummary()
        total = len(person_ids) if isinstance(person_ids, Sized) else None
        try:
            with _progress(progress, total) as advance:
                for person_id in person_ids:
                    done = book.outcome(person_id)
                    if done == SUPPRESSED or (done == FAILED and not retry_failed):
                        summary.skipped += 1
                        advance()
                        continue
                    reason = unsafe_reason(person_id)
                    if reason is not None:
                        result = self._settle(
                            person_id,
                            FAILED,
                            None,
                            0,
                            f"unsafe identifier: {reason}; not sent",
                            self.credentials.get(),
                            request_id,
                            actor,
                        )
                    else:
                        result = self.suppress(person_id, request_id=request_id, actor=actor)
                    if result.outcome == DEFERRED:
                        summary.deferred += 1
                        summary.deferred_ids.append(person_id)
                    else:
                        book.record(result)
                        if result.outcome == SUPPRESSED:
                            summary.suppressed += 1
                        else:
                            summary.failed += 1
                            summary.failed_ids.append(person_id)
                    advance()
        finally:
            book.close()
        return summary


@contextmanager
def _progress(enabled: bool, total: int | None) -> Iterator[Callable[[], None]]:
    if not enabled:
        yield lambda: None
        return
    try:
        from rich.progress import Progress
    except ImportError:
        log.warning("progress bar needs the 'progress' extra (rich); continuing without it")
        yield lambda: None
        return
    with Progress(transient=False) as bar:
        task = bar.add_task("Suppressing in Customer.io", total=total)
        yield lambda: bar.advance(task)
