"""A fresh laptop's first `cio-rotate status`, installed the two ways README gives.

pip: an empty virtualenv, `pip install <repo>`. pipx: an empty virtualenv, `pip install
pipx` (the version requirements-dev.txt pins), `pipx install <repo>` into a temporary
PIPX_HOME. Both from the local package mirror; then `status` of a local stack found by
its tags (no outputs file). Prints the time of each part, the installed distributions
and their size.

Slow (one to two minutes: pip resolves and unpacks every dependency, twice), so not in
`make bench`: `python -m bench.cli_install`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLING = {"pip", "setuptools", "cio_rotation"}


@dataclass(frozen=True)
class Install:
    steps: list[tuple[str, float]]
    cli: Path
    site_packages: Path


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _distributions(site: Path) -> set[str]:
    return {p.name.split("-")[0].lower() for p in site.glob("*.dist-info")}


def _timed(argv: list[str], **kw: object) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, **kw)  # type: ignore[call-overload]  # noqa: S603
    return time.perf_counter() - start


def _pipx_pin() -> str:
    text = (ROOT / "requirements-dev.txt").read_text()
    found = re.search(r"^pipx==(\S+)", text, re.MULTILINE)
    assert found, "requirements-dev.txt pins pipx"
    return found.group(1)


def with_pip(tmp: Path) -> Install:
    venv = tmp / "venv"
    made = _timed([sys.executable, "-m", "venv", str(venv)])
    pip = _timed([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(ROOT)])
    site = next((venv / "lib").glob("python*/site-packages"))
    steps = [("python -m venv", made), ("pip install <repo>", pip)]
    return Install(steps, venv / "bin" / "cio-rotate", site)


def with_pipx(tmp: Path) -> Install:
    tools = tmp / "tools"
    made = _timed([sys.executable, "-m", "venv", str(tools)])
    pin = _pipx_pin()
    pipx = _timed([str(tools / "bin" / "pip"), "install", "--quiet", f"pipx=={pin}"])
    env = {
        **{k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        "PIPX_HOME": str(tmp / "pipx"),
        "PIPX_BIN_DIR": str(tmp / "bin"),
        "PIPX_MAN_DIR": str(tmp / "man"),
    }
    app = _timed([str(tools / "bin" / "pipx"), "install", str(ROOT)], env=env, cwd=tmp)
    site = next((tmp / "pipx" / "venvs" / "cio-rotation" / "lib").glob("python*/site-packages"))
    steps = [
        ("python -m venv (for pipx)", made),
        (f"pip install pipx=={pin}", pipx),
        ("pipx install <repo>", app),
    ]
    return Install(steps, tmp / "bin" / "cio-rotate", site)


def main() -> None:
    from localcloud.served_aws import STACK, served_aws

    ways: list[tuple[str, Callable[[Path], Install]]] = [("pip", with_pip), ("pipx", with_pipx)]
    print("cio-rotate on a fresh machine (local package mirror; moto server for the stack)")
    for label, install in ways:
        with tempfile.TemporaryDirectory() as tmp:
            done = install(Path(tmp))
            names = _distributions(done.site_packages) - TOOLING
            size = _size(done.site_packages)
            with served_aws() as account:
                for i in range(3):
                    account.provision(f"cred-{i}")
                env = {k: v for k, v in account.env().items() if k != "PYTHONPATH"}
                start = time.perf_counter()
                status = subprocess.run(  # noqa: S603
                    [str(done.cli), "status"], env=env, cwd=tmp, capture_output=True, text=True
                )
                took = time.perf_counter() - start
                assert status.returncode == 0, status.stderr
                assert f"Acting on stack {STACK}" in status.stderr, status.stderr
        steps = [*done.steps, ("first status (3 credentials)", took)]
        print(f"  {label}:")
        for what, seconds in steps:
            print(f"    {what:<32}{seconds:6.1f} s")
        print(f"    {'empty virtualenv to status':<32}{sum(s for _, s in steps):6.1f} s")
        print(
            f"    installed: {len(names)} distributions besides cio-rotation, pip and "
            f"setuptools; site-packages {size / 1e6:.0f} MB"
        )


if __name__ == "__main__":
    main()
