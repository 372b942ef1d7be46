"""`cio-rotate`: the operator CLI. Thin: parsing and printing here, decisions in rotation.operator.

No command prints a key: keys are shown as their last 4 characters and fingerprint.
It behaves like the CLIs operators already use: `-h`, `--version`, shell
completion, `--json` (or `--output json`) on every command with errors as a JSON
object on stderr, and global options accepted before or after the command. Data
(names, ARNs, reasons) is never interpreted as markup or emoji.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from typer._click import exceptions as click_exc
from typer._click.core import ParameterSource
from typer.core import TyperGroup

from rotation import conventions as cv
from rotation import intake
from rotation.clock import Clock, SystemClock
from rotation.credentials import FIELDS, SECRET_FIELD, Kind, parse_credential
from rotation.errors import MalformedKey
from rotation.logs import quiet_sdk_loggers
from rotation.operator import drain_view, terminal
from rotation.operator import operations as ops
from rotation.operator.backend import (
    EXIT_ABORTED,
    EXIT_CLOUD,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_QUEUED,
    EXIT_REJECTED,
    EXIT_USAGE,
    AuditEntry,
    Backend,
    CloudFailure,
    OperatorError,
)
from rotation.operator.config import (
    CLOUDS,
    ENV_ACTOR,
    ENV_OUTPUTS,
    ConfigError,
    CredentialRef,
    OperatorConfig,
    UnknownCredential,
    load_config,
    shell_policy_variables,
    wants_discovery,
)
from rotation.origin import Origin
from rotation.state import REASON_MAX, key_name_stem, reason_problem, suggested_key_name

EPILOG = (
    "Exit codes: 0 done; 1 aborted at a confirmation prompt; 2 usage error (a flag, an "
    "argument, the outputs file or a CIO_* variable); 3 key rejected or request refused "
    "(nothing was written); 4 waiting or inconclusive (nothing failed, the outcome is not "
    "known yet); 5 cloud error (permission, credentials, rotator failure); 6 not found "
    "(unknown credential name, missing secret or function, no open rotation); 7 emergency "
    "queued (an old key must be deleted before it opens); 8 unknown (`drain`: the evidence "
    "could not be read whole, so nothing is claimed). Global options (--json, --cloud, "
    "--stack, --outputs, ...) may come before or after the command. Policy variables "
    "(CIO_GRACE_HOURS, CIO_ROTATION_DAYS, ...) in your shell are not read at all: dates come "
    "from the stack's policy."
)

quiet_sdk_loggers()  # the SDKs log PutSecretValue parameters (the key) at DEBUG

# Options of the main callback: moved in front of the command wherever they are typed.
GLOBAL_VALUE_OPTIONS = frozenset(
    {"--outputs", "--region", "--function", "--log-group", "--cloud", "--stack", "--output"}
)
GLOBAL_FLAGS = frozenset({"--json"})
MAX_TIMEOUT = 3600.0
MAX_LIMIT = 10_000

PROMPTS = {
    "site_id": "Site ID",
    "api_key": "Tracking API key",
    "app_api_key": "App API key",
    "signing_key": "Signing key",
}

# Made afresh for each invocation (CioGroup.main), for the streams of that moment.
out = terminal.console()
err = terminal.console(stderr=True)


def hoist_globals(args: Sequence[str], commands: Sequence[str]) -> list[str]:
    """Global options typed after the command, moved before it (`submit X --cloud aws`)."""
    args = list(args)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--" or not arg.startswith("-"):
            break
        i += 2 if arg in GLOBAL_VALUE_OPTIONS else 1
    if i >= len(args) or args[i] not in commands:
        return args
    moved: list[str] = []
    rest: list[str] = []
    tail = args[i + 1 :]
    j = 0
    while j < len(tail):
        arg = tail[j]
        if arg == "--":
            rest += tail[j:]
            break
        name = arg.split("=", 1)[0]
        if name in GLOBAL_VALUE_OPTIONS:
            step = 1 if "=" in arg else 2
            moved += tail[j : j + step]
            j += step
        elif arg in GLOBAL_FLAGS:
            moved.append(arg)
            j += 1
        else:
            rest.append(arg)
            j += 1
    return args[:i] + moved + [args[i]] + rest


def wants_json(args: Sequence[str]) -> bool:
    """--json or --output json anywhere: then even a usage error is a JSON object."""
    for i, arg in enumerate(args):
        if arg == "--":
            return False
        if arg == "--json" or arg == "--output=json":
            return True
        if arg == "--output" and i + 1 < len(args) and args[i + 1] == "json":
            return True
    return False


def error_document(code: str, exit_code: int, message: str, fix: str, **extra: Any) -> str:
    doc = {"error": code, "exit_code": exit_code, "message": message, "fix": fix, **extra}
    return json.dumps(doc, sort_keys=True)


_IMPERATIVE = re.compile(
    r"^(run|pass|set|use|check|create|refresh|log in|delete|paste|copy|remove|write|save|"
    r"ask|retry|assume|give|keep|fix|unset|pipe|put|make|follow|see|try|add|wait|type)\b",
    re.IGNORECASE,
)


def fix_of(message: str) -> str:
    """The part of a message that says what to do: from its first imperative clause on."""
    clauses = re.split(r"(?<=[.:;])\s+|(?<=\()", message)
    for i, clause in enumerate(clauses):
        if _IMPERATIVE.match(clause.strip(" ,(`")):
            return " ".join(c.strip() for c in clauses[i:]).strip().rstrip(")")
    return clauses[-1].strip()


class CioGroup(TyperGroup):
    """Global options anywhere; usage errors as plain text, or JSON under --json."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_globals(args, list(self.commands)))

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        global out, err
        out, err = terminal.console(), terminal.console(stderr=True)
        argv = list(sys.argv[1:] if args is None else args)
        code = EXIT_OK
        try:
            rv = super().main(
                argv, prog_name or cv.CLI_NAME, complete_var, standalone_mode=False, **extra
            )
            code = rv if isinstance(rv, int) else EXIT_OK
        except click_exc.NoArgsIsHelpError as e:
            e.show()
            code = e.exit_code
        except click_exc.ClickException as e:
            code = _usage_error(e, wants_json(argv))
        except typer.Abort:
            _say("Aborted: nothing was done.", console=err)
            code = EXIT_ABORTED
        if standalone_mode:
            sys.exit(code)
        return code


