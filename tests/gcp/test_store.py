"""The GCP store and the emulator, through the real client (REST transport)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest
from google.api_core import exceptions as gexc

from localcloud.gcp_harness import PROJECT
from localcloud.secretmanager_emulator import crc32c as reference_crc32c
from rotation import conventions as cv
from rotation.errors import NotManaged, StateConflict
from rotation.state import Phase
from rotation.stores.base import Submission
from rotation.stores.gcp import GcpSecretStore, api_status, build_client, crc32c

PARENT = f"projects/{PROJECT}"


@pytest.fixture
def client(emulator, clock):
    emulator.clock = clock.now
    return build_client(emulator.endpoint)


def make_secret(client, secret_id, **fields):
    return client.create_secret(
        request={
            "parent": PARENT,
            "secret_id": secret_id,
            "secret": {"replication": {"automatic": {}}, **fields},
        }
    )


def add(client, name, data: bytes):
    return client.add_secret_version(
        request={"parent": name, "payload": {"data": data, "data_crc32c": crc32c(data)}}
    )


def test_crc32c_matches_the_castagnoli_check_value():
    assert crc32c(b"123456789") == 0xE3069283
    for data in (b"", b"a", b'{"signing_key":"x"}' * 50):
        assert crc32c(data) == reference_crc32c(data)


def test_versions_are_numbered_and_states_enforced(client):
    name = make_secret(client, "s1").name
    numbers = [add(client, name, f"v{i}".encode()).name.rsplit("/", 1)[1] for i in range(3)]
    assert numbers == ["1", "2", "3"]
    assert client.access_secret_version(name=f"{name}/versions/latest").payload.data == b"v2"
    assert client.access_secret_version(name=f"{name}/versions/1").payload.data == b"v0"
    v2 = client.get_secret_version(name=f"{name}/versions/2")
    client.disable_secret_version(request={"name": v2.name, "etag": v2.etag})
    with pytest.raises(gexc.BadRequest) as err:
        client.access_secret_version(name=f"{name}/versions/2")
    assert api_status(err.value) == "FAILED_PRECONDITION"
    # A stale version etag is refused the same way.
    with pytest.raises(gexc.BadRequest) as err:
        client.enable_secret_version(request={"name": v2.name, "etag": v2.etag})
    assert api_status(err.value) == "FAILED_PRECONDITION"
    v3 = client.get_secret_version(name=f"{name}/versions/3")
    client.destroy_secret_version(request={"name": v3.name, "etag": v3.etag})
    # `latest` is the most recently created version, whatever its state.
    with pytest.raises(gexc.BadRequest) as err:
        client.access_secret_version(name=f"{name}/versions/latest")
    assert "DESTROYED" in str(err.value)
    with pytest.raises(gexc.BadRequest):
        client.enable_secret_version(request={"name": v3.name})
    states = {
        v.name.rsplit("/", 1)[1]: v.state.name
        for v in client.list_secret_versions(request={"parent": name})
    }
    assert states == {"1": "ENABLED", "2": "DISABLED", "3": "DESTROYED"}
    enabled = list(client.list_secret_versions(request={"parent": name, "filter": "state:ENABLED"}))
    assert [v.name.rsplit("/", 1)[1] for v in enabled] == ["1"]
    with pytest.raises(gexc.NotFound):
        client.access_secret_version(name=f"{name}/versions/9")


def test_aliases_annotations_and_etags(client):
    secret = make_secret(client, "s2", annotations={"owner": "platform"})
    name = secret.name
    add(client, name, b"one")
    add(client, name, b"two")
    assert client.get_secret(name=name).etag == secret.etag  # adding versions: same etag
    updated = client.update_secret(
        request={
            "secret": {
                "name": name,
                "etag": secret.etag,
                "version_aliases": {"current": 2, "previous": 1},
                "annotations": {"owner": "platform", "cio-state-phase": "idle"},
            },
            "update_mask": {"paths": ["version_aliases", "annotations"]},
        }
    )
    assert updated.etag != secret.etag
    assert dict(updated.version_aliases) == {"current": 2, "previous": 1}
    assert client.access_secret_version(name=f"{name}/versions/previous").payload.data == b"one"
    assert client.get_secret_version(name=f"{name}/versions/current").name.endswith("/2")
    with pytest.raises(gexc.BadRequest) as err:
        client.update_secret(
            request={
                "secret": {"name": name, "etag": secret.etag, "annotations": {}},
                "update_mask": {"paths": ["annotations"]},
            }
        )
    assert api_status(err.value) == "FAILED_PRECONDITION"
    assert dict(client.get_secret(name=name).annotations)["cio-state-phase"] == "idle"
    for bad in ({"latest": 1}, {"current": 7}, {"1st": 1}):
        with pytest.raises(gexc.BadRequest):
            client.update_secret(
                request={
                    "secret": {"name": name, "version_aliases": bad},
                    "update_mask": {"paths": ["version_aliases"]},
                }
            )
    with pytest.raises(gexc.BadRequest):
        client.update_secret(
            request={
                "secret": {"name": name, "labels": {"cio-rotation:managed": "true"}},
                "update_mask": {"paths": ["labels"]},
            }
        )
    with pytest.raises(gexc.NotFound):
        client.access_secret_version(name=f"{name}/versions/nosuchalias")


def test_missing_duplicate_and_checksum(client):
    with pytest.raises(gexc.NotFound):
        client.get_secret(name=f"{PARENT}/secrets/nope")
    make_secret(client, "s3")
    with pytest.raises(gexc.Conflict) as dup:
        make_secret(client, "s3")
    assert api_status(dup.value) == "ALREADY_EXISTS"
    with pytest.raises(gexc.BadRequest) as err:
        client.add_secret_version(
            request={
                "parent": f"{PARENT}/secrets/s3",
                "payload": {"data": b"abc", "data_crc32c": crc32c(b"abd")},
            }
        )
    assert api_status(err.value) == "INVALID_ARGUMENT"
    got = add(client, f"{PARENT}/secrets/s3", b"abc")
    access = client.access_secret_version(name=got.name)
    assert access.payload.data_crc32c == crc32c(b"abc")


def test_store_state_round_trip_and_compare_and_swap(gcp):
    live = gcp.provision("marketing-track", "track", "us", workspace="111")
    store = gcp.rt.store
    snap = store.snapshot(live)
    assert snap.config.kind.value == "track" and snap.config.workspace == "111"
    assert snap.current_version is None and snap.pending_version is None
    new = replace(snap.state, phase=Phase.AWAITING_KEY, rotation_id="r1", reason="why: now")
    revision = store.save_state(live, new, snap.revision)
    assert revision != snap.revision
    assert store.snapshot(live).state == new
    annotations = dict(gcp.client.get_secret(name=live).annotations)
    assert annotations[cv.GCP_ANNOTATION_INBOX].endswith("marketing-track-inbox")
    assert all(len(k) <= 63 for k in annotations)
    with pytest.raises(StateConflict):
        store.save_state(live, snap.state, snap.revision)  # stale: never overwrites
    assert store.snapshot(live).state == new
    with pytest.raises(NotManaged):
        store.snapshot(f"{PARENT}/secrets/marketing-track-inbox")
    with pytest.raises(NotManaged):
        store.snapshot(f"{PARENT}/secrets/missing")


def test_server_side_etag_check_raises_state_conflict(gcp, monkeypatch):
    live = gcp.provision("app-key", "app", "eu")
    store = gcp.rt.store
    snap = store.snapshot(live)
    stale = gcp.client.get_secret(name=live)
    store.save_state(live, replace(snap.state, reason="first"), snap.revision)
    # The read-before-write looks fine (a racing writer lands between read and write):
    monkeypatch.setattr(store, "_get", lambda name: stale)
    with pytest.raises(StateConflict):
        store.save_state(live, replace(snap.state, reason="second"), snap.revision)
    monkeypatch.undo()
    assert store.snapshot(live).state.reason == "first"


def test_promote_is_idempotent_and_its_record_moves_aliases_and_rotation_time(gcp, clock):
    live = gcp.provision("hook", "webhook_signing")
    store: GcpSecretStore = gcp.rt.store
    first = b'{"signing_key":"aaaaaaaaaaaa"}'
    assert store.promote(live, first, None, None) == "1"
    assert store.promote(live, first, None, None) == "1"  # a retry never adds twice
    clock.advance(timedelta(days=3))
    second = b'{"signing_key":"bbbbbbbbbbbb"}'
    with pytest.raises(StateConflict):
        store.promote(live, second, None, None)  # someone promoted since we read
    assert store.promote(live, second, None, "1") == "2"
    # Adding the version is the promotion; the state write that records it moves the
    # aliases and the native rotation time, in one etag-checked update.
    snap = store.snapshot(live)
    recorded = replace(snap.state, current_version="2", previous_version="1")
    store.save_state(live, recorded, snap.revision)
    secret = gcp.client.get_secret(name=live)
    assert dict(secret.version_aliases) == {"current": 2, "previous": 1}
    assert secret.rotation.next_rotation_time == clock.now() + timedelta(days=90)
    snap = store.snapshot(live)
    assert (snap.current_version, snap.previous_version) == ("2", "1")
    assert store.read_value(live, "1") == first
    assert store.read_value(live, "7") is None


def test_submissions_newest_enabled_and_destroyed_when_consumed(gcp):
    live = gcp.provision("hook", "webhook_signing")
    store = gcp.rt.store
    assert store.read_submission(live) is None
    store.write_submission(live, b"old")
    store.write_submission(live, b"new")
    sub = store.read_submission(live)
    assert sub == Submission(version="2", raw=b"new")
    assert "new" not in repr(sub)
    store.consume_submission(live, sub, "rejected")
    store.consume_submission(live, sub, "rejected")  # twice: harmless
    assert store.read_submission(live) is None
    inbox = store.inbox_id(live)
    states = {v.state.name for v in gcp.client.list_secret_versions(request={"parent": inbox})}
    assert states == {"DESTROYED"}
    assert store.live_secret_of(inbox) == live
    assert store.live_secret_of(live) is None


def test_emulator_publishes_secret_manager_events(gcp):
    live = gcp.provision("hook", "webhook_signing")
    gcp.rt.store.write_submission(live, b"x")
    message = gcp.emulator.published[-1]["message"]
    attrs = message["attributes"]
    assert attrs["eventType"] == "SECRET_VERSION_ADD"
    assert attrs["secretId"].endswith("/secrets/cio-hook-inbox")  # the program's inbox id
    assert attrs["dataFormat"] == "JSON_API_V1"
    assert "versionId" in attrs and "timestamp" in attrs
    assert "payload" not in json.dumps(message)


def test_two_concurrent_promotions_add_one_version(gcp, clock):
    """Two invocations decided on the same snapshot: the etag-checked claim lets one add."""
    live = gcp.provision("hook", "webhook_signing")
    first = b'{"signing_key":"aaaaaaaaaaaa"}'
    GcpSecretStore(gcp.client, clock).promote(live, first, None, None)
    a = GcpSecretStore(build_client(gcp.emulator.endpoint), clock)
    b = GcpSecretStore(build_client(gcp.emulator.endpoint), clock)
    with a.session(), b.session():
        assert a.snapshot(live).current_version == b.snapshot(live).current_version == "1"
        assert a.promote(live, b'{"signing_key":"bbbbbbbbbbbb"}', None, "1") == "2"
        with pytest.raises(StateConflict):
            b.promote(live, b'{"signing_key":"cccccccccccc"}', None, "1")
    versions = gcp.client.list_secret_versions(request={"parent": live})
    assert sorted(v.name.rsplit("/", 1)[1] for v in versions) == ["1", "2"]


def test_a_claim_left_by_a_crash_expires(gcp, clock):
    live = gcp.provision("hook", "webhook_signing")
    store = GcpSecretStore(gcp.client, clock)
    store.promote(live, b'{"signing_key":"aaaaaaaaaaaa"}', None, None)
    with store.session():
        store.snapshot(live)
        store._claim_promotion(live, b'{"signing_key":"dddddddddddd"}')  # then the crash
    other = GcpSecretStore(gcp.client, clock)
    with other.session(), pytest.raises(StateConflict):
        other.snapshot(live)
        other.promote(live, b'{"signing_key":"eeeeeeeeeeee"}', None, "1")
    clock.advance(timedelta(minutes=6))
    later = GcpSecretStore(gcp.client, clock)
    with later.session():
        later.snapshot(live)
        assert later.promote(live, b'{"signing_key":"eeeeeeeeeeee"}', None, "1") == "2"
