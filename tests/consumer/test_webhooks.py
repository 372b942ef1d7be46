import json
from datetime import timedelta

import pytest
from cio_consumer import (
    AwsSecretsManagerSource,
    WebhookKeys,
    WebhookRejected,
    WebhookVerifier,
    is_valid_webhook,
    sign,
    verify_webhook,
    verify_with_loader,
    webhook_keys_loader,
)
from cio_consumer.webhooks import DEFAULT_TOLERANCE_SECONDS
from werkzeug.test import Client

from rotation.credentials import Credential, Kind
from tests.consumer.stores import Ticker

OLD = "old-signing-key-0123456789abcdef"
NEW = "new-signing-key-fedcba9876543210"
BODY = json.dumps(
    {"event_id": "01E4C4C6P79C12J5A6KPE6XNFD", "object_type": "email", "metric": "opened"},
    separators=(",", ":"),
).encode()


def delivery(key: str, ts: int, body: bytes = BODY) -> dict[str, str]:
    return {"X-CIO-Timestamp": str(ts), "X-CIO-Signature": sign(key, ts, body)}


def test_old_and_new_keys_accepted_during_grace_and_old_refused_after(aws, clock):
    aws.provision("hooks", "webhook_signing")
    aws.submit("hooks", Credential(Kind.WEBHOOK_SIGNING, OLD))
    loader = webhook_keys_loader(AwsSecretsManagerSource(aws.secrets["hooks"], client=aws.sm))
    now = int(clock.now().timestamp())
    assert verify_webhook(BODY, delivery(OLD, now), loader.get, now=now) == "current"

    clock.advance(timedelta(days=77))
    aws.sweep()
    aws.submit("hooks", Credential(Kind.WEBHOOK_SIGNING, NEW))
    keys = loader.refresh()
    assert keys.previous_valid_until is not None

    # During the grace period: Customer.io may still sign (or retry) with the old key.
    now = int(clock.now().timestamp()) + 3600
    assert verify_webhook(BODY, delivery(NEW, now), keys, now=now) == "current"
    assert verify_webhook(BODY, delivery(OLD, now), keys, now=now) == "previous"

    # One second after the grace period the old key is refused, even from the cache.
    after = int(keys.previous_valid_until.timestamp()) + 1
    assert verify_webhook(BODY, delivery(NEW, after), keys, now=after) == "current"
    with pytest.raises(WebhookRejected) as refused:
        verify_webhook(BODY, delivery(OLD, after), keys, now=after)
    assert refused.value.reason == "bad_signature"

    # And once the rotator closes the rotation, the store no longer offers it at all.
    clock.advance(timedelta(days=2))
    aws.sweep()
    keys = loader.refresh()
    now = int(clock.now().timestamp())
    assert not is_valid_webhook(BODY, delivery(OLD, now), keys, now=now)
    assert is_valid_webhook(BODY, delivery(NEW, now), keys, now=now)


def test_previous_key_without_a_deadline_is_never_accepted():
    keys = WebhookKeys(current=NEW, previous=OLD, previous_valid_until=None)
    assert not is_valid_webhook(BODY, delivery(OLD, 1_700_000_000), keys, now=1_700_000_000)


@pytest.mark.parametrize(
    ("skew", "reason"),
    [
        (-DEFAULT_TOLERANCE_SECONDS - 1, "stale_timestamp"),
        (-(10**9), "stale_timestamp"),
        (301, "future_timestamp"),
        (10**9, "future_timestamp"),
    ],
)
def test_deliveries_older_than_any_retry_or_from_the_future_are_refused(skew, reason):
    now = 1_700_000_000
    with pytest.raises(WebhookRejected) as refused:
        verify_webhook(BODY, delivery(NEW, now + skew), NEW, now=now)
    assert refused.value.reason == reason


@pytest.mark.parametrize("skew", [-7 * 86400 - 3600, -3600, -300, 0, 300])
def test_timestamps_within_tolerance_are_accepted(skew):
    now = 1_700_000_000
    assert verify_webhook(BODY, delivery(NEW, now + skew), NEW, now=now) == "current"


def test_tolerance_is_configurable():
    now = 1_700_000_000
    assert not is_valid_webhook(BODY, delivery(NEW, now - 61), NEW, now=now, tolerance=60)


