"""Each line a new user found misleading (issue 22), and JSON mode with missing input.

Every test here fails on the code before the fix: it asserts the line that is now true.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from rotation.state import REASON_MAX, Phase
from tests.cli.test_cli_aws import NAME, bootstrapped, promoted, state

WRITES = {"PutSecretValue", "RotateSecret", "Invoke", "UpdateSecretVersionStage"}


def rows(result):
    return {r["name"]: r for r in json.loads(result.stdout)}


def block(text: str, name: str) -> str:
    """The lines of one credential's block in `status`, whitespace collapsed."""
    lines = text.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{name} ("))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].strip()), len(lines))
    return " ".join(" ".join(lines[start:end]).split())


def test_check_with_nothing_open_does_not_say_closed(cli, aws, clock):
    bootstrapped(cli, aws, clock, open_rotation=False)
    result = cli.run("check", NAME)
    assert result.exit_code == 0
    st = state(aws)  # the bootstrap's rotation closed when the first key went live
    assert result.output.strip() == (
        f"{NAME}: no rotation is open (the last one closed: {st.last_rotation_id}, "
        f"{st.last_closed_at:%Y-%m-%d %H:%M} UTC)."
    )
    assert "rotation closed" not in result.output


def test_a_key_without_a_first_key_waits_on_the_operator(cli, aws):
    aws.provision(NAME, "track", "us", workspace="1001")
    text = block(cli.run("status").output, NAME)
    assert "waiting on: operator: the first key" in text
    assert "waiting on: -" not in text


def test_the_grace_period_is_not_called_the_deadline(cli, aws, clock):
    promoted(cli, aws, clock)
    st = state(aws)
    assert st.grace_until is not None and st.deadline is not None
    text = block(cli.run("status").output, NAME)
    assert f"grace period ends: {st.grace_until:%Y-%m-%d %H:%M} UTC" in text
    assert f"deadline: {st.deadline:%Y-%m-%d %H:%M} UTC" in text
    row = rows(cli.run("status", "--json"))[NAME]
    assert row["grace_until"] == st.grace_until.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert row["deadline"] == st.deadline.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_an_open_rotation_shows_the_name_it_asked_for(cli, aws, clock):
    bootstrapped(cli, aws, clock)
    st = state(aws)
    assert st.key_name
    row = rows(cli.run("status", "--json"))[NAME]
    assert row["requested_key_name"] == st.key_name
    assert row["current_key_name"] == st.current_name
    assert f'new key to be named: "{st.key_name}"' in block(cli.run("status").output, NAME)


def test_a_previous_key_confirmed_dead_stays_dead_when_an_emergency_opens(cli, aws, clock):
    first, _ = promoted(cli, aws, clock)
    clock.advance(timedelta(days=2))
    aws.cio.delete_key(first)
    assert cli.run("check", NAME).exit_code == 0
    closed = state(aws)
    assert closed.phase is Phase.IDLE and closed.previous_revoked
    assert cli.run("emergency", NAME, "--reason", "leak", "--yes").exit_code == 0
    assert state(aws).phase is Phase.AWAITING_KEY
    text = block(cli.run("status").output, NAME)
    assert f"previous key revoked: yes (when {closed.last_rotation_id} closed)" in text
    assert "previous key revoked: no" not in text


def test_a_retired_credential_is_not_shown_as_refused_on_a_wrong_date(cli, aws):
    from tests.cli.test_cli_probe_retire import provisioned

    first = provisioned(cli, aws, "track")
    assert cli.run("retire", "track", "--reason", "moved", "--yes").exit_code == 0
    aws.cio.delete_key(first)
    assert cli.run("check", "track").exit_code == 0
    assert state(aws, "track").phase is Phase.RETIRED
    text = block(cli.run("status").output, "track")
    assert "current key works: n/a (retired" in text and "REFUSED" not in text


def test_no_wait_with_timeout_is_a_usage_error(cli, aws, clock):
    bootstrapped(cli, aws, clock)
    before = len(cli.calls)
    result = cli.run("submit", NAME, "--no-wait", "--timeout", "5", "--stdin", input="{}")
    assert result.exit_code == 2
    assert "--no-wait and --timeout contradict each other" in result.output
    assert cli.calls[before:] == []


def test_a_too_long_reason_is_refused_with_the_limit_never_cut(cli, aws, clock):
    bootstrapped(cli, aws, clock, open_rotation=False)
    before = len(cli.calls)
    result = cli.run("emergency", NAME, "--reason", "x" * 100_000, "--yes")
    assert result.exit_code == 2
    assert f"at most {REASON_MAX}" in result.output and "100000 characters long" in result.output
    assert not WRITES & set(cli.calls[before:])
    result = cli.run("retire", NAME, "--reason", "y" * (REASON_MAX + 1), "--yes")
    assert result.exit_code == 2 and f"at most {REASON_MAX}" in result.output


def test_help_says_shell_policy_variables_are_not_read(cli, aws, clock):
    bootstrapped(cli, aws, clock, open_rotation=False)
    assert "are not read at all" in " ".join(cli.run("--help").output.split())
    result = cli.run("status", env={"CIO_GRACE_HOURS": "abc"})
    assert result.exit_code == 0
    assert "CIO_GRACE_HOURS in your shell is ignored" in result.output


def test_help_shows_boolean_flags_as_flags(cli, aws):
    text = cli.run("submit", "--help").output
    assert "<bool>" not in text and "--no-wait " in text and "--stdin " in text


# -- JSON mode: missing input is a usage error, before anything is read or written ----

MISSING = [
    ("submit", ("submit", NAME, "--json"), "--stdin"),
    ("probe", ("probe", NAME, "--json"), "--stdin"),
    ("emergency", ("emergency", NAME, "--reason", "leak", "--json"), "--yes"),
    ("retire", ("retire", NAME, "--reason", "moved", "--json"), "--yes"),
    (
        "conflict",
        ("submit", NAME, "--stdin", "--no-wait", "--timeout", "5", "--json"),
        "--no-wait",
    ),
]


@pytest.mark.parametrize(("label", "argv", "field"), MISSING, ids=[m[0] for m in MISSING])
def test_json_mode_never_prompts(cli, aws, clock, label, argv, field):
    bootstrapped(cli, aws, clock, open_rotation=False)
    before = len(cli.calls)
    key = cli.track("1001")
    result = cli.run(*argv, input=f"{key.site_id}\n{key.secret}\ny\n")
    assert result.exit_code == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    error = json.loads(line)
    assert error["exit_code"] == 2 and error["field"] == field
    assert error["error"] in ("missing_input", "usage")
    assert "?" not in result.stderr.split("{", 1)[0]  # no prompt before the JSON
    assert cli.calls[before:] == []  # refused before any read or write


def test_status_reads_each_credential_with_two_store_calls(cli, aws):
    """DescribeSecret (tags, stages, the native schedule) and the state document: no
    second DescribeSecret for the schedule. Plus one read of the trail for them all."""
    names = [f"cred-{i}" for i in range(5)]
    for name in names:
        aws.provision(name, "track", "us", workspace="1001")
        aws.submit(name, cli.track("1001"))
    before = len(cli.calls)
    result = cli.run("status", "--json")
    assert result.exit_code == 0
    calls = sorted(cli.calls[before:])
    assert calls == sorted(
        ["DescribeSecret"] * 5 + ["GetSecretValue(state)"] * 5 + ["FilterLogEvents"]
    )
    assert [r["name"] for r in json.loads(result.stdout)] == names  # in order, one document


def test_status_on_gcp_reads_each_credential_with_two_store_calls(gcli):
    """GetSecret (labels, annotations, the rotation schedule) and the version list."""
    gcp = gcli.gcp
    names = [f"cred-{i}" for i in range(3)]
    for name in names:
        gcp.provision(name, "track", "us", workspace="111")
        gcp.submit(name, gcli.track("111"))
    requests = gcp.emulator.requests
    before = len(requests)
    result = gcli.run("status", "--json")
    assert result.exit_code == 0, result.output
    made = sorted((method, path.rsplit("/", 1)[-1]) for method, path, _ in requests[before:])
    secret_ids = [gcp.secrets[n].rsplit("/", 1)[-1] for n in names]  # the program's ids
    assert made == sorted([("GET", s) for s in secret_ids] + [("GET", "versions")] * 3)