def _usage_error(e: click_exc.ClickException, as_json: bool) -> int:
    ctx = getattr(e, "ctx", None)
    where = ctx.command_path if ctx is not None else cv.CLI_NAME
    fix = f"See `{where} -h` for the options and an example."
    message = e.format_message()
    kind = {
        click_exc.NoSuchOption: "unknown_option",
        click_exc.MissingParameter: "missing_argument",
        click_exc.BadParameter: "bad_value",
    }.get(type(e), "usage")
    if as_json:
        err.file.write(error_document(kind, e.exit_code, message, fix) + "\n")
    else:
        if ctx is not None:
            _say(ctx.get_usage(), console=err)
        _say(f"error: {message}", console=err)
        _say(fix, console=err)
    return e.exit_code


app = typer.Typer(
    name=cv.CLI_NAME,
    cls=CioGroup,
    help="Rotate Customer.io credentials: status, hand-over, emergencies, audit trail.",
    epilog=EPILOG,
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help: flags as flags (no `<bool>`), no box drawing in a pipe
    pretty_exceptions_enable=False,  # a traceback's locals could hold a pasted key
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@dataclass
class Overrides:
    """What tests (and the drill) inject through `CliRunner.invoke(..., obj=Overrides(...))`."""

    session: Any = None  # a boto3 Session
    gcp_client: Any = None  # a SecretManagerServiceClient
    gcp_session: Any = None  # a requests Session for the Pub/Sub and Logging REST APIs
    clock: Clock | None = None
    sleep: Callable[[float], None] | None = None
    backends: dict[str, Backend] = field(default_factory=dict)
    verifier: Any = None  # a rotation.verify.Verifier for `probe` (default: from the env)


@dataclass
class Cli:
    outputs: str | None
    region: str | None
    function: str | None
    log_group: str | None
    cloud: str | None
    overrides: Overrides
    as_json: bool = False
    outputs_origin: str = "--outputs"
    stack: str | None = None
    _config: OperatorConfig | None = None

    @property
    def config(self) -> OperatorConfig:
        if self._config is None:
            found = None
            if wants_discovery(self.outputs):
                from rotation.operator.discover import discover

                found = discover(
                    self.overrides, cloud=self.cloud, region=self.region, stack=self.stack
                )
            self._config = load_config(
                self.outputs,
                aws_region=self.region,
                function_name=self.function,
                log_group=self.log_group,
                outputs_origin=self.outputs_origin,
                discovered=found,
            )
            config = self._config
            known = config.stack or os.environ.get(cv.ENV_STACK, "")
            if self.stack and known and self.stack != known:
                # Typed as printed by a notice of another stack: never act on this one.
                raise ConfigError(
                    f"--stack {self.stack} does not match the stack of {config.source}, "
                    f"which is {known!r}. Point the CLI at the outputs of stack {self.stack} "
                    f"(`pulumi stack output --stack {self.stack} --json > outputs.json`, then "
                    "--outputs outputs.json or CIO_OUTPUTS), or pass --stack "
                    f"{known}."
                )
            if found is not None and not self.as_json:
                _say(f"Acting on {config.source}.", console=err)
                if config.policy_note:
                    _say(f"note: {config.policy_note}.", console=err)
            ignored = shell_policy_variables()
            if ignored and not self.as_json:
                names = ", ".join(ignored)
                _say(
                    f"note: {names} in your shell is ignored: the CLI uses the stack's policy "
                    "(outputs 'policy'), or the defaults. Unset it to silence this note.",
                    console=err,
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


def _say(
    text: str, style: str | None = None, console: Console | None = None, indent: int = 0
) -> None:
    """One message: wrapped at word boundaries in a terminal, whole lines in a pipe."""
    console = console or out
    if terminal.is_terminal(console.file):
        text = terminal.wrap(text, console.width, indent)
    console.print(text, style=style, markup=False, emoji=False, highlight=False, soft_wrap=True)


def _emit(doc: Any) -> None:
    """A JSON document on stdout (never through rich: no wrapping, no markup)."""
    typer.echo(json.dumps(doc, indent=2, sort_keys=True))


def _report(cli: Cli, outcome: ops.Outcome) -> None:
    if cli.as_json:
        _emit(outcome.to_json())
    else:
        style = {EXIT_OK: "bold green", EXIT_REJECTED: "bold red"}.get(outcome.code, "bold yellow")
        _say(outcome.headline, style)
        for line in outcome.lines:
            if line:
                step = re.match(r"\d+\. ", line)  # a numbered step's text lines up under it
                _say(line, indent=len(step.group(0)) if step else 0)
    if outcome.code:
        raise typer.Exit(outcome.code)


def _fail(
    cli: Cli | None, code: str, exit_code: int, message: str, fix: str, **extra: Any
) -> NoReturn:
    if cli is not None and cli.as_json:
        err.file.write(error_document(code, exit_code, message, fix, **extra) + "\n")
    else:
        _say(f"error: {message}", "bold red", err)
    raise typer.Exit(exit_code)


def _bad_value(cli: Cli | None, option: str, message: str, fix: str) -> NoReturn:
    _fail(cli, "bad_value", EXIT_USAGE, f"{option}: {message} {fix}", fix, field=option)


@contextmanager
def _errors(cli: Cli | None = None) -> Iterator[None]:
    """Every failure as one message that names the fix, and its documented exit code."""
    try:
        yield
    except OperatorError as e:
        _fail(cli, e.code, e.exit_code, str(e), e.fix or fix_of(str(e)))
    except UnknownCredential as e:
        _fail(cli, e.code, EXIT_NOT_FOUND, str(e), fix_of(str(e)))
    except ConfigError as e:
        _fail(cli, e.code, EXIT_USAGE, str(e), fix_of(str(e)))
    except intake.MalformedSubmission as e:
        _fail(
            cli,
            "malformed_submission",
            EXIT_REJECTED,
            f"the key was not accepted: {e} Nothing was written.",
            e.fix,
            problem=e.problem,
            field=e.field,
        )
    except MalformedKey as e:
        # MalformedKey messages name the field and the fix, never the value.
        found = re.search(r"field '([a-z_]+)'", str(e))
        _fail(
            cli,
            "malformed_submission",
            EXIT_REJECTED,
            f"the key was not accepted: {e} Nothing was written.",
            fix_of(str(e)),
            problem="invalid_field",
            field=found.group(1) if found else "the submission",
        )


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


def _version(value: bool) -> None:
    if not value:
        return
    from importlib.metadata import PackageNotFoundError, version

    try:
        number = version("cio-rotation")
    except PackageNotFoundError:
        number = "unknown (not installed: run from a checkout)"
    typer.echo(f"{cv.CLI_NAME} {number}")
    raise typer.Exit(EXIT_OK)


@app.callback()
def main(
    ctx: typer.Context,
    outputs: Annotated[
        str | None,
        typer.Option(
            "--outputs",
            envvar="CIO_OUTPUTS",
            help="The stack outputs file (`pulumi stack output --json`); default: find the stack by its tags.",
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
    stack: Annotated[
        str | None,
        typer.Option(
            help="The Pulumi stack to act on (notices print it): chosen among the stacks "
            "found by their tags/labels, or checked against the outputs file's stack."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Machine-readable output (same as --output json).")
    ] = False,
    output: Annotated[str, typer.Option("--output", help="table (default) or json.")] = "table",
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Rotate Customer.io credentials kept in AWS Secrets Manager / GCP Secret Manager."""
    overrides = ctx.obj if isinstance(ctx.obj, Overrides) else Overrides()
    json_mode = as_json or output == "json"
    cli = Cli(outputs, region, function, log_group, cloud, overrides, json_mode, stack=stack)
    if ctx.get_parameter_source("outputs") is ParameterSource.ENVIRONMENT:
        cli.outputs_origin = ENV_OUTPUTS
    ctx.obj = cli
    if output not in ("table", "json"):
        _bad_value(cli, "--output", f"{output!r} is not an output format.", "Use table or json.")
    if cloud is not None and cloud not in CLOUDS:
        _bad_value(
            cli,
            "--cloud",
            "this tool manages credentials on aws and gcp only.",
            "Use --cloud aws or --cloud gcp, or leave it out.",
        )


# -- status ----------------------------------------------------------------------------


@app.command(epilog=EPILOG)
def status(ctx: typer.Context) -> None:
    """Every managed credential: key age, next rotation, open rotation, old key revoked."""
    cli = _cli(ctx)
    rows: list[ops.CredentialStatus] = []
    unread: dict[str, str] = {}
    with _errors(cli):
        now = cli.clock.now()
        refs = [r for r in cli.config.credentials if not cli.cloud or r.cloud == cli.cloud]
        if not cli.as_json:
            n = len(refs)
            _say(
                f"Customer.io credentials: {ops.plural(n, 'credential')}, from {cli.config.source}"
            )
        for row in _status_rows(cli, refs, now, unread):
            rows.append(row)
            if not cli.as_json:
                _status_block(row)
    worst = max((r.exit_code for r in rows), default=EXIT_OK)
    if cli.as_json:
        typer.echo(json.dumps([r.to_json() for r in rows], indent=2))
    else:
        for r in rows:
            if r.problem:
                _say(f"{r.name} ({r.cloud}): {r.problem}", "yellow", err)
        for cloud, problem in unread.items():
            _say(
                f"The {cloud} audit trail could not be read, so 'current key works' shows "
                f"the last change of outcome the rotator recorded: {problem}",
                "yellow",
                err,
            )
        if not rows:
            _say(f"No credential is managed on {cli.cloud} in {cli.config.source}.", console=err)
    if worst:
        raise typer.Exit(worst)


# Credentials `status` reads at once: each read is two store calls, mostly network wait.
STATUS_WORKERS = 8


def _status_rows(
    cli: Cli, refs: list[CredentialRef], now: datetime, unread: dict[str, str]
) -> Iterator[ops.CredentialStatus]:
    """Each credential's row, in order, as soon as it and what it needs are read.

    Every credential is read in parallel (at most STATUS_WORKERS at once, two store calls
    each). The audit trail (one read per cloud, for each live key's last daily check)
    starts when the first row that needs it arrives, over the whole window, and rows that
    need it wait for it; a trail that cannot be read leaves the state's record and a
    reason (in `unread`, by cloud): it never fails `status`.
    """
    if not refs:
        return
    for ref in refs:
        cli.backend(ref).warm()  # clients made once, before the threads share them
    since = now - timedelta(days=ops.TRAIL_DAYS)
    trails: dict[str, Future[dict[str, list[AuditEntry]]]] = {}
    # The trail reads get threads of their own: queued behind the credentials' reads, the
    # first line would wait for nearly all of them.
    with (
        ThreadPoolExecutor(max_workers=min(STATUS_WORKERS, len(refs))) as pool,
        ThreadPoolExecutor(max_workers=len(CLOUDS)) as trail_pool,
    ):
        reads = [pool.submit(_status_read, cli, ref, now) for ref in refs]
        pending: set[Future[Any]] = set(reads)

        def trail_of(i: int) -> Future[dict[str, list[AuditEntry]]]:
            """The trail read of credential i's cloud, started on first need."""
            cloud = refs[i].cloud
            if cloud not in trails:
                wanted = [r for r in refs if r.cloud == cloud]
                trails[cloud] = trail_pool.submit(
                    cli.backend(refs[i]).liveness_trail, wanted, since
                )
                pending.add(trails[cloud])
            return trails[cloud]

        shown = 0
        while shown < len(refs):
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            pending.difference_update(done)
            for i, read in enumerate(reads):  # start each needed trail read early
                if read.done() and ops.wants_trail(read.result()):
                    trail_of(i)
            while shown < len(refs) and reads[shown].done():
                row = reads[shown].result()
                if ops.wants_trail(row):
                    trail = trail_of(shown)  # done after the loop above: started here
                    if not trail.done():
                        break
                    row = _with_trail(row, trail, now, unread, refs[shown].cloud)
                yield row
                shown += 1


def _status_read(cli: Cli, ref: CredentialRef, now: datetime) -> ops.CredentialStatus:
    try:
        snap, details = cli.backend(ref).status_read(ref)
    except OperatorError as e:
        return ops.unavailable(ref, str(e), e.exit_code)
    return ops.describe(ref, snap, details, now, cli.config.policy)


def _with_trail(
    row: ops.CredentialStatus,
    trail: Future[dict[str, list[AuditEntry]]],
    now: datetime,
    unread: dict[str, str],
    cloud: str,
) -> ops.CredentialStatus:
    since = ops.trail_since(row, now)
    try:
        found = trail.result()
    except OperatorError as e:
        unread[cloud] = str(e)
        return ops.with_trail(row, None, since, problem=_first_clause(str(e)))
    return ops.with_trail(row, found.get(row.name, []), since)


def _first_clause(text: str) -> str:
    head, dot, _ = text.partition(": ")
    return head if dot else text


def _cells(r: ops.CredentialStatus) -> list[tuple[str, str]]:
    """The lines of a credential's block, label and value; a line only where it says
    something (the grace period and the requested key name only while they apply)."""
    opened = (
        f"{r.mode} {r.rotation_id} since {ops.when(r.opened_at)}"
        if r.rotation_id and r.phase != "idle"
        else "-"
    )
    if r.phase in ("retiring", "retired"):
        opened = f"{r.phase} ({r.rotation_id or 'end of life'}) since {ops.when(r.opened_at)}"
    if r.reason and opened != "-":
        opened += f"; reason: {r.reason}"  # as written: the consoles read no markup
    nxt = ops.when(r.next_rotation)
    if r.native_deadline:  # AWS: Secrets Manager's schedule; GCP: the secret's own timer
        native = "Secrets Manager's schedule" if r.cloud == "aws" else "the rotator's next wake-up"
        nxt += f" ({native} {ops.when(r.native_deadline)})"
    previous = r.previous_revoked
    if r.previous_fp:
        previous += f" ({r.previous_fp})"
    current = r.key_age
    if r.current_fp:
        named = f'"{r.current_key_name}", ' if r.current_key_name else ""
        current = f"{named}fingerprint {r.current_fp}, age {r.key_age}"
    cells = [("current key", current), ("next rotation", nxt), ("open rotation", opened)]
    if r.requested_key_name:
        cells.append(("new key to be named", f'"{r.requested_key_name}"'))
    cells.append(("waiting on", r.waiting_on))
    cells.append(("deadline", ops.when(r.deadline)))
    if r.grace_until:
        cells.append(("grace period ends", ops.when(r.grace_until)))
    cells.append(("previous key revoked", previous))
    cells.append(("current key works", ops.liveness(r)))
    if r.drain_measured:
        cells += drain_view.status_cells(r.drain, r.name)
    return cells


LABEL_WIDTH = 24


def _status_block(r: ops.CredentialStatus) -> None:
    """One block per credential: whole lines in a pipe, wrapped at words in a terminal."""
    _say("")
    where = ", ".join(x for x in (r.cloud, r.kind, r.region) if x)
    _say(f"{r.name} ({where})", "bold")
    for label, value in _cells(r):
        head = f"{label}:" if label else ""  # no label: a line of the one above (a holder)
        _say(f"  {head:<{LABEL_WIDTH - 2}}{value}", indent=LABEL_WIDTH - 2)


# -- submit ----------------------------------------------------------------------------


def _no_terminal(cli: Cli, name: str, what: str) -> NoReturn:
    fix = (
        f"Pipe the JSON document instead: `... | {cv.CLI_NAME} submit {name} --stdin`, "
        "or run the command in a terminal to be prompted."
    )
    _fail(cli, "no_terminal", EXIT_USAGE, f"no {what} was typed: stdin is closed. {fix}", fix)


def _ask(cli: Cli, name: str, prompt: str, hidden: bool) -> str:
    """One value from the terminal (hidden for keys), or a line of piped stdin."""
    if sys.stdin is not None and sys.stdin.isatty():
        try:
            return str(typer.prompt(prompt, hide_input=hidden, err=True)).strip()
        except (typer.Abort, EOFError):
            _no_terminal(cli, name, prompt)
    typer.echo(f"{prompt}: ", nl=False, err=True)
    line = sys.stdin.readline() if sys.stdin is not None else ""
    typer.echo("", err=True)
    if not line:
        _no_terminal(cli, name, prompt)
    return line.strip()


def _read_submission(cli: Cli, name: str, kind: Kind, region: str, from_stdin: bool) -> bytes:
    if from_stdin:
        stream = sys.stdin.buffer if sys.stdin is not None else None
        raw = stream.read(intake.MAX_BYTES + 1) if stream is not None else b""
        doc = intake.load_document(raw, kind.value, FIELDS[kind])
        if "region" in FIELDS[kind] and "region" not in doc and region:
            doc["region"] = region
        return json.dumps(doc).encode("utf-8")
    values: dict[str, str] = {}
    for field_name in FIELDS[kind]:
        if field_name == "region":
            values[field_name] = region
            continue
        prompt = PROMPTS.get(field_name, field_name)
        if field_name == SECRET_FIELD[kind]:
            prompt += " (input hidden)"
        secret = field_name == SECRET_FIELD[kind]
        values[field_name] = _ask(cli, name, prompt, hidden=secret)  # a Site ID is shown
    return json.dumps(values).encode("utf-8")


@app.command(epilog=EPILOG)
def submit(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The credential's name, as in `status`.")],
    stdin: Annotated[
        bool,
        typer.Option(
            "--stdin",
            help='Read the credential as a JSON document from stdin, e.g. {"site_id": "...", '
            '"api_key": "...", "region": "us"} (region may be left out).',
        ),
    ] = False,
    key_name: Annotated[
        str | None,
        typer.Option(
            "--key-name",
            help="What the key is called in the Customer.io dashboard (default: the name the "
            "rotation suggested; asked in a terminal). Not for webhook signing keys.",
        ),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option(help="Seconds to wait for the verdict (0: look once, do not wait)."),
    ] = 120.0,
    poll: Annotated[float, typer.Option(help="Seconds between checks.")] = 2.0,
    no_wait: Annotated[
        bool,
        typer.Option(
            "--no-wait",
            help="Hand the key over and return without looking for the verdict; the rotator "
            "announces it to the operators' channel.",
        ),
    ] = False,
) -> None:
    """Hand over a new key: it is verified, then promoted, or you are told why not."""
    cli = _cli(ctx)
    if no_wait and ctx.get_parameter_source("timeout") is ParameterSource.COMMANDLINE:
        _fail(
            cli,
            "usage",
            EXIT_USAGE,
            "--no-wait and --timeout contradict each other: --no-wait does not look for the "
            "verdict, --timeout says how long to look. Give one of them.",
            "Give one of them.",
            field="--no-wait",
        )
    if cli.as_json and not stdin:
        _missing_input(cli, "submit", name, "the key")
    if not 0 <= timeout <= MAX_TIMEOUT:
        _bad_value(
            cli,
            "--timeout",
            f"must be between 0 and {MAX_TIMEOUT:g} seconds.",
            "Give e.g. --timeout 120 (0: look once, do not wait; --no-wait: do not look).",
        )
    if not 0 < poll <= 60:
        _bad_value(cli, "--poll", "must be more than 0 and at most 60 seconds.", "Use --poll 2.")
    with _errors(cli):
        ref = cli.ref(name)
        backend = cli.backend(ref)
        snap = backend.snapshot(ref, quick=True)  # also `submit_key`'s "before"
        kind, region = snap.config.kind, snap.config.region
        if key_name is not None and kind is Kind.WEBHOOK_SIGNING:
            _bad_value(
                cli,
                "--key-name",
                "the dashboard does not name webhook signing keys.",
                "Leave --key-name out for this credential.",
            )
        raw = _read_submission(cli, ref.name, kind, region.value if region else "", stdin)
        credential = parse_credential(raw, kind, region)
        suggested = snap.state.key_name or suggested_key_name(
            key_name_stem(ref.name, ref.cloud), cli.clock.now()
        )
        bootstrap = not snap.state.current_fp
        given = _key_name(cli, suggested, key_name, kind, stdin, bootstrap)
        secret = credential.secret
        if given and len(given) >= 8 and (given in secret or secret in given):
            _bad_value(
                cli,
                "--key-name",
                "that is part of the key itself, not its name.",
                "Give the name the key has in the dashboard's list.",
            )
        if not cli.as_json:
            _say(f"Key {credential.label} is well formed; handing it over to the rotator...")
        outcome = ops.submit_key(
            backend,
            ref,
            credential,
            credential.to_json().encode("utf-8"),
            actor=_actor(),
            key_name=given,
            timeout=timeout,
            poll=poll,
            wait=not no_wait,
            sleep=cli.overrides.sleep or _sleep,
            clock=cli.clock.now,
            policy=cli.config.policy,
            before=snap,
        )
    _report(cli, outcome)


KEY_NAME_MAX = 100
_KEY_NAME = re.compile(r"[A-Za-z0-9 _.:/=+\-@]+")


def _key_name(
    cli: Cli, suggested: str, given: str | None, kind: Kind, from_stdin: bool, bootstrap: bool
) -> str:
    """The key's dashboard name, recorded so that every notice names a key that exists.

    --key-name, else asked like the key was (a terminal prompt, or the next line of piped
    input): an empty answer accepts the suggested name, shown in [...]. With --stdin, or
    when the input ends before the name: during a rotation the name the rotation asked
    for stands (every notice quoted it); a first key (bootstrap) was named by nobody's
    instructions, so --key-name is required. Webhook signing keys have no name."""
    if kind is Kind.WEBHOOK_SIGNING:
        return ""
    option = "--key-name"
    if given is None:
        answer = (
            None
            if from_stdin
            else _ask_line(f"What is the key called in the dashboard? [{suggested}]")
        )
        if answer is None:
            if bootstrap:
                fix = (
                    "Add --key-name NAME: the name the key has in the dashboard's list, "
                    f"e.g. {suggested}."
                )
                _fail(
                    cli,
                    "missing_argument",
                    EXIT_USAGE,
                    "a first key needs its dashboard name: no rotation named it, and notices "
                    f"must name a key that exists. {fix}",
                    fix,
                    field="--key-name",
                )
            return ""
        option = "the key name you typed"
        given = answer or suggested
    name = given.strip()
    if not name or len(name) > KEY_NAME_MAX or not _KEY_NAME.fullmatch(name):
        _bad_value(
            cli,
            option,
            f"give 1 to {KEY_NAME_MAX} letters, digits, spaces or _ . : / = + - @ "
            "(what the rotator can record).",
            f"Name the key e.g. {suggested} in the dashboard and give that name.",
        )
    return name


def _ask_line(prompt: str) -> str | None:
    """One visible answer: from the terminal, or the next line of piped input; None when
    the input has ended (or the terminal was closed)."""
    if sys.stdin is None:
        return None
    typer.echo(f"{prompt}: ", nl=False, err=True)
    try:
        line = sys.stdin.readline()
    except (OSError, ValueError):
        return None
    if not sys.stdin.isatty():
        typer.echo("", err=True)
    return line.strip() if line else None


def _missing_input(cli: Cli, command: str, name: str, what: str) -> NoReturn:
    """JSON mode never prompts: what a prompt would ask is a usage error, before any read."""
    fix = {
        "submit": f"Pipe the JSON document: `... | {cv.CLI_NAME} submit {name} --stdin --json`.",
        "probe": f"Pipe the JSON document: `... | {cv.CLI_NAME} probe {name} --stdin --json`.",
    }.get(command, f"Add --yes: `{cv.CLI_NAME} {command} {name} ... --yes --json`.")
    _fail(
        cli,
        "missing_input",
        EXIT_USAGE,
        f"--json never prompts, so {what} must be given on the command line or stdin. {fix}",
        fix,
        field="--stdin" if command in ("submit", "probe") else "--yes",
    )


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


# -- emergency -------------------------------------------------------------------------


def _confirm(cli: Cli, question: str) -> None:
    try:
        yes = typer.confirm(question, default=False, err=True)
    except (typer.Abort, EOFError):
        fix = "Run it in a terminal to confirm, or pass --yes."
        _fail(cli, "no_terminal", EXIT_USAGE, f"nothing answered the confirmation. {fix}", fix)
    if not yes:
        _fail(cli, "aborted", EXIT_ABORTED, "Aborted: nothing was done.", "Answer y to go ahead.")


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
        _bad_value(
            cli,
            "--reason",
            "an emergency needs a reason (it goes into the audit trail and the notices).",
            "Add e.g. --reason 'key seen in a CI log'.",
        )
    _check_reason(cli, reason)
    if bool(name) == all_:
        _fail(
            cli,
            "usage",
            EXIT_USAGE,
            "give a credential NAME or --all (not both, not neither). Run e.g. "
            f"`{cv.CLI_NAME} emergency NAME --reason TEXT`.",
            f"Run e.g. `{cv.CLI_NAME} emergency NAME --reason TEXT`.",
            field="NAME",
        )
    if cli.as_json and not yes:
        _missing_input(cli, "emergency", name or "--all", "the confirmation")
    with _errors(cli):
        if all_:
            refs = [r for r in cli.config.credentials if not cli.cloud or r.cloud == cli.cloud]
        else:
            assert name is not None
            refs = [cli.ref(name)]
    if not refs:
        _fail(
            cli,
            "not_found",
            EXIT_NOT_FOUND,
            f"no managed credential on {cli.cloud}. Check --cloud.",
            "Check --cloud.",
        )
    what = f"ALL {ops.plural(len(refs), 'credential')}" if all_ else refs[0].name
    mode = " with revoke-first (applications fail until the new key is live)" * revoke_first
    if not yes:
        _confirm(cli, f"Declare an EMERGENCY rotation of {what}{mode}?")
    event = ops.emergency_event(reason, _actor(), revoke_first)
    if not all_:
        with _errors(cli):
            ref = refs[0]
            summary = cli.backend(ref).invoke(ref, cv.ACTION_EMERGENCY, **event)
            outcome = ops.emergency_result(summary, ref.name)  # a refusal is an error
        _report(cli, outcome)
        return
    _emergency_all(cli, refs, event, reason)


def _check_reason(cli: Cli, reason: str) -> None:
    """Reasons are recorded as written, up to a limit: a longer one is refused, never cut."""
    problem = reason_problem(reason)
    if problem:
        _bad_value(cli, "--reason", problem, f"Shorten it to at most {REASON_MAX} characters.")


def _emergency_all(cli: Cli, refs: list[CredentialRef], event: dict[str, Any], reason: str) -> None:
    results: list[dict[str, Any]] = []
    for i, ref in enumerate(refs, 1):
        if not cli.as_json and err.is_terminal:
            _say(f"[{i}/{len(refs)}] emergency {ref.name}...", console=err)
        try:
            summary = cli.backend(ref).invoke(ref, cv.ACTION_EMERGENCY, **event)
            is_queued = ops.emergency_queued(summary)
            again = summary.get("outcome") == cv.OUTCOME_ALREADY_OPEN
            results.append(
                {
                    "credential": ref.name,
                    "cloud": ref.cloud,
                    "outcome": "queued"
                    if is_queued
                    else (cv.OUTCOME_ALREADY_OPEN if again else "declared"),
                    "exit_code": EXIT_QUEUED if is_queued else EXIT_OK,
                    "message": ops.emergency_line(summary, ref.name),
                }
            )
        except OperatorError as e:
            results.append(
                {
                    "credential": ref.name,
                    "cloud": ref.cloud,
                    "outcome": "failed",
                    "exit_code": e.exit_code,
                    "message": str(e),
                }
            )
    failures = [r["exit_code"] for r in results if r["outcome"] == "failed"]
    queued = [r for r in results if r["outcome"] == "queued"]
    code = max(failures) if failures else (EXIT_QUEUED if queued else EXIT_OK)
    if cli.as_json:
        _emit({"exit_code": code, "reason": reason, "results": results})
    else:
        _say(f"Emergency: {reason}", "bold")
        label = {
            "declared": "ok",
            cv.OUTCOME_ALREADY_OPEN: "already open",
            "queued": "QUEUED",
            "failed": "FAILED",
        }
        for r in results:
            _say(f"  {r['credential']} ({r['cloud']}): {label[r['outcome']]}: {r['message']}")
        tally = Counter(r["outcome"] for r in results)
        counts = [f"{tally[o]} {o}" for o in ("declared", "queued", "failed")]
        if tally[cv.OUTCOME_ALREADY_OPEN]:  # a repeated --all: nothing changed for these
            counts.insert(1, f"{tally[cv.OUTCOME_ALREADY_OPEN]} already open")
        _say(f"{ops.plural(len(results), 'credential')}: " + ", ".join(counts))
        if queued:
            _say(
                "A queued emergency opens once the old key it waits on is deleted and the "
                f"rotator sees Customer.io refuse it (by itself; `{cv.CLI_NAME} check NAME` "
                "at once).",
                "yellow",
            )
    if code:
        raise typer.Exit(code)


# -- probe ---------------------------------------------------------------------------


@app.command(epilog=EPILOG)
def probe(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The credential's name, as in `status`.")],
    stdin: Annotated[
        bool,
        typer.Option("--stdin", help="Read the credential as a JSON document from stdin."),
    ] = False,
) -> None:
    """Check a key against Customer.io as the rotator would, without handing it over.

    Nothing is written anywhere. Exit 0: the rotator would accept it; 3: it would
    refuse it (the report says why); 4: Customer.io could not tell.
    """
    cli = _cli(ctx)
    if cli.as_json and not stdin:
        _missing_input(cli, "probe", name, "the key")
    with _errors(cli):
        ref = cli.ref(name)
        snap = cli.backend(ref).snapshot(ref)
        kind, region = snap.config.kind, snap.config.region
        raw = _read_submission(cli, ref.name, kind, region.value if region else "", stdin)
        credential = parse_credential(raw, kind, region)
        report = ops.probe_report(snap, credential, cli.overrides.verifier)
    outcome = ops.probe_outcome(report, ref.name)
    if cli.as_json:
        _emit(outcome.to_json())
    else:
        for line in report.lines():
            _say(line)
    if outcome.code:
        raise typer.Exit(outcome.code)


# -- retire ----------------------------------------------------------------------------


@app.command(epilog=EPILOG)
def retire(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The credential to retire.")],
    reason: Annotated[
        str, typer.Option("--reason", help="Why (goes into the audit trail and notices).")
    ] = "",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Start the end of a credential's life: consumers move off, the key is deleted,
    the rotator confirms Customer.io refuses it and marks it retired."""
    cli = _cli(ctx)
    _check_reason(cli, reason)
    if not reason.strip():
        _bad_value(
            cli,
            "--reason",
            "a retirement needs a reason (it goes into the audit trail and the notices).",
            "Add e.g. --reason 'moved to the private key billing-private'.",
        )
    _check_reason(cli, reason)
    if cli.as_json and not yes:
        _missing_input(cli, "retire", name, "the confirmation")
    with _errors(cli):
        ref = cli.ref(name)
        backend = cli.backend(ref)
        ops.retire_check(backend.snapshot(ref))
    if not yes:
        _confirm(
            cli,
            f"RETIRE {ref.name}? It is never rotated again; its key is to be deleted once "
            "every application has moved to its replacement.",
        )
    with _errors(cli):
        summary = backend.invoke(ref, cv.ACTION_RETIRE, reason=reason, actor=_actor())
        outcome = ops.retire_result(summary, ref.name)
    _report(cli, outcome)


# -- the other commands ------------------------------------------------------------------


@app.command(epilog=EPILOG)
def rollback(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The credential.")],
) -> None:
    """Make the previous key current again (only while Customer.io still accepts it)."""
    cli = _cli(ctx)
    with _errors(cli):
        ref = cli.ref(name)
        backend = cli.backend(ref)
        snap = backend.snapshot(ref)
        ops.rollback_check(snap)
        summary = backend.invoke(ref, cv.ACTION_ROLLBACK, actor=_actor())
        outcome = ops.rollback_result(summary, snap.config.name, snap.state)
    _report(cli, outcome)


@app.command(epilog=EPILOG)
def history(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The credential.")],
    limit: Annotated[int, typer.Option(help="At most this many events.")] = 50,
) -> None:
    """The audit trail of a credential, newest first (--json: one JSON object a line)."""
    cli = _cli(ctx)
    if not 1 <= limit <= MAX_LIMIT:
        _bad_value(
            cli,
            "--limit",
            f"must be between 1 and {MAX_LIMIT} (the number of events to show).",
            "Give e.g. --limit 20.",
        )
    with _errors(cli):
        ref = cli.ref(name)
        entries = cli.backend(ref).history(ref, limit)
    if cli.as_json:
        for entry in entries:
            typer.echo(json.dumps(entry.to_json(), sort_keys=True))
        return
    if not entries:
        _say(f"No audit events for {name} yet.")
        return
    columns = ("at", "event", "rotation", "mode", "actor", "outcome", "fingerprints")
    rows = [
        (
            e.at,
            e.event,
            e.rotation_id,
            e.mode,
            e.actor,
            e.outcome,
            " ".join(f"{k}={v}" for k, v in sorted(e.fingerprints.items()) if v),
        )
        for e in entries
    ]
    if not terminal.is_terminal(out.file):
        # A pipe gets whole rows, tab-separated, one per line: `| grep`, `| cut -f2` work.
        typer.echo("\t".join(columns))
        for row in rows:
            typer.echo("\t".join(cell.replace("\t", " ").replace("\n", " ") for cell in row))
        return
    _say(f"Audit trail of {name} (newest first)", "bold")
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for row in rows:
        head = "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
        _say(f"{head}  " + "  ".join(c for c in row[3:] if c), indent=widths[0] + 2)


@app.command("runbook", epilog=EPILOG)
def runbook_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The credential.")],
) -> None:
    """Print the instructions of the open rotation again."""
    cli = _cli(ctx)
    with _errors(cli):
        ref = cli.ref(name)
        snap = cli.backend(ref).snapshot(ref)
        # Its commands carry --cloud and --stack, like the notices', so they can be pasted.
        origin = Origin(ref.cloud, cli.config.stack or os.environ.get(cv.ENV_STACK, ""))
        outcome = ops.runbook_text(snap, cli.clock.now(), cli.config.policy, origin)
    _report(cli, outcome)


@app.command(epilog=EPILOG)
def check(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The credential.")],
) -> None:
    """Ask the rotator to take the next step now (run it after deleting an old key)."""
    cli = _cli(ctx)
    with _errors(cli):
        ref = cli.ref(name)
        backend = cli.backend(ref)
        backend.invoke(ref, cv.ACTION_RECONCILE)
        outcome = ops.check_result(backend.snapshot(ref), cli.clock.now())
    _report(cli, outcome)


@app.command("drain", epilog=EPILOG)
def drain_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The credential.")],
) -> None:
    """Who still uses the old key after a promotion, read now from the cloud.

    Reads the consumer library's key-usage reports and who read the live secret (AWS:
    CloudWatch and CloudTrail; GCP: Cloud Monitoring and the Data Access audit log) with
    your credentials. Exit 0: drained, or no rotation in flight (nothing to drain); 4:
    holders remain (each listed); 8: unknown, part of the evidence could not be read (it
    says what), so nothing is claimed.
    """
    cli = _cli(ctx)
    with _errors(cli):
        ref = cli.ref(name)
        backend = cli.backend(ref)
        snap = backend.snapshot(ref)
        st = snap.state
        if not drain_view.in_flight(st):
            outcome = ops.nothing_to_drain(snap)
        else:
            now = cli.clock.now()
            reading = backend.drain_evidence(
                ref, (st.previous_fp, st.current_fp), drain_view.reads_since(st), now
            )
            view = drain_view.measure(reading, st, now, drain_view.quiet_period(cli.config.policy))
            outcome = ops.drain_outcome(snap, view, reading.calls)
    _report(cli, outcome)


# -- evidence ------------------------------------------------------------------------------

EVIDENCE_FORMATS = ("json", "csv", "html")


def _writable(cli: Cli, path: str) -> None:
    """Refuse an --out that cannot be written before reading any cloud (nothing is created)."""
    target = os.path.abspath(path)
    parent = os.path.dirname(target)
    problem = ""
    if os.path.isdir(target):
        problem = "is a directory"
    elif not os.path.isdir(parent):
        problem = f"its directory {parent} does not exist"
    elif not os.access(parent, os.W_OK) or (
        os.path.exists(target) and not os.access(target, os.W_OK)
    ):
        problem = "is not writable by you"
    if problem:
        _bad_value(
            cli, "--out", f"{path} {problem}.", "Give a file path in a directory you can write."
        )


@app.command(epilog=EPILOG)
def evidence(
    ctx: typer.Context,
    since: Annotated[
        str,
        typer.Option(help="Start of the period: YYYY-MM-DD (UTC) or an ISO 8601 timestamp."),
    ],
    until: Annotated[
        str | None,
        typer.Option(help="End of the period (a date includes that day; default: now)."),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="json (default), csv or html.")] = "json",
    out_file: Annotated[
        str | None, typer.Option("--out", help="Write the report to this file, not stdout.")
    ] = None,
) -> None:
    """Audit evidence for every managed credential over a period, from the audit trail:
    rotations, who, verified when, old key refused when, late ones, emergencies, gaps."""
    from rotation.evidence.collect import collect
    from rotation.evidence.period import BadPeriod, period_of
    from rotation.evidence.render import render

    cli = _cli(ctx)
    if fmt not in EVIDENCE_FORMATS:
        _bad_value(cli, "--format", f"{fmt!r} is not a report format.", "Use json, csv or html.")
    now = cli.clock.now()
    try:
        period = period_of(since, until, now)
    except BadPeriod as e:
        _fail(cli, "bad_value", EXIT_USAGE, str(e), e.fix, field=e.option)
    if out_file is not None:
        _writable(cli, out_file)
    with _errors(cli):
        refs = [r for r in cli.config.credentials if not cli.cloud or r.cloud == cli.cloud]
        report = collect(
            refs,
            cli.backend,
            period,
            cli.config.policy.rotation_days,
            now=now,
            source=cli.config.source,
        )
    text = render(report, fmt)
    if out_file is None:
        typer.echo(text, nl=False)
    else:
        try:
            with open(out_file, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as e:
            _bad_value(
                cli,
                "--out",
                f"{out_file} could not be written ({e.strerror}).",
                "Give a file path in a directory you can write.",
            )
        if not cli.as_json:
            _say(f"Wrote the {fmt} evidence report to {out_file}.", console=err)
    if not cli.as_json and report.gaps:
        _say(
            f"The audit trail has {ops.plural(len(report.gaps), 'gap')}: the report lists "
            "them; nothing in them is reported.",
            "yellow",
            err,
        )


__all__ = ["EXIT_CLOUD", "Overrides", "app"]


if __name__ == "__main__":
    app()
