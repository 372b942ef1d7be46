"""The local Customer.io's latency, rate limit and hung keys, on a simulated clock; and the
rotator's limiter keeping a burst of probes under the limit the fake enforces."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests

from rotation.clock import SimulatedClock
from rotation.verify import Accepted, Inconclusive, RateLimiter, Verifier, build_session


@pytest.fixture
def paced(cio):
    clock = SimulatedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    cio.pace = clock
    yield cio, clock
    cio.reset()


def region(cio, key):
    return requests.get(
        cio.base_url.replace("{region}", "us") + "/api/v1/accounts/region",
        auth=(key.site_id, key.secret),
        timeout=5,
    )


def test_latency_is_spent_on_the_simulated_clock(paced):
    cio, clock = paced
    cio.latency = 0.3
    key = cio.new_track_key("1001")
    start = clock.monotonic()
    assert region(cio, key).status_code == 200
    assert clock.monotonic() - start == pytest.approx(0.3)


def test_more_than_the_limit_in_one_second_is_refused_and_counted(paced):
    cio, clock = paced
    cio.rate_limit = 10
    key = cio.new_track_key("1001")
    statuses = [region(cio, key).status_code for _ in range(12)]
    assert statuses == [200] * 10 + [429] * 2 and cio.over_limit == 2
    clock.sleep(1.0)
    assert region(cio, key).status_code == 200


def test_a_hung_key_answers_504_after_its_hang(paced):
    cio, clock = paced
    key, other = cio.new_track_key("1001"), cio.new_track_key("1001")
    cio.hang(key)
    start = clock.monotonic()
    assert region(cio, key).status_code == 504
    assert clock.monotonic() - start == pytest.approx(cio.hang_seconds)
    assert region(cio, other).status_code == 200


def test_the_limiter_keeps_a_burst_of_probes_under_customerios_limit(paced):
    cio, clock = paced
    cio.rate_limit = 10
    keys = [cio.new_track_key("1001") for _ in range(35)]
    env = cio.env()
    verifier = Verifier(
        session=build_session(attempts=1), env=env, limiter=RateLimiter(10, pace=clock)
    )
    start = clock.monotonic()
    results = [verifier.probe(k, short=True) for k in keys]
    assert all(isinstance(r, Accepted) for r in results)
    assert cio.over_limit == 0
    assert clock.monotonic() - start == pytest.approx(3.0, abs=0.01)  # 35 at 10/s


def test_without_the_limiter_the_same_burst_is_refused(paced):
    cio, clock = paced
    cio.rate_limit = 10
    keys = [cio.new_track_key("1001") for _ in range(35)]
    verifier = Verifier(
        session=build_session(attempts=1),
        env=cio.env(),
        limiter=RateLimiter(1000, pace=clock),  # as good as none
    )
    results = [verifier.probe(k, short=True) for k in keys]
    assert sum(isinstance(r, Inconclusive) for r in results) == 25 and cio.over_limit == 25
