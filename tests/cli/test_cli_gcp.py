"""The same commands on GCP: Secret Manager emulated, the function under functions-framework,
Pub/Sub and Cloud Logging over their REST shapes."""

from __future__ import annotations

import json
from datetime import timedelta

from rotation.state import Mode, Phase

NAME = "marketing-track"


def stdin_doc(key):
    return json.dumps({"site_id": key.site_id, "api_key": key.secret, "region": "us"})


def bootstrapped(gcli, open_rotation=True):
    gcp = gcli.gcp
    gcp.provision(NAME, "track", "us", workspace="111")
    first = gcli.track("111")
    gcp.submit(NAME, first)
    if open_rotation:
        gcp.clock.advance(timedelta(days=77))
        gcp.sweep()
        assert gcp.state(NAME).phase is Phase.AWAITING_KEY
    return first


def promoted(gcli):
    first = bootstrapped(gcli)
    second = gcli.track("111")
    result = gcli.run("submit", NAME, "--stdin", input=stdin_doc(second))
    assert result.exit_code == 0, result.output
    return first, second


def test_status_on_gcp(gcli):
    first = bootstrapped(gcli)
    rows = json.loads(gcli.run("status", "--json").output)
    assert len(rows) == 1
    row = rows[0]
    assert row["cloud"] == "gcp" and row["kind"] == "track" and row["phase"] == "awaiting_key"
    assert row["current_fp"] == first.fingerprint and row["native_deadline"]
    assert "marketing-track" in gcli.run("status").output


def test_bootstrap_submit_with_prompts_on_gcp(gcli):
    gcli.gcp.provision(NAME, "track", "us", workspace="111")
    key = gcli.track("111")
    result = gcli.run("submit", NAME, input=f"{key.site_id}\n{key.secret}\n\n")
    assert result.exit_code == 0, result.output
    assert "first key" in result.output
    assert gcli.gcp.current_value(NAME)["api_key"] == key.secret


def test_wrong_workspace_then_good_key_on_gcp(gcli):
    first = bootstrapped(gcli)
    wrong = gcli.track("222")
    result = gcli.run("submit", NAME, "--stdin", input=stdin_doc(wrong))
    assert result.exit_code == 3, result.output
    assert "another Customer.io workspace" in result.output
    assert gcli.gcp.current_value(NAME)["api_key"] == first.secret
    good = gcli.track("111")
    result = gcli.run("submit", NAME, "--stdin", input=stdin_doc(good))
    assert result.exit_code == 0, result.output
    assert "Do NOT delete the old key" in " ".join(result.output.split())


def test_emergency_runbook_and_rollback_on_gcp(gcli):
    bootstrapped(gcli, open_rotation=False)
    result = gcli.run("emergency", NAME, "--reason", "key in a screenshot", "--yes")
    assert result.exit_code == 0, result.output
    st = gcli.gcp.state(NAME)
    assert st.mode is Mode.EMERGENCY and st.reason == "key in a screenshot"
    assert gcli.apis.published[-1]["action"] == "emergency"
    assert gcli.apis.published[-1]["actor"] == "alice"
    result = gcli.run("runbook", NAME)
    assert result.exit_code == 0 and f"cio-rotate submit {NAME}" in result.output


def test_a_second_emergency_on_gcp_says_it_is_already_open(gcli):
    bootstrapped(gcli, open_rotation=False)
    assert gcli.run("emergency", NAME, "--reason", "key in a screenshot", "--yes").exit_code == 0
    sent = len(gcli.gcp.notifier.sent)
    result = gcli.run("emergency", NAME, "--reason", "again", "--yes")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert f"{NAME} already has an emergency rotation open: nothing changed." in text
    assert len(gcli.gcp.notifier.sent) == sent
    assert gcli.gcp.state(NAME).reason == "key in a screenshot"


def test_rollback_and_check_on_gcp(gcli):
    first, second = promoted(gcli)
    result = gcli.run("rollback", NAME)
    assert result.exit_code == 0, result.output
    assert gcli.gcp.current_value(NAME)["api_key"] == first.secret  # latest is current again
    st = gcli.gcp.state(NAME)
    assert st.phase is Phase.AWAITING_KEY and st.previous_fp == second.fingerprint


