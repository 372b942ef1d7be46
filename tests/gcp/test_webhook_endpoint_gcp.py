"""A webhook endpoint changed in the stack config reaches the rotator on GCP.

Pulumi writes the endpoint on the inbox secret (its annotations are Pulumi's alone; the
live secret's are the rotator's state, whose changes Pulumi ignores). Here the emulator
plays `pulumi up`: it updates the inbox's annotations, and the function names the new
endpoint in its next notice without anything touching the live secret's state.
"""

from __future__ import annotations

import json

from localcloud.counting import GcpCalls
from rotation import conventions as cv

OLD = "https://hooks.example.com/customerio/deliveries"
NEW = "https://hooks.example.com/customerio/v2"


def set_endpoint(gcp, name: str, endpoint: str) -> None:
    """What `pulumi up` does to the inbox after the config changes."""
    inbox = gcp.rt.store.inbox_id(gcp.secrets[name])
    annotations = dict(gcp.client.get_secret(name=inbox).annotations)
    annotations[cv.GCP_ANNOTATION_WEBHOOK_ENDPOINT] = endpoint
    gcp.client.update_secret(
        request={
            "secret": {"name": inbox, "annotations": annotations},
            "update_mask": {"paths": ["annotations"]},
        }
    )


def test_the_rotator_sees_a_changed_endpoint(gcp):
    live = gcp.provision("hooks", "webhook_signing")
    set_endpoint(gcp, "hooks", OLD)
    gcp.submit("hooks", json.dumps({"signing_key": "7" * 40}))
    state_before = dict(gcp.client.get_secret(name=live).annotations)
    assert gcp.rt.store.snapshot(live).config.webhook_endpoint == OLD

    set_endpoint(gcp, "hooks", NEW)

    assert gcp.rt.store.snapshot(live).config.webhook_endpoint == NEW
    # Nothing of the rotator's state moved: the live secret was not written.
    assert dict(gcp.client.get_secret(name=live).annotations) == state_before
    gcp.emergency("hooks", "signing key pasted in a ticket")
    [opened] = [n for n in gcp.notifier.sent if n.notice == "opened"]
    assert NEW in opened.body and OLD not in opened.body


def test_no_endpoint_configured_reads_as_none(gcp):
    live = gcp.provision("hooks", "webhook_signing")
    assert gcp.rt.store.snapshot(live).config.webhook_endpoint == ""


def test_the_endpoint_costs_one_get_for_webhook_keys_only(gcp):
    """Only webhook signing keys have an endpoint: a track key's snapshot reads no inbox."""
    counter = GcpCalls(gcp.emulator)
    hooks = gcp.provision("hooks", "webhook_signing")
    track = gcp.provision("t", "track", "us", workspace="1")
    set_endpoint(gcp, "t", OLD)  # not something the stack writes; ignored if it were
    with counter.counting() as plain:
        assert gcp.rt.store.snapshot(track).config.webhook_endpoint == ""
    with counter.counting() as webhook:
        gcp.rt.store.snapshot(hooks)
    assert webhook["get"] == plain["get"] + 1
