"""The Cloud Function's contract with Pub/Sub: what it acknowledges, what it retries."""

from __future__ import annotations

import base64
import io
import json
from datetime import timedelta

from localcloud.gcp_harness import PROJECT, pubsub_message
from rotation.notify_gcp import PubSubNotifier, StructuredLogNotifier
from rotation.runbook import Notification
from rotation.state import Phase

NAME = "app-eu"


def provision_and_bootstrap(gcp, cio):
    live = gcp.provision(NAME, "app", "eu", workspace="42")
    key = cio.new_app_key(("42",), "eu")
    gcp.submit(NAME, key)
    return live, key


def test_structured_and_binary_cloud_events(gcp, cio):
    live = gcp.provision(NAME, "app", "eu", workspace="42")
    key = cio.new_app_key(("42",), "eu")
    gcp.rt.store.write_submission(live, key.to_json().encode())
    add = gcp.emulator.published[-1]["message"]
    assert gcp.deliver(add, structured=True) == 200
    assert gcp.current_value(NAME)["app_api_key"] == key.secret
    assert gcp.deliver(add) == 200  # the same event again (binary mode): nothing more
    assert gcp.notices() == ["promoted"]


def test_acknowledged_without_action(gcp, cio, logs):
    live, _ = provision_and_bootstrap(gcp, cio)
    before = gcp.state(NAME)
    cases = [
        pubsub_message({"eventType": "SECRET_DELETE", "secretId": live}, {}),
        pubsub_message(
            {"eventType": "SECRET_ROTATE", "secretId": f"projects/{PROJECT}/secrets/other"}, {}
        ),
        pubsub_message({"eventType": "SECRET_VERSION_ADD", "secretId": live}, {}),
        pubsub_message({"eventType": "SECRET_ROTATE"}, {}),
        pubsub_message({}, b"not json"),
        pubsub_message({}, {"action": "launch"}),
        pubsub_message({}, {"action": "emergency", "secret_id": live}),
        pubsub_message({}, {"action": "sweep", "secret_ids": "all"}),
        pubsub_message(
            {},
            {"action": "emergency", "secret_id": f"projects/{PROJECT}/secrets/x", "reason": "r"},
        ),
        {"attributes": {}, "data": "%%%"},
    ]
    for message in cases:
        assert gcp.deliver(message) == 200, message
    with gcp.app.test_client() as client:
        response = client.post(
            "/",
            data=b"[1, 2]",
            headers={
                "ce-specversion": "1.0",
                "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
                "ce-source": "//pubsub.googleapis.com/x",
                "ce-id": "1",
                "Content-Type": "application/json",
            },
        )
    assert response.status_code == 200
    assert gcp.state(NAME) == before
    assert any("acknowledged" in line for line in logs.lines)


def test_transient_store_failure_is_retried(gcp, cio, monkeypatch):
    live = gcp.provision(NAME, "app", "eu", workspace="42")
    key = cio.new_app_key(("42",), "eu")
    gcp.rt.store.write_submission(live, key.to_json().encode())
    from google.api_core import exceptions as gexc

    real = gcp.client.list_secret_versions
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise gexc.ServiceUnavailable("Secret Manager is unavailable")
        return real(*args, **kwargs)

    monkeypatch.setattr(gcp.client, "list_secret_versions", flaky)
    statuses = gcp.pump()
    assert ("SECRET_VERSION_ADD", 500) in statuses
    assert gcp.redeliver() == [200]
    assert gcp.current_value(NAME)["app_api_key"] == key.secret


def test_sweep_processes_lost_submissions_and_uses_the_env_list(gcp, cio, clock):
    live, _ = provision_and_bootstrap(gcp, cio)
    clock.advance(timedelta(days=80))
    key = cio.new_app_key(("42",), "eu")
    gcp.rt.store.write_submission(live, key.to_json().encode())
    gcp.cursor = len(gcp.emulator.published)  # the SECRET_VERSION_ADD event was lost
    rt = gcp.module.build_runtime(
        env={**cio.env(), "CIO_MANAGED_SECRETS": f"{live}, projects/{PROJECT}/secrets/gone"},
        clock=clock,
        verifier=gcp.rt.engine.verifier,
        client=gcp.client,
        notifier=gcp.notifier,
    )
    assert rt.managed == (live, f"projects/{PROJECT}/secrets/gone")
    gcp.module.use_runtime(rt)
    assert gcp.action({"action": "sweep"}) == 200
    assert gcp.current_value(NAME)["app_api_key"] == key.secret
    assert gcp.state(NAME).phase is Phase.PROMOTED


def test_a_sweep_never_fails_for_one_credential(gcp, cio, clock):
    """One credential failing is its own retry (tests/gcp/test_fanout_gcp.py), never a
    redelivery of the whole sweep to every credential."""
    provision_and_bootstrap(gcp, cio)
    clock.advance(timedelta(days=77))
    gcp.sweep()
    live = gcp.secrets[NAME]
    gcp.rt.store.write_submission(live, cio.new_app_key(("42",), "eu").to_json().encode())
    gcp.cursor = len(gcp.emulator.published)
    cio.fail_next(503, times=8)
    assert gcp.sweep() == 200  # the sweep itself is acknowledged
    # Only the failing credential's own message waits for Pub/Sub's retry.
    [unit] = gcp.nacked
    assert json.loads(base64.b64decode(unit["data"])) == {
        "action": "reconcile",
        "secret_id": live,
        "daily": True,
    }
    cio.faults.clear()
    gcp.advance(timedelta(minutes=1))  # Pub/Sub redelivers that one message alone
    assert gcp.nacked == []
    assert gcp.state(NAME).phase is Phase.PROMOTED