def test_check_closes_after_deletion_and_rollback_is_then_refused_on_gcp(gcli):
    first, _ = promoted(gcli)
    gcli.gcp.clock.advance(timedelta(days=2))
    result = gcli.run("check", NAME)
    assert result.exit_code == 4 and "still accepts the old key" in result.output
    gcli.gcp.cio.delete_key(first)
    result = gcli.run("check", NAME)
    assert result.exit_code == 0, result.output
    assert "rotation closed" in result.output
    result = gcli.run("rollback", NAME)
    assert result.exit_code == 3 and "already refuses the previous key" in result.output


def test_history_on_gcp(gcli):
    _, second = promoted(gcli)
    result = gcli.run("history", NAME, "--json")
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.output.splitlines()]
    names = [e["event"] for e in events]
    assert names.index("key.promoted") < names.index("key.verified")
    assert any(e["fingerprints"].get("current") == second.fingerprint for e in events)
    query = gcli.apis.queries[-1]
    assert 'jsonPayload.credential="marketing-track"' in query["filter"]
    assert query["resourceNames"] == ["projects/cio-test"]


def test_missing_publish_permission_is_named_on_gcp(gcli):
    bootstrapped(gcli, open_rotation=False)
    gcli.apis.deny.add("publish")
    result = gcli.run("emergency", NAME, "--reason", "x", "--yes")
    assert result.exit_code == 5
    assert "pubsub.topics.publish" in result.output
    gcli.apis.deny.add("logs")
    result = gcli.run("history", NAME)
    assert result.exit_code == 5 and "logging.logEntries.list" in result.output


def test_unknown_name_on_gcp(gcli):
    bootstrapped(gcli, open_rotation=False)
    result = gcli.run("--cloud", "aws", "status", "--json")
    assert result.exit_code == 0 and json.loads(result.output) == []
    result = gcli.run("--cloud", "aws", "check", NAME)
    assert result.exit_code == 6 and "on aws" in result.output
    result = gcli.run("check", "nope")
    assert result.exit_code == 6 and "known: marketing-track" in result.output


def test_probe_private_key_on_gcp_writes_nothing(gcli):
    gcp = gcli.gcp
    gcp.provision("billing-private", "private", "us", workspace="111")
    key = gcp.cio.new_private_key(("111",), "us")
    gcli.keys.append(key)
    before = gcp.state("billing-private")
    result = gcli.run("probe", "billing-private", "--stdin", input=key.to_json(), env=gcp.cio.env())
    assert result.exit_code == 0, result.output
    assert "nothing was written anywhere" in result.output and key.fingerprint in result.output
    assert gcp.state("billing-private") == before and gcp.current_value("billing-private") is None
    assert gcp.rt.store.read_submission(gcp.secrets["billing-private"]) is None


def test_retire_publishes_the_action_and_check_confirms_on_gcp(gcli):
    first = bootstrapped(gcli, open_rotation=False)
    result = gcli.run("retire", NAME, "--reason", "moved to billing-private", "--yes")
    assert result.exit_code == 0, result.output
    assert gcli.gcp.state(NAME).phase is Phase.RETIRING
    gcli.gcp.cio.delete_key(first)
    result = gcli.run("check", NAME)
    assert result.exit_code == 0, result.output
    assert gcli.gcp.state(NAME).phase is Phase.RETIRED
    assert gcli.gcp.current_value(NAME)["retired"] is True
    rows = json.loads(gcli.run("status", "--json").output)
    assert rows[0]["phase"] == "retired"


def test_retire_refused_locally_while_a_rotation_is_open_on_gcp(gcli):
    bootstrapped(gcli)
    published = len(gcli.apis.published)
    result = gcli.run("retire", NAME, "--reason", "moved", "--yes")
    assert result.exit_code == 3 and "open rotation" in result.output
    assert gcli.gcp.state(NAME).phase is Phase.AWAITING_KEY
    assert len(gcli.apis.published) == published  # nothing was published
