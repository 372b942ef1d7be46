"""Secret Manager's 600 metadata reads a minute per project, kept by the function itself.

The emulator enforces the quota (429 RESOURCE_EXHAUSTED past it, counted on the simulated
clock); the function paces `GetSecret` / `ListSecretVersions` / `GetSecretVersion` at its
share (CIO_GCP_READ_RATE, from the program: 8/s over `gcp_max_instances`). Accesses are
not paced (their quota is 90,000 a minute).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from google.api_core import exceptions as gexc

from rotation import conventions as cv
from rotation.clock import SimulatedClock
from rotation.stores.gcp import build_client
from rotation.stores.gcp_quota import ROTATOR_READS_PER_SECOND, paced_reads, read_rate
from tests.promises import provision_idle, skip_days_gcp

PROJECT = "projects/cio-test"


@pytest.mark.parametrize(
    ("raw", "rate"), [("", ROTATOR_READS_PER_SECOND), ("0.5", 0.5), ("10", 10.0)]
)
def test_the_read_rate_comes_from_the_environment(raw: str, rate: float) -> None:
    assert read_rate({cv.ENV_GCP_READ_RATE: raw}) == rate


@pytest.mark.parametrize("raw", ["fast", "0", "-1", "10.5"])
def test_a_read_rate_outside_the_quota_is_refused_in_words(raw: str) -> None:
    with pytest.raises(ValueError, match=cv.ENV_GCP_READ_RATE) as err:
        read_rate({cv.ENV_GCP_READ_RATE: raw})
    assert raw not in ("0", "-1", "10.5") or "600 metadata reads a minute" in str(err.value)


def _secret(client, name: str) -> str:
    created = client.create_secret(
        request={"parent": PROJECT, "secret_id": name, "secret": {"replication": {"automatic": {}}}}
    )
    client.add_secret_version(request={"parent": created.name, "payload": {"data": b"x"}})
    return str(created.name)


def test_the_quota_is_real_and_paced_reads_stay_inside_it(emulator) -> None:
    clock = SimulatedClock()
    emulator.clock = clock.now
    client = build_client(emulator.endpoint)
    name = _secret(client, "quota")
    emulator.read_quota = 120  # a minute's quota, scaled down

    for _ in range(120):
        client.get_secret(name=name)
    with pytest.raises(gexc.TooManyRequests):  # unpaced: refused past the quota
        client.get_secret(name=name)
    assert emulator.quota_refused == 1

    clock.advance(timedelta(minutes=1))
    emulator.metadata_reads.clear()
    emulator.quota_refused = 0
    paced = paced_reads(client, {cv.ENV_GCP_READ_RATE: "2"}, clock)  # 120 a minute
    started = clock.now()
    for _ in range(300):
        paced.get_secret(name=name)
    assert emulator.quota_refused == 0
    assert emulator.peak_reads_per_minute() <= 120
    assert clock.now() - started >= timedelta(seconds=(300 - 120) / 2)
    before = clock.now()
    for _ in range(300):  # accesses are not metadata reads: never paced, never refused
        paced.access_secret_version(name=f"{name}/versions/latest")
    assert clock.now() == before and emulator.quota_refused == 0


@pytest.mark.parametrize(("max_instances", "refused"), [(16, False), (1, True)])
def test_a_daily_pass_stays_inside_its_share_of_the_read_quota(
    gcp, cio, emulator, max_instances: int, refused: bool
) -> None:
    """16 instances: each paces at 0.5 reads/s, 30 a minute, the quota scaled to one
    instance. With 1 instance it would take 8/s, and the same quota refuses it: the
    pacing, not the test's sizes, keeps the pass inside."""
    gcp.config["gcp_max_instances"] = max_instances
    names = [f"cred-{i:02d}" for i in range(40)]
    provision_idle(gcp, cio, names)
    assert gcp.rt.store.client.limiter.window == 30 * (16 // max_instances)
    skip_days_gcp(gcp, timedelta(days=2) - timedelta(hours=4))
    emulator.metadata_reads.clear()
    emulator.read_quota = 30
    probed = len(cio.log)
    gcp.advance(timedelta(hours=6))  # the daily job at 06:00, then every unit
    emulator.read_quota = None
    if refused:
        assert emulator.quota_refused > 0
        return
    assert emulator.quota_refused == 0
    assert emulator.peak_reads_per_minute() <= 30
    assert len(cio.log) - probed == len(names)  # every credential's key probed once
    assert not gcp.nacked
