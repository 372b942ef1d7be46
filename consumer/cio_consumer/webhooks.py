"""Verify Customer.io reporting-webhook deliveries, without ever stalling the stream.

Customer.io signs `"v0:" + X-CIO-Timestamp + ":" + raw_body` with HMAC-SHA256
and sends the hex digest in `X-CIO-Signature`. A delivery is accepted when:

- both headers are present and the timestamp is unix seconds;
- the timestamp is at most `tolerance` seconds in the past (default 8 days) and
  at most `max_future` seconds in the future (default 300, clock skew);
- the signature matches the current signing key, or the previous key while
  the rotation that replaced it is in its grace period (see `WebhookKeys`).

Why 8 days: any refusal (400, 401, 403...) makes Customer.io wait an hour and
then retry with backoff for up to seven days, holding back every later delivery
until that one succeeds, and the docs do not say whether a retry is re-signed
with a fresh timestamp. A few-minute window would turn one slow retry into days
of blocked webhooks. Replays are stopped by deduplication instead: the
middlewares remember each processed delivery (by its `event_id`, else its
signature) until its timestamp leaves the window, and answer a repeat with 200
without passing it on, which is what a genuine retry of a delivery already
processed needs too. A delivery is remembered only once the application
answered 2xx, so a delivery that failed is processed again when retried.

A signature that matches no known key may come from a key promoted a moment
ago, or from a forger. `verify_with_loader` then asks the loader for a cheap
version check (`check_for_new_version`): at most one per second whoever sends
the requests, a full reload only when the store really changed, and no caller is
refused because forged traffic used up a budget first.

Verify the raw bytes exactly as received: parsing and re-serialising JSON
changes them and breaks the signature.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import hmac
import io
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypedDict, TypeVar, Unpack, runtime_checkable

from cio_consumer.credentials import WebhookKeys
from cio_consumer.errors import WebhookRejected

TIMESTAMP_HEADER = "X-CIO-Timestamp"
SIGNATURE_HEADER = "X-CIO-Signature"
# Customer.io waits an hour, then retries for up to seven days: cover that, plus a margin.
DEFAULT_TOLERANCE_SECONDS = 8 * 24 * 3600
DEFAULT_MAX_FUTURE_SECONDS = 300
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_MAX_REMEMBERED = 100_000
_READ_CHUNK = 64 * 1024

KeySource = WebhookKeys | str | Callable[[], WebhookKeys]


@runtime_checkable
class WebhookKeysLoader(Protocol):
    """What `webhook_keys_loader(...)` returns, as far as verification needs it."""

    def get(self) -> WebhookKeys: ...

    def refresh_on_reject(self, rejected: WebhookKeys | None = None) -> WebhookKeys: ...


class Window(TypedDict, total=False):
    """The keyword options of `verify_webhook`, passed on unchanged by its variants."""

    tolerance: int
    max_future: int
    now: float | None


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
    max_future: int = DEFAULT_MAX_FUTURE_SECONDS,
    now: float | None = None,
) -> str:
    """Check one delivery; return which key signed it (`"current"` or `"previous"`).

    `headers` is any mapping of request headers (names matched case-insensitively);
    `keys` is a `WebhookKeys`, a bare signing key, or a callable returning
    `WebhookKeys` (e.g. `loader.get`). `now` is unix seconds (default: the
    system clock). Raises `WebhookRejected` with a stable `reason` code.
    This checks one delivery only: replays are the caller's to deduplicate
    (the middlewares do it, see `ReplayGuard`).
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
    age = current_time - int(timestamp)
    if age > tolerance:
        raise WebhookRejected(
            "stale_timestamp",
            f"{TIMESTAMP_HEADER} is more than {tolerance}s old: older than any retry "
            "Customer.io makes, so a replay (or this server's clock is wrong).",
        )
    if -age > max_future:
        raise WebhookRejected(
            "future_timestamp",
            f"{TIMESTAMP_HEADER} is more than {max_future}s in the future: this server's "
            "clock, or the sender's, is wrong.",
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
    body: bytes, headers: Mapping[str, str], keys: KeySource, **window: Unpack[Window]
) -> bool:
    """`verify_webhook` as a boolean, for frameworks that only need yes or no."""
    try:
        verify_webhook(body, headers, keys, **window)
    except WebhookRejected:
        return False
    return True


def verify_with_loader(
    body: bytes, headers: Mapping[str, str], loader: WebhookKeysLoader, **window: Unpack[Window]
) -> str:
    """`verify_webhook` with the loader's keys; on a bad signature, check the store once more.

    A signing key promoted moments ago is then accepted at once instead of after
    the loader's TTL. With a `CredentialLoader` the check is
    `check_for_new_version`: forged deliveries cause at most one cheap version
    check per `probe_interval` and never a full reload, and cannot make a
    genuine delivery signed with a new key wait for a budget they used up.
    """
    keys = loader.get()
    try:
        return verify_webhook(body, headers, keys, **window)
    except WebhookRejected as rejected:
        if rejected.reason != "bad_signature":
            raise
        check = getattr(loader, "check_for_new_version", None)
        fresh = check(keys) if check is not None else loader.refresh_on_reject(keys)
        if fresh == keys:
            raise
    return verify_webhook(body, headers, fresh, **window)


