"""`cio-rotate`: the operator CLI. Thin: parsing and printing here, decisions in rotation.operator.

No command prints a key: keys are shown as their last 4 characters and fingerprint.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from rotation import conventions as cv
from rotation.clock import Clock, SystemClock
from rotation.credentials import FIELDS, SECRET_FIELD, Kind, parse_credential
from rotation.errors import MalformedKey
from rotation.logs import quiet_sdk_loggers
from rotation.operator import operations as ops
from rotation.operator.backend import (
    EXIT_CLOUD,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_USAGE,
    Backend,
    CloudFailure,
    OperatorError,
)
from rotation.operator.config import (
    ENV_ACTOR,
    ConfigError,
    CredentialRef,
    OperatorConfig,
    UnknownCredential,
    load_config,
)
from rotation.policy import Policy

EPILOG = (
    "Exit codes: 0 done; 1 aborted at a confirmation prompt; 2 usage error; "
    "3 key rejected or request refused; 4 waiting or inconclusive (nothing failed, the "
    "outcome is not known yet); 5 cloud error (permission, credentials, rotator failure); "
    "6 not found (unknown credential name, missing secret or function, no open rotation)."
)


quiet_sdk_loggers()  # the SDKs log PutSecretValue parameters (the key) at DEBUG

app = typer.Typer(
    name=cv.CLI_NAME,
    help="Rotate Customer.io credentials: status, hand-over, emergencies, audit trail.",
    epilog=EPILOG,
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # a traceback's locals could hold a pasted key
    add_completion=False,
)

PROMPTS = {
    "site_id": "Site ID",
    "api_key": "Tracking API key",
    "app_api_key": "App API key",
    "signing_key": "Signing key",
}


@dataclass
class Overrides:
    """What tests (and the drill) inject through `CliRunner.invoke(..., obj=Overrides(...))`."""

    session: Any = None  # a boto3 Session
    gcp_client: Any = None  # a SecretManagerServiceClient
    gcp_session: Any = None  # a requests Session for the Pub/Sub and Logging REST APIs
    clock: Clock | None = None
    sleep: Callable[[float], None] | None = None
    backends: dict[str, Backend] = field(default_factory=dict)


@dataclass
class Cli:
    outputs: str | None
    region: str | None
    function: str | None
    log_group: str | None
    cloud: str | None
    overrides: Overrides
    _config: OperatorConfig | None = None

    @property
    def config(self) -> OperatorConfig:
        if self._config is None:
            self._config = load_config(
                self.outputs,
                aws_region=self.region,
                function_name=self.function,
                log_group=self.log_group,
            )
        return self._config

    @property
    def clock(self) -> Clock:
        return self.overrides.clock or SystemClock()

    def ref(self, name: str) -> CredentialRef:
        return self.config.credential(name, self.cloud)

    def backend(self, ref: CredentialRef) -> Backend:
        if ref.cloud in self.overrides.backends:
            return self.overrides.backends[ref.cloud]
        if ref.cloud == "aws":
            from rotation.operator.aws import AwsBackend

            backend: Backend = AwsBackend(self.config, self.overrides.session)
        elif ref.cloud == "gcp":
            from rotation.operator.gcp import GcpBackend

            backend = GcpBackend(
                self.config,
                self.overrides.gcp_client,
                self.overrides.gcp_session,
                sleep=self.overrides.sleep or _sleep,
            )
        else:
            raise CloudFailure(f"{ref.name} is on an unknown cloud {ref.cloud!r}.")
        self.overrides.backends[ref.cloud] = backend
        return backend


out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _say(text: str, style: str | None = None, console: Console | None = None) -> None:
    (console or out).print(text, style=style, markup=False, highlight=False, soft_wrap=True)


def _report(outcome: ops.Outcome) -> None:
    style = {EXIT_OK: "bold green", EXIT_REJECTED: "bold red"}.get(outcome.code, "bold yellow")
    _say(outcome.headline, style)
    for line in outcome.lines:
        if line:
            _say(line)
    if outcome.code:
        raise typer.Exit(outcome.code)


@contextmanager
def _errors() -> Iterator[None]:
    """Every failure as one line that names the fix, and its documented exit code."""
    try:
        yield
    except OperatorError as e:
        _say(f"error: {e}", "bold red", err)
        raise typer.Exit(e.exit_code) from None
    except UnknownCredential as e:
        _say(f"error: {e}", "bold red", err)
        raise typer.Exit(EXIT_NOT_FOUND) from None
    except ConfigError as e:
        _say(f"error: {e}", "bold red", err)
        raise typer.Exit(EXIT_USAGE) from None
    except MalformedKey as e:
        # MalformedKey messages name the field and the fix, never the value.
        _say(f"error: the key was not accepted: {e} Nothing was written.", "bold red", err)
        raise typer.Exit(EXIT_REJECTED) from None


def _cli(ctx: typer.Context) -> Cli:
    state = ctx.obj
    assert isinstance(state, Cli)
    return state


def _actor() -> str:
    """Who the audit trail records: CIO_ACTOR, else the login name."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "operator"
    return os.environ.get(ENV_ACTOR) or user


