"""Issue 9's call budgets on AWS, counted on moto (deterministic): the numbers
`bench.store_calls` prints, asserted."""

from __future__ import annotations

from collections import Counter

import pytest

from localcloud import store_calls
from localcloud.customerio import FakeCustomerIO


@pytest.fixture(scope="module")
def calls(cio_server: FakeCustomerIO) -> store_calls.AwsRotationCalls:
    cio_server.reset()
    return store_calls.aws_rotation(cio_server)


def test_a_promotion_costs_the_rotator_at_most_12_calls(calls):
    assert calls.promotion == Counter(
        DescribeSecret=2, GetSecretValue=3, PutSecretValue=5, UpdateSecretVersionStage=2
    )


def test_finish_secret_makes_5_calls(calls):
    assert sum(calls.finish_secret.values()) == 5
    assert calls.finish_secret["UpdateSecretVersionStage"] == 1  # the compare-and-swap


def test_the_operators_hand_over_is_the_inbox_write_and_rotate_secret(calls):
    assert calls.hand_over == Counter(PutSecretValue=1, RotateSecret=1)


def test_an_idle_credential_costs_the_daily_sweep_2_reads(calls):
    assert calls.sweep_idle == Counter(GetSecretValue=2)


def test_the_day_a_rotation_opens_costs_at_most_6(calls):
    assert sum(calls.sweep_opening.values()) == 6
