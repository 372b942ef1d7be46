"""Cold import of the function entry points from their unzipped bundles, vs the bare SDK.

AWS, the way Lambda loads it: the bundle unzipped into a directory that is read-only
(so PYTHONDONTWRITEBYTECODE: nothing compiled at import time is kept), first on
sys.path, then a "runtime" directory holding boto3 and its dependencies with their
bytecode (what the Lambda Python runtime provides), all under `python -S` of the
functions' Python version. Each figure is the median over N fresh interpreters of
the time `import <module>` takes inside the child (interpreter start-up excluded),
runs interleaved so drift hits every row alike: wall-clock time, and the process's
CPU time, which a busy machine disturbs less (the files are in the page cache, so
an import is CPU-bound). The ratios divide by `import boto3` from the same
directories.

GCP: the Cloud Function's `main` from its unzipped bundle with this virtualenv's
site-packages (its dependencies carry compiled extensions for this interpreter), so
it runs under this interpreter with a bundle compiled for it; the baseline is
`import functions_framework, google.cloud.secretmanager`, the SDK the function needs
by its first event (main itself loads the Secret Manager client only when it builds
its runtime, so its ratio can be below 1).

Rows "without .pyc" ship the same sources with no bytecode: what the bundles were.
Prints numbers only.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import re
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from infra.bundle import (
    REPO_ROOT,
    aws_lambda_files,
    find_python,
    gcp_function_files,
    with_bytecode,
    zip_bytes,
)

AWS_RUNTIME_DISTS = ("boto3",)  # what the Lambda Python runtime ships


def unzip(files: Mapping[str, bytes], into: Path) -> Path:
    """Zip the files the way the bundle does, then unzip them: what the function sees."""
    archive = into.with_suffix(".zip")
    archive.write_bytes(zip_bytes(files))
    with zipfile.ZipFile(archive) as z:
        z.extractall(into)
    return into


def _requirement_names(dist: str) -> list[str]:
    names = []
    for req in importlib.metadata.requires(dist) or []:
        if "extra ==" in req:
            continue
        match = re.match(r"[A-Za-z0-9_.\-]+", req)
        if match:
            names.append(match.group(0))
    return names


def runtime_dir(into: Path, python: str, roots: Sequence[str] = AWS_RUNTIME_DISTS) -> Path:
    """The SDK and its dependencies (pure Python) copied from site-packages, compiled."""
    seen: set[str] = set()
    pending = list(roots)
    while pending:
        name = pending.pop()
        key = name.lower().replace("_", "-")
        if key in seen:
            continue
        seen.add(key)
        dist = importlib.metadata.distribution(name)
        for file in dist.files or []:
            parts = file.parts
            if ".." in parts or "__pycache__" in parts or file.suffix in (".pyc", ".so"):
                continue
            if parts[0].endswith((".dist-info", ".egg-info")):
                continue
            source = Path(str(dist.locate_file(file)))
            if source.is_file():
                target = into / file
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
        pending.extend(_requirement_names(name))
    subprocess.run(  # noqa: S603 - our interpreter, our directory
        [python, "-m", "compileall", "-q", str(into)], check=True, stdout=subprocess.DEVNULL
    )
    return into


def import_time(
    python: str, path: Sequence[Path], statement: str, cwd: Path
) -> tuple[float, float]:
    """(wall, CPU) seconds `statement` takes in a fresh `python -S` importing only from `path`."""
    code = (
        "import time\nw, c = time.perf_counter(), time.process_time()\n"
        f"{statement}\n"
        "print(time.perf_counter() - w, time.process_time() - c)\n"
    )
    result = subprocess.run(  # noqa: S603 - our interpreter and our own code
        [python, "-S", "-c", code],
        env={
            "PYTHONPATH": ":".join(str(p) for p in path),
            "PYTHONDONTWRITEBYTECODE": "1",
            "AWS_DEFAULT_REGION": "us-east-1",
        },
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    wall, cpu = result.stdout.split()
    return float(wall), float(cpu)


def measure(
    python: str, rows: Sequence[tuple[str, Sequence[Path], str]], runs: int, cwd: Path
) -> dict[str, tuple[float, float]]:
    """Median (wall, CPU) seconds per row, runs interleaved; the first row is the baseline."""
    for _label, path, statement in rows:  # warm the file cache; not counted
        import_time(python, path, statement, cwd)
    samples: dict[str, list[tuple[float, float]]] = {label: [] for label, _, _ in rows}
    for _ in range(runs):
        for label, path, statement in rows:
            samples[label].append(import_time(python, path, statement, cwd))
    return {
        label: (statistics.median(w for w, _ in values), statistics.median(c for _, c in values))
        for label, values in samples.items()
    }


def report(title: str, python: str, runs: int, medians: dict[str, tuple[float, float]]) -> None:
    version = subprocess.run(  # noqa: S603
        [python, "-S", "-c", "import sys; print(sys.version.split()[0])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    print(f"{title} (Python {version}, median of {runs} fresh interpreters)")
    print(f"  {'':<44} {'wall ms':>9} {'ratio':>6} {'CPU ms':>9} {'ratio':>6}")
    base_wall, base_cpu = next(iter(medians.values()))
    for label, (wall, cpu) in medians.items():
        print(
            f"  {label:<44} {wall * 1000:9.1f} {wall / base_wall:5.2f}x"
            f" {cpu * 1000:9.1f} {cpu / base_cpu:5.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", "--runs", type=int, default=21)
    parser.add_argument("--python", help="interpreter for the AWS rows (default: Python 3.12)")
    parser.add_argument("--repo-root", type=Path, default=REPO_ROOT)
    parser.add_argument("--skip-gcp", action="store_true")
    args = parser.parse_args()
    aws_python = args.python or find_python()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sources = aws_lambda_files(args.repo_root)
        compiled = unzip(with_bytecode(sources, aws_python), work / "aws")
        plain = unzip(sources, work / "aws-plain")
        runtime = runtime_dir(work / "runtime", aws_python)
        handler = "import lambdas.aws_rotation.handler"
        medians = measure(
            aws_python,
            [
                ("import boto3", [compiled, runtime], "import boto3"),
                ("AWS handler, bundle with .pyc", [compiled, runtime], handler),
                ("AWS handler, bundle without .pyc", [plain, runtime], handler),
            ],
            args.runs,
            work,
        )
        report("AWS rotation Lambda: cold import", aws_python, args.runs, medians)
        if args.skip_gcp:
            return
        site = Path(sysconfig.get_paths()["purelib"])
        gcp_sources = gcp_function_files(args.repo_root)
        gcp_compiled = unzip(with_bytecode(gcp_sources, sys.executable), work / "gcp")
        gcp_plain = unzip(gcp_sources, work / "gcp-plain")
        medians = measure(
            sys.executable,
            [
                (
                    "import functions_framework, secretmanager",
                    [gcp_compiled, site],
                    "import functions_framework, google.cloud.secretmanager",
                ),
                ("GCP function main, bundle with .pyc", [gcp_compiled, site], "import main"),
                ("GCP function main, bundle without .pyc", [gcp_plain, site], "import main"),
            ],
            args.runs,
            work,
        )
        report("GCP rotation function: cold import", sys.executable, args.runs, medians)


if __name__ == "__main__":
    main()
