"""A credential's end of life on AWS: retire, remind, Customer.io refuses, retired, tombstone."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from cio_consumer import AwsSecretsManagerSource, CredentialRetired, track_loader

from rotation import conventions as cv
from rotation.state import Phase

NAME = "marketing-track"


def subjects(aws):
    """Each subject's own words, without where it comes from (`| AWS stack ...`)."""
    return [n["subject"].split(" | ")[0] for n in aws.notifications()]


def retire(aws, name=NAME, reason="moved to billing-private"):
    event = {"action": cv.ACTION_RETIRE, "secret_id": aws.secrets[name], "reason": reason}
    return aws.invoke({**event, "actor": "alice"})


@pytest.fixture
def idle(aws, cio):
    aws.provision(NAME, "track", "us", workspace="1001")
    first = cio.new_track_key("1001")
    assert aws.submit(NAME, first)["outcome"] == "submitted"
    return first


def test_a_whole_retirement(aws, cio, clock, idle):
    out = retire(aws)
    assert out["outcome"] == "retiring" and out["phase"] == "retiring"
    st = aws.state(NAME)
    assert st.phase is Phase.RETIRING and st.reason == "moved to billing-private"
    assert subjects(aws)[-1] == f"[action] Retire {NAME}"
    assert "delete" in aws.notifications()[-1]["body"]
    # Still accepted: the daily sweep reminds at the policy's cadence and never pages.
    clock.advance(timedelta(days=1))
    aws.sweep()
    assert not any("Reminder" in s for s in subjects(aws))
    clock.advance(timedelta(days=aws.policy.reminder_days))
    aws.sweep()
    assert subjects(aws)[-1] == f"[action] Reminder 1: retire {NAME}"
    assert aws.state(NAME).phase is Phase.RETIRING
    assert aws.current_value(NAME)["api_key"] == idle.secret  # untouched while retiring
    # The operator deletes the key: `check` confirms Customer.io refuses it.
    cio.delete_key(idle)
    aws.invoke({"action": cv.ACTION_RECONCILE, "secret_id": aws.secrets[NAME]})
    st = aws.state(NAME)
    assert st.phase is Phase.RETIRED and st.retired_at == clock.now()
    assert subjects(aws)[-1] == f"[info] {NAME} is retired"
    # The live value is now the tombstone the consumer library understands.
    doc = aws.current_value(NAME)
    assert doc is not None and doc[cv.TOMBSTONE_FIELD] is True and "api_key" not in doc
    with pytest.raises(CredentialRetired, match="switch this application"):
        track_loader(AwsSecretsManagerSource(aws.secrets[NAME], client=aws.sm)).get()
    # A retired credential is quiet: no rotation, no reminder, no page, no second tombstone.
    told = len(aws.notifications())
    tomb = aws.state(NAME).current_version
    clock.advance(timedelta(days=120))
    aws.sweep()
    aws.native_rotation(NAME)
    assert aws.state(NAME).phase is Phase.RETIRED
    assert len(aws.notifications()) == told
    current = aws.sm.get_secret_value(SecretId=aws.secrets[NAME], VersionStage="AWSCURRENT")
    assert current["VersionId"] == tomb and aws.current_value(NAME) == doc


def test_the_audit_trail_records_the_retirement(aws, cio, idle, caplog):
    caplog.set_level("INFO", logger="cio.audit")
    retire(aws)
    cio.delete_key(idle)
    aws.invoke({"action": cv.ACTION_RECONCILE, "secret_id": aws.secrets[NAME]})
    events = [json.loads(r.getMessage()) for r in caplog.records if r.name == "cio.audit"]
    names = [e["event"] for e in events]
    assert "retire.opened" in names and "credential.retired" in names
    retired = next(e for e in events if e["event"] == "credential.retired")
    assert retired["outcome"] == "revoked" and retired["actor"] == "alice"
    assert idle.secret not in caplog.text


def test_retire_is_refused_while_a_rotation_is_open(aws, cio, clock, idle):
    clock.advance(timedelta(days=76))
    aws.sweep()
    assert aws.state(NAME).phase is Phase.AWAITING_KEY
    out = retire(aws)
    assert out["outcome"] == "refused" and "open rotation" in out["message"]
    assert aws.state(NAME).phase is Phase.AWAITING_KEY
    aws.submit(NAME, cio.new_track_key("1001"))
    assert aws.state(NAME).phase is Phase.PROMOTED
    out = retire(aws)
    assert out["outcome"] == "refused" and "previous key" in out["message"]


def test_a_retiring_credential_takes_no_new_key_and_no_emergency(aws, cio, idle):
    retire(aws)
    aws.submit(NAME, cio.new_track_key("1001"))
    assert aws.current_value(NAME)["api_key"] == idle.secret
    aws.invoke({"action": cv.ACTION_EMERGENCY, "secret_id": aws.secrets[NAME], "reason": "leak"})
    st = aws.state(NAME)
    assert st.phase is Phase.RETIRING and not st.follow_up_emergency


def test_a_webhook_signing_key_is_retired_after_the_grace_period(aws, clock):
    aws.provision("hooks", "webhook_signing")
    from rotation.credentials import Credential, Kind

    key = Credential(Kind.WEBHOOK_SIGNING, "w" * 40)
    assert aws.submit("hooks", key)["outcome"] == "submitted"
    retire(aws, "hooks")
    assert aws.state("hooks").phase is Phase.RETIRING
    clock.advance(timedelta(hours=aws.policy.grace_hours + 1))
    aws.invoke({"action": cv.ACTION_RECONCILE, "secret_id": aws.secrets["hooks"]})
    assert aws.state("hooks").phase is Phase.RETIRED
    assert aws.current_value("hooks")[cv.TOMBSTONE_FIELD] is True


def test_a_credential_that_never_held_a_key_is_retired_at_once(aws):
    aws.provision("unused", "private", "us")
    out = retire(aws, "unused", "never used")
    assert out["phase"] == "retired"
    assert aws.state("unused").phase is Phase.RETIRED
    assert aws.current_value("unused")[cv.TOMBSTONE_FIELD] is True
