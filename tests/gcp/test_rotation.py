"""Whole rotations on GCP: the function under functions-framework, Secret Manager emulated."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from rotation.credentials import Credential, Kind, Region
from rotation.notify import FanOut
from rotation.notify_gcp import StructuredLogNotifier
from rotation.policy import next_due
from rotation.state import Mode, Phase

NAME = "marketing-track"


def bootstrap(gcp, cio, workspace="111", kind="track", region="us"):
    gcp.provision(NAME, kind, region, workspace=workspace)
    key = (
        cio.new_track_key(workspace, region)
        if kind == "track"
        else cio.new_app_key((workspace,), region)
    )
    gcp.submit(NAME, key)
    assert gcp.current_value(NAME) == json.loads(key.to_json())
    return key


def test_scheduled_rotation_end_to_end(gcp, cio, clock):
    first = bootstrap(gcp, cio)
    assert gcp.notices() == ["promoted"]  # bootstrap closes at once
    clock.advance(timedelta(days=77))
    gcp.sweep()
    state = gcp.state(NAME)
    assert state.phase is Phase.AWAITING_KEY and state.mode is Mode.SCHEDULED
    assert gcp.notices()[-1] == "opened"
    opened = gcp.notifier.sent[-1]
    assert "cio-rotate submit marketing-track" in opened.body

    wrong = cio.new_track_key("222")
    gcp.submit(NAME, wrong)
    assert gcp.current_value(NAME)["api_key"] == first.secret
    assert gcp.notices()[-1].startswith("rejected.")
    assert gcp.state(NAME).rejection == "wrong_workspace"

    good = cio.new_track_key("111")
    gcp.submit(NAME, good)
    assert gcp.current_value(NAME)["api_key"] == good.secret
    state = gcp.state(NAME)
    assert state.phase is Phase.PROMOTED and gcp.notices()[-1] == "promoted"
    assert (state.current_version, state.previous_version) == ("2", "1")
    secret = gcp.client.get_secret(name=gcp.secrets[NAME])
    assert dict(secret.version_aliases) == {"current": 2, "previous": 1}
    # The secret's timer is the credential's wake-up: the drain's first check, at the end of
    # the quiet period (rotation/drain.py); the grace period's end is the maximum, when
    # "delete the old key now" is owed at the latest (the 90-day calendar comes back when
    # it closes).
    assert state.drain_waits and state.grace_until == clock.now() + timedelta(hours=24)
    assert secret.rotation.next_rotation_time == clock.now() + timedelta(minutes=15)
    assert gcp.rt.store.read_submission(gcp.secrets[NAME]) is None  # inbox copy destroyed

    clock.advance(timedelta(hours=2))
    gcp.sweep()  # grace period: nothing to tell
    assert gcp.notices()[-1] == "promoted"
    clock.advance(timedelta(hours=23))
    gcp.sweep()  # grace over, old key still alive
    assert gcp.notices()[-1] == "revoke_now"
    clock.advance(timedelta(days=3))
    gcp.sweep()
    assert gcp.notices()[-1].startswith("revoke_reminder")
    cio.delete_key(first)
    clock.advance(timedelta(days=1))
    gcp.sweep()
    state = gcp.state(NAME)
    assert state.phase is Phase.IDLE and state.previous_revoked
    assert gcp.notices()[-1] == "closed"
    assert len(gcp.notices()) == len(set(n.id for n in gcp.notifier.sent))
    assert all(status == 200 for _, status in gcp.statuses)


def test_native_rotation_event_opens_and_duplicates_are_harmless(gcp, cio, clock):
    bootstrap(gcp, cio)
    clock.advance(timedelta(days=90))
    fired = gcp.fire_rotations()
    assert ("SECRET_ROTATE", 200) in fired
    assert gcp.state(NAME).phase is Phase.AWAITING_KEY
    rotate = next(
        e["message"]
        for e in gcp.emulator.published
        if e["message"]["attributes"]["eventType"] == "SECRET_ROTATE"
    )
    assert gcp.deliver(rotate) == 200  # delivered twice
    assert gcp.notices().count("opened") == 1


def test_emergency_with_revoke_first(gcp, cio, clock):
    first = bootstrap(gcp, cio)
    clock.advance(timedelta(days=10))
    assert gcp.emergency(NAME, "key leaked in a CI log", revoke_first=True) == 200
    state = gcp.state(NAME)
    assert state.mode is Mode.EMERGENCY and state.revoke_first
    assert gcp.notifier.sent[-1].urgency == "urgent"
    assert gcp.emergency(NAME, "again") == 200  # never a second rotation
    assert gcp.state(NAME).rotation_id == state.rotation_id
    cio.delete_key(first)  # contain the leak first
    good = cio.new_track_key("111")
    gcp.submit(NAME, good)
    assert gcp.current_value(NAME)["api_key"] == good.secret
    clock.advance(timedelta(minutes=1))
    gcp.sweep()
    assert gcp.state(NAME).phase is Phase.IDLE
    assert gcp.notices()[-1] == "closed"


@pytest.mark.parametrize(
    "case",
    ["bad_track_400", "bad_app_401", "wrong_workspace", "wrong_region", "same", "malformed"],
)
def test_rejections_keep_current(gcp, cio, clock, case):
    kind = "app" if case == "bad_app_401" else "track"
    first = bootstrap(gcp, cio, kind=kind)
    clock.advance(timedelta(days=77))
    gcp.sweep()
    if case == "bad_track_400":
        submitted: Credential | str = Credential(Kind.TRACK, "f" * 20, Region.US, "e" * 20)
        reason = "unauthorized"
    elif case == "bad_app_401":
        submitted = Credential(Kind.APP, "0" * 32, Region.US)
        reason = "unauthorized_or_wrong_region"
    elif case == "wrong_workspace":
        submitted = cio.new_track_key("999")
        reason = "wrong_workspace"
    elif case == "wrong_region":
        eu = cio.new_track_key("111", "eu")  # the key's workspace is in the EU
        submitted = Credential(Kind.TRACK, eu.secret, Region.US, eu.site_id)
        reason = "wrong_region"
    elif case == "same":
        submitted = first
        reason = "same_as_current"
    else:
        submitted = '{"site_id": "abc"}'
        reason = "malformed"
    out = gcp.submit(NAME, submitted)
    assert ("SECRET_VERSION_ADD", 200) in out  # refused: acknowledged, never retried
    assert gcp.current_value(NAME) == json.loads(first.to_json())
    state = gcp.state(NAME)
    assert state.phase is Phase.AWAITING_KEY and state.rejection == reason
    assert gcp.notices()[-1].startswith("rejected.")
    assert gcp.rt.store.read_submission(gcp.secrets[NAME]) is None
    gcp.pump()
    assert gcp.notices().count(gcp.notices()[-1]) == 1


@pytest.mark.parametrize("fault", ["503", "slow"])
def test_customerio_down_is_inconclusive_and_retried(gcp, cio, clock, fault):
    first = bootstrap(gcp, cio)
    clock.advance(timedelta(days=77))
    gcp.sweep()
    good = cio.new_track_key("111")
    if fault == "503":
        cio.fail_next(503, times=4)
    else:
        cio.slow_next(0.8, times=4)
    out = gcp.submit(NAME, good)
    assert ("SECRET_VERSION_ADD", 500) in out  # raised: Pub/Sub redelivers
    assert gcp.current_value(NAME)["api_key"] == first.secret
    assert gcp.state(NAME).inconclusive == "unavailable"
    assert gcp.rt.store.read_submission(gcp.secrets[NAME]) is not None  # kept for the retry
    cio.faults.clear()
    assert gcp.redeliver() == [200]
    assert gcp.current_value(NAME)["api_key"] == good.secret


def test_rate_limited_then_success(gcp, cio, clock):
    bootstrap(gcp, cio)
    clock.advance(timedelta(days=77))
    gcp.sweep()
    good = cio.new_track_key("111")
    cio.fail_next(429, times=2, retry_after="0")
    assert ("SECRET_VERSION_ADD", 200) in gcp.submit(NAME, good)
    assert gcp.current_value(NAME)["api_key"] == good.secret


def test_no_secret_in_any_output(gcp, cio, clock, logs, capsys):
    gcp.provision(NAME, "track", "us", workspace="111")  # the function exists once deployed
    # Notices also go out as structured log lines on stdout, as on Cloud Functions.
    gcp.rt.engine.notifier = FanOut([gcp.notifier, StructuredLogNotifier()])
    keys = []
    first = bootstrap(gcp, cio)
    keys.append(first)
    clock.advance(timedelta(days=77))
    gcp.sweep()
    for cred in (cio.new_track_key("222"), Credential(Kind.TRACK, "g" * 24, Region.US, "h" * 20)):
        keys.append(cred)
        gcp.submit(NAME, cred)
    good = cio.new_track_key("111")
    keys.append(good)
    cio.fail_next(503, times=4)
    gcp.submit(NAME, good)
    cio.faults.clear()
    gcp.redeliver()
    gcp.emergency(NAME, "drill")
    clock.advance(timedelta(days=2))
    gcp.sweep()
    outputs = list(logs.lines)
    outputs += [f"{n.subject}\n{n.body}" for n in gcp.notifier.sent]
    for secret in gcp.emulator.secrets.values():
        outputs += [json.dumps(secret.annotations), json.dumps(secret.labels)]
    for entry in gcp.emulator.published:
        outputs.append(json.dumps(entry))
    stdout = capsys.readouterr().out
    assert '"severity"' in stdout
    outputs.append(stdout)
    outputs += gcp.errors  # exception messages the function answered with
    text = "\n".join(outputs)
    assert gcp.notifier.sent and logs.lines and gcp.errors
    for cred in keys:
        assert cred.secret not in text
        assert cred.to_json() not in text


def test_rollback_through_the_function(gcp, cio, clock):
    first = bootstrap(gcp, cio)
    clock.advance(timedelta(days=77))
    gcp.sweep()
    good = cio.new_track_key("111")
    gcp.submit(NAME, good)
    live = gcp.secrets[NAME]
    assert gcp.action({"action": "rollback", "secret_id": live, "actor": "alice"}) == 200
    assert gcp.current_value(NAME)["api_key"] == first.secret  # latest is the old key again
    state = gcp.state(NAME)
    assert state.phase is Phase.AWAITING_KEY and state.current_version == "3"
    secret = gcp.client.get_secret(name=live)
    assert dict(secret.version_aliases) == {"current": 3, "previous": 2}
    # Once the old key is dead, there is nothing to roll back to.
    newer = cio.new_track_key("111")
    gcp.submit(NAME, newer)
    cio.delete_key(first)
    clock.advance(timedelta(days=2))
    gcp.sweep()
    assert gcp.state(NAME).previous_revoked
    assert gcp.action({"action": "rollback", "secret_id": live}) == 200
    assert gcp.current_value(NAME)["api_key"] == newer.secret


def test_repeated_refusal_gets_a_new_notification_id(gcp, cio, clock):
    bootstrap(gcp, cio)
    clock.advance(timedelta(days=77))
    gcp.sweep()
    wrong = cio.new_track_key("222")
    gcp.submit(NAME, wrong)
    gcp.submit(NAME, '{"site_id": 1}')
    gcp.submit(NAME, wrong)
    ids = [n.id for n in gcp.notifier.sent if n.notice.startswith("rejected.")]
    assert len(ids) == 3
    assert len(set(ids)) == 3


def test_emergency_during_grace_tells_to_delete_now_under_a_new_id(gcp, cio, clock):
    bootstrap(gcp, cio)
    clock.advance(timedelta(days=77))
    gcp.sweep()
    gcp.submit(NAME, cio.new_track_key("111"))
    clock.advance(timedelta(days=2))
    gcp.sweep()
    assert gcp.notices()[-1] == "revoke_now"
    gcp.emergency(NAME, "old key leaked")
    urgent = [n for n in gcp.notifier.sent if n.notice == "emergency_queued"]
    assert len(urgent) == 1 and urgent[0].urgency == "urgent"
    assert "delete it now" in urgent[0].body
    ids = [n.id for n in gcp.notifier.sent]
    assert len(ids) == len(set(ids))


def test_reminders_after_an_upgrade_get_new_ids(gcp, cio, clock):
    bootstrap(gcp, cio)
    clock.advance(timedelta(days=10))
    gcp.emergency(NAME, "suspected leak")
    clock.advance(timedelta(hours=1))
    gcp.sweep()
    gcp.emergency(NAME, "confirmed leak", revoke_first=True)
    clock.advance(timedelta(hours=1))
    gcp.sweep()
    reminders = [n.id for n in gcp.notifier.sent if n.notice.startswith("reminder.")]
    assert len(reminders) == 2
    assert len(set(reminders)) == 2


def test_crash_between_adding_and_moving_aliases_is_repaired(gcp, cio, clock, monkeypatch):
    first = bootstrap(gcp, cio)
    clock.advance(timedelta(days=77))
    gcp.sweep()
    good = cio.new_track_key("111")
    store = gcp.rt.store
    real = store._write_state

    def crash(*args, **kwargs):
        # The version is added; the write that records it (and moves the aliases) never lands.
        monkeypatch.setattr(store, "_write_state", real)
        raise RuntimeError("instance died")

    monkeypatch.setattr(store, "_write_state", crash)
    assert ("SECRET_VERSION_ADD", 500) in gcp.submit(NAME, good)
    assert gcp.current_value(NAME)["api_key"] == good.secret  # added: latest is the new key
    assert gcp.redeliver() == [200]  # Pub/Sub retries: the reconciler records the promotion
    state = gcp.state(NAME)
    assert state.phase is Phase.PROMOTED and state.current_version == "2"
    assert state.previous_fp == first.fingerprint
    secret = gcp.client.get_secret(name=gcp.secrets[NAME])
    assert dict(secret.version_aliases) == {"current": 2, "previous": 1}
    # The wake-up moved too: to the drain's first check (policy.next_due).
    assert secret.rotation.next_rotation_time == next_due(state, gcp.policy)
    assert [
        v.name[-1] for v in gcp.client.list_secret_versions(request={"parent": gcp.secrets[NAME]})
    ] == ["2", "1"]
    assert gcp.notices().count("promoted") == 2  # bootstrap + this one, never twice
    assert gcp.notices()[-1] == "promoted"
    assert gcp.rt.store.read_submission(gcp.secrets[NAME]) is None


# -- private (sk_) keys: the kind Customer.io now issues to servers ------------------------

PRIVATE = "billing-private"


def private_bootstrap(gcp, cio, clock):
    gcp.provision(PRIVATE, "private", "us", workspace="111")
    first = cio.new_private_key(("111",), "us")
    gcp.submit(PRIVATE, first)
    assert gcp.current_value(PRIVATE) == {"private_key": first.secret, "region": "us"}
    assert gcp.state(PRIVATE).current_fp == first.fingerprint
    clock.advance(timedelta(days=77))
    gcp.sweep()
    assert gcp.state(PRIVATE).phase is Phase.AWAITING_KEY
    return first


def test_private_scheduled_rotation_end_to_end(gcp, cio, clock):
    first = private_bootstrap(gcp, cio, clock)
    good = cio.new_private_key(("111",), "us")
    gcp.submit(PRIVATE, good)
    assert gcp.current_value(PRIVATE)["private_key"] == good.secret
    assert gcp.state(PRIVATE).phase is Phase.PROMOTED
    cio.delete_key(first)
    clock.advance(timedelta(days=2))
    gcp.sweep()
    state = gcp.state(PRIVATE)
    assert state.phase is Phase.IDLE and state.previous_revoked


def test_private_emergency_rotation(gcp, cio, clock):
    private_bootstrap(gcp, cio, clock)
    assert gcp.emergency(PRIVATE, "key leaked") == 200
    assert gcp.state(PRIVATE).mode is Mode.EMERGENCY
    good = cio.new_private_key(("111",), "us")
    gcp.submit(PRIVATE, good)
    assert gcp.current_value(PRIVATE)["private_key"] == good.secret


@pytest.mark.parametrize(
    ("make_key", "reason"),
    [
        (lambda cio, first: cio.new_private_key(("222",), "us"), "wrong_workspace"),
        (
            lambda cio, first: Credential(
                Kind.PRIVATE,
                cio.new_private_key(("111",), "eu", answers_anywhere=True).secret,
                Region.US,
            ),
            "wrong_region",
        ),
        (lambda cio, first: first, "same_as_current"),
    ],
)
def test_private_rejections_keep_current(gcp, cio, clock, make_key, reason):
    first = private_bootstrap(gcp, cio, clock)
    gcp.submit(PRIVATE, make_key(cio, first))
    assert gcp.current_value(PRIVATE)["private_key"] == first.secret
    assert gcp.state(PRIVATE).rejection == reason
    assert gcp.notices()[-1].startswith("rejected.")


def test_private_customerio_down_is_inconclusive(gcp, cio, clock):
    first = private_bootstrap(gcp, cio, clock)
    cio.fail_next(503, times=4)
    gcp.submit(PRIVATE, cio.new_private_key(("111",), "us"))
    assert gcp.current_value(PRIVATE)["private_key"] == first.secret
    assert gcp.state(PRIVATE).inconclusive == "unavailable"
    cio.faults.clear()


def test_private_public_key_is_refused_and_nothing_is_promoted(gcp, cio, clock):
    from rotation.credentials import parse_credential
    from rotation.errors import MalformedKey

    first = private_bootstrap(gcp, cio, clock)
    public = cio.new_public_key("111")
    doc = json.dumps({"private_key": public, "region": "us"})
    with pytest.raises(MalformedKey, match="public key"):
        parse_credential(doc, Kind.PRIVATE, Region.US)  # the CLI's check before writing
    gcp.submit(PRIVATE, doc)
    assert gcp.current_value(PRIVATE)["private_key"] == first.secret
    assert gcp.state(PRIVATE).rejection == "malformed"
