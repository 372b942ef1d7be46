"""A fresh laptop's first `cio-rotate status`: an empty virtualenv, `pip install` of the
repository (from the local package mirror), then `status` of a local stack found by its
tags. Prints the time of each part, the installed distributions and their size.

Slow (about a minute: pip resolves and unpacks every dependency), so not in `make bench`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> None:
    from localcloud.served_aws import served_aws

    with tempfile.TemporaryDirectory() as tmp:
        venv = Path(tmp) / "venv"
        python = venv / "bin" / "python"
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)  # noqa: S603
        made = time.perf_counter()
        subprocess.run(  # noqa: S603 (fixed argv)
            [str(python), "-m", "pip", "install", "--quiet", str(ROOT)],
            check=True,
            capture_output=True,
        )
        installed = time.perf_counter()
        listed = subprocess.run(  # noqa: S603
            [str(python), "-m", "pip", "list", "--format=json"],
            check=True,
            capture_output=True,
            text=True,
        )
        names = {p["name"].lower() for p in json.loads(listed.stdout)}
        tooling = {"pip", "setuptools", "cio-rotation"}
        size = _size(next((venv / "lib").glob("python*/site-packages")))
        with served_aws() as account:
            for i in range(3):
                account.provision(f"cred-{i}")
            env = {k: v for k, v in account.env().items() if k != "PYTHONPATH"}
            before = time.perf_counter()
            subprocess.run(  # noqa: S603
                [str(venv / "bin" / "cio-rotate"), "status"],
                env=env,
                cwd=tmp,
                check=True,
                capture_output=True,
            )
            status = time.perf_counter() - before
    total = made - start + installed - made + status
    print("cio-rotate on a fresh machine (local package mirror; moto server for the stack)")
    print(f"  python -m venv                  {made - start:6.1f} s")
    print(f"  pip install <repo>              {installed - made:6.1f} s")
    print(f"  first status (3 credentials)    {status:6.1f} s")
    print(f"  empty virtualenv to status      {total:6.1f} s")
    print(
        f"  installed: {len(names - tooling)} distributions besides cio-rotation, pip and "
        f"setuptools; site-packages {size / 1e6:.0f} MB"
    )


if __name__ == "__main__":
    main()
