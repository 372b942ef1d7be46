"""A cached, thread-safe credential loader that follows rotations.

How a promoted key reaches an application:

1. The rotator promotes the new key; the old one keeps working for the grace
   period (24 h scheduled, 15 min emergency by default, zero with
   `--revoke-first`).
2. Every loader re-reads the secret when its cache is older than `ttl`.
3. If Customer.io rejects the cached key before that (the old key was deleted
   early, or revoked first in an emergency), the application calls
   `refresh_on_reject()` (or lets `call()` do it): the loader re-reads at once,
   one refresh for all threads, and the next call uses the new key.

While the store cannot be read, the cached value is served for at most
`max_stale` seconds past its TTL (default one hour); after that `get()` raises
`CredentialStale`, because the key may have been rotated and revoked meanwhile.
A retired credential (`CredentialRetired`) is never served from the cache.

So `ttl` must be well under the shortest grace period the rotator may use, the
emergency grace (`CIO_EMERGENCY_GRACE_MINUTES`, default 15 minutes): then every
process has picked the new key up before the old one is deleted. The
constructor refuses a `ttl` that is not shorter than `emergency_grace` and
warns when it is more than a third of it.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from cio_consumer.credentials import (
    AppCredentials,
    PrivateCredentials,
    TrackCredentials,
    WebhookKeys,
    parse_app,
    parse_private,
    parse_signing_key,
    parse_track,
)
from cio_consumer.errors import (
    ConsumerError,
    CredentialRetired,
    CredentialsRejected,
    CredentialStale,
)
from cio_consumer.logsafe import install_sdk_log_filter
from cio_consumer.sources import SecretSnapshot, SecretSource
from cio_consumer.usage import UsageReporter, reporting_enabled

log = logging.getLogger("cio_consumer")

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_TTL_SECONDS = 300.0
DEFAULT_EMERGENCY_GRACE_SECONDS = 15 * 60.0
# A key that is really bad must not turn every failed request into a secret-store read.
DEFAULT_MIN_REJECT_INTERVAL_SECONDS = 5.0
# After a failed read, serve the cached value and try again this much later.
DEFAULT_ERROR_RETRY_SECONDS = 5.0
# How long past its TTL a cached value may be served while the store cannot be read.
DEFAULT_MAX_STALE_SECONDS = 3600.0
# Version probes on an unrecognised signature: at most one per this interval.
DEFAULT_PROBE_INTERVAL_SECONDS = 1.0
REJECTED_STATUSES = frozenset({401, 403})
# `usage=` default: report to the source's cloud unless CIO_USAGE_REPORTING=off.
AUTO = "auto"


class TtlTooLongWarning(UserWarning):
    """The loader's cache TTL leaves little margin inside the rotator's emergency grace."""


@dataclass(frozen=True)
class _Entry(Generic[T]):
    value: T
    version: str
    loaded_at: float
    next_refresh: float


def status_of(obj: object) -> int | None:
    """The HTTP status carried by a response, or by an exception's `response`, if any."""
    for candidate in (obj, getattr(obj, "response", None)):
        status = getattr(candidate, "status_code", None)
        if isinstance(status, int):
            return status
    return None


def is_rejection(exc: BaseException) -> bool:
    """Default test for "Customer.io refused this key": 401/403 or `CredentialsRejected`."""
    return isinstance(exc, CredentialsRejected) or status_of(exc) in REJECTED_STATUSES


