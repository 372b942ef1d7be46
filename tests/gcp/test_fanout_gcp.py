"""GCP: the daily pass is one Pub/Sub message per credential, each delivery inside the
function's deadline, and a failing credential is redelivered alone (the sweep itself
never fails for one credential): the program's job, topic and trigger firing in the
local stack (`advance`), Pub/Sub retrying on its own backoff."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from localcloud.gcp_harness import GcpHarness
from rotation.state import Phase
from tests.promises import GcpUnits, skip_days_gcp


def provision(gcp: GcpHarness, cio: Any, names: list[str]) -> dict[str, Any]:
    gcp.provision_many(
        [{"name": n, "kind": "track", "region": "us", "workspace_id": "1001"} for n in names]
    )
    keys = {}
    for name in names:
        keys[name] = cio.new_track_key("1001")
        gcp.submit(name, keys[name])
    return keys


def test_50_credentials_with_customerio_hanging_each_get_their_calendar_step(gcp, cio, clock):
    names = [f"cred-{i:02d}" for i in range(50)]
    keys = provision(gcp, cio, names)
    skip_days_gcp(gcp, timedelta(days=77) - timedelta(hours=4))  # 05:00 on the day they open
    units = GcpUnits(gcp)
    cio.pace = clock
    cio.hang_seconds = 40.0
    for key in keys.values():
        cio.hang(key)
    gcp.advance(timedelta(hours=23))
    states = {name: gcp.state(name) for name in names}
    assert {s.phase for s in states.values()} == {Phase.AWAITING_KEY}
    assert all(s.live_unknown_since is not None for s in states.values())
    local = gcp.stack.gcp
    assert local is not None and local.function is not None
    assert local.longest <= local.function.timeout
    # One message each, none redelivered: a hung probe is recorded, not retried in a loop.
    assert [units.per_credential[gcp.secrets[n]] for n in names] == [1] * 50


def test_a_failing_credential_is_redelivered_alone(gcp, cio, clock):
    provision(gcp, cio, ["healthy", "broken"])
    skip_days_gcp(gcp, timedelta(days=77) - timedelta(hours=4))
    gcp.advance(timedelta(hours=2))  # 06:00: both rotations open
    assert gcp.state("broken").phase is Phase.AWAITING_KEY
    # A key handed over while its event was lost; Customer.io hangs on it all day.
    cio.pace = clock
    hung = cio.new_track_key("1001")
    cio.hang(hung)
    published = len(gcp.emulator.published)
    gcp.rt.store.write_submission(gcp.secrets["broken"], hung.to_json().encode())
    del gcp.emulator.published[published:]  # the inbox event is lost
    units = GcpUnits(gcp)
    gcp.advance(timedelta(hours=30))  # the next day's sweep at 06:00, then until 13:00
    healthy, broken = gcp.secrets["healthy"], gcp.secrets["broken"]
    assert units.per_credential[healthy] == 1
    assert units.per_credential[broken] > 30  # its own message, redelivered every ~10 minutes
    cio.hanging.clear()
    gcp.advance(timedelta(minutes=15))
    assert gcp.state("broken").phase is Phase.PROMOTED
