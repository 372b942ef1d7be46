"""Issue 20: every delivered notice says where it comes from, and every command it prints
works when pasted as printed, on a machine whose outputs file holds one stack on both
clouds, with the same credential name on each (`cloud: both`).

Delivered means what reaches a person: the SNS message on AWS, the e-mail Cloud
Monitoring sends on GCP (localcloud/monitoring.py evaluates the stack's alert policy
over the function's log entries).
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from localcloud.stack import STACK
from localcloud.stack_outputs import both_outputs
from rotation.cli import Overrides, app
from rotation.credentials import Credential

NAME = "marketing-track"
WORKSPACE = "1001"
COMMAND = re.compile(r"`(cio-rotate [^`]+)`")
WHERE = {"aws": ("AWS", "123456789012", "us-east-1"), "gcp": ("GCP", "cio-test")}


@dataclass(frozen=True)
class Delivered:
    cloud: str
    subject: str
    text: str
    commands: tuple[str, ...]


class BothClouds:
    """One stack, AWS (moto) and GCP (the emulator), one outputs file, one clock."""

    def __init__(self, cli: Any, gcli: Any, tmp: Any) -> None:
        self.cli, self.gcli, self.tmp = cli, gcli, tmp
        self.aws, self.gcp = cli.aws, gcli.gcp
        self.seen = {"aws": 0, "gcp": 0}
        self.ran: list[tuple[str, int, str]] = []

    def outputs(self) -> str:
        doc = both_outputs(self.aws, self.gcp)  # the programs' own outputs, as one stack
        path = self.tmp / "both-outputs.json"
        path.write_text(json.dumps(doc))
        return str(path)

    def run(self, command: str, input: str | None = None) -> Any:
        """A printed command, pasted as printed."""
        return self.run_argv(shlex.split(command), input=input, command=command)

    def run_argv(self, argv: list[str], input: str | None = None, command: str = "") -> Any:
        assert argv[0] == "cio-rotate"
        result = CliRunner().invoke(
            app,
            ["--outputs", self.outputs(), *argv[1:]],
            input=input,
            obj=Overrides(
                session=self.cli.session,
                gcp_client=self.gcli.client,
                gcp_session=self.gcli.session,
                clock=self.aws.clock,
                sleep=lambda _: self.gcp.pump(),
            ),
            env={"COLUMNS": "200", "CIO_ACTOR": "alice"},
        )
        self.cli.outputs.append(result.output)
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        self.ran.append((command or shlex.join(argv), result.exit_code, result.output))
        return result

    def delivered(self, cloud: str) -> list[Delivered]:
        """What reached a person on `cloud` since the last look."""
        if cloud == "aws":
            raw = [(m["subject"], m["body"]) for m in self.aws.notifications()]
            texts = [(s, b, tuple(COMMAND.findall(b))) for s, b in raw]
        else:
            texts = [
                (m.subject, m.text, tuple(COMMAND.findall(m.markdown)))
                for m in self.gcp.monitoring.sent
            ]
        fresh = texts[self.seen[cloud] :]
        self.seen[cloud] = len(texts)
        return [Delivered(cloud, s, t, c) for s, t, c in fresh]

    def sweep(self) -> None:
        self.aws.sweep()
        self.gcp.sweep()


def _says_where(d: Delivered) -> None:
    words = (NAME, *WHERE[d.cloud], f"stack {STACK}")
    first = d.text.split("\n", 1)[0]
    for word in words:
        assert word in d.subject, (word, d.subject)
        assert word in first, (word, first)
    for command in d.commands:
        assert command.endswith(f"--cloud {d.cloud} --stack {STACK}"), command


def _key(h: BothClouds, workspace: str = WORKSPACE) -> Credential:
    key: Credential = h.aws.cio.new_track_key(workspace)
    h.cli.keys.append(key)
    return key


def _only(commands: tuple[str, ...], verb: str) -> str:
    found = {c for c in commands if c.split()[1] == verb}
    assert len(found) == 1, (verb, commands)
    return found.pop()


@pytest.fixture
def both(cli, gcli, tmp_path) -> BothClouds:
    h = BothClouds(cli, gcli, tmp_path)
    h.aws.provision(NAME, "track", "us", workspace=WORKSPACE)
    h.gcp.provision(NAME, "track", "us", workspace=WORKSPACE)
    return h


@pytest.mark.parametrize("cloud", ["aws", "gcp"])
def test_every_printed_command_does_what_the_notice_says(both: BothClouds, cloud: str) -> None:
    h = both
    first = _key(h)
    # Bootstrap, as printed in the outputs' bootstrap command plus the cloud.
    assert (
        h.run(
            f"cio-rotate submit {NAME} --cloud {cloud} --stack {STACK}",
            input=f"{first.site_id}\n{first.secret}\n\n",
        ).exit_code
        == 0
    )
    h.aws.clock.advance(timedelta(days=76))
    h.sweep()
    told = h.delivered(cloud)
    opened = [d for d in told if "Rotate" in d.subject]
    assert opened, [d.subject for d in told]

    # A wrong key: the refusal prints `runbook`, which shows the steps again.
    wrong = _key(h, "2002")
    submit = _only(opened[-1].commands, "submit")
    assert h.run(submit, input=f"{wrong.site_id}\n{wrong.secret}\n\n").exit_code == 3
    refused = h.delivered(cloud)
    assert any("NOT accepted" in d.subject for d in refused)
    runbook = _only(refused[-1].commands, "runbook")
    shown = h.run(runbook)
    assert shown.exit_code == 0 and "submit" in shown.output

    # The right key, by the opening notice's own command.
    good = _key(h)
    result = h.run(submit, input=f"{good.site_id}\n{good.secret}\n\n")
    assert result.exit_code == 0 and "passed verification" in result.output

    # Grace over: the delete notice's `check`, after deleting the old key, closes it.
    h.aws.clock.advance(timedelta(hours=25))
    h.sweep()
    revoke = [d for d in h.delivered(cloud) if "Delete the old key" in d.subject]
    assert revoke
    h.aws.cio.delete_key(first)
    closed = h.run(_only(revoke[-1].commands, "check"))
    assert closed.exit_code == 0 and "closed" in closed.output
    last = h.delivered(cloud)
    assert any("closed" in d.subject for d in last)

    # An emergency that revokes first: its runbook's commands work too.
    assert (
        h.run(
            f"cio-rotate emergency {NAME} --cloud {cloud} --stack {STACK} --reason 'drill' --revoke-first --yes"
        ).exit_code
        == 0
    )
    urgent = h.delivered(cloud)
    assert urgent and "EMERGENCY" in urgent[-1].subject
    h.aws.cio.delete_key(good)
    third = _key(h)
    assert (
        h.run(
            _only(urgent[-1].commands, "submit"), input=f"{third.site_id}\n{third.secret}\n\n"
        ).exit_code
        == 0
    )
    done = h.run(_only(urgent[-1].commands, "check"))
    assert done.exit_code == 0 and "closed" in done.output

    every = told + refused + last + urgent + h.delivered(cloud)
    kinds = set()
    for d in every:
        _says_where(d)
        kinds.add(d.subject.split("]")[0])
    assert len(h.ran) == 8 and len(every) >= 7
    # No command any notice printed was a usage error (exit 2) or an ambiguity.
    assert all(code != 2 and "ambiguous" not in out for _, code, out in h.ran), h.ran


def test_a_command_for_another_stack_is_refused_with_the_choices(both: BothClouds) -> None:
    result = both.run(f"cio-rotate runbook {NAME} --cloud aws --stack prod")
    assert result.exit_code == 2
    assert "--stack prod does not match" in result.output and repr(STACK) in result.output


# What a person may write, all of it shown as written: markup of the terminal (rich), of chat
# and e-mail (Markdown), emoji codes, quotes, a dash, a newline; 300 characters in all.
REASON = (
    "leaked in Slack #eng, see INC-42 (don't panic) \u2014 rotate [bold]now[/bold] :smile: "
    "*a* _b_ <b>c</b> & `d`\nsecond line: 50% done; "
)
REASON += "x" * (300 - len(REASON))


@pytest.mark.parametrize("cloud", ["aws", "gcp"])
def test_a_reason_is_shown_as_written_everywhere(both: BothClouds, cloud: str) -> None:
    assert len(REASON) == 300
    h = both
    first = _key(h)
    flags = ["--cloud", cloud, "--stack", STACK]
    bootstrap = ["cio-rotate", "submit", NAME, *flags]
    assert h.run_argv(bootstrap, input=f"{first.site_id}\n{first.secret}\n\n").exit_code == 0
    h.delivered(cloud)
    declared = h.run_argv(["cio-rotate", "emergency", NAME, *flags, "--reason", REASON, "--yes"])
    assert declared.exit_code == 0, declared.output
    told = h.delivered(cloud)
    assert told and all(REASON in d.text for d in told), [d.text for d in told]
    for command in ("runbook", "status"):
        argv = ["cio-rotate", command, *([NAME] if command != "status" else []), *flags]
        result = h.run_argv(argv)
        assert result.exit_code in (0, 4), result.output
        assert REASON in result.output, (command, result.output)
    # The audit trail's table wraps long cells; its JSON lines hold the reason exactly.
    history = h.run_argv(["cio-rotate", "history", NAME, *flags, "--json"])
    assert history.exit_code == 0, history.output
    events = [json.loads(line) for line in history.output.splitlines() if line.strip()]
    assert REASON in [e.get("detail") for e in events], events


def test_a_reason_longer_than_recorded_is_refused_naming_the_limit(both: BothClouds) -> None:
    result = both.run_argv(
        ["cio-rotate", "emergency", NAME, "--cloud", "aws", "--reason", "y" * 501, "--yes"]
    )
    assert result.exit_code == 2
    assert "501 characters" in result.output and "at most 500" in result.output
    assert both.aws.state(NAME).mode is None  # nothing was changed