class CredentialLoader(Generic[T]):
    """Reads one credential from a `SecretSource`, caches it for `ttl` seconds.

    Safe to share between threads: at most one read of the secret store runs at
    a time, and threads that find a fresh value never wait for it.
    """

    def __init__(
        self,
        source: SecretSource,
        parse: Callable[[SecretSnapshot], T],
        *,
        ttl: float = DEFAULT_TTL_SECONDS,
        emergency_grace: float = DEFAULT_EMERGENCY_GRACE_SECONDS,
        include_previous: bool = False,
        min_reject_interval: float = DEFAULT_MIN_REJECT_INTERVAL_SECONDS,
        error_retry: float = DEFAULT_ERROR_RETRY_SECONDS,
        max_stale: float | None = DEFAULT_MAX_STALE_SECONDS,
        probe_interval: float = DEFAULT_PROBE_INTERVAL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        usage: UsageReporter | str | None = AUTO,
        service_name: str | None = None,
    ) -> None:
        """`usage`: where to report the key this process uses (cio_consumer.usage), so the
        rotator deletes the old key only once nobody uses it: "auto" (the source's cloud,
        unless CIO_USAGE_REPORTING=off), a `UsageReporter`, or None to opt out.
        `service_name` names this application in those reports (default: OTEL_SERVICE_NAME).
        """
        check_ttl(ttl, emergency_grace)
        if max_stale is not None and max_stale < 0:
            raise ValueError("max_stale cannot be negative (None serves the cache without limit).")
        install_sdk_log_filter()  # the SDK reading the secret must not log its payload
        self.source = source
        self.parse = parse
        self.ttl = ttl
        self.include_previous = include_previous
        self.min_reject_interval = min_reject_interval
        self.error_retry = error_retry
        self.max_stale = max_stale
        self.probe_interval = probe_interval
        self._monotonic = monotonic
        self._sleep = sleep
        self._lock = threading.Lock()
        self._entry: _Entry[T] | None = None
        self._last_reject_reload: float | None = None
        self._last_probe: float | None = None
        self.fetches = 0  # reads of the secret store, for metrics and tests
        self.usage = _usage_reporter(source, usage, service_name)
        self._usage_secret = str(getattr(source, "usage_secret", source.description))
        # When the next usage report is due (monotonic); +inf when not reporting, so the
        # fast path of get() pays one comparison.
        self._report_due = 0.0 if self.usage is not None else float("inf")
        self.probes = 0  # version checks caused by unrecognised signatures

    def __repr__(self) -> str:
        return f"CredentialLoader({self.source.description}, ttl={self.ttl:g}s)"

    def get(self) -> T:
        """The cached credential, re-read from the store when older than `ttl`."""
        entry = self._entry
        if entry is not None:
            now = self._monotonic()
            if now < entry.next_refresh:
                if now >= self._report_due:
                    self._report(entry.value, now)
                return entry.value
        with self._lock:
            entry = self._entry
            if entry is not None and self._monotonic() < entry.next_refresh:
                return entry.value  # another thread refreshed while we waited
            return self._reload(entry)

    def close(self) -> None:
        """Report the key this loader holds once more and send it (bounded wait): call at
        shutdown so the rotator learns this process stopped using it. Interpreter exit
        does the same for every reporter."""
        entry = self._entry
        if self.usage is None or entry is None:
            return
        self._report(entry.value, self._monotonic())
        self.usage.flush()

    def _report(self, value: T, now: float) -> None:
        """Hand the served key's fingerprint to the reporter (non-blocking, never raises)."""
        usage = self.usage
        if usage is None:
            return
        self._report_due = now + usage.interval
        fingerprint = getattr(value, "fingerprint", None)
        if isinstance(fingerprint, str) and fingerprint:
            usage.note(self._usage_secret, fingerprint)

    def refresh(self) -> T:
        """Re-read now, whatever the cache's age."""
        with self._lock:
            return self._reload(self._entry)

    def refresh_on_reject(self, rejected: T | None = None) -> T:
        """Customer.io refused `rejected` (the value the caller used): reload once.

        Many threads failing with the same old key cause one read: whoever comes
        second finds a value different from the one it was refused with and gets
        that. Reloads caused by rejections are at most one per
        `min_reject_interval`, so a key that is really bad (and still current)
        does not turn every request into a secret-store read.
        """
        with self._lock:
            entry = self._entry
            if entry is not None and rejected is not None and entry.value != rejected:
                return entry.value
            now = self._monotonic()
            if (
                entry is not None
                and self._last_reject_reload is not None
                and now - self._last_reject_reload < self.min_reject_interval
            ):
                return entry.value
            self._last_reject_reload = now
            return self._reload(entry)

    def check_for_new_version(self, rejected: T | None = None) -> T:
        """Make sure the store was checked after this call began; reload only if it changed.

        For callers that cannot tell a stale key from a forged request (a webhook
        whose signature matches no known key): unauthenticated traffic can cause
        at most one version check per `probe_interval`, and a full reload only
        when the store really holds a new version. Instead of being refused
        because someone else used up a budget, a caller waits (about
        `probe_interval` at most) for a check that began after it arrived, so a
        genuine delivery signed with a just-promoted key is always accepted.
        """
        arrived = self._monotonic()
        while True:
            with self._lock:
                entry = self._entry
                if entry is not None and rejected is not None and entry.value != rejected:
                    return entry.value
                if entry is not None and self._last_probe is not None:
                    if self._last_probe >= arrived:
                        return entry.value  # a check began after we arrived: it saw the same
                    wait = self._last_probe + self.probe_interval - self._monotonic()
                else:
                    wait = 0.0
                if wait <= 0:
                    self._last_probe = self._monotonic()
                    return self._probe(entry)
            self._sleep(wait)

    def _probe(self, entry: _Entry[T] | None) -> T:
        """(Lock held.) Compare the store's current version with the cached one."""
        if entry is None:
            return self._reload(entry)
        self.probes += 1
        version_of = getattr(self.source, "current_version", None)
        if version_of is None:
            return self._reload(entry)
        try:
            version = str(version_of())
        except CredentialRetired:
            self._entry = None
            raise
        except ConsumerError as err:
            log.warning("cannot check %s for a new version: %s", self.source.description, err)
            return entry.value
        return entry.value if version == entry.version else self._reload(entry)

    def call(
        self,
        fn: Callable[[T], R],
        *,
        rejected: Callable[[BaseException], bool] = is_rejection,
    ) -> R:
        """Run `fn(credential)`; if Customer.io rejects the key, reload once and retry once.

        A rejection is an exception for which `rejected(exc)` is true (default:
        an HTTP 401/403 carried in `exc.response`), or a returned response whose
        `status_code` is 401/403. If the reload yields the same key, the
        original outcome stands: the key is bad, not stale.
        """
        credential = self.get()
        try:
            result = fn(credential)
        except Exception as exc:
            if not rejected(exc):
                raise
            fresh = self.refresh_on_reject(credential)
            if fresh == credential:
                raise
            return fn(fresh)
        if status_of(result) in REJECTED_STATUSES:
            fresh = self.refresh_on_reject(credential)
            if fresh != credential:
                return fn(fresh)
        return result

    def _reload(self, entry: _Entry[T] | None) -> T:
        """Read the store (caller holds the lock). On failure serve a cached value if any."""
        self.fetches += 1
        try:
            snapshot = self.source.fetch(include_previous=self.include_previous)
            value = self.parse(snapshot)
        except CredentialRetired:
            self._entry = None  # never serve a retired credential, not even from the cache
            raise
        except ConsumerError as err:
            if entry is None:
                raise
            now = self._monotonic()
            deadline = (
                float("inf")
                if self.max_stale is None
                else entry.loaded_at + self.ttl + self.max_stale
            )
            if now >= deadline:
                raise CredentialStale(
                    f"cannot read {self.source.description}, and the cached credential was "
                    f"read {now - entry.loaded_at:.0f}s ago, more than ttl + max_stale "
                    f"({self.ttl + (self.max_stale or 0):g}s): it is no longer served, since "
                    "it may have been rotated and revoked meanwhile. Restore this process's "
                    f"access to the secret store. Last error: {err}"
                ) from None
            log.warning("keeping the cached credential from %s: %s", self.source.description, err)
            self._entry = _Entry(
                entry.value,
                entry.version,
                entry.loaded_at,
                min(now + min(self.error_retry, self.ttl or self.error_retry), deadline),
            )
            return entry.value
        now = self._monotonic()
        if entry is not None and entry.version != snapshot.version:
            log.info(
                "Customer.io credential in %s changed: version %s -> %s",
                self.source.description,
                entry.version,
                snapshot.version,
            )
        self._entry = _Entry(value, snapshot.version, now, now + self.ttl)
        if now >= self._report_due or (entry is not None and entry.value != value):
            self._report(value, now)  # a new key is reported at once, not a minute later
        return value


