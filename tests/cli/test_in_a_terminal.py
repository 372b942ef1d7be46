"""`cio-rotate` as its own process: in a real pseudo-terminal, and in a pipe.

The stack is found from its tags (no outputs file); AWS is moto in server mode with the
rotator in this process (localcloud.served_aws).
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest

from localcloud.cloudwatch import CloudWatchShipper
from localcloud.served_aws import ServedAws, served_aws
from rotation.audit import AUDIT_LOGGER
from rotation.state import key_name_stem, suggested_key_name
from tests.cli.pseudo_terminal import run_in_terminal

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "rotation.cli"]
NAME = "marketing-track"
ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def account() -> Iterator[ServedAws]:
    with served_aws() as served:
        yield served


def test_bootstrap_paste_paste_enter_is_promoted_under_the_suggested_name(account):
    account.provision(NAME)
    key = account.cio.new_track_key("1001", "us")
    screen = run_in_terminal(
        [*CLI, "submit", NAME],
        account.env(TERM="xterm"),
        cwd=str(ROOT),
        answers=[
            ("Site ID", key.site_id),
            ("Tracking API key (input hidden)", key.secret),
            ("called in the dashboard?", ""),
        ],
    )
    text = ESCAPE.sub("", screen.text)
    assert screen.code == 0, text
    assert "Acting on stack prod" in text and "first key" in text
    assert key.site_id in text  # the Site ID is not a secret: shown as typed
    assert key.secret not in text  # the key is not echoed
    suggested = suggested_key_name(key_name_stem(NAME, "aws"), datetime.now(UTC))
    assert f"[{suggested}]" in text
    assert account.harness.state(NAME).current_name == suggested


def _emergency_open(account: ServedAws) -> None:
    account.provision(NAME)
    account.provision("billing-app", "app", workspace="")
    account.harness.submit(NAME, account.cio.new_track_key("1001", "us"))
    account.harness.invoke(
        {
            "action": "emergency",
            "secret_id": account.harness.secrets[NAME],
            "reason": "key seen in a CI log",
            "actor": "on-call",
            "revoke_first": False,
        }
    )


@pytest.mark.parametrize("columns", [60, 80, 200])
def test_status_wraps_at_words_and_never_breaks_a_command(account, columns):
    _emergency_open(account)
    screen = run_in_terminal([*CLI, "status"], account.env(TERM="xterm"), columns=columns)
    text = ESCAPE.sub("", screen.text)
    assert screen.code == 0, text
    lines = [line for line in text.split("\n") if line]
    assert len(lines) > 10
    for line in lines:
        assert len(line) <= columns, line
        assert line.count("`") % 2 == 0, line  # a command is whole on its line
    words = " ".join(text.split())
    assert f"{NAME} (aws, track, us)" in words
    assert "new key to be named" in words and "waiting on: operator: a new key" not in words
    assert "operator: the first key" in words  # billing-app has none yet


def test_status_is_the_same_words_at_every_width(account):
    _emergency_open(account)
    texts = [
        " ".join(
            ESCAPE.sub("", run_in_terminal([*CLI, "status"], account.env(), columns=c).text).split()
        )
        for c in (60, 200)
    ]
    same = [re.sub(r"\d", "0", text) for text in texts]  # a minute may pass between the runs
    assert same[0] == same[1]


@pytest.mark.parametrize(("columns", "env"), [(60, {"TERM": "xterm"}), (200, {"NO_COLOR": "1"})])
def test_a_key_in_the_reason_is_refused_on_the_terminal_without_echoing_it(account, columns, env):
    """Issue 21: refused before the rotator is invoked, with the field named and the fix,
    wrapped at words; the text itself is never shown."""
    account.provision(NAME)
    key = account.cio.new_track_key("1001", "us")
    account.harness.submit(NAME, key)
    reason = f"leaked {key.secret} in CI"
    screen = run_in_terminal(
        [*CLI, "emergency", NAME, "--reason", reason, "--yes"],
        account.env(**env),
        columns=columns,
    )
    text = ESCAPE.sub("", screen.text)
    assert screen.code == 3, text
    assert key.secret not in text and key.secret[:12] not in text
    words = " ".join(text.split())
    assert "--reason contains a Customer.io key" in words and "then run the command" in words
    assert all(len(line) <= columns for line in text.splitlines())
    if "NO_COLOR" in env:
        assert "\x1b[" not in screen.text
    assert account.harness.state(NAME).phase.value == "idle"  # nothing was declared


def test_history_in_a_pipe_is_one_whole_row_a_line(account):
    account.provision(NAME)
    audit = logging.getLogger(AUDIT_LOGGER)
    shipper = CloudWatchShipper(boto3.client("logs", region_name="us-east-1"))
    audit.addHandler(shipper)
    old_level = audit.level
    audit.setLevel(logging.INFO)
    try:
        account.harness.submit(NAME, account.cio.new_track_key("1001", "us"))
    finally:
        audit.removeHandler(shipper)
        audit.setLevel(old_level)
    done = subprocess.run(  # noqa: S603 (fixed argv)
        [*CLI, "history", NAME],
        env=account.env(COLUMNS="80"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = done.stdout.splitlines()
    assert rows[0].split("\t") == [
        "at", "event", "rotation", "mode", "actor", "outcome", "fingerprints",
    ]  # fmt: skip
    assert len(rows) > 2 and all(row.count("\t") == 6 for row in rows)
    grep = subprocess.run(
        ["grep", "-c", "key.promoted"],  # noqa: S607 (grep from the PATH, as a person would)
        input=done.stdout,
        capture_output=True,
        text=True,
        check=False,
    )
    assert int(grep.stdout) >= 1, done.stdout


@pytest.mark.parametrize("env", [{"NO_COLOR": "1", "TERM": "dumb"}, {"TERM": "dumb"}])
def test_the_drill_in_a_plain_terminal_has_no_escape_codes_and_fits(env):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CIO_", "AWS_"))}
    screen = run_in_terminal(
        [sys.executable, "-m", "drill"], {**base, **env}, columns=80, cwd=str(ROOT), timeout=300
    )
    assert screen.code == 0, screen.text[-2000:]
    assert "\x1b" not in screen.text
    assert not re.search(r"\[[0-9;]+m", screen.text)  # no escape code with its ESC lost
    assert all(len(line) <= 80 for line in screen.lines), max(screen.lines, key=len)
    assert "Drill finished" in screen.text
    assert "audit trail not read" not in screen.text  # status is given the log group
    assert screen.text.count("FutureWarning") == 0
