import threading
import time
import warnings
from datetime import timedelta

import pytest
import requests
from cio_consumer import (
    AwsSecretsManagerSource,
    CredentialLoader,
    CredentialUnavailable,
    GcpSecretManagerSource,
    TrackCredentials,
    TtlTooLongWarning,
    track_loader,
    webhook_keys_loader,
)
from cio_consumer.erasure import Eraser
from cio_consumer.loader import check_ttl
from cio_consumer.sources import SecretSnapshot
from google.cloud import secretmanager

from rotation.credentials import Credential, Kind
from tests.consumer.stores import Ticker


def _source(aws, name):
    return AwsSecretsManagerSource(aws.secrets[name], client=aws.sm)


def test_loader_picks_up_a_promoted_key_when_the_old_one_is_rejected(aws, fake, clock):
    aws.provision("marketing-track", "track", "us", workspace="111")
    first = fake.new_track_key("111")
    assert aws.submit("marketing-track", first)["outcome"] == "submitted"
    ticker = Ticker()
    loader = track_loader(_source(aws, "marketing-track"), monotonic=ticker)
    assert loader.get().api_key == first.secret

    clock.advance(timedelta(days=77))
    aws.sweep()
    second = fake.new_track_key("111")
    aws.submit("marketing-track", second)
    assert aws.current_value("marketing-track")["api_key"] == second.secret

    # Within the TTL the loader still serves the old key (cheap, and still valid in grace).
    assert loader.get().api_key == first.secret
    # The old key dies early (deleted before the grace period ended, or revoke-first):
    fake.delete_key(first)
    eraser = Eraser(loader, base_url=fake.base_url, sleep=lambda s: None)
    result = eraser.suppress("person-after-promotion")
    assert result.outcome == "suppressed"
    assert loader.get().api_key == second.secret
    assert loader.get().site_id == second.site_id
    assert fake.suppressed == ["person-after-promotion"]
    assert loader.fetches == 2


def test_loader_reads_a_directly_submitted_key_after_ttl(aws, fake):
    aws.provision("direct-track", "track", "us", workspace="111")
    first = fake.new_track_key("111")
    aws.submit("direct-track", first)
    ticker = Ticker()
    loader = track_loader(_source(aws, "direct-track"), ttl=60, monotonic=ticker)
    assert loader.get().api_key == first.secret
    second = fake.new_track_key("111")
    aws.submit("direct-track", second)
    assert aws.current_value("direct-track")["api_key"] == second.secret
    ticker.now += 59
    assert loader.get().api_key == first.secret
    ticker.now += 2
    assert loader.get().api_key == second.secret


def test_call_reloads_once_on_401_and_retries(aws, fake):
    aws.provision("call-track", "track", "us", workspace="111")
    first = fake.new_track_key("111")
    aws.submit("call-track", first)
    loader = track_loader(_source(aws, "call-track"), monotonic=Ticker())
    loader.get()
    second = fake.new_track_key("111")
    aws.submit("call-track", second)
    fake.delete_key(first)
    url = fake.base_url.replace("{region}", "us") + "/api/v1/customers/someone/suppress"
    used: list[str] = []

    def suppress(creds: TrackCredentials) -> requests.Response:
        used.append(creds.fingerprint)
        return requests.post(url, auth=creds.basic_auth, timeout=5)

    response = loader.call(suppress)
    assert response.status_code == 200
    assert used == [first.fingerprint, second.fingerprint]


def test_a_really_bad_key_is_not_reloaded_on_every_rejection(aws, fake):
    aws.provision("bad-track", "track", "us", workspace="111")
    first = fake.new_track_key("111")
    aws.submit("bad-track", first)
    ticker = Ticker()
    loader = track_loader(_source(aws, "bad-track"), monotonic=ticker)
    cred = loader.get()
    for _ in range(5):
        assert loader.refresh_on_reject(cred) == cred
    assert loader.fetches == 2  # first load + one reload for the burst
    ticker.now += 10
    loader.refresh_on_reject(cred)
    assert loader.fetches == 3


class CountingSource:
    description = "counting source"

    def __init__(self) -> None:
        self.version = 1
        self.calls = 0
        self.lock = threading.Lock()
        self.fail = False

    def fetch(self, include_previous: bool = False) -> SecretSnapshot:
        with self.lock:
            self.calls += 1
        time.sleep(0.05)  # a slow secret store makes races visible
        if self.fail:
            raise CredentialUnavailable("store down")
        doc = f'{{"site_id":"site{self.version}xxxx","api_key":"key{self.version}xxxxxx","region":"us"}}'
        return SecretSnapshot(doc.encode(), f"v{self.version}")


def test_many_threads_rejected_together_cause_one_reload():
    source = CountingSource()
    loader = track_loader(source, monotonic=Ticker())
    old = loader.get()
    source.version = 2
    barrier = threading.Barrier(16)
    seen: list[str] = []

    def worker() -> None:
        barrier.wait()
        seen.append(loader.refresh_on_reject(old).api_key)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert source.calls == 2
    assert set(seen) == {"key2xxxxxx"}