def delivery_id(body: bytes, headers: Mapping[str, str]) -> str:
    """What identifies a delivery across retries: its `event_id`, else its signature."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("event_id"), str) and doc["event_id"]:
        return "event:" + str(doc["event_id"])
    return "sig:" + (_header(headers, SIGNATURE_HEADER) or "").strip().lower()


class DeliveryLog(Protocol):
    """Where processed deliveries are remembered (in memory, or shared, e.g. Redis)."""

    def seen(self, delivery: str) -> bool: ...

    def remember(self, delivery: str, until: float) -> None: ...


class ReplayGuard:
    """Processed deliveries, in memory, each until its timestamp leaves the window.

    Thread-safe. Bounded by `max_entries`: when full, the entries closest to
    expiry are forgotten first. One process only: several processes behind a
    load balancer need a shared `DeliveryLog` (same two methods), or a replay
    reaching another process is processed again (never refused: no stall).
    """

    def __init__(
        self,
        max_entries: int = DEFAULT_MAX_REMEMBERED,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self._until: dict[str, float] = {}
        self._expiry: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._until)

    def seen(self, delivery: str) -> bool:
        with self._lock:
            self._expire(self.clock())
            return delivery in self._until

    def remember(self, delivery: str, until: float) -> None:
        with self._lock:
            self._expire(self.clock())
            self._until[delivery] = max(until, self._until.get(delivery, until))
            heapq.heappush(self._expiry, (self._until[delivery], delivery))
            while len(self._until) > self.max_entries:
                self._pop()

    def _expire(self, now: float) -> None:
        while self._expiry and self._expiry[0][0] < now:
            self._pop()

    def _pop(self) -> None:
        until, delivery = heapq.heappop(self._expiry)
        if self._until.get(delivery) == until:
            del self._until[delivery]


@dataclass(frozen=True)
class Verdict:
    """A verified delivery: the key that signed it, its identity, and whether it is a repeat."""

    key: str
    delivery: str
    timestamp: int
    duplicate: bool


@dataclass(frozen=True)
class Answer:
    """What a middleware answers itself, without passing the request to the app."""

    status: int
    reason: str
    text: bytes


TOO_LARGE = Answer(413, "Content Too Large", b"body too large\n")
DUPLICATE = Answer(200, "OK", b"duplicate delivery: already processed\n")


class GateOptions(TypedDict, total=False):
    """The keyword options of `WebhookGate`, which the middlewares pass on unchanged."""

    tolerance: int
    max_future: int
    replay: DeliveryLog | None
    clock: Callable[[], float]


class WebhookGate:
    """Verification and deduplication, shared by the WSGI and ASGI middlewares."""

    def __init__(
        self,
        keys: KeySource | WebhookKeysLoader,
        *,
        tolerance: int = DEFAULT_TOLERANCE_SECONDS,
        max_future: int = DEFAULT_MAX_FUTURE_SECONDS,
        replay: DeliveryLog | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = keys
        self.tolerance = tolerance
        self.max_future = max_future
        self.replay: DeliveryLog = replay if replay is not None else ReplayGuard(clock=clock)
        self.clock = clock

    def check(self, body: bytes, headers: Mapping[str, str]) -> Verdict:
        """Verify (raises `WebhookRejected`) and tell whether it was processed before."""
        window = Window(tolerance=self.tolerance, max_future=self.max_future, now=self.clock())
        if isinstance(self.keys, WebhookKeysLoader):
            matched = verify_with_loader(body, headers, self.keys, **window)
        else:
            matched = verify_webhook(body, headers, self.keys, **window)
        delivery = delivery_id(body, headers)
        timestamp = int((_header(headers, TIMESTAMP_HEADER) or "0").strip())
        return Verdict(matched, delivery, timestamp, self.replay.seen(delivery))

    def screen(self, body: bytes, headers: Mapping[str, str]) -> Verdict | Answer:
        """A request to the webhook path: the verdict to pass on, or the answer to give.

        A refused delivery gets 401 with its reason code; a repeat of a processed
        delivery gets 200 without reaching the app.
        """
        try:
            verdict = self.check(body, headers)
        except WebhookRejected as rejected:
            return Answer(401, "Unauthorized", f"webhook refused: {rejected.reason}\n".encode())
        return DUPLICATE if verdict.duplicate else verdict

    def processed(self, verdict: Verdict) -> None:
        """The application accepted the delivery: answer its repeats without it."""
        self.replay.remember(verdict.delivery, verdict.timestamp + self.tolerance)


StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def read_wsgi_body(environ: Mapping[str, Any], max_body: int) -> bytes | None:
    """The request body, whether sized or chunked; None when longer than `max_body`.

    Without `Content-Length` (chunked transfer) the body is read to its end, as
    the server signals with `wsgi.input_terminated` or the chunked header.
    """
    stream = environ["wsgi.input"]
    raw = environ.get("CONTENT_LENGTH")
    if raw not in (None, ""):
        try:
            length = int(raw)
        except ValueError:
            return None
        if length < 0 or length > max_body:
            return None
        return bytes(stream.read(length)) if length else b""
    chunked = "chunked" in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower()
    if not chunked and not environ.get("wsgi.input_terminated"):
        return b""
    parts: list[bytes] = []
    size = 0
    while True:
        part = stream.read(min(_READ_CHUNK, max_body + 1 - size))
        if not part:
            return b"".join(parts)
        parts.append(part)
        size += len(part)
        if size > max_body:
            return None


AppT = TypeVar("AppT")


class _WebhookMiddleware(Generic[AppT]):
    """What both middlewares hold: the wrapped app, the webhook path, the body limit, a gate."""

    def __init__(
        self,
        app: AppT,
        *,
        keys: KeySource | WebhookKeysLoader,
        path: str = "/customerio/webhooks",
        max_body: int = DEFAULT_MAX_BODY_BYTES,
        **options: Unpack[GateOptions],
    ) -> None:
        self.app = app
        self.path = path
        self.max_body = max_body
        self.gate = WebhookGate(keys, **options)


class WebhookVerifier(_WebhookMiddleware[WsgiApp]):
    """WSGI middleware: requests to `path` must be verified deliveries, or get 401.

    On success the body is put back into `wsgi.input` (with its `CONTENT_LENGTH`)
    for the wrapped app, and `environ["cio.webhook.key"]` says which key signed
    it. A delivery already processed (same `event_id`) is answered 200 without
    reaching the app. Other paths pass through untouched. Given a loader, an
    unknown signature checks the store for a new key (see `verify_with_loader`).

        app = WebhookVerifier(app, keys=webhook_keys_loader(source), path="/customerio/webhooks")
    """

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") != self.path:
            return self.app(environ, start_response)
        body = read_wsgi_body(environ, self.max_body)
        if body is None:
            return _answer(start_response, TOO_LARGE)
        headers = {
            key[5:].replace("_", "-"): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        verdict = self.gate.screen(body, headers)
        if isinstance(verdict, Answer):
            return _answer(start_response, verdict)
        environ["cio.webhook.key"] = verdict.key
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)

        def remembering_start_response(status: str, *args: Any) -> Any:
            if status[:1] == "2":
                self.gate.processed(verdict)
            return start_response(status, *args)

        return self.app(environ, remembering_start_response)


def _answer(start_response: StartResponse, answer: Answer) -> list[bytes]:
    headers = [("Content-Type", "text/plain"), ("Content-Length", str(len(answer.text)))]
    start_response(f"{answer.status} {answer.reason}", headers)
    return [answer.text]


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class AsgiWebhookVerifier(_WebhookMiddleware[AsgiApp]):
    """ASGI middleware (Starlette, FastAPI, any ASGI app): the same rules as `WebhookVerifier`.

    The body is buffered (up to `max_body`) from every `http.request` message,
    verified in a worker thread (a loader may read the secret store), then
    replayed to the app as one message. The signing key's name is in
    `scope["state"]["cio_webhook_key"]` (Starlette: `request.state.cio_webhook_key`).

        app.add_middleware(AsgiWebhookVerifier, keys=hooks, path="/customerio/webhooks")
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http" or scope.get("path") != self.path:
            await self.app(scope, receive, send)
            return
        try:
            body = await read_asgi_body(receive, self.max_body)
        except _Disconnected:
            return
        if body is None:
            await _asgi_answer(send, TOO_LARGE)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        verdict = await asyncio.to_thread(self.gate.screen, body, headers)
        if isinstance(verdict, Answer):
            await _asgi_answer(send, verdict)
            return
        scope = dict(scope)
        scope["state"] = {**scope.get("state", {}), "cio_webhook_key": verdict.key}
        replayed = False

        async def replay_receive() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def remembering_send(message: Message) -> None:
            if message["type"] == "http.response.start" and 200 <= message["status"] < 300:
                self.gate.processed(verdict)
            await send(message)

        await self.app(scope, replay_receive, remembering_send)


class _Disconnected(Exception):
    """The client went away before the whole body arrived: there is no one to answer."""


async def read_asgi_body(receive: Receive, max_body: int) -> bytes | None:
    """The body from every `http.request` message; None as soon as it passes `max_body`.

    Raises `_Disconnected` on `http.disconnect`.
    """
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        if message["type"] != "http.request":
            continue
        part = bytes(message.get("body", b""))
        size += len(part)
        if size > max_body:
            return None
        parts.append(part)
        if not message.get("more_body", False):
            return b"".join(parts)


async def _asgi_answer(send: Send, answer: Answer) -> None:
    length = str(len(answer.text)).encode()
    headers = [(b"content-type", b"text/plain"), (b"content-length", length)]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.text})
