"""The rotation Lambda end to end: moto, the in-process Lambda runtime, the local Customer.io."""

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from rotation.credentials import Credential, Kind, Region
from rotation.state import Mode, Phase

NAME = "marketing-track"


def state(aws, name=NAME):
    return aws.rt.store.snapshot(aws.secrets[name]).state


def subjects(aws):
    """Each subject's own words, without where it comes from (`| AWS stack ...`)."""
    return [n["subject"].split(" | ")[0] for n in aws.notifications()]


@pytest.fixture
def live(aws, cio, clock):
    """A track credential with a bootstrapped key, 76 days old: its rotation opens now."""
    aws.provision(NAME, "track", "us", workspace="1001")
    first = cio.new_track_key("1001")
    assert aws.submit(NAME, first)["outcome"] == "submitted"
    clock.advance(timedelta(days=76))
    aws.sweep()
    assert state(aws).phase is Phase.AWAITING_KEY
    return first


def test_bootstrap_goes_through_verification(aws, cio):
    aws.provision(NAME, "track", "us", workspace="1001")
    out = aws.submit(NAME, cio.new_track_key("9999"))
    assert out["outcome"] == "rejected" and out["reason"] == "wrong_workspace"
    assert aws.current_value(NAME) is None
    good = cio.new_track_key("1001")
    aws.submit(NAME, good)
    assert aws.current_value(NAME)["api_key"] == good.secret
    assert state(aws).phase is Phase.IDLE and state(aws).current_fp == good.fingerprint


def test_configuration_test_passes_quietly(aws):
    aws.provision(NAME, "track", "us")
    assert aws.runtime.rotation_events[-1].outcome == "succeeded"
    assert aws.notifications() == []


def test_scheduled_rotation_promotes_and_confirms_revocation(aws, cio, clock, live):
    good = cio.new_track_key("1001")
    aws.submit(NAME, good)
    st = state(aws)
    assert st.phase is Phase.PROMOTED and st.previous_fp == live.fingerprint
    assert aws.current_value(NAME)["api_key"] == good.secret
    prev = aws.sm.get_secret_value(SecretId=aws.secrets[NAME], VersionStage="AWSPREVIOUS")
    assert json.loads(prev["SecretString"])["api_key"] == live.secret
    clock.advance(timedelta(hours=23))
    aws.sweep()
    assert "Delete the old key" not in " ".join(subjects(aws))  # still in grace
    clock.advance(timedelta(hours=2))
    aws.sweep()
    assert subjects(aws)[-1].endswith("Delete the old key of marketing-track now")
    cio.delete_key(live)
    aws.invoke({"action": "reconcile", "secret_id": aws.secrets[NAME]})
    st = state(aws)
    assert st.phase is Phase.IDLE and st.previous_revoked and st.last_rotation_id
    assert aws.rt.store.read_submission(aws.secrets[NAME]) is None  # inbox consumed


def test_old_key_alive_is_chased_then_escalated(aws, cio, clock, live):
    aws.submit(NAME, cio.new_track_key("1001"))
    for _ in range(4):
        clock.advance(timedelta(days=3, hours=1))
        aws.sweep()
    got = subjects(aws)
    assert sum("still works" in s and "Reminder" in s for s in got) == 2
    assert sum("ESCALATED: old key" in s for s in got) == 1
    assert state(aws).phase is Phase.PROMOTED


@pytest.mark.parametrize(
    ("make_key", "reason"),
    [
        (lambda cio: cio.new_track_key("2002"), "wrong_workspace"),
        (lambda cio: replace(cio.new_track_key("1001", "eu"), region=Region.US), "wrong_region"),
        (lambda cio: Credential(Kind.TRACK, "f" * 20, Region.US, "e" * 20), "unauthorized"),
    ],
)
def test_rejections_keep_current_and_tell_why(aws, cio, live, make_key, reason):
    before = aws.current_value(NAME)
    aws.submit(NAME, make_key(cio))
    assert aws.current_value(NAME) == before
    st = state(aws)
    assert st.phase is Phase.AWAITING_KEY and st.rejection == reason
    assert "NOT accepted" in subjects(aws)[-1]
    assert aws.rt.store.read_submission(aws.secrets[NAME]) is None  # retired, not retried
    assert aws.runtime.rotation_events[-1].outcome.startswith("failed at createSecret")


def test_same_key_as_current_is_rejected(aws, live):
    aws.submit(NAME, live)
    assert state(aws).rejection == "same_as_current"