def _usage_reporter(
    source: SecretSource, usage: UsageReporter | str | None, service_name: str | None
) -> UsageReporter | None:
    """The reporter a loader uses; never fails the loader (reporting is best effort)."""
    if usage is None or isinstance(usage, UsageReporter):
        return usage
    if usage != AUTO:
        raise ValueError(f"usage must be {AUTO!r}, a UsageReporter or None, not {usage!r}.")
    make = getattr(source, "usage_reporter", None)
    if make is None or not reporting_enabled():
        return None
    try:
        reporter = make(service_name)
    except Exception as err:  # e.g. the cloud's SDK is missing: the app still works
        log.debug("key usage reporting is off: %s", type(err).__name__)
        return None
    return reporter if isinstance(reporter, UsageReporter) else None


def check_ttl(ttl: float, emergency_grace: float) -> None:
    """Refuse a TTL the rotator's emergency grace cannot cover; warn when the margin is thin."""
    if ttl < 0:
        raise ValueError("ttl cannot be negative.")
    if ttl >= emergency_grace:
        raise ValueError(
            f"ttl={ttl:g}s is not shorter than the rotator's emergency grace period "
            f"({emergency_grace:g}s): after an emergency promotion this process could keep "
            "the old key past its deletion. Use a ttl well under the grace period "
            "(at most a third of it), or pass the grace your rotator really uses."
        )
    if ttl > emergency_grace / 3:
        warnings.warn(
            f"ttl={ttl:g}s is more than a third of the emergency grace period "
            f"({emergency_grace:g}s): processes may pick a promoted key up late. "
            "Rely on refresh_on_reject(), or lower the ttl.",
            TtlTooLongWarning,
            stacklevel=3,
        )


