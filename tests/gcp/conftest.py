"""GCP fixtures: one Secret Manager emulator per session, a fresh project per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localcloud.customerio import FakeCustomerIO
from localcloud.gcp_harness import GcpHarness
from localcloud.secretmanager_emulator import SecretManagerEmulator
from rotation.clock import SimulatedClock


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[SecretManagerEmulator]:
    server = SecretManagerEmulator().start()
    yield server
    server.stop()


@pytest.fixture
def emulator(emulator_server: SecretManagerEmulator) -> SecretManagerEmulator:
    emulator_server.reset()
    return emulator_server


@pytest.fixture
def gcp(cio: FakeCustomerIO, clock: SimulatedClock, emulator: SecretManagerEmulator) -> GcpHarness:
    return GcpHarness(cio=cio, clock=clock, emulator=emulator)
