"""Helpers shared by the consumer-helper tests."""

from __future__ import annotations

import pytest

from localcloud.customerio import FakeCustomerIO

# The GCP project on this machine (Secret Manager emulator + the Cloud Function), as
# tests/gcp sets it up, so the GCP loader is tested through the real client.
from tests.gcp.conftest import emulator, emulator_server, gcp  # noqa: F401


@pytest.fixture
def fake(cio: FakeCustomerIO) -> FakeCustomerIO:
    """The local Customer.io with the erasure records of earlier tests cleared."""
    cio.suppressed.clear()
    cio.deleted.clear()
    return cio
