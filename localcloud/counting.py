"""Counting the store calls an invocation makes: botocore's event hooks on AWS, the
emulator's own request log on GCP. Used by the call-count tests and `bench/`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from localcloud.secretmanager_emulator import SecretManagerEmulator


class AwsCalls:
    """Every Secrets Manager operation a boto3 client sends, by name, while enabled."""

    def __init__(self, client: Any) -> None:
        self.calls: Counter[str] = Counter()
        self.enabled = False
        client.meta.events.register("before-call.secretsmanager", self._hook)

    def _hook(self, model: Any, **_: Any) -> None:
        if self.enabled:
            self.calls[model.name] += 1

    @contextmanager
    def counting(self) -> Iterator[Counter[str]]:
        """Count the calls made inside the block (from zero)."""
        self.calls = Counter()
        self.enabled = True
        try:
            yield self.calls
        finally:
            self.enabled = False

    @property
    def total(self) -> int:
        return sum(self.calls.values())


class GcpCalls:
    """Every Secret Manager request the emulator answered inside the block, by method."""

    def __init__(self, emulator: SecretManagerEmulator) -> None:
        self.emulator = emulator

    @contextmanager
    def counting(self) -> Iterator[Counter[str]]:
        calls: Counter[str] = Counter()
        start = len(self.emulator.requests)
        try:
            yield calls
        finally:
            for method, path, _ in self.emulator.requests[start:]:
                calls[_operation(method, path)] += 1


def _operation(method: str, path: str) -> str:
    """The RPC a REST request stands for (enough to tell them apart in a table)."""
    tail = path.rsplit("/", 1)[-1]
    if ":" in tail:
        return tail.split(":", 1)[1]  # access, destroy, addVersion, ...
    if method == "GET":
        return "listVersions" if tail == "versions" else "get"
    if method == "PATCH":
        return "updateSecret"
    return f"{method.lower()} {tail}"