def test_region_mismatch_in_document_is_refused_locally(aws, cio, live):
    eu_doc = json.loads(cio.new_track_key("1001").to_json()) | {"region": "eu"}
    out = aws.submit(NAME, json.dumps(eu_doc))
    assert state(aws).rejection == "malformed"
    assert out.get("outcome") in (None, "submitted", "rejected")


@pytest.mark.parametrize(
    "payload", ['{"api_key": "x"}', "not json", '{"site_id": 1, "api_key": 2, "region": "us"}']
)
def test_malformed_submissions_are_refused(aws, live, payload):
    before = aws.current_value(NAME)
    aws.submit(NAME, payload)
    assert aws.current_value(NAME) == before
    assert state(aws).rejection == "malformed"
    assert "NOT accepted" in subjects(aws)[-1]


def test_customerio_down_is_inconclusive_and_retried_later(aws, cio, live):
    before = aws.current_value(NAME)
    good = cio.new_track_key("1001")
    cio.fail_next(503, times=4)  # every attempt of one probe
    aws.submit(NAME, good)
    assert aws.current_value(NAME) == before
    assert state(aws).phase is Phase.AWAITING_KEY
    assert aws.rt.store.read_submission(aws.secrets[NAME]) is not None  # kept for the retry
    assert not any("NOT accepted" in s for s in subjects(aws))
    aws.sweep()  # the daily sweep resumes the unfinished rotation
    assert aws.current_value(NAME)["api_key"] == good.secret


def test_429_then_success(aws, cio, live):
    good = cio.new_track_key("1001")
    cio.fail_next(429, times=2, retry_after="0")
    aws.submit(NAME, good)
    assert aws.current_value(NAME)["api_key"] == good.secret


def test_deadline_without_submission_fails_honestly_then_resumes(aws, cio, clock, live):
    clock.advance(timedelta(days=14))
    aws.native_rotation(NAME)
    assert aws.runtime.rotation_events[-1].outcome == "failed at createSecret: AwaitingOperatorKey"
    assert state(aws).overdue
    assert sum("OVERDUE" in s for s in subjects(aws)) == 1
    aws.native_rotation(NAME)  # AWS re-attempts: no second overdue notice
    assert sum("OVERDUE" in s for s in subjects(aws)) == 1
    pending = aws.rt.store.snapshot(aws.secrets[NAME]).pending_version
    assert pending
    good = cio.new_track_key("1001")
    aws.submit(NAME, good)  # RotateSecret is refused: the rotator resumes the pending token
    snap = aws.rt.store.snapshot(aws.secrets[NAME])
    assert snap.current_version == pending and snap.state.phase is Phase.PROMOTED


def test_four_steps_are_idempotent(aws, cio, live):
    arn = aws.secrets[NAME]
    good = cio.new_track_key("1001")
    aws.rt.store.write_submission(arn, good.to_json().encode())
    token = "11111111-2222-3333-4444-555555555555"
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.secretsmanager.models import secretsmanager_backends

    backend = secretsmanager_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    backend.secrets[arn].versions[token] = {
        "createdate": 0,
        "version_id": token,
        "version_stages": ["AWSPENDING"],
    }
    for step in (
        "createSecret",
        "createSecret",
        "setSecret",
        "testSecret",
        "testSecret",
        "finishSecret",
        "finishSecret",
    ):
        aws.invoke({"Step": step, "SecretId": arn, "ClientRequestToken": token})
    snap = aws.rt.store.snapshot(arn)
    assert snap.current_version == token and snap.pending_version is None
    assert sum("is live" in s for s in subjects(aws)) == 2  # bootstrap + this one, once


def test_emergency_upgrades_the_open_rotation(aws, cio, live):
    rid = state(aws).rotation_id
    for _ in range(2):
        aws.invoke(
            {
                "action": "emergency",
                "secret_id": aws.secrets[NAME],
                "reason": "leak",
                "actor": "bob",
            }
        )
    st = state(aws)
    assert st.rotation_id == rid and st.mode is Mode.EMERGENCY
    assert sum("EMERGENCY rotate" in s for s in subjects(aws)) == 1


def test_emergency_revoke_first(aws, cio, clock):
    aws.provision("app", "app", "eu")
    old = cio.new_app_key(("5",), "eu")
    aws.submit("app", old)
    aws.invoke(
        {
            "action": "emergency",
            "secret_id": aws.secrets["app"],
            "reason": "leak",
            "revoke_first": True,
        }
    )
    body = aws.notifications()[-1]["body"]
    assert "1. Contain the leak first" in body
    cio.delete_key(old)
    new = cio.new_app_key(("5",), "eu")
    aws.submit("app", new)
    aws.invoke({"action": "reconcile", "secret_id": aws.secrets["app"]})
    st = state(aws, "app")
    assert st.phase is Phase.IDLE and st.previous_revoked  # no grace in revoke-first mode


