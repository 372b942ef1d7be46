"""One evaluation of the whole program (both clouds, four credentials) under mocks.

The evaluation is expensive relative to the assertions, so it runs once per module
and hands the tests plain data; the tests never touch the Pulumi event loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pulumi
import pytest

from infra.config import parse_config
from infra.program import BuildOptions, Stack, build
from tests.program.harness import Evaluation, evaluate, make_source_tree, sample_raw_config

WEBHOOK = "https://hooks.example.com/services/T000/B000/xoxb-secret-part"
NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def source_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_source_tree(tmp_path_factory.mktemp("src"))


@pytest.fixture(scope="module")
def evaluation(source_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Evaluation]:
    raw = {**sample_raw_config(4), "chat_webhook_url": WEBHOOK}
    config = parse_config(raw, frozenset({"chat_webhook_url"}))
    build_dir = tmp_path_factory.mktemp("bundles")
    stacks: list[Stack] = []

    def program() -> dict[str, object]:
        stack = build(
            config,
            BuildOptions(
                repo_root=source_tree,
                build_dir=build_dir,
                now=NOW,
                chat_webhook_url=pulumi.Output.secret(WEBHOOK),
            ),
        )
        stacks.append(stack)
        return stack.outputs

    yield evaluate(program)