@app.callback()
def main(
    ctx: typer.Context,
    outputs: Annotated[
        str | None,
        typer.Option(
            "--outputs",
            envvar="CIO_OUTPUTS",
            help="The stack outputs: `pulumi stack output --json > outputs.json`.",
        ),
    ] = None,
    region: Annotated[
        str | None, typer.Option(help="AWS region (default: from the secret ARNs).")
    ] = None,
    function: Annotated[
        str | None,
        typer.Option(help="Rotator function name (default: aws_rotator_function_name)."),
    ] = None,
    log_group: Annotated[
        str | None, typer.Option(help="Rotator log group (default: aws_rotator_log_group).")
    ] = None,
    cloud: Annotated[
        str | None, typer.Option(help="aws or gcp, for a credential managed on both.")
    ] = None,
) -> None:
    """Rotate Customer.io credentials kept in AWS Secrets Manager / GCP Secret Manager."""
    overrides = ctx.obj if isinstance(ctx.obj, Overrides) else Overrides()
    ctx.obj = Cli(outputs, region, function, log_group, cloud, overrides)


@app.command(epilog=EPILOG)
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Every managed credential: key age, next rotation, open rotation, old key revoked."""
    cli = _cli(ctx)
    rows: list[ops.CredentialStatus] = []
    worst = EXIT_OK
    with _errors():
        now = cli.clock.now()
        policy = Policy.from_env()
        for ref in cli.config.credentials:
            if cli.cloud and ref.cloud != cli.cloud:
                continue
            try:
                backend = cli.backend(ref)
                snap = backend.snapshot(ref)
                rows.append(ops.describe(ref, snap, backend.details(ref), now, policy))
            except OperatorError as e:
                worst = max(worst, e.exit_code)
                rows.append(ops.unavailable(ref, str(e)))
    if as_json:
        typer.echo(json.dumps([r.to_json() for r in rows], indent=2))
    else:
        table = Table(title=f"Customer.io credentials ({cli.config.source})")
        for column in (
            "credential",
            "cloud",
            "kind",
            "region",
            "current key",
            "age",
            "next rotation",
            "open rotation",
            "waiting on",
            "deadline",
            "previous key revoked",
        ):
            table.add_column(column)
        for r in rows:
            opened = (
                f"{r.mode} {r.rotation_id} since {ops.when(r.opened_at)}"
                if r.rotation_id and r.phase != "idle"
                else "-"
            )
            nxt = ops.when(r.next_rotation)
            if r.native_deadline:
                nxt += f" (AWS deadline {ops.when(r.native_deadline)})"
            previous = r.previous_revoked
            if r.previous_fp:
                previous += f" ({r.previous_fp})"
            table.add_row(
                r.name,
                r.cloud,
                r.kind,
                r.region or "-",
                r.current_fp or "-",
                r.key_age,
                nxt,
                opened,
                r.waiting_on,
                ops.when(r.deadline),
                previous,
            )
        out.print(table)
        for r in rows:
            if r.problem:
                _say(f"{r.name} ({r.cloud}): {r.problem}", "yellow", err)
    if worst:
        raise typer.Exit(worst)


def _read_submission(kind: Kind, region: str, from_stdin: bool) -> bytes:
    if from_stdin:
        text = sys.stdin.read()
        try:
            doc = json.loads(text)
        except json.JSONDecodeError:
            return text.encode("utf-8")  # parse_credential says what is wrong, safely
        if isinstance(doc, dict) and "region" in FIELDS[kind] and "region" not in doc and region:
            doc["region"] = region
        return json.dumps(doc).encode("utf-8")
    values: dict[str, str] = {}
    for name in FIELDS[kind]:
        if name == "region":
            values[name] = region
            continue
        prompt = PROMPTS.get(name, name)
        if name == SECRET_FIELD[kind]:
            prompt += " (input hidden)"
        values[name] = str(typer.prompt(prompt, hide_input=True)).strip()
    return json.dumps(values).encode("utf-8")


@app.command(epilog=EPILOG)
def submit(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The credential's name, as in `status`.")],
    stdin: Annotated[
        bool,
        typer.Option("--stdin", help="Read the credential as a JSON document from stdin."),
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the verdict.")] = 120.0,
    poll: Annotated[float, typer.Option(help="Seconds between checks.")] = 2.0,
) -> None:
    """Hand over a new key: it is verified, then promoted, or you are told why not."""
    cli = _cli(ctx)
    with _errors():
        ref = cli.ref(name)
        backend = cli.backend(ref)
        snap = backend.snapshot(ref)
        kind, region = snap.config.kind, snap.config.region
        raw = _read_submission(kind, region.value if region else "", stdin)
        credential = parse_credential(raw, kind, region)
        _say(f"Key {credential.label} is well formed; handing it over to the rotator...")
        outcome = ops.submit_key(
            backend,
            ref,
            credential,
            credential.to_json().encode("utf-8"),
            actor=_actor(),
            timeout=timeout,
            poll=poll,
            sleep=cli.overrides.sleep or _sleep,
        )
    _report(outcome)


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


@app.command(epilog=EPILOG)
def emergency(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="The credential (or use --all).")] = None,
    reason: Annotated[
        str, typer.Option("--reason", help="Why (goes into the audit trail and notices).")
    ] = "",
    all_: Annotated[bool, typer.Option("--all", help="Every managed credential.")] = False,
    revoke_first: Annotated[
        bool,
        typer.Option(
            "--revoke-first",
            help="Delete the old key before the new one is live (contain a leak now).",
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Force an immediate rotation of one credential, or of all with --all."""
    cli = _cli(ctx)
    if not reason.strip():
        raise typer.BadParameter("an emergency needs --reason TEXT", param_hint="--reason")
    if bool(name) == all_:
        raise typer.BadParameter("give a credential NAME or --all (not both)")
    with _errors():
        if all_:
            refs = [r for r in cli.config.credentials if not cli.cloud or r.cloud == cli.cloud]
        else:
            assert name is not None
            refs = [cli.ref(name)]
    what = "ALL credentials" if all_ else refs[0].name
    mode = " with revoke-first (applications fail until the new key is live)" * revoke_first
    if not yes:
        typer.confirm(f"Declare an EMERGENCY rotation of {what}{mode}?", abort=True)
    event = ops.emergency_event(reason, _actor(), revoke_first)
    if not all_:
        with _errors():
            ref = refs[0]
            summary = cli.backend(ref).invoke(ref, cv.ACTION_EMERGENCY, **event)
        _report(ops.emergency_result(summary, ref.name))
        return
    results: list[tuple[CredentialRef, str, int]] = []
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err
    ) as progress:
        task = progress.add_task("emergency", total=len(refs))
        for ref in refs:
            progress.update(task, description=f"emergency {ref.name}")
            try:
                summary = cli.backend(ref).invoke(ref, cv.ACTION_EMERGENCY, **event)
                results.append((ref, ops.emergency_line(summary), EXIT_OK))
            except OperatorError as e:
                results.append((ref, str(e), e.exit_code))
            progress.advance(task)
    table = Table(title=f"Emergency: {reason}")
    for column in ("credential", "cloud", "result"):
        table.add_column(column)
    for ref, text, code in results:
        table.add_row(ref.name, ref.cloud, ("ok: " if code == EXIT_OK else "FAILED: ") + text)
    out.print(table)
    worst = max((code for _, _, code in results), default=EXIT_OK)
    if worst:
        raise typer.Exit(worst)


