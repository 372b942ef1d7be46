"""`cio-rotate evidence` as an operator runs it: a real process in a pseudo-terminal of 60
and 200 columns, and through a pipe, with NO_COLOR. The report on stdout is the same bytes
whatever the terminal (never wrapped, never coloured); what goes to stderr is whole.

AWS is a closed local port here (one attempt per call): the state and the trail cannot
be read, which is itself what the report must say.
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:cio/marketing-track-AbCdEf"


def _env(columns: int) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(ROOT)),
        "COLUMNS": str(columns),
        "NO_COLOR": "1",
        "TERM": "xterm-256color",
        "CIO_SECRETS": f"marketing-track={ARN}",
        "CIO_ROTATOR_LOG_GROUP": "/aws/lambda/cio-rotator",
        "CIO_AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # nothing listens: every call is refused
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_RETRY_MODE": "standard",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",  # pragma: allowlist secret (moto's dummy)
        "PYTHONWARNINGS": "ignore",
    }


def _in_terminal(args: list[str], columns: int) -> tuple[int, str]:
    """Run the CLI with stdout and stderr on a pseudo-terminal of `columns` columns."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    proc = subprocess.Popen(  # noqa: S603 (our interpreter, our module, fixed arguments)
        [sys.executable, "-m", "rotation.cli", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=_env(columns),
        cwd=ROOT,
        close_fds=True,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    code = proc.wait(timeout=120)
    return code, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


def _piped(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (our interpreter, our module, fixed arguments)
        [sys.executable, "-m", "rotation.cli", *args],
        env=_env(80),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


ARGS = ["evidence", "--since", "2026-01-01", "--format", "csv"]


@pytest.mark.parametrize("columns", [60, 200])
def test_the_csv_report_is_whole_in_a_narrow_or_wide_terminal(columns):
    code, text = _in_terminal(ARGS, columns)
    assert code == 0, text
    assert "\x1b[" not in text  # NO_COLOR, and a report is never styled
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("record,"))
    rows = list(csv.reader(io.StringIO("\n".join(lines[header : header + 3]))))
    assert all(len(row) == len(rows[0]) for row in rows)  # no row broken at the width
    assert rows[1][0] == "gap" and rows[2][0] == "gap"
    assert "The audit trail has 2 gaps" in text


def test_piped_stdout_is_the_report_alone_and_stderr_says_why():
    done = _piped(ARGS)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [r["record"] for r in rows] == ["gap", "gap"]
    assert any("could not be read" in r["why"] for r in rows)
    assert "The audit trail has 2 gaps" in done.stderr


@pytest.mark.parametrize("columns", [60, 200])
def test_a_bad_date_in_a_terminal_names_the_option_and_the_fix(columns):
    code, text = _in_terminal(["evidence", "--since", "last-tuesday"], columns)
    assert code == 2
    flat = " ".join(text.split())
    assert "--since: 'last-tuesday' is not a date." in flat
    assert "Give YYYY-MM-DD or an ISO 8601 timestamp" in flat
    done = _piped(["--json", "evidence", "--since", "last-tuesday"])
    assert done.returncode == 2 and done.stdout == ""
    assert json.loads(done.stderr)["field"] == "--since"
