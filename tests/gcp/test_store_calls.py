"""Issue 9's call budgets on GCP, counted in the emulator's request log (deterministic):
the numbers `bench.store_calls` prints, asserted."""

from __future__ import annotations

from collections import Counter

import pytest

from localcloud import store_calls
from localcloud.customerio import FakeCustomerIO


@pytest.fixture(scope="module", params=["track", "webhook_signing"])
def counted(request, cio_server: FakeCustomerIO) -> tuple[str, store_calls.GcpRotationCalls]:
    cio_server.reset()
    return request.param, store_calls.gcp_rotation(cio_server, request.param)


def test_an_idle_credential_costs_the_daily_sweep_2_calls(counted):
    # The live secret, and the current value. A webhook signing key's endpoint (on the
    # inbox) is read only when a notice needs it, never on an idle day.
    _, calls = counted
    assert calls.sweep_idle == Counter(get=1, access=1)


def test_the_day_a_rotation_opens_costs_at_most_6(counted):
    kind, calls = counted
    # The opening notice of a webhook key names the webhook: one read of the inbox.
    assert sum(calls.sweep_opening.values()) == (6 if kind == "webhook_signing" else 5)


def test_a_promotion_costs_14_calls_plus_the_endpoint_for_webhook_keys(counted):
    kind, calls = counted
    assert calls.promotion["addVersion"] == 2  # the inbox submission, the promoted key
    assert sum(calls.promotion.values()) == (15 if kind == "webhook_signing" else 14)
