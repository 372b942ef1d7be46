"""Webhooks that never stall: retries and replays, chunked bodies, forged floods, ASGI."""

from __future__ import annotations

import asyncio
import io
import json
import threading
from typing import Any

import pytest
import requests
from cio_consumer import (
    AsgiWebhookVerifier,
    AwsSecretsManagerSource,
    ReplayGuard,
    WebhookKeys,
    WebhookVerifier,
    sign,
    webhook_keys_loader,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from werkzeug.serving import make_server
from werkzeug.test import Client

from rotation.credentials import Credential, Kind
from tests.consumer.stores import Ticker

KEY = "signing-key-0123456789abcdef"
NEW = "new-signing-key-fedcba9876543210"
NOW = 1_700_000_000
PATH = "/customerio/webhooks"


def body(event_id: str = "01E4C4C6P79C12J5A6KPE6XNFD", metric: str = "opened") -> bytes:
    return json.dumps({"event_id": event_id, "metric": metric}, separators=(",", ":")).encode()


def signed(payload: bytes, ts: int = NOW, key: str = KEY) -> dict[str, str]:
    return {"X-CIO-Timestamp": str(ts), "X-CIO-Signature": sign(key, ts, payload)}


class RecordingApp:
    """A WSGI app that records what it processed and answers `status`."""

    def __init__(self, status: str = "200 OK") -> None:
        self.status = status
        self.bodies: list[bytes] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        self.bodies.append(environ["wsgi.input"].read(length))
        start_response(self.status, [("Content-Type", "text/plain")])
        return [b"ok"]


def test_a_retry_days_later_is_accepted_and_processed_once():
    app = RecordingApp()
    clock = {"now": NOW}
    hooks = WebhookVerifier(app, keys=KEY, path=PATH, clock=lambda: clock["now"])
    client = Client(hooks)
    payload = body()
    assert client.post(PATH, data=payload, headers=signed(payload)).status_code == 200
    # Our 200 was lost: Customer.io retries the same signed delivery over the next days.
    for days in (1, 3, 7):
        clock["now"] = NOW + days * 86400 + 3600
        again = client.post(PATH, data=payload, headers=signed(payload))
        assert again.status_code == 200  # acknowledged, never refused: no stall
        assert again.data == b"duplicate delivery: already processed\n"
    # A retry re-signed with a fresh timestamp is the same delivery (same event_id).
    fresh = signed(payload, ts=clock["now"])
    assert client.post(PATH, data=payload, headers=fresh).status_code == 200
    assert app.bodies == [payload]
    # A different delivery goes through; a forged replay with another body does not verify.
    other = body("01E4C4C6P79C12J5A6KPE6XNFE")
    assert client.post(PATH, data=other, headers=signed(other, ts=NOW)).status_code == 200
    assert app.bodies == [payload, other]


def test_a_delivery_the_app_failed_is_processed_again_when_retried():
    app = RecordingApp("500 Internal Server Error")
    hooks = WebhookVerifier(app, keys=KEY, path=PATH, clock=lambda: NOW + 3600)
    client = Client(hooks)
    payload = body()
    assert client.post(PATH, data=payload, headers=signed(payload)).status_code == 500
    app.status = "200 OK"
    assert client.post(PATH, data=payload, headers=signed(payload)).status_code == 200
    assert app.bodies == [payload, payload]


def test_without_event_id_the_signature_identifies_the_delivery():
    app = RecordingApp()
    hooks = WebhookVerifier(app, keys=KEY, path=PATH, clock=lambda: NOW)
    client = Client(hooks)
    payload = b'{"metric":"sent"}'
    for _ in range(3):
        assert client.post(PATH, data=payload, headers=signed(payload)).status_code == 200
    assert app.bodies == [payload]


def test_the_replay_guard_forgets_deliveries_once_their_window_has_passed_and_is_bounded():
    clock = {"now": 0.0}
    guard = ReplayGuard(max_entries=3, clock=lambda: clock["now"])
    guard.remember("a", until=10)
    guard.remember("b", until=20)
    assert guard.seen("a") and guard.seen("b")
    clock["now"] = 11
    assert not guard.seen("a") and guard.seen("b")
    for name, until in (("c", 30), ("d", 40), ("e", 50)):
        guard.remember(name, until)
    assert len(guard) == 3
    assert not guard.seen("b")  # the one closest to expiry made room


def test_a_chunked_body_without_content_length_is_read_whole():
    app = RecordingApp()
    hooks = WebhookVerifier(app, keys=KEY, path=PATH, clock=lambda: NOW)
    payload = body()
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": PATH,
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": io.BytesIO(payload),
        "HTTP_X_CIO_TIMESTAMP": str(NOW),
        "HTTP_X_CIO_SIGNATURE": sign(KEY, NOW, payload),
    }
    statuses: list[str] = []
    hooks(environ, lambda status, headers: statuses.append(status))
    assert statuses == ["200 OK"]
    assert app.bodies == [payload]


def test_chunked_deliveries_over_real_http_and_the_size_limit():
    app = RecordingApp()
    hooks = WebhookVerifier(app, keys=KEY, path=PATH, max_body=4096, clock=lambda: NOW)
    server = make_server("127.0.0.1", 0, hooks, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}{PATH}"
        payload = body()
        pieces = [payload[:10], payload[10:25], payload[25:]]
        response = requests.post(url, data=iter(pieces), headers=signed(payload), timeout=5)
        assert response.request.headers.get("Transfer-Encoding") == "chunked"
        assert response.status_code == 200
        assert app.bodies == [payload]
        big = b'{"event_id":"x","pad":"' + b"x" * 5000 + b'"}'
        too_big = requests.post(
            url, data=iter([big[:3000], big[3000:]]), headers=signed(big), timeout=5
        )
        assert too_big.status_code == 413
    finally:
        server.shutdown()
        thread.join()


