"""The loader and the webhook verifier on GCP: the real Secret Manager client, emulated."""

from datetime import timedelta

from cio_consumer import (
    GcpSecretManagerSource,
    is_valid_webhook,
    sign,
    track_loader,
    webhook_keys_loader,
)
from cio_consumer.erasure import Eraser

from rotation.credentials import Credential, Kind
from tests.consumer.stores import Ticker

OLD = "old-gcp-signing-key-0123456789"
NEW = "new-gcp-signing-key-9876543210"


def test_gcp_loader_picks_up_a_promoted_key_on_reject(gcp, fake, clock):
    gcp.provision("marketing-track", "track", "us", workspace="111")
    first = fake.new_track_key("111")
    gcp.submit("marketing-track", first)
    loader = track_loader(
        GcpSecretManagerSource(gcp.secrets["marketing-track"], client=gcp.client),
        monotonic=Ticker(),
    )
    assert loader.get().api_key == first.secret

    clock.advance(timedelta(days=77))
    gcp.sweep()
    second = fake.new_track_key("111")
    gcp.submit("marketing-track", second)
    assert gcp.current_value("marketing-track")["api_key"] == second.secret
    assert loader.get().api_key == first.secret  # cached within the TTL

    fake.delete_key(first)
    eraser = Eraser(loader, base_url=fake.base_url, sleep=lambda s: None)
    assert eraser.suppress("gcp-person").outcome == "suppressed"
    assert loader.get().api_key == second.secret
    assert fake.suppressed == ["gcp-person"]


def test_gcp_webhook_keys_follow_the_grace_period(gcp, clock):
    gcp.provision("hooks", "webhook_signing")
    gcp.submit("hooks", Credential(Kind.WEBHOOK_SIGNING, OLD))
    loader = webhook_keys_loader(GcpSecretManagerSource(gcp.secrets["hooks"], client=gcp.client))
    assert loader.get().previous is None

    clock.advance(timedelta(days=77))
    gcp.sweep()
    gcp.submit("hooks", Credential(Kind.WEBHOOK_SIGNING, NEW))
    keys = loader.refresh()
    assert (keys.current, keys.previous) == (NEW, OLD)
    assert keys.previous_valid_until is not None
    body = b'{"metric":"delivered"}'

    def ok(key: str, now: int) -> bool:
        headers = {"X-CIO-Timestamp": str(now), "X-CIO-Signature": sign(key, now, body)}
        return is_valid_webhook(body, headers, keys, now=now)

    during = int(clock.now().timestamp()) + 60
    assert ok(OLD, during) and ok(NEW, during)
    after = int(keys.previous_valid_until.timestamp()) + 1
    assert ok(NEW, after) and not ok(OLD, after)

    clock.advance(timedelta(days=2))
    gcp.sweep()
    keys = loader.refresh()
    assert keys.current == NEW and keys.previous_valid_until is None
