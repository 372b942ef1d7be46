"""GCP, through the local stack: "delete the old key now" waits for the drain.

Applications are the consumer library (loaders reading the local Secret Manager through
the real Google client, reporting into the local Cloud Monitoring); the Data Access audit
log is the reads a test records, served over HTTP (localcloud/data_access_log.py). Nothing here sweeps or runs `check`: the drain checks come
from the secret's own `next_rotation_time` as simulated time passes.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from localcloud.apps import MONTH_SECONDS, LocalApps
from localcloud.data_access_log import DataAccessLog
from localcloud.gcp_stack import LocalGcp
from localcloud.monitoring_emulator import MonitoringEmulator
from localcloud.stack import GCP_PROJECT
from rotation import conventions as cv
from rotation.policy import DRAIN_CHECK_EVERY, Policy
from rotation.state import Phase
from rotation.stores.gcp import build_client

NAME = "billing-track"
QUIET = timedelta(minutes=Policy().drain_quiet_minutes)


@pytest.fixture
def evidence(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[MonitoringEmulator, DataAccessLog]]:
    """The local Monitoring and the recorded Data Access log, where the function reads them."""
    monitoring = MonitoringEmulator().start()
    log = DataAccessLog(GCP_PROJECT).start()
    real = LocalGcp.runtime_env
    where = {
        cv.ENV_MONITORING_URL: monitoring.address,
        cv.ENV_LOGGING_URL: log.address,
    }
    monkeypatch.setattr(LocalGcp, "runtime_env", lambda self: {**real(self), **where})
    yield monitoring, log
    log.stop()
    monitoring.stop()


def _apps(gcp: Any, emulator: Any, monitoring: MonitoringEmulator) -> LocalApps:
    client = build_client(emulator.endpoint)
    secret = gcp.secrets[NAME]
    return LocalApps.on_gcp(gcp.clock, gcp.advance, secret, client, GCP_PROJECT, monitoring.address)


def _revoke_notices(gcp: Any) -> list[str]:
    return [n.body for n in gcp.notifier.sent if n.notice == "revoke_now"]


def _delete_notice_at(gcp: Any) -> datetime | None:
    st = gcp.state(NAME)
    return st.last_notice_at if st.phase is Phase.PROMOTED and st.followups else None


def test_the_delete_notice_waits_for_a_straggler_and_follows_its_restart(gcp, emulator, evidence):
    monitoring, log = evidence
    gcp.provision(NAME, "track", "us", workspace="111")
    gcp.submit(NAME, gcp.cio.new_track_key("111"))
    secret = gcp.secrets[NAME]
    apps = _apps(gcp, emulator, monitoring)
    apps.start("billing-api", "api-1")
    apps.start("billing-api", "api-2")
    cron = apps.start("billing-cron", "cron-host:7", ttl=MONTH_SECONDS)
    log.reads.append(("api@apps.iam.gserviceaccount.com", secret, gcp.clock.now()))
    apps.run(timedelta(minutes=20))

    gcp.submit(NAME, gcp.cio.new_track_key("111"))
    st = gcp.state(NAME)
    assert st.phase is Phase.PROMOTED and st.drain_waits
    log.reads.append(("api@apps.iam.gserviceaccount.com", secret, gcp.clock.now()))
    apps.run(timedelta(hours=1))
    st = gcp.state(NAME)
    assert _revoke_notices(gcp) == []
    assert st.drain_on_new == 2 and st.drain_unconfirmed == ""
    assert [h.split("|")[0] for h in st.drain_holders] == ["billing-cron/cron-host:7"]
    rotator = gcp.rt.engine
    # Rotator reads per drain check: timeSeries.list x2 (old and new fingerprint) and one
    # page of the Data Access log.
    assert rotator.drain_checks >= 9 and log.calls == rotator.drain_checks
    assert rotator.drain_reads == 3 * rotator.drain_checks

    apps.stop(cron)
    restarted = gcp.clock.now()
    apps.start("billing-cron", "cron-host:8", ttl=MONTH_SECONDS)
    apps.run(QUIET + 2 * DRAIN_CHECK_EVERY)
    at = _delete_notice_at(gcp)
    assert at is not None and restarted < at <= restarted + QUIET + DRAIN_CHECK_EVERY
    [body] = _revoke_notices(gcp)
    assert "No application has used the old key for 15 minutes (3 reporting processes" in body
    assert "Still on the old key" not in body


def test_a_straggler_and_a_silent_reader_are_named_at_the_maximum(gcp, emulator, evidence):
    monitoring, log = evidence
    gcp.policy = Policy(grace_hours=1)
    gcp.provision(NAME, "track", "us", workspace="111")
    gcp.submit(NAME, gcp.cio.new_track_key("111"))
    apps = _apps(gcp, emulator, monitoring)
    apps.start("billing-api", "api-1")
    apps.start("billing-cron", "cron-host:7", ttl=MONTH_SECONDS)
    batch = f"batch@{GCP_PROJECT}.iam.gserviceaccount.com"
    log.reads.append((batch, gcp.secrets[NAME], gcp.clock.now()))  # once, never again
    apps.run(timedelta(minutes=20))
    gcp.submit(NAME, gcp.cio.new_track_key("111"))
    promoted_at = gcp.state(NAME).promoted_at
    apps.run(timedelta(minutes=75))

    at = _delete_notice_at(gcp)
    grace_end = promoted_at + timedelta(hours=1)
    assert at is not None and grace_end <= at <= grace_end + timedelta(minutes=5)
    [body] = _revoke_notices(gcp)
    assert "The grace period's maximum is over (1 reporting process on the new key)" in body
    assert "billing-cron on cron-host:7 (reports the old key; last seen" in body
    assert f"{batch} (read the secret before the promotion, not since" in body
