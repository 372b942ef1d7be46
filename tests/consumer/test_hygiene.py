"""Repository hygiene from the guide's checklist: `.env` files ignored, committed keys caught.

`make test` runs `detect-secrets-hook` over every tracked file against the
committed `.secrets.baseline`. These tests show that the same command flags a
credential committed in a new file (the keys are generated at run time, so this
file holds none), and passes for what the baseline already accounts for.
"""

from __future__ import annotations

import secrets
import shutil
import string
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HOOK = Path(sys.executable).with_name("detect-secrets-hook")


def _git(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (fixed arguments, test only)
        ["git", *args],  # noqa: S607
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def _hook(files: list[str], cwd: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    baseline = tmp_path / "baseline.json"
    shutil.copy(ROOT / ".secrets.baseline", baseline)
    return subprocess.run(  # noqa: S603
        [str(HOOK), "--baseline", str(baseline), *files],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A fresh git repository with one committed, harmless file."""
    path = tmp_path / "repo"
    path.mkdir()
    _git("init", "-q", cwd=path)
    (path / "app.py").write_text('GREETING = "hello"\n')
    _git("add", ".", cwd=path)
    return path


def fake_keys() -> dict[str, str]:
    """Credential-shaped strings, made now: an AWS key pair, a Customer.io key and an sk_ key."""
    upper = string.ascii_uppercase + string.digits
    return {
        "aws_access_key_id": "AKIA" + "".join(secrets.choice(upper) for _ in range(16)),
        "aws_secret_access_key": secrets.token_urlsafe(30),
        "customerio_api_key": secrets.token_hex(10),
        "private_key": "sk_" + secrets.token_hex(24),  # pragma: allowlist secret
    }


@pytest.mark.parametrize("name", sorted(fake_keys()))
def test_a_committed_key_fails_the_scan(repo, tmp_path, name):
    value = fake_keys()[name]
    (repo / "settings.py").write_text(f'{name} = "{value}"\n')
    _git("add", ".", cwd=repo)
    result = _hook(["app.py", "settings.py"], repo, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "settings.py" in result.stdout
    assert value not in result.stdout + result.stderr  # the report names the line, not the key


def test_a_key_in_a_dotenv_file_is_ignored_by_git_and_never_committed(tmp_path):
    ignored = _git("check-ignore", "-q", ".env", cwd=ROOT)
    assert ignored.returncode == 0
    for name in (".env.local", ".env.production", "prod.env"):
        assert _git("check-ignore", "-q", name, cwd=ROOT).returncode == 0, name
    assert _git("check-ignore", "-q", ".env.example", cwd=ROOT).returncode == 1


def test_the_committed_baseline_accounts_for_what_is_already_there(tmp_path):
    files = ["consumer/cio_consumer/credentials.py", "tests/consumer/test_webhooks.py"]
    result = _hook(files, ROOT, tmp_path)
    assert result.returncode in (0, 3), result.stdout + result.stderr