def test_emergency_while_old_key_retires_queues_a_new_rotation(aws, cio, clock, live):
    second = cio.new_track_key("1001")
    aws.submit(NAME, second)
    aws.invoke({"action": "emergency", "secret_id": aws.secrets[NAME], "reason": "leak"})
    assert "delete old key first" in subjects(aws)[-2]
    assert "Delete the old key of marketing-track now" in subjects(aws)[-1]
    cio.delete_key(live)
    aws.invoke({"action": "reconcile", "secret_id": aws.secrets[NAME]})
    st = state(aws)
    assert st.phase is Phase.AWAITING_KEY and st.mode is Mode.EMERGENCY
    assert "EMERGENCY rotate" in subjects(aws)[-1]


def test_submission_while_retiring_is_refused(aws, cio, live):
    aws.submit(NAME, cio.new_track_key("1001"))
    out = aws.invoke({"action": "submitted", "secret_id": aws.secrets[NAME]})
    assert out["outcome"] == "waiting"  # nothing in the inbox
    aws.rt.store.write_submission(aws.secrets[NAME], cio.new_track_key("1001").to_json().encode())
    out = aws.invoke({"action": "submitted", "secret_id": aws.secrets[NAME]})
    assert out["outcome"] == "rejected" and out["reason"] == "busy"


def test_sweep_reports_unmanaged_secrets_and_goes_on(aws, cio, live, caplog):
    stray = aws.sm.create_secret(Name="other/secret", SecretString="{}")["ARN"]
    out = aws.invoke({"action": "sweep", "secret_ids": [stray, aws.secrets[NAME]]})
    assert out == {"swept": 0, "queued": 2, "failed": []}  # one unit each, on the work queue
    probes = len(cio.log)
    aws.advance(timedelta(0))  # the queue's mapping hands both to the function at once
    # The stray one is dropped with a warning (redelivery cannot help), not retried.
    assert [r.levelname for r in caplog.records if "dropped" in r.getMessage()] == ["WARNING"]
    assert len(cio.log) - probes == 1  # the managed one's daily probe went on
    assert aws.stack.aws is not None and aws.stack.aws.hidden == {}  # nothing left to retry


def test_unknown_events_are_refused(aws):
    aws.provision("x", "track")  # the function exists once the stack is deployed
    with pytest.raises(RuntimeError, match="unknown event"):
        aws.invoke({"hello": "world"})
    with pytest.raises(RuntimeError, match="needs a 'reason'"):
        aws.invoke({"action": "emergency", "secret_id": aws.secrets["x"]})


def test_webhook_signing_closes_after_grace(aws, clock):
    aws.provision("hook", "webhook_signing")
    aws.submit("hook", json.dumps({"signing_key": "a" * 40}))
    clock.advance(timedelta(days=77))
    aws.sweep()
    aws.submit("hook", json.dumps({"signing_key": "b" * 40}))
    clock.advance(timedelta(hours=25))
    aws.sweep()
    st = state(aws, "hook")
    assert st.phase is Phase.IDLE and not st.previous_revoked
    assert "closed" in subjects(aws)[-1]


def test_chat_webhook_receives_the_same_notices(aws, cio, httpserver):
    from rotation.notify import FanOut, WebhookNotifier

    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    aws.provision(NAME, "track", "us")
    aws.rt.engine.notifier = FanOut(
        [aws.rt.engine.notifier, WebhookNotifier(httpserver.url_for("/hook"))]
    )
    aws.submit(NAME, cio.new_track_key("1001"))
    posted = [json.loads(req.get_data()) for req, _ in httpserver.log]
    assert posted and posted[0]["notice"] == "promoted" and posted[0]["text"].startswith("*[info]")


def test_crash_after_promotion_is_repaired(aws, cio, live, monkeypatch):
    arn = aws.secrets[NAME]
    good = cio.new_track_key("1001")
    store = aws.rt.store
    real_save = store.save_state
    calls = {"n": 0}

    def crash_once(cid, st, rev):
        if st.phase is Phase.PROMOTED and calls["n"] == 0:
            calls["n"] += 1
            raise RuntimeError("crash")
        return real_save(cid, st, rev)

    monkeypatch.setattr(store, "save_state", crash_once)
    aws.submit(NAME, good)
    snap = store.snapshot(arn)
    assert snap.current_version != snap.state.current_version  # promoted, not recorded
    aws.sweep()
    st = store.snapshot(arn).state
    assert st.phase is Phase.PROMOTED and st.current_fp == good.fingerprint
    assert store.read_submission(arn) is None
    assert sum("is live" in s for s in subjects(aws)) == 2