def test_expired_cache_is_refreshed_by_one_thread():
    source = CountingSource()
    ticker = Ticker()
    loader = track_loader(source, ttl=30, monotonic=ticker)
    loader.get()
    ticker.now += 31
    barrier = threading.Barrier(12)

    def worker() -> None:
        barrier.wait()
        loader.get()

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert source.calls == 2


def test_a_failing_store_keeps_the_cached_key_and_retries_soon(caplog):
    source = CountingSource()
    ticker = Ticker()
    loader = track_loader(source, ttl=30, monotonic=ticker)
    first = loader.get()
    source.fail = True
    ticker.now += 31
    assert loader.get() == first
    assert "keeping the cached credential" in caplog.text
    assert "key1xxxxxx" not in caplog.text
    source.fail = False
    source.version = 2
    ticker.now += 6
    assert loader.get().api_key == "key2xxxxxx"


def test_no_cached_key_and_no_store_raises():
    source = CountingSource()
    source.fail = True
    with pytest.raises(CredentialUnavailable):
        track_loader(source).get()


def test_missing_secret_names_the_fix_not_a_value(aws):
    aws.provision("empty-track", "track", "us")
    loader = track_loader(_source(aws, "empty-track"))
    with pytest.raises(CredentialUnavailable, match="consumer policy"):
        loader.get()


def test_ttl_must_be_well_under_the_emergency_grace():
    with pytest.raises(ValueError, match="emergency grace"):
        check_ttl(900, 900)
    with pytest.warns(TtlTooLongWarning):
        check_ttl(600, 900)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_ttl(300, 900)
        track_loader(CountingSource(), ttl=60, emergency_grace=300)
    with pytest.raises(ValueError):
        track_loader(CountingSource(), ttl=3600)


def test_credentials_never_print_their_key():
    source = CountingSource()
    cred = track_loader(source).get()
    assert "key1xxxxxx" not in repr(cred) and "key1xxxxxx" not in str(cred)
    assert cred.fingerprint in repr(cred)


class StubSecretManager:
    """The calls GcpSecretManagerSource makes, answered with the real client's types."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.versions: list[bytes] = []
        self.aliases: dict[str, int] = {}
        self.annotations: dict[str, str] = {}

    def add(self, payload: bytes) -> None:
        self.versions.append(payload)

    def access_secret_version(self, name: str) -> secretmanager.AccessSecretVersionResponse:
        ref = name.rsplit("/", 1)[1]
        number = len(self.versions) if ref == "latest" else self.aliases.get(ref, 0)
        if not number:
            raise KeyError(ref)
        return secretmanager.AccessSecretVersionResponse(
            name=f"{self.name}/versions/{number}",
            payload=secretmanager.SecretPayload(data=self.versions[number - 1]),
        )

    def get_secret(self, name: str) -> secretmanager.Secret:
        return secretmanager.Secret(name=name, annotations=self.annotations)


def test_gcp_source_reads_latest_and_the_previous_key_in_grace():
    name = "projects/demo/secrets/cio-hooks"
    stub = StubSecretManager(name)
    stub.add(b'{"signing_key":"old-signing-key-0001"}')
    ticker = Ticker()
    loader = webhook_keys_loader(GcpSecretManagerSource(name, client=stub), monotonic=ticker)
    keys = loader.get()
    assert keys.current == "old-signing-key-0001"
    assert keys.previous is None

    stub.add(b'{"signing_key":"new-signing-key-0002"}')
    stub.aliases = {"current": 2, "previous": 1}
    stub.annotations = {"cio-state-grace-until": "2026-03-03T09:00:00Z"}
    keys = loader.refresh()
    assert keys.current == "new-signing-key-0002"
    assert keys.previous == "old-signing-key-0001"
    assert keys.previous_valid_until is not None
    assert keys.previous_valid_until.isoformat() == "2026-03-03T09:00:00+00:00"

    stub.annotations = {}
    assert loader.refresh().previous is None


def test_gcp_track_loader_reads_versions_latest():
    name = "projects/demo/secrets/cio-track"
    stub = StubSecretManager(name)
    stub.add(b'{"site_id":"site-aaaa","api_key":"key-aaaaaaaa","region":"eu"}')
    loader: CredentialLoader[TrackCredentials] = track_loader(
        GcpSecretManagerSource(name, client=stub)
    )
    cred = loader.get()
    assert cred.basic_auth == ("site-aaaa", "key-aaaaaaaa")
    assert cred.host == "https://track-eu.customer.io"


def test_webhook_loader_on_aws_reads_previous_only_during_grace(aws, clock):
    aws.provision("hooks", "webhook_signing")
    aws.submit("hooks", Credential(Kind.WEBHOOK_SIGNING, "old-signing-key-aaaa"))
    loader = webhook_keys_loader(_source(aws, "hooks"), monotonic=Ticker())
    assert loader.get().previous is None
    aws.submit("hooks", Credential(Kind.WEBHOOK_SIGNING, "new-signing-key-bbbb"))
    keys = loader.refresh()
    assert (keys.current, keys.previous) == ("new-signing-key-bbbb", "old-signing-key-aaaa")
    assert keys.previous_valid_until == clock.now() + timedelta(hours=24)
    clock.advance(timedelta(days=2))
    aws.sweep()
    keys = loader.refresh()
    assert keys.current == "new-signing-key-bbbb"
    assert keys.previous is None
    assert keys.previous_valid_until is None
