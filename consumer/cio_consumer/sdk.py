"""Customer.io's official `customerio` package, fed by a loader and following rotations.

    from cio_consumer.sdk import track_client, app_client, private_client

    cio = track_client(track_loader(source))     # a customerio.CustomerIO, as a proxy
    cio.identify("user-123", email="ada@example.com")
    api = app_client(app_loader(source))         # a customerio.APIClient
    api = private_client(private_loader(source)) # an APIClient with the sk_ key

Each proxy builds the SDK client from the loader's current credential and
builds it again when the loader hands out a different one (after its TTL, or
after a reload). When Customer.io answers 401 or 403 with the cached key (the
SDK raises `CustomerIOException("401: ...")`), the proxy asks the loader to
reload once (`refresh_on_reject`), rebuilds the client and retries the call
once; if the store still holds the same key, the original error is raised.

Calls that put a person id in the URL path (`identify`, `track`, `delete`,
`suppress`...) refuse unsafe identifiers (`.`, `..`, a slash...) before any
request: the SDK percent-encodes ids, but `.` and `..` are rewritten by the
HTTP stack into another endpoint.

`base_url` (or `CUSTOMERIO_TRACK_URL` / `CUSTOMERIO_APP_URL`, `{region}`
replaced) points a client somewhere other than Customer.io's regional hosts,
e.g. a local fake in tests. Requires the `sdk` extra (the `customerio` package).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from functools import partial
from typing import Any, Generic, Protocol, TypeVar

from customerio import APIClient, CustomerIO, CustomerIOException, Regions

from cio_consumer.credentials import AppCredentials, PrivateCredentials, TrackCredentials
from cio_consumer.identifiers import check_identifier
from cio_consumer.logsafe import install_sdk_log_filter

ENV_TRACK_URL = "CUSTOMERIO_TRACK_URL"
ENV_APP_URL = "CUSTOMERIO_APP_URL"
REJECTED_STATUSES = frozenset({401, 403})
# Track calls whose first argument is a person id that ends up in the URL path.
PERSON_ID_FIRST = frozenset(
    {
        "identify",
        "track",
        "pageview",
        "backfill",
        "delete",
        "add_device",
        "delete_device",
        "suppress",
        "unsuppress",
    }
)
_REGIONS = {"us": Regions.US, "eu": Regions.EU}
_STATUS = re.compile(r"^(\d{3}): ")

C = TypeVar("C")
K = TypeVar("K")


class Loader(Protocol[K]):
    """What the proxies need from a `CredentialLoader`."""

    def get(self) -> K: ...

    def refresh_on_reject(self, rejected: K | None = None) -> K: ...


def rejected_status(exc: BaseException) -> int | None:
    """The HTTP status of a `CustomerIOException` ("401: url ..."), if it carries one."""
    if not isinstance(exc, CustomerIOException):
        return None
    match = _STATUS.match(str(exc))
    return int(match.group(1)) if match else None


class RotatingClient(Generic[K, C]):
    """A proxy to an SDK client that is rebuilt whenever the credential changes.

    Attribute access is forwarded to the current SDK client; its methods are
    wrapped so that a 401/403 reloads the credential once and retries once.
    `rebuilds` counts SDK clients built, for metrics and tests.
    """

    def __init__(
        self,
        loader: Loader[K],
        build: Callable[[K], C],
        *,
        person_id_first: frozenset[str] = frozenset(),
    ) -> None:
        install_sdk_log_filter()
        self._loader = loader
        self._build = build
        self._person_id_first = person_id_first
        self._lock = threading.Lock()
        self._credential: K | None = None
        self._client: C | None = None
        self.rebuilds = 0

    def __repr__(self) -> str:
        return f"RotatingClient({self._credential!r})"  # credentials never print a key

    def current(self) -> tuple[K, C]:
        """The credential and the SDK client built from it (built anew if it changed)."""
        credential = self._loader.get()
        with self._lock:
            if self._client is None or credential != self._credential:
                # The old client is left to the garbage collector, not closed: another
                # thread may be in the middle of a request with it.
                self._client = self._build(credential)
                self._credential = credential
                self.rebuilds += 1
            return credential, self._client

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """`client.<method>(*args, **kwargs)`, reloading and retrying once on 401/403."""
        if method in self._person_id_first:
            check_identifier(args[0] if args else kwargs.get("id", kwargs.get("customer_id")))
        credential, client = self.current()
        try:
            return getattr(client, method)(*args, **kwargs)
        except CustomerIOException as exc:
            if rejected_status(exc) not in REJECTED_STATUSES:
                raise
            fresh = self._loader.refresh_on_reject(credential)
            if fresh == credential:
                raise
        _, client = self.current()
        return getattr(client, method)(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        attribute = getattr(self.current()[1], name)
        return partial(self.call, name) if callable(attribute) else attribute


def _base(base_url: str | None, env: str, region: str) -> str | None:
    base = base_url if base_url is not None else os.environ.get(env)
    return base.replace("{region}", region).rstrip("/") if base else None


def track_client(
    loader: Loader[TrackCredentials], *, base_url: str | None = None, **sdk_options: Any
) -> RotatingClient[TrackCredentials, CustomerIO]:
    """A `customerio.CustomerIO` (Track API, Basic auth) that follows the loader."""

    def build(credentials: TrackCredentials) -> CustomerIO:
        client = CustomerIO(
            credentials.site_id,
            credentials.api_key,
            region=_REGIONS[credentials.region],
            **sdk_options,
        )
        base = _base(base_url, ENV_TRACK_URL, credentials.region)
        if base:
            client.base_url = f"{base}/api/v1"
        return client

    return RotatingClient(loader, build, person_id_first=PERSON_ID_FIRST)


def _api_client(key: str, region: str, base_url: str | None, sdk_options: Any) -> APIClient:
    return APIClient(
        key,
        url=_base(base_url, ENV_APP_URL, region),
        region=_REGIONS[region],
        **sdk_options,
    )


def app_client(
    loader: Loader[AppCredentials], *, base_url: str | None = None, **sdk_options: Any
) -> RotatingClient[AppCredentials, APIClient]:
    """A `customerio.APIClient` (App API, Bearer) that follows the loader."""
    return RotatingClient(
        loader, lambda c: _api_client(c.app_api_key, c.region, base_url, sdk_options)
    )


def private_client(
    loader: Loader[PrivateCredentials], *, base_url: str | None = None, **sdk_options: Any
) -> RotatingClient[PrivateCredentials, APIClient]:
    """A `customerio.APIClient` authenticated with a private `sk_` key, following the loader."""
    return RotatingClient(
        loader, lambda c: _api_client(c.private_key, c.region, base_url, sdk_options)
    )