def test_tampered_deliveries_are_refused():
    now = 1_700_000_000
    headers = delivery(NEW, now)
    for body in (BODY.replace(b"opened", b"clicked"), BODY + b" ", b""):
        with pytest.raises(WebhookRejected) as refused:
            verify_webhook(body, headers, NEW, now=now)
        assert refused.value.reason == "bad_signature"
    # The timestamp is part of the signed string: moving it breaks the signature.
    moved = {**headers, "X-CIO-Timestamp": str(now - 1)}
    assert not is_valid_webhook(BODY, moved, NEW, now=now)
    # A signature over the body alone (what some guides show) is not Customer.io's scheme.
    import hashlib
    import hmac

    body_only = hmac.new(NEW.encode(), BODY, hashlib.sha256).hexdigest()
    assert not is_valid_webhook(
        BODY, {"X-CIO-Timestamp": str(now), "X-CIO-Signature": body_only}, NEW, now=now
    )


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing_header"),
        ({"X-CIO-Timestamp": "1700000000"}, "missing_header"),
        ({"X-CIO-Timestamp": "soon", "X-CIO-Signature": "ab"}, "bad_timestamp"),
        ({"X-CIO-Timestamp": "-5", "X-CIO-Signature": "ab"}, "bad_timestamp"),
        ({"X-CIO-Timestamp": "1700000000", "X-CIO-Signature": "zz"}, "bad_signature"),
    ],
)
def test_malformed_deliveries_name_the_reason(headers, reason):
    with pytest.raises(WebhookRejected) as refused:
        verify_webhook(BODY, headers, NEW, now=1_700_000_000)
    assert refused.value.reason == reason
    assert NEW not in str(refused.value)


def test_header_names_are_case_insensitive_and_signature_case_too():
    now = 1_700_000_000
    headers = {"x-cio-timestamp": str(now), "x-cio-signature": sign(NEW, now, BODY).upper()}
    assert verify_webhook(BODY, headers, NEW, now=now) == "current"


def _echo_app(environ, start_response):
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"key": environ.get("cio.webhook.key"), "len": len(body)}).encode()]


def test_wsgi_middleware_verifies_only_its_path():
    now = 1_700_000_000
    keys = WebhookKeys(current=NEW, previous=OLD, previous_valid_until=None)
    app = WebhookVerifier(_echo_app, keys=keys, path="/cio/webhooks", clock=lambda: now)
    client = Client(app)
    ok = client.post("/cio/webhooks", data=BODY, headers=delivery(NEW, now))
    assert ok.status_code == 200
    assert ok.get_json() == {"key": "current", "len": len(BODY)}
    bad = client.post("/cio/webhooks", data=BODY, headers=delivery(OLD, now))
    assert bad.status_code == 401
    assert b"bad_signature" in bad.data
    stale = client.post("/cio/webhooks", data=BODY, headers=delivery(NEW, now - 9 * 86400))
    assert stale.status_code == 401
    other = client.post("/health", data=b"x")
    assert other.status_code == 200
    big = WebhookVerifier(_echo_app, keys=keys, path="/cio/webhooks", max_body=10)
    assert Client(big).post("/cio/webhooks", data=BODY).status_code == 413


def test_a_freshly_promoted_signing_key_is_picked_up_on_the_first_bad_signature(aws, clock):
    aws.provision("hooks-fresh", "webhook_signing")
    aws.submit("hooks-fresh", Credential(Kind.WEBHOOK_SIGNING, OLD))
    ticker = Ticker()
    loader = webhook_keys_loader(
        AwsSecretsManagerSource(aws.secrets["hooks-fresh"], client=aws.sm), monotonic=ticker
    )
    loader.get()
    aws.submit("hooks-fresh", Credential(Kind.WEBHOOK_SIGNING, NEW))
    now = int(clock.now().timestamp())
    assert verify_with_loader(BODY, delivery(NEW, now), loader, now=now) == "current"
    assert loader.fetches == 2

    # Forged deliveries cost one version check (no payload read) per probe_interval, no reload.
    ticker.now += 10
    probes = loader.probes
    for _ in range(5):
        with pytest.raises(WebhookRejected):
            verify_with_loader(BODY, delivery("forged-key-000000000", now), loader, now=now)
    assert loader.fetches == 2
    assert loader.probes == probes + 1

    app = WebhookVerifier(_echo_app, keys=loader, path="/cio/webhooks", clock=lambda: now)
    response = Client(app).post("/cio/webhooks", data=BODY, headers=delivery(OLD, now))
    assert response.get_json()["key"] == "previous"
