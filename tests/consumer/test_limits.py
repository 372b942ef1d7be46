"""Bounded staleness, retired credentials, the private kind and unsafe identifiers."""

from __future__ import annotations

import json

import pytest
from cio_consumer import (
    CredentialRetired,
    CredentialStale,
    CredentialUnavailable,
    UnsafeIdentifier,
    app_loader,
    private_loader,
    track_loader,
    webhook_keys_loader,
)
from cio_consumer.credentials import TrackCredentials
from cio_consumer.erasure import FAILED, SUPPRESSED, Eraser, StaticCredentials
from cio_consumer.identifiers import MAX_IDENTIFIER_BYTES, unsafe_reason
from hypothesis import given
from hypothesis import strategies as st

from tests.consumer.stores import Ticker, aws_secret, gcp_secret


def test_the_cache_is_served_for_max_stale_past_its_ttl_then_a_clear_error(aws):
    arn, source = aws_secret(aws, {"app_api_key": "app-key-1234567890", "region": "us"})
    ticker = Ticker()
    loader = app_loader(source, ttl=60, max_stale=600, monotonic=ticker)
    assert loader.get().app_api_key == "app-key-1234567890"
    aws.sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)  # store unreadable
    ticker.now += 61
    assert loader.get().app_api_key == "app-key-1234567890"  # served stale, with a warning
    ticker.now += 598  # 659 s after the read: still inside ttl + max_stale
    assert loader.get().app_api_key == "app-key-1234567890"
    ticker.now += 1  # 660 s: past it
    with pytest.raises(CredentialStale) as stale:
        loader.get()
    assert "max_stale" in str(stale.value)
    assert "app-key" not in str(stale.value)
    assert isinstance(stale.value, CredentialUnavailable)
    with pytest.raises(CredentialStale):
        loader.get()  # and again: never the stale value


def test_max_stale_none_serves_the_cache_without_limit(aws):
    arn, source = aws_secret(aws, {"app_api_key": "app-key-1234567890", "region": "us"})
    ticker = Ticker()
    loader = app_loader(source, ttl=60, max_stale=None, monotonic=ticker)
    loader.get()
    aws.sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    ticker.now += 10 * 86400
    assert loader.get().app_api_key == "app-key-1234567890"
    with pytest.raises(ValueError, match="max_stale"):
        app_loader(source, max_stale=-1)


def test_a_secret_scheduled_for_deletion_is_retired_even_with_a_cached_value(aws):
    arn, source = aws_secret(aws, {"app_api_key": "app-key-1234567890", "region": "us"})
    ticker = Ticker()
    loader = app_loader(source, ttl=60, monotonic=ticker)
    loader.get()
    aws.sm.delete_secret(SecretId=arn, RecoveryWindowInDays=7)
    ticker.now += 61
    with pytest.raises(CredentialRetired, match="retired"):
        loader.get()
    with pytest.raises(CredentialRetired):
        source.current_version()


def test_a_retirement_tombstone_is_a_clear_error_on_both_clouds(aws, emulator):
    _, aws_source = aws_secret(aws, {"retired": "2026-11-24T00:00:00Z", "successor": "x"})
    with pytest.raises(CredentialRetired, match="switch this application"):
        track_loader(aws_source).get()
    _, gcp_source = gcp_secret(emulator, {"retired": "2026-11-24T00:00:00Z"})
    with pytest.raises(CredentialRetired):
        private_loader(gcp_source).get()


def test_a_disabled_latest_version_on_gcp_is_retired(emulator):
    client, source = gcp_secret(emulator, {"app_api_key": "app-key-1234567890", "region": "eu"})
    ticker = Ticker()
    loader = app_loader(source, ttl=60, monotonic=ticker)
    assert loader.get().region == "eu"
    client.disable_secret_version(request={"name": f"{source.name}/versions/1"})
    ticker.now += 61
    with pytest.raises(CredentialRetired):
        loader.get()


def test_all_four_kinds_are_read(aws, emulator):
    _, track = aws_secret(aws, {"site_id": "site1", "api_key": "trk-123456789", "region": "us"})
    _, app = aws_secret(aws, {"app_api_key": "app-123456789", "region": "eu"})
    _, hooks = aws_secret(aws, {"signing_key": "whk-123456789"})
    _, private = gcp_secret(emulator, {"private_key": "sk_1234567890abcdef", "region": "eu"})
    assert track_loader(track).get().basic_auth == ("site1", "trk-123456789")
    assert app_loader(app).get().host == "https://api-eu.customer.io"
    assert webhook_keys_loader(hooks).get().current == "whk-123456789"
    creds = private_loader(private).get()
    assert creds.bearer == "Bearer sk_1234567890abcdef"
    assert creds.host == "https://api-eu.customer.io"
    assert "sk_1234567890abcdef" not in repr(creds)


@pytest.mark.parametrize(
    ("key", "message"),
    [("pk_1234567890abcdef", "public key"), ("1234567890abcdef", "not an sk_ key")],
)
def test_the_private_kind_refuses_anything_but_an_sk_key(aws, key, message):
    _, source = aws_secret(aws, {"private_key": key, "region": "us"})
    with pytest.raises(CredentialUnavailable, match=message) as refused:
        private_loader(source).get()
    assert key not in str(refused.value)


UNSAFE = [".", "..", "", "   ", "a/b", "../suppress", "a\\b", "tab\there", "nul\x00", " pad"]


@pytest.mark.parametrize("person_id", [*UNSAFE, "x" * (MAX_IDENTIFIER_BYTES + 1), "é" * 76])
def test_unsafe_identifiers_are_refused_before_any_request(fake, tmp_path, person_id):
    key = fake.new_track_key("111")
    creds = StaticCredentials(TrackCredentials(key.site_id or "", key.secret, "us"))
    eraser = Eraser(creds, base_url=fake.base_url, audit=tmp_path / "audit.jsonl")
    requests_before = len(fake.log)
    with pytest.raises(UnsafeIdentifier) as refused:
        eraser.suppress(person_id)
    assert isinstance(refused.value, ValueError)
    if len(person_id.strip()) > 2:
        assert person_id not in str(refused.value)
    assert len(fake.log) == requests_before


def test_bulk_records_unsafe_identifiers_as_failed_and_goes_on(fake, tmp_path):
    key = fake.new_track_key("111")
    creds = StaticCredentials(TrackCredentials(key.site_id or "", key.secret, "us"))
    eraser = Eraser(creds, base_url=fake.base_url, audit=tmp_path / "audit.jsonl")
    summary = eraser.bulk_suppress(["..", "person-1", ".", "person-2"], journal=tmp_path / "j")
    assert summary.suppressed == 2 and summary.failed == 2
    assert summary.failed_ids == ["..", "."]
    assert fake.suppressed == ["person-1", "person-2"]
    audit = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    outcomes = [(r["person_id"], r["outcome"], r["attempts"]) for r in audit]
    assert outcomes == [
        ("..", FAILED, 0),
        ("person-1", SUPPRESSED, 1),
        (".", FAILED, 0),
        ("person-2", SUPPRESSED, 1),
    ]


@given(st.text(max_size=40))
def test_what_is_accepted_survives_the_url_path_unchanged(person_id):
    from urllib.parse import quote, unquote

    if unsafe_reason(person_id) is None:
        segment = quote(person_id, safe="")
        assert segment not in (".", "..") and "/" not in segment
        assert unquote(segment) == person_id