def test_native_rotation_time_moves_after_each_promotion(gcp, cio, clock):
    live, _ = provision_and_bootstrap(gcp, cio)
    secret = gcp.client.get_secret(name=live)
    # The secret's own timer wakes the rotator when the next rotation opens (76 days, 14
    # before the 90-day deadline); Google's period stays the stack's 90 days.
    assert secret.rotation.next_rotation_time == clock.now() + timedelta(days=76)
    assert secret.rotation.rotation_period == timedelta(days=90)


NOTE = Notification(
    id="r1/opened",
    credential="app-eu",
    rotation_id="r1",
    notice="opened",
    urgency="urgent",
    subject="Rotate app-eu now",
    body="1. Open the dashboard.",
)


def test_structured_log_notifier_severity():
    for urgency, severity in (("info", "INFO"), ("action", "WARNING"), ("urgent", "ERROR")):
        stream = io.StringIO()
        StructuredLogNotifier(stream).send(Notification(**{**NOTE.__dict__, "urgency": urgency}))
        entry = json.loads(stream.getvalue())
        assert entry["severity"] == severity
        assert entry["cio_notification"]["notification_id"] == "r1/opened"
        assert stream.getvalue().count("\n") == 1


def test_pubsub_notifier_publishes_over_rest(httpserver):
    httpserver.expect_request(
        f"/v1/projects/{PROJECT}/topics/notices:publish", method="POST"
    ).respond_with_json({"messageIds": ["1"]})
    import requests

    notifier = PubSubNotifier(
        f"projects/{PROJECT}/topics/notices",
        session=requests.Session(),
        endpoint=httpserver.url_for("/"),
    )
    notifier.send(NOTE)
    body = httpserver.log[0][0].get_json()
    message = body["messages"][0]
    assert message["attributes"]["urgency"] == "urgent"
    assert json.loads(base64.b64decode(message["data"]))["subject"] == "Rotate app-eu now"
    httpserver.clear()
    httpserver.expect_request(
        f"/v1/projects/{PROJECT}/topics/notices:publish", method="POST"
    ).respond_with_data("no", status=403)
    try:
        notifier.send(NOTE)
    except RuntimeError as err:
        assert "403" in str(err)
    else:
        raise AssertionError("a refused publish must raise so the notice is retried")


def test_the_sweep_reports_a_changed_rotation_config(gcp, cio, clock, logs):
    """Issue 21: the runtime account may update the secret (aliases, annotations), so a
    changed rotation period, a removed topic or a later rotation time is reported by the
    daily sweep at WARNING (the alert policy's trigger); an unchanged one is quiet."""
    live, _ = provision_and_bootstrap(gcp, cio)
    assert gcp.sweep() == 200
    assert not [line for line in logs.lines if "rotation config" in line]
    secret = gcp.client.get_secret(name=live)
    secret.rotation.rotation_period = timedelta(days=365)
    secret.rotation.next_rotation_time = clock.now() + timedelta(days=300)
    gcp.client.update_secret(
        request={
            "secret": secret,
            "update_mask": {"paths": ["rotation.rotation_period", "rotation.next_rotation_time"]},
        }
    )
    assert gcp.sweep() == 200
    reported = [line for line in logs.lines if "rotation config" in line]
    assert len(reported) == 2, reported
    assert any("31536000s, not the stack's 90 days" in line for line in reported)
    assert any("beyond the stack's 90-day calendar" in line for line in reported)
    assert all("pulumi up" in line for line in reported)


def test_a_key_in_an_emergency_reason_is_refused_by_the_function(gcp, cio, logs):
    """Issue 21 on GCP: the function refuses a reason holding the current key or the one
    waiting in the inbox (base64 and pieces too) before writing or notifying anything.
    (The CLI cannot read either key on GCP, so the request itself reached Pub/Sub.)"""
    import base64

    live, key = provision_and_bootstrap(gcp, cio)
    waiting = cio.new_app_key(("42",), "eu")
    gcp.rt.store.write_submission(live, waiting.to_json().encode())
    gcp.cursor = len(gcp.emulator.published)  # the inbox event is not delivered here
    before, sent = gcp.rt.store.snapshot(live).revision, list(gcp.notices())
    reasons = [
        key.secret,
        base64.b64encode(key.secret.encode()).decode(),
        f"starts {key.secret[2:14]}",
        f"new one {waiting.secret}",
    ]
    for reason in reasons:
        assert gcp.emergency(NAME, reason) == 200  # an answer, not a retry
        assert gcp.rt.store.snapshot(live).revision == before
        assert gcp.notices() == sent
    refused = [line for line in logs.lines if "--reason contains a Customer.io key" in line]
    assert len(refused) == len(reasons)
    assert not any(reason in line for reason in reasons for line in logs.lines)
    assert gcp.emergency(NAME, "key seen in a CI log") == 200
    assert gcp.rt.store.snapshot(live).revision != before