# -- private (sk_) keys: everything above, for the kind Customer.io now issues to servers ----

PRIVATE = "billing-private"


@pytest.fixture
def private_live(aws, cio, clock):
    """A private credential bootstrapped through verification; its rotation open 76 days on."""
    aws.provision(PRIVATE, "private", "us", workspace="1001")
    first = cio.new_private_key(("1001",), "us")
    assert aws.submit(PRIVATE, first)["outcome"] == "submitted"
    assert aws.current_value(PRIVATE) == {"private_key": first.secret, "region": "us"}
    assert state(aws, PRIVATE).current_fp == first.fingerprint
    clock.advance(timedelta(days=76))
    aws.sweep()
    assert state(aws, PRIVATE).phase is Phase.AWAITING_KEY
    return first


def test_private_scheduled_rotation_promotes_and_confirms_revocation(aws, cio, clock, private_live):
    good = cio.new_private_key(("1001",), "us")
    aws.submit(PRIVATE, good)
    st = state(aws, PRIVATE)
    assert st.phase is Phase.PROMOTED and st.previous_fp == private_live.fingerprint
    assert aws.current_value(PRIVATE)["private_key"] == good.secret
    clock.advance(timedelta(hours=25))
    cio.delete_key(private_live)
    aws.invoke({"action": "reconcile", "secret_id": aws.secrets[PRIVATE]})
    st = state(aws, PRIVATE)
    assert st.phase is Phase.IDLE and st.previous_revoked


def test_private_emergency_rotation(aws, cio, private_live):
    aws.invoke({"action": "emergency", "secret_id": aws.secrets[PRIVATE], "reason": "leak"})
    assert state(aws, PRIVATE).mode is Mode.EMERGENCY
    good = cio.new_private_key(("1001",), "us")
    aws.submit(PRIVATE, good)
    assert aws.current_value(PRIVATE)["private_key"] == good.secret
    assert state(aws, PRIVATE).phase is Phase.PROMOTED


@pytest.mark.parametrize(
    ("make_key", "reasons"),
    [
        (lambda cio: cio.new_private_key(("2002",), "us"), ("wrong_workspace",)),
        (
            lambda cio: replace(cio.new_private_key(("1001",), "eu"), region=Region.US),
            ("unauthorized_or_wrong_region",),
        ),
        (
            lambda cio: replace(
                cio.new_private_key(("1001",), "eu", answers_anywhere=True), region=Region.US
            ),
            ("wrong_region",),
        ),
        (
            lambda cio: Credential(Kind.PRIVATE, "sk_" + "f" * 32, Region.US),
            ("unauthorized_or_wrong_region",),  # a 401 on a regional host says no more
        ),
    ],
)
def test_private_rejections_keep_current_and_tell_why(aws, cio, private_live, make_key, reasons):
    before = aws.current_value(PRIVATE)
    aws.submit(PRIVATE, make_key(cio))
    assert aws.current_value(PRIVATE) == before
    st = state(aws, PRIVATE)
    assert st.phase is Phase.AWAITING_KEY and st.rejection in reasons
    assert "NOT accepted" in subjects(aws)[-1]


def test_private_same_key_again_is_rejected(aws, private_live):
    aws.submit(PRIVATE, private_live)
    assert state(aws, PRIVATE).rejection == "same_as_current"


def test_private_customerio_down_is_inconclusive_then_promoted(aws, cio, private_live):
    before = aws.current_value(PRIVATE)
    good = cio.new_private_key(("1001",), "us")
    cio.fail_next(503, times=4)
    aws.submit(PRIVATE, good)
    assert aws.current_value(PRIVATE) == before
    assert state(aws, PRIVATE).phase is Phase.AWAITING_KEY
    assert not any("NOT accepted" in s for s in subjects(aws))
    aws.sweep()
    assert aws.current_value(PRIVATE)["private_key"] == good.secret


def test_a_public_key_is_refused_locally_and_by_the_rotator(aws, cio, private_live):
    from rotation.credentials import parse_credential
    from rotation.errors import MalformedKey

    public = cio.new_public_key("1001")
    doc = json.dumps({"private_key": public, "region": "us"})
    with pytest.raises(MalformedKey, match="public key") as err:
        parse_credential(doc, Kind.PRIVATE, Region.US)  # what the CLI does before writing
    assert public not in str(err.value)
    # Even if it reached the inbox some other way, nothing changes and the reason is told.
    before = aws.current_value(PRIVATE)
    aws.submit(PRIVATE, doc)
    assert aws.current_value(PRIVATE) == before
    assert state(aws, PRIVATE).rejection == "malformed"
