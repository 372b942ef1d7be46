"""How the Pulumi program scales: resources per credential and evaluation time under mocks.

Run: `.venv/bin/python -m bench.program_eval [N ...]` (default 10 100 500). Each size is a
fresh evaluation of the whole program (both clouds, one operator and one consumer
per cloud) under Pulumi's official mocks, so the time is the program's own work:
config validation, bundle builds, resource registration and every apply. A real
`pulumi up` adds the providers' API calls on top.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from infra.config import parse_config
from infra.program import BuildOptions, build
from tests.program.harness import evaluate, make_source_tree, sample_raw_config


@dataclass(frozen=True)
class Measurement:
    credentials: int
    seconds: float
    total: int
    per_credential: Counter[str]  # cloud -> resources that belong to one credential
    fixed: Counter[str]  # cloud -> resources shared by all credentials


def measure(credentials: int, source: Path, build_dir: Path) -> Measurement:
    config = parse_config(sample_raw_config(credentials))
    options = BuildOptions(
        repo_root=source, build_dir=build_dir, now=datetime(2025, 1, 1, tzinfo=UTC)
    )
    started = time.perf_counter()
    ev = evaluate(lambda: build(config, options).outputs)
    seconds = time.perf_counter() - started
    names = [spec.name for spec in config.credentials]
    per: Counter[str] = Counter()
    fixed: Counter[str] = Counter()
    for resource in ev.resources:
        if resource.type.startswith("cio:"):
            continue  # components are groupings, not cloud resources
        cloud = resource.type.split(":", 1)[0]
        owner = resource.name.split("-", 1)[1] if "-" in resource.name else ""
        if any(owner.startswith(f"{n}-") for n in names):
            per[cloud] += 1
        else:
            fixed[cloud] += 1
    total = sum(per.values()) + sum(fixed.values())
    per_one = Counter({cloud: count // credentials for cloud, count in per.items()})
    return Measurement(credentials, seconds, total, per_one, fixed)


def main(sizes: list[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        source = make_source_tree(Path(tmp) / "src")
        print("credentials  resources  per credential (aws+gcp)  shared (aws+gcp)  eval time")
        for n in sizes:
            m = measure(n, source, Path(tmp) / "bundles")
            per = f"{sum(m.per_credential.values())} ({m.per_credential['aws']}+{m.per_credential['gcp']})"
            shared = f"{sum(m.fixed.values())} ({m.fixed['aws']}+{m.fixed['gcp']})"
            print(f"{n:>11}  {m.total:>9}  {per:>24}  {shared:>16}  {m.seconds:>8.2f}s")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [10, 100, 500])
