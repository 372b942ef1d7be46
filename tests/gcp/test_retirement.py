"""A credential's end of life on GCP: retire, remind, Customer.io refuses, retired, tombstone."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from cio_consumer import CredentialRetired, GcpSecretManagerSource, private_loader

from rotation import conventions as cv
from rotation.state import Phase

NAME = "billing-private"


def retire(gcp, name=NAME, reason="moved off"):
    status = gcp.action(
        {"action": cv.ACTION_RETIRE, "secret_id": gcp.secrets[name], "reason": reason}
    )
    gcp.pump()
    return status


@pytest.fixture
def idle(gcp, cio):
    gcp.provision(NAME, "private", "us", workspace="111")
    key = cio.new_private_key(("111",), "us")
    gcp.submit(NAME, key)
    assert gcp.current_value(NAME) == json.loads(key.to_json())
    return key


def test_a_whole_retirement(gcp, cio, clock, idle):
    assert retire(gcp) == 200
    st = gcp.state(NAME)
    assert st.phase is Phase.RETIRING and gcp.notices()[-1] == "retire_opened"
    clock.advance(timedelta(days=gcp.rt.engine.policy.reminder_days, hours=1))
    gcp.sweep()
    assert gcp.notices()[-1] == "retire_reminder.1"
    assert "liveness_unknown" not in gcp.notices() and "current_refused" not in gcp.notices()
    assert gcp.current_value(NAME)["private_key"] == idle.secret
    cio.delete_key(idle)
    gcp.action({"action": cv.ACTION_RECONCILE, "secret_id": gcp.secrets[NAME]})
    st = gcp.state(NAME)
    assert st.phase is Phase.RETIRED and st.retired_at == clock.now()
    assert gcp.notices()[-1] == "retired"
    doc = gcp.current_value(NAME)
    assert doc is not None and doc[cv.TOMBSTONE_FIELD] is True and "private_key" not in doc
    source = GcpSecretManagerSource(gcp.secrets[NAME], client=gcp.client)
    with pytest.raises(CredentialRetired):
        private_loader(source).get()
    # Quiet from now on: no rotation, no page, the tombstone written once.
    told = len(gcp.notices())
    versions = len(list(gcp.client.list_secret_versions(parent=gcp.secrets[NAME])))
    clock.advance(timedelta(days=120))
    gcp.sweep()
    gcp.fire_rotations()
    assert gcp.state(NAME).phase is Phase.RETIRED and len(gcp.notices()) == told
    assert len(list(gcp.client.list_secret_versions(parent=gcp.secrets[NAME]))) == versions


def test_retire_is_refused_while_a_rotation_is_open(gcp, cio, clock, idle):
    clock.advance(timedelta(days=77))
    gcp.sweep()
    assert gcp.state(NAME).phase is Phase.AWAITING_KEY
    retire(gcp)
    assert gcp.state(NAME).phase is Phase.AWAITING_KEY
    assert "retire_opened" not in gcp.notices()


def test_a_retiring_credential_takes_no_new_key(gcp, cio, idle):
    retire(gcp)
    gcp.submit(NAME, cio.new_private_key(("111",), "us"))
    assert gcp.current_value(NAME)["private_key"] == idle.secret
    assert gcp.state(NAME).phase is Phase.RETIRING


def test_a_credential_that_never_held_a_key_is_retired_at_once(gcp):
    gcp.provision("unused", "app", "eu")
    retire(gcp, "unused", "never used")
    assert gcp.state("unused").phase is Phase.RETIRED
    assert gcp.current_value("unused")[cv.TOMBSTONE_FIELD] is True