@app.command(epilog=EPILOG)
def rollback(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The credential.")],
) -> None:
    """Make the previous key current again (only while Customer.io still accepts it)."""
    cli = _cli(ctx)
    with _errors():
        ref = cli.ref(name)
        backend = cli.backend(ref)
        snap = backend.snapshot(ref)
        ops.rollback_check(snap)
        summary = backend.invoke(ref, cv.ACTION_ROLLBACK, actor=_actor())
        outcome = ops.rollback_result(summary, snap.config.name, snap.state)
    _report(outcome)


@app.command(epilog=EPILOG)
def history(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The credential.")],
    limit: Annotated[int, typer.Option(help="At most this many events.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False,
) -> None:
    """The audit trail of a credential, newest first."""
    cli = _cli(ctx)
    with _errors():
        ref = cli.ref(name)
        entries = cli.backend(ref).history(ref, limit)
    if as_json:
        for entry in entries:
            typer.echo(json.dumps(entry.to_json(), sort_keys=True))
        return
    if not entries:
        _say(f"No audit events for {name} yet.")
        return
    table = Table(title=f"Audit trail of {name} (newest first)")
    for column in ("at", "event", "rotation", "mode", "actor", "outcome", "fingerprints"):
        table.add_column(column)
    for e in entries:
        fps = " ".join(f"{k}={v}" for k, v in sorted(e.fingerprints.items()))
        table.add_row(e.at, e.event, e.rotation_id, e.mode, e.actor, e.outcome, fps)
    out.print(table)


@app.command("runbook", epilog=EPILOG)
def runbook_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The credential.")],
) -> None:
    """Print the instructions of the open rotation again."""
    cli = _cli(ctx)
    with _errors():
        ref = cli.ref(name)
        snap = cli.backend(ref).snapshot(ref)
        outcome = ops.runbook_text(snap, cli.clock.now(), Policy.from_env())
    _report(outcome)


@app.command(epilog=EPILOG)
def check(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The credential.")],
) -> None:
    """Ask the rotator to take the next step now (run it after deleting an old key)."""
    cli = _cli(ctx)
    with _errors():
        ref = cli.ref(name)
        backend = cli.backend(ref)
        backend.invoke(ref, cv.ACTION_RECONCILE)
        outcome = ops.check_result(backend.snapshot(ref), cli.clock.now())
    _report(outcome)


__all__ = ["EXIT_CLOUD", "Overrides", "app"]


if __name__ == "__main__":
    app()
