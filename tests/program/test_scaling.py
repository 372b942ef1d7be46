"""Scheduling does not grow with the credential count: one sweep schedule (or job), one
wake-up group, one work queue, whatever the stack holds; only each credential's own
secrets (and their IAM bindings) are per credential."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.program_eval import measure
from tests.program.harness import make_source_tree


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_source_tree(tmp_path_factory.mktemp("src"))


def test_shared_resources_are_the_same_for_10_and_120_credentials(
    source: Path, tmp_path: Path
) -> None:
    small = measure(10, source, tmp_path / "a")
    large = measure(120, source, tmp_path / "b")
    assert large.fixed == small.fixed  # 120 would have needed 3 sweep schedules per cloud
    assert large.per_credential == small.per_credential
    assert large.total - small.total == 110 * sum(small.per_credential.values())
