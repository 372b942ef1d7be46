"""Issue 21: GCP applications read the current version only, once a rotation is closed.

IAM roles cannot be granted on a secret version, so the consumers' secretAccessor on the
live secret covers every version; the rotator narrows it by the versions' state, which
Secret Manager enforces for everyone (a DISABLED version cannot be accessed: HTTP 400
FAILED_PRECONDITION). While a rotation is open the previous version stays readable
(rollback, the revocation probes, a webhook receiver's grace period); the write that
closes it disables every version but the current one. Read here as an application
would, through the real client against the emulator.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from google.api_core import exceptions as gexc

from rotation.state import Phase

NAME = "marketing-track"


def _read(gcp: Any, name: str, version: str) -> dict[str, Any]:
    got = gcp.client.access_secret_version(name=f"{gcp.secrets[name]}/versions/{version}")
    return dict(json.loads(bytes(got.payload.data)))


def _refused(gcp: Any, name: str, version: str) -> bool:
    with pytest.raises(gexc.GoogleAPICallError) as info:
        _read(gcp, name, version)
    return "FAILED_PRECONDITION" in str(info.value) or info.value.code == 400


def _enabled(gcp: Any, name: str) -> list[str]:
    return sorted(
        v.name.rsplit("/", 1)[1]
        for v in gcp.client.list_secret_versions(request={"parent": gcp.secrets[name]})
        if int(v.state) == 1
    )


def test_a_closed_rotation_leaves_only_the_current_version_readable(
    gcp: Any, cio: Any, clock: Any
) -> None:
    gcp.provision(NAME, "track", "us", workspace="111")
    first = cio.new_track_key("111")
    gcp.submit(NAME, first)
    clock.advance(timedelta(days=77))
    gcp.sweep()
    second = cio.new_track_key("111")
    gcp.submit(NAME, second)
    assert gcp.state(NAME).phase is Phase.PROMOTED
    # Open: the old key is still readable (rollback and the revocation probes need it).
    assert _read(gcp, NAME, "1")["api_key"] == first.secret
    assert _enabled(gcp, NAME) == ["1", "2"]
    cio.delete_key(first)
    clock.advance(timedelta(days=2))
    gcp.sweep()
    st = gcp.state(NAME)
    assert st.phase is Phase.IDLE and st.previous_revoked
    assert _enabled(gcp, NAME) == ["2"]
    assert _refused(gcp, NAME, "1")
    assert _refused(gcp, NAME, "previous")  # the alias still names it, for people
    for version in ("latest", "current", "2"):
        assert _read(gcp, NAME, version)["api_key"] == second.secret
    # The next rotation closes the same way: one readable version at a time.
    clock.advance(timedelta(days=77))
    gcp.sweep()
    third = cio.new_track_key("111")
    gcp.submit(NAME, third)
    assert _enabled(gcp, NAME) == ["2", "3"]
    cio.delete_key(second)
    clock.advance(timedelta(days=2))
    gcp.sweep()
    assert gcp.state(NAME).phase is Phase.IDLE
    assert _enabled(gcp, NAME) == ["3"]
    assert _read(gcp, NAME, "latest")["api_key"] == third.secret


def test_webhook_receivers_read_the_previous_key_during_grace_only(gcp: Any, clock: Any) -> None:
    gcp.provision("hooks", "webhook_signing", webhook_endpoint="https://example.com/cio")
    gcp.submit("hooks", json.dumps({"signing_key": "a" * 40}))
    clock.advance(timedelta(days=77))
    gcp.sweep()
    gcp.submit("hooks", json.dumps({"signing_key": "b" * 40}))
    assert gcp.state("hooks").phase is Phase.PROMOTED
    assert _read(gcp, "hooks", "previous")["signing_key"] == "a" * 40  # grace period
    clock.advance(timedelta(days=2))
    gcp.sweep()
    assert gcp.state("hooks").phase is Phase.IDLE
    assert _enabled(gcp, "hooks") == ["2"]
    assert _refused(gcp, "hooks", "previous")
    assert _read(gcp, "hooks", "latest")["signing_key"] == "b" * 40