def _webhook_keys(snapshot: SecretSnapshot) -> WebhookKeys:
    previous: str | None = None
    if snapshot.previous is not None:
        try:
            previous = parse_signing_key(snapshot.previous)
        except ConsumerError:
            previous = None
    return WebhookKeys(
        current=parse_signing_key(snapshot.current),
        previous=previous,
        previous_valid_until=snapshot.previous_valid_until if previous else None,
    )


def track_loader(source: SecretSource, **options: Any) -> CredentialLoader[TrackCredentials]:
    """Loader of a `track` credential (`{site_id, api_key, region}`)."""
    return CredentialLoader(source, lambda s: parse_track(s.current), **options)


def app_loader(source: SecretSource, **options: Any) -> CredentialLoader[AppCredentials]:
    """Loader of an `app` credential (`{app_api_key, region}`)."""
    return CredentialLoader(source, lambda s: parse_app(s.current), **options)


def webhook_keys_loader(source: SecretSource, **options: Any) -> CredentialLoader[WebhookKeys]:
    """Loader of a `webhook_signing` credential, with the previous key during its grace."""
    return CredentialLoader(source, _webhook_keys, include_previous=True, **options)


def private_loader(source: SecretSource, **options: Any) -> CredentialLoader[PrivateCredentials]:
    """Loader of a `private` credential (`{private_key: "sk_...", region}`)."""
    return CredentialLoader(source, lambda s: parse_private(s.current), **options)
