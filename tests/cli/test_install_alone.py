"""A fresh laptop: an empty virtualenv, `pip install` of the repository, nothing else.

The one slow test of the CLI (about a minute: pip resolves from the local mirror). It
proves the package installs with its own pinned dependencies (no Pulumi, no moto, none of
the checkout's other packages), and that the installed `cio-rotate`, run outside the
checkout with no outputs file, finds the stack by its tags and hands a key over to
promotion.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from localcloud.served_aws import STACK, served_aws

ROOT = Path(__file__).resolve().parents[2]
NAME = "marketing-track"


def _run(argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, **kw)  # type: ignore[call-overload, no-any-return]  # noqa: S603


def _without_pythonpath(env: Mapping[str, str]) -> dict[str, str]:
    """The environment, less the checkout's PYTHONPATH: the installed CLI runs on its own."""
    return {k: v for k, v in env.items() if k != "PYTHONPATH"}


@contextmanager
def _finds_the_stack(cli: str, cwd: Path) -> Iterator[Any]:
    """The installed `cio-rotate` answers `--version`, then, outside the checkout and with
    no outputs file, finds a served local stack by its tags (`status`); yields that stack."""
    version = _run([cli, "--version"], env=_without_pythonpath(os.environ), cwd=cwd)
    assert version.returncode == 0 and version.stdout.startswith("cio-rotate 0.1.0")
    with served_aws() as account:
        account.provision(NAME)
        status = _run([cli, "status"], env=_without_pythonpath(account.env()), cwd=cwd, timeout=120)
        assert status.returncode == 0, status.stderr
        assert f"Acting on stack {STACK}" in status.stderr
        assert f"{NAME} (aws, track, us)" in status.stdout and "no key yet" in status.stdout
        yield account


def test_pyproject_pins_are_the_runtime_pins():
    """One version of each dependency: the CLI's pins are requirements.txt's."""
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        spec = line.split("#", 1)[0].strip()
        if "==" in spec:
            name, version = spec.split("==")
            pins[name.lower()] = version
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for dep in deps:
        name, version = dep.split("==")
        assert pins[name.lower()] == version, dep
    assert not {d.split("==")[0] for d in deps} & {"pulumi", "moto", "pulumi-aws", "pulumi-gcp"}


def test_installed_alone_it_finds_the_stack_and_promotes_a_key(tmp_path):
    venv = tmp_path / "venv"
    assert _run([sys.executable, "-m", "venv", str(venv)], timeout=120).returncode == 0
    pip = _run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(ROOT)],
        timeout=900,
        cwd=tmp_path,
    )
    assert pip.returncode == 0, pip.stderr
    listed = _run([str(venv / "bin" / "python"), "-m", "pip", "list", "--format=json"])
    installed = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert "cio-rotation" in installed and "typer" in installed and "boto3" in installed
    assert not installed & {"pulumi", "moto", "pytest", "pulumi-aws", "pulumi-gcp"}
    cli = str(venv / "bin" / "cio-rotate")
    with _finds_the_stack(cli, tmp_path) as account:
        env = _without_pythonpath(account.env())
        key = account.cio.new_track_key("1001", "us")
        doc = json.dumps({"site_id": key.site_id, "api_key": key.secret})
        submit = _run(
            [cli, "submit", NAME, "--cloud", "aws", "--stack", STACK, "--stdin",
             "--key-name", "Marketing prod"],
            env=env, cwd=tmp_path, input=doc, timeout=180,
        )  # fmt: skip
        assert submit.returncode == 0, submit.stdout + submit.stderr
        assert key.secret not in submit.stdout + submit.stderr
        assert account.harness.current_value(NAME) == {
            "site_id": key.site_id,
            "api_key": key.secret,
            "region": "us",
        }
        assert account.harness.state(NAME).current_name == "Marketing prod"


def test_pipx_install_gives_a_working_cli_that_finds_the_stack(tmp_path):
    """README's `pipx install .`: pipx (pinned in requirements-dev.txt) makes the CLI's own
    virtualenv in a temporary PIPX_HOME; the installed `cio-rotate` runs outside the
    checkout and, with no outputs file, finds the local stack by its tags. About 40 s."""
    home, bin_dir = tmp_path / "pipx", tmp_path / "bin"
    env_pipx = {
        **_without_pythonpath(os.environ),
        "PIPX_HOME": str(home),
        "PIPX_BIN_DIR": str(bin_dir),
        "PIPX_MAN_DIR": str(tmp_path / "man"),
        "PIPX_DEFAULT_PYTHON": sys.executable,
    }
    done = _run(
        [sys.executable, "-m", "pipx", "install", str(ROOT)],
        env=env_pipx,
        cwd=tmp_path,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    cli = str(bin_dir / "cio-rotate")
    app_site = next((home / "venvs" / "cio-rotation" / "lib").glob("python*/site-packages"))
    installed = {p.name.split("-")[0].lower() for p in app_site.glob("*.dist-info")}
    assert {"cio_rotation", "typer", "boto3"} <= installed
    assert not installed & {"pulumi", "moto", "pytest", "pulumi_aws", "pulumi_gcp"}
    with _finds_the_stack(cli, tmp_path):
        pass
