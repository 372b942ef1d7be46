"""The official `customerio` package, fed by the loader, against the local Customer.io over HTTP."""

from __future__ import annotations

import json

import pytest
from cio_consumer import (
    UnsafeIdentifier,
    app_loader,
    private_loader,
    track_loader,
)
from cio_consumer.sdk import app_client, private_client, rejected_status, track_client
from customerio import APIClient, CustomerIO, CustomerIOException, SendEmailRequest

from tests.consumer.stores import Ticker, aws_secret, gcp_secret


def private_key(fake, region: str = "us") -> str:
    """A private key the fake accepts as Bearer on the App API."""
    return str(fake.new_private_key(("111",), region).secret)


def test_track_client_rebuilds_itself_when_the_cached_key_is_refused(aws, fake):
    first = fake.new_track_key("111")
    arn, source = aws_secret(aws, json.loads(first.to_json()))
    loader = track_loader(source, monotonic=Ticker())
    cio = track_client(loader, base_url=fake.base_url)
    cio.identify("person-1", email="ada@example.com", plan="pro")
    cio.track("person-1", "signed_up", data={"source": "test"})
    assert fake.identified[-1:] == ["person-1"]
    assert ("person-1", "signed_up") in fake.events
    assert isinstance(cio.current()[1], CustomerIO)

    # The rotator promotes a new key; the old one dies before this process's TTL is up.
    second = fake.new_track_key("111")
    aws.sm.put_secret_value(SecretId=arn, SecretString=second.to_json())
    fake.delete_key(first)
    statuses_before = len(fake.log)
    cio.identify("person-2", plan="team")
    assert fake.identified[-1:] == ["person-2"]
    assert [s for _, s in fake.log[statuses_before:]] == [401, 200]
    assert loader.fetches == 2
    assert cio.rebuilds == 2


def test_a_key_that_is_really_bad_raises_after_one_reload_without_the_key(aws, fake):
    first = fake.new_track_key("111")
    _, source = aws_secret(aws, json.loads(first.to_json()))
    loader = track_loader(source, monotonic=Ticker())
    cio = track_client(loader, base_url=fake.base_url)
    fake.delete_key(first)
    with pytest.raises(CustomerIOException) as refused:
        cio.identify("person-3", plan="pro")
    assert rejected_status(refused.value) == 401
    assert first.secret not in str(refused.value)
    assert loader.fetches == 2  # one reload, then the original error
    assert cio.rebuilds == 1


def test_app_client_on_gcp_follows_a_new_version_after_401(emulator, fake):
    old = fake.new_app_key(("111",), "eu")
    client, source = gcp_secret(emulator, json.loads(old.to_json()))
    loader = app_loader(source, monotonic=Ticker())
    api = app_client(loader, base_url=fake.base_url)
    request = SendEmailRequest(
        transactional_message_id="welcome", to="ada@example.com", identifiers={"id": "p1"}
    )
    assert "delivery_id" in api.send_email(request)
    new = fake.new_app_key(("111",), "eu")
    client.add_secret_version(
        request={"parent": source.name, "payload": {"data": new.to_json().encode()}}
    )
    fake.delete_key(old)
    assert "delivery_id" in api.send_email(request)
    assert fake.emails[-2:] == ["welcome", "welcome"]
    assert loader.fetches == 2
    assert isinstance(api.current()[1], APIClient)


def test_private_client_uses_the_sk_key_as_bearer_and_follows_rotation(aws, fake):
    first = private_key(fake)
    arn, source = aws_secret(aws, {"private_key": first, "region": "us"})
    loader = private_loader(source, monotonic=Ticker())
    api = private_client(loader, base_url=fake.base_url)
    request = SendEmailRequest(transactional_message_id="receipt", identifiers={"id": "p2"})
    api.send_email(request)
    second = private_key(fake)
    aws.sm.put_secret_value(
        SecretId=arn, SecretString=json.dumps({"private_key": second, "region": "us"})
    )
    del fake.app_keys[first]
    api.send_email(request)
    assert fake.emails[-2:] == ["receipt", "receipt"]
    assert loader.fetches == 2 and api.rebuilds == 2


def test_the_client_follows_a_new_key_after_the_loaders_ttl_without_a_401(aws, fake):
    first = fake.new_track_key("111")
    arn, source = aws_secret(aws, json.loads(first.to_json()))
    ticker = Ticker()
    cio = track_client(track_loader(source, ttl=60, monotonic=ticker), base_url=fake.base_url)
    cio.identify("person-4")
    second = fake.new_track_key("111")
    aws.sm.put_secret_value(SecretId=arn, SecretString=second.to_json())
    ticker.now += 61
    before = len(fake.log)
    cio.identify("person-5")
    assert [s for _, s in fake.log[before:]] == [200]
    assert cio.rebuilds == 2


@pytest.mark.parametrize("person_id", [".", "..", "", "a/b", "nul\x00"])
def test_unsafe_person_ids_are_refused_before_any_request(aws, fake, person_id):
    key = fake.new_track_key("111")
    _, source = aws_secret(aws, json.loads(key.to_json()))
    cio = track_client(track_loader(source), base_url=fake.base_url)
    before = len(fake.log)
    for call in (
        lambda: cio.identify(person_id, plan="x"),
        lambda: cio.track(person_id, "event"),
        lambda: cio.suppress(person_id),
        lambda: cio.delete(customer_id=person_id),
    ):
        with pytest.raises(UnsafeIdentifier):
            call()
    assert len(fake.log) == before


def test_the_base_url_can_come_from_the_environment(aws, fake, monkeypatch):
    key = fake.new_track_key("111", "eu")
    _, source = aws_secret(aws, json.loads(key.to_json()))
    monkeypatch.setenv("CUSTOMERIO_TRACK_URL", fake.base_url)
    cio = track_client(track_loader(source))
    cio.identify("person-eu")
    assert fake.log[-1] == ("/eu/api/v1/customers/person-eu", 200)
    assert key.secret not in repr(cio)