def test_forged_deliveries_cannot_make_a_genuine_new_key_wait(aws, clock):
    aws.provision("hooks-flood", "webhook_signing")
    aws.submit("hooks-flood", Credential(Kind.WEBHOOK_SIGNING, KEY))
    ticker = Ticker()
    loader = webhook_keys_loader(
        AwsSecretsManagerSource(aws.secrets["hooks-flood"], client=aws.sm),
        monotonic=ticker,
        sleep=ticker.sleep,
    )
    loader.get()
    now = int(clock.now().timestamp())
    app = RecordingApp()
    client = Client(WebhookVerifier(app, keys=loader, path=PATH, clock=lambda: now))

    # A flood of forged deliveries, before and after the promotion.
    ticker.now = 10.0
    for i in range(200):
        forged = body(f"forged-{i}")
        answer = client.post(PATH, data=forged, headers=signed(forged, now, "forged-key-00000"))
        assert answer.status_code == 401
    assert loader.fetches == 1  # no reload: the store's version did not change
    assert loader.probes == 1  # one version check for the whole flood (same instant)

    aws.submit("hooks-flood", Credential(Kind.WEBHOOK_SIGNING, NEW))
    ticker.now = 10.2  # inside the probe interval the flood just used
    genuine = body("genuine-after-promotion")
    answer = client.post(PATH, data=genuine, headers=signed(genuine, now, NEW))
    assert answer.status_code == 200
    assert app.bodies == [genuine]
    assert loader.fetches == 2  # one real reload, for the real new version
    assert ticker.slept and max(ticker.slept) <= loader.probe_interval


def asgi_post(
    app: Any, path: str, headers: dict[str, str], chunks: list[bytes]
) -> tuple[int, bytes]:
    """One HTTP request through an ASGI app, the body split across `chunks` messages."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 80),
    }
    messages = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    # Not asyncio.run: it leaves the main thread without a current event loop, and the
    # Pulumi program tests that run later in the same process need one.
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(app(scope, receive, send))
    finally:
        loop.close()
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    data = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, data


def starlette_app(processed: list[tuple[bytes, str]]) -> Starlette:
    async def webhook(request: Request) -> JSONResponse:
        data = await request.body()
        processed.append((data, request.state.cio_webhook_key))
        return JSONResponse({"ok": True})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"up": True})

    return Starlette(
        routes=[Route(PATH, webhook, methods=["POST"]), Route("/health", health, methods=["POST"])]
    )


def test_asgi_middleware_with_starlette_verifies_deduplicates_and_passes_other_paths():
    processed: list[tuple[bytes, str]] = []
    keys = WebhookKeys(current=KEY)
    app = AsgiWebhookVerifier(starlette_app(processed), keys=keys, path=PATH, clock=lambda: NOW)
    payload = body()
    pieces = [payload[:7], payload[7:30], payload[30:]]
    assert asgi_post(app, PATH, signed(payload), pieces)[0] == 200
    assert processed == [(payload, "current")]
    status, data = asgi_post(app, PATH, signed(payload), [payload])
    assert (status, data) == (200, b"duplicate delivery: already processed\n")
    assert len(processed) == 1
    forged = body("forged")
    status, data = asgi_post(app, PATH, signed(forged, key="forged-key-000000"), [forged])
    assert (status, data) == (401, b"webhook refused: bad_signature\n")
    stale = body("stale")
    status, _ = asgi_post(app, PATH, signed(stale, ts=NOW - 9 * 86400), [stale])
    assert status == 401
    assert asgi_post(app, "/health", {}, [b"x"])[0] == 200
    assert len(processed) == 1


def test_asgi_middleware_refuses_oversized_bodies_and_does_not_remember_failures():
    calls: list[bytes] = []

    async def failing(scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        calls.append(message["body"])
        await send({"type": "http.response.start", "status": 503, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = AsgiWebhookVerifier(failing, keys=KEY, path=PATH, max_body=64, clock=lambda: NOW)
    payload = body()
    assert asgi_post(app, PATH, signed(payload), [payload])[0] == 503
    assert asgi_post(app, PATH, signed(payload), [payload])[0] == 503
    assert calls == [payload, payload]
    big = b"x" * 65
    assert asgi_post(app, PATH, signed(big), [big[:40], big[40:]])[0] == 413


@pytest.mark.parametrize("server_side", ["wsgi", "asgi"])
def test_a_new_signing_key_is_picked_up_by_both_middlewares(aws, clock, server_side):
    aws.provision(f"hooks-{server_side}", "webhook_signing")
    aws.submit(f"hooks-{server_side}", Credential(Kind.WEBHOOK_SIGNING, KEY))
    loader = webhook_keys_loader(
        AwsSecretsManagerSource(aws.secrets[f"hooks-{server_side}"], client=aws.sm)
    )
    loader.get()
    aws.submit(f"hooks-{server_side}", Credential(Kind.WEBHOOK_SIGNING, NEW))
    now = int(clock.now().timestamp())
    payload = body()
    if server_side == "wsgi":
        app = RecordingApp()
        client = Client(WebhookVerifier(app, keys=loader, path=PATH, clock=lambda: now))
        status = client.post(PATH, data=payload, headers=signed(payload, now, NEW)).status_code
    else:
        processed: list[tuple[bytes, str]] = []
        asgi = AsgiWebhookVerifier(
            starlette_app(processed), keys=loader, path=PATH, clock=lambda: now
        )
        status = asgi_post(asgi, PATH, signed(payload, now, NEW), [payload])[0]
        assert processed == [(payload, "current")]
    assert status == 200
    assert loader.fetches == 2
