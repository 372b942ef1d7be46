"""The operator's side of the drill: every hand-over goes through `cio-rotate`, in-process.

Runs the real CLI (typer's runner) against the same local cloud, with the stack
outputs file a platform engineer would save, and prints what the terminal shows.
"""

from __future__ import annotations

import json
import shlex
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import requests
from rich.console import Console
from rich.markup import escape
from typer.testing import CliRunner

from localcloud.aws_harness import REGION, AwsHarness
from localcloud.gcp_harness import GcpHarness
from localcloud.google_apis import GoogleApis
from localcloud.stack_outputs import aws_outputs, gcp_outputs
from rotation.cli import Overrides, app
from rotation.credentials import Credential
from rotation.operator import terminal
from rotation.stores.gcp import build_client


class Operator:
    """Types `cio-rotate` commands for the drill and shows their output."""

    def __init__(
        self, console: Console, outputs: Callable[[], dict[str, Any]], overrides: Overrides
    ) -> None:
        self.console = console
        self.outputs = outputs
        self.overrides = overrides
        self.dir = Path(tempfile.mkdtemp(prefix="cio-drill-"))
        # The operator's shell: where `probe` finds Customer.io (the local one here).
        self.env: dict[str, str] = {}
        self.commands = 0  # `cio-rotate` commands typed, for the drill's action count
        self.google: GoogleApis | None = None  # GCP: the Google APIs the CLI talks to

    @classmethod
    def for_aws(cls, console: Console, harness: AwsHarness) -> Operator:
        def outputs() -> dict[str, Any]:
            return aws_outputs(harness)

        session = boto3.session.Session(region_name=REGION)
        return cls(
            console,
            outputs,
            Overrides(session=session, clock=harness.clock, sleep=lambda _: None),
        )

    @classmethod
    def for_gcp(cls, console: Console, harness: GcpHarness) -> Operator:
        def outputs() -> dict[str, Any]:
            return gcp_outputs(harness)

        session = requests.Session()
        session.trust_env = False
        apis = GoogleApis(harness)  # Pub/Sub publish, as Eventarc delivers; Cloud Logging reads
        session.mount("https://", apis)
        operator = cls(
            console,
            outputs,
            Overrides(
                gcp_client=build_client(harness.emulator.endpoint),
                gcp_session=session,
                clock=harness.clock,
                sleep=lambda _: _deliver(harness),  # while the CLI waits, Pub/Sub delivers
            ),
        )
        operator.google = apis
        return operator

    def run(self, *args: str, typed: str | None = None) -> int:
        """Run `cio-rotate ARGS`; `typed` is what the operator types at hidden prompts."""
        self.commands += 1
        # Pasteable: every argument quoted for a POSIX shell, and no markup read from it.
        # What was typed and what the CLI printed, as they are (no emoji codes replaced).
        command = shlex.join(["cio-rotate", *args])
        self.console.print(f"  [bold]$ {escape(command)}[/]", emoji=False)
        path = self.dir / "outputs.json"
        path.write_text(json.dumps(self.outputs()))
        result = CliRunner().invoke(
            app,
            ["--outputs", str(path), *args],
            input=typed,
            obj=self.overrides,
            env={"CIO_ACTOR": "drill-operator", **self.env},  # whole lines: the drill wraps
        )
        for line in result.output.rstrip().splitlines():
            # Indented under the command: in a terminal wrapped at words with the indent
            # kept on every line (a command in backticks whole); in a pipe whole lines.
            text = f"    {line}"
            if not self.console.soft_wrap:
                text = terminal.wrap(text, self.console.width)
            self.console.print(text, markup=False, emoji=False, soft_wrap=True)
        self.console.print(f"    [dim](exit code {result.exit_code})[/]")
        return int(result.exit_code)

    def submit(self, name: str, key: Credential, key_name: str = "") -> int:
        typed = f"{key.site_id}\n{key.secret}\n" if key.site_id else f"{key.secret}\n"
        typed += "\n"  # Enter at the name question: the suggested name, as the notice asked
        named = ("--key-name", key_name) if key_name else ()
        return self.run("submit", name, *named, typed=typed)


def _deliver(harness: GcpHarness) -> None:
    harness.pump()
