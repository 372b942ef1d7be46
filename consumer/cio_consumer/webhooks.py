"""Verify Customer.io reporting-webhook deliveries.

Customer.io signs `"v0:" + X-CIO-Timestamp + ":" + raw_body` with HMAC-SHA256
and sends the hex digest in `X-CIO-Signature`. A delivery is accepted when:

- both headers are present and the timestamp is unix seconds;
- the timestamp is within `tolerance` seconds of now, in either direction
  (a replayed delivery, or a clock far off, is refused);
- the signature matches the current signing key, or the previous key while
  the rotation that replaced it is in its grace period (see `WebhookKeys`).

Verify the raw bytes exactly as received: parsing and re-serialising JSON
changes them and breaks the signature.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from cio_consumer.credentials import WebhookKeys
from cio_consumer.errors import WebhookRejected

TIMESTAMP_HEADER = "X-CIO-Timestamp"
SIGNATURE_HEADER = "X-CIO-Signature"
DEFAULT_TOLERANCE_SECONDS = 300
DEFAULT_MAX_BODY_BYTES = 1024 * 1024

KeySource = WebhookKeys | str | Callable[[], WebhookKeys]


@runtime_checkable
class WebhookKeysLoader(Protocol):
    """What `webhook_keys_loader(...)` returns, as far as verification needs it."""

    def get(self) -> WebhookKeys: ...

    def refresh_on_reject(self, rejected: WebhookKeys | None = None) -> WebhookKeys: ...


def sign(key: str, timestamp: str | int, body: bytes) -> str:
    """The signature Customer.io sends for `body` at `timestamp` (hex HMAC-SHA256)."""
    message = b"v0:" + str(timestamp).encode("ascii") + b":" + body
    return hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value


def _keys(keys: KeySource) -> WebhookKeys:
    if isinstance(keys, WebhookKeys):
        return keys
    if isinstance(keys, str):
        return WebhookKeys(current=keys)
    return keys()


def verify_webhook(
    body: bytes,
    headers: Mapping[str, str],
    keys: KeySource,
    *,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> str:
    """Check one delivery; return which key signed it (`"current"` or `"previous"`).

    `headers` is any mapping of request headers (names matched case-insensitively);
    `keys` is a `WebhookKeys`, a bare signing key, or a callable returning
    `WebhookKeys` (e.g. `loader.get`). `now` is unix seconds (default: the
    system clock). Raises `WebhookRejected` with a stable `reason` code.
    """
    timestamp = _header(headers, TIMESTAMP_HEADER)
    signature = _header(headers, SIGNATURE_HEADER)
    if not timestamp or not signature:
        raise WebhookRejected(
            "missing_header",
            f"the delivery has no {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header.",
        )
    timestamp = timestamp.strip()
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise WebhookRejected("bad_timestamp", f"{TIMESTAMP_HEADER} is not unix seconds.")
    current_time = time.time() if now is None else now
    if abs(current_time - int(timestamp)) > tolerance:
        raise WebhookRejected(
            "stale_timestamp",
            f"{TIMESTAMP_HEADER} is more than {tolerance}s away from now: a replayed "
            "delivery, or this server's clock is wrong.",
        )
    given = signature.strip().lower().encode("ascii", "replace")
    matched: str | None = None
    at = datetime.fromtimestamp(current_time, UTC)
    # Compare against every accepted key (no early exit), each in constant time.
    for name, key in _keys(keys).accepted(at):
        if hmac.compare_digest(sign(key, timestamp, body).encode("ascii"), given):
            matched = matched or name
    if matched is None:
        raise WebhookRejected(
            "bad_signature",
            "the signature matches no accepted signing key: the body was altered, or the "
            "signing key in the dashboard is not the one in the secret store.",
        )
    return matched


def is_valid_webhook(
    body: bytes,
    headers: Mapping[str, str],
    keys: KeySource,
    *,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """`verify_webhook` as a boolean, for frameworks that only need yes or no."""
    try:
        verify_webhook(body, headers, keys, tolerance=tolerance, now=now)
    except WebhookRejected:
        return False
    return True


def verify_with_loader(
    body: bytes,
    headers: Mapping[str, str],
    loader: WebhookKeysLoader,
    *,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> str:
    """`verify_webhook` with the loader's keys; on a bad signature, reload once and retry.

    A signing key promoted moments ago is then accepted at once instead of after
    the loader's TTL. The loader throttles reloads caused by rejections
    (`min_reject_interval`), so forged deliveries cannot hammer the secret store.
    """
    keys = loader.get()
    try:
        return verify_webhook(body, headers, keys, tolerance=tolerance, now=now)
    except WebhookRejected as rejected:
        if rejected.reason != "bad_signature":
            raise
        fresh = loader.refresh_on_reject(keys)
        if fresh == keys:
            raise
    return verify_webhook(body, headers, fresh, tolerance=tolerance, now=now)


StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class WebhookVerifier:
    """WSGI middleware: requests to `path` must be verified deliveries, or get 401.

    On success the body is put back into `wsgi.input` for the wrapped app and
    `environ["cio.webhook.key"]` says which key signed it. Other paths pass
    through untouched. Given a loader, a bad signature reloads the keys once
    (see `verify_with_loader`).

        app = WebhookVerifier(app, keys=webhook_keys_loader(source), path="/customerio/webhooks")
    """

    def __init__(
        self,
        app: WsgiApp,
        *,
        keys: KeySource | WebhookKeysLoader,
        path: str = "/customerio/webhooks",
        tolerance: int = DEFAULT_TOLERANCE_SECONDS,
        max_body: int = DEFAULT_MAX_BODY_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.keys = keys
        self.path = path
        self.tolerance = tolerance
        self.max_body = max_body
        self.clock = clock

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") != self.path:
            return self.app(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > self.max_body:
            return _refuse(start_response, "413 Content Too Large", "body too large")
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {
            key[5:].replace("_", "-"): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        try:
            if isinstance(self.keys, WebhookKeysLoader):
                matched = verify_with_loader(
                    body, headers, self.keys, tolerance=self.tolerance, now=self.clock()
                )
            else:
                matched = verify_webhook(
                    body, headers, self.keys, tolerance=self.tolerance, now=self.clock()
                )
            environ["cio.webhook.key"] = matched
        except WebhookRejected as rejected:
            return _refuse(start_response, "401 Unauthorized", rejected.reason)
        environ["wsgi.input"] = io.BytesIO(body)
        return self.app(environ, start_response)


def _refuse(start_response: StartResponse, status: str, reason: str) -> list[bytes]:
    text = f"webhook refused: {reason}\n".encode()
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(text)))])
    return [text]
