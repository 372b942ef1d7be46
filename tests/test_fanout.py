"""Both clouds: the daily pass is one unit of work per credential, each invocation inside
its timeout, however long Customer.io hangs: the program's schedule or job, queue or topic
firing in the local stack (`advance`). What differs by cloud (how a failing credential
retries alone; the rate at 300 ms) is in tests/aws/test_fanout_aws.py and
tests/gcp/test_fanout_gcp.py."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from localcloud.aws_harness import AwsHarness
from rotation.state import Phase
from tests.gcp.conftest import emulator, emulator_server, gcp  # noqa: F401 (fixtures)
from tests.promises import AwsUnits, GcpUnits, provision_idle, skip_days_aws, skip_days_gcp


@pytest.fixture(params=["aws", "gcp"])
def harness(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(request.param)


def test_50_credentials_with_customerio_hanging_each_get_their_calendar_step(harness, cio, clock):
    names = [f"cred-{i:02d}" for i in range(50)]
    keys = provision_idle(harness, cio, names)
    on_aws = isinstance(harness, AwsHarness)
    skip_days = skip_days_aws if on_aws else skip_days_gcp
    skip_days(harness, timedelta(days=77) - timedelta(hours=4))  # 05:00 on the day they open
    units: AwsUnits | GcpUnits = AwsUnits(harness) if on_aws else GcpUnits(harness)
    cio.pace = clock
    cio.hang_seconds = 40.0  # every check hangs 40 s (simulated), then 504
    for key in keys.values():
        cio.hang(key)
    harness.advance(timedelta(hours=23))
    states = {name: harness.state(name) for name in names}
    assert {s.phase for s in states.values()} == {Phase.AWAITING_KEY}  # every one opened
    assert all(s.live_unknown_since is not None for s in states.values())  # probed, once
    local = harness.stack.aws if on_aws else harness.stack.gcp
    assert local is not None and local.function is not None
    assert local.longest <= local.function.timeout  # no invocation ran past its timeout
    if isinstance(units, AwsUnits):
        assert harness.runtime.errors == []
        # 7 hung probes fit in 300 s with 30 s to spare: the rest of each batch was handed on.
        assert units.batches > 50 // 10
        assert sum(units.of(n) for n in names) >= 50
    else:
        # One message each, none redelivered: a hung probe is recorded, not retried in a loop.
        assert [units.per_credential[harness.secrets[n]] for n in names] == [1] * 50
