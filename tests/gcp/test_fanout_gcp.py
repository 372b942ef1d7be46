"""GCP: a failing credential is redelivered alone (the sweep itself never fails for one
credential): the program's job, topic and trigger firing in the local stack (`advance`),
Pub/Sub retrying on its own backoff. Customer.io hanging on every probe: tests/test_fanout.py."""

from __future__ import annotations

from datetime import timedelta

from rotation.state import Phase
from tests.promises import GcpUnits, provision_idle, skip_days_gcp


def test_a_failing_credential_is_redelivered_alone(gcp, cio, clock):
    provision_idle(gcp, cio, ["healthy", "broken"])
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
