"""The Pulumi program, deployed into the local cloud: what the drill, benches and tests run.

`deploy(config, ...)` runs the real program (infra/program.py) under Pulumi's
official mocks; as the engine registers each resource, the mocks create it in the
local cloud (moto for AWS, the emulator and local Pub/Sub for GCP) and answer with
the real ARN, name or id. Types the local cloud cannot hold are answered (so the
program runs) but not created, and listed by `LocalStack.not_held()`. Calling
`up(config)` again behaves like `pulumi up`: existing resources are kept (and
updated in place where the program changed them), new ones are created.

Time is one simulated clock: `advance(duration)` fires, in time order, everything
the clouds would fire meanwhile (EventBridge Scheduler schedules, including one-time
`at()` schedules anyone created through boto3; Secrets Manager's rotation schedule;
Cloud Scheduler jobs; Secret Manager's next_rotation_time; Pub/Sub delivery).
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import MockResourceArgs

from infra.bundle import Bundle, build_aws_bundle, build_gcp_bundle
from infra.config import Cloud, StackConfig
from infra.program import BuildOptions, build
from localcloud import aws_stack, gcp_stack
from localcloud.aws_runtime import LocalAwsRuntime
from localcloud.aws_stack import REGION, LocalAws, LocalDeployError, NotHeld
from localcloud.customerio import FakeCustomerIO
from localcloud.gcp_stack import LocalGcp
from localcloud.program_mocks import RecordingMocks, evaluate
from localcloud.secretmanager_emulator import SecretManagerEmulator
from localcloud.timers import Due
from rotation.clock import SimulatedClock
from rotation.errors import RotationError

STACK = "local"
GCP_PROJECT = "cio-test"
GCP_REGION = "europe-west1"
COMPONENT_PREFIX = "cio:"  # the program's component resources: groupings, not cloud resources
_BUILD_DIR = Path(tempfile.gettempdir()) / "cio-localcloud-bundles"


@dataclass
class Declared:
    """One resource of the program and what the local cloud made of it."""

    type: str
    name: str  # the logical (Pulumi) name
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    held: bool
    why: str = ""  # why it is not held

    @property
    def cloud(self) -> str:
        return self.type.split(":", 1)[0]


@dataclass(frozen=True)
class Fired:
    """Something a cloud fired during `advance`."""

    at: datetime
    what: str


class LocalMocks(RecordingMocks):
    """Pulumi's mocks, answering from the local cloud; one registration at a time."""

    def __init__(self, stack: LocalStack) -> None:
        super().__init__(gcp_project=stack.gcp_project, region=REGION)
        self.stack = stack
        self.lock = threading.Lock()

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        with self.lock:
            return self.stack._register(args, lambda: super(LocalMocks, self).new_resource(args))


@dataclass
class LocalStack:
    """The program's stack in the local cloud, its outputs, and the one clock."""

    clock: SimulatedClock
    cio: FakeCustomerIO
    emulator: SecretManagerEmulator | None = None
    aws_runtime: LocalAwsRuntime | None = None
    gcp_client: Any = None  # the Secret Manager client to create secrets with
    gcp_services: dict[str, str] = field(default_factory=dict)  # LocalGcp.services
    stack: str = STACK
    gcp_project: str = GCP_PROJECT
    build_dir: Path = _BUILD_DIR
    config: StackConfig | None = None
    resources: dict[str, Declared] = field(default_factory=dict)  # by logical name
    outputs: dict[str, Any] = field(default_factory=dict)
    fired: list[Fired] = field(default_factory=list)
    aws: LocalAws | None = None
    gcp: LocalGcp | None = None

    # -- pulumi up -------------------------------------------------------------------------

    def up(self, config: StackConfig, chat_webhook_url: str | None = None) -> LocalStack:
        """Run the program for `config` and make the local cloud match it (`chat_webhook_url`:
        the Pulumi config secret a stack with `chat_webhook_url` set holds)."""
        if config.gcp is not None:
            self.gcp_project = config.gcp.project  # what the mocks answer for unheld types
        if config.has(Cloud.AWS) and self.aws is None:
            runtime = self.aws_runtime or LocalAwsRuntime()
            self.aws = LocalAws(clock=self.clock, cio=self.cio, runtime=runtime)
        if config.has(Cloud.GCP) and self.gcp is None:
            if self.emulator is None:
                raise LocalDeployError("a GCP stack needs the Secret Manager emulator")
            self.emulator.clock = self.clock.now
            from rotation.stores.gcp import build_client

            self.gcp = LocalGcp(
                clock=self.clock,
                cio=self.cio,
                emulator=self.emulator,
                project=config.gcp.project if config.gcp else self.gcp_project,
                client=self.gcp_client or build_client(self.emulator.endpoint),
                services=self.gcp_services,
            )
        options = BuildOptions(
            build_dir=self.build_dir,
            now=self.clock.now(),
            aws_bundle=_bundle("aws", self.build_dir) if config.has(Cloud.AWS) else None,
            gcp_bundle=_bundle("gcp", self.build_dir) if config.has(Cloud.GCP) else None,
        )
        self._errors: list[BaseException] = []

        def program() -> dict[str, Any]:
            chat = pulumi.Output.secret(chat_webhook_url) if chat_webhook_url else None
            return build(config, replace(options, chat_webhook_url=chat)).outputs

        evaluation = evaluate(
            program,
            gcp_project=self.gcp_project,
            stack=self.stack,
            mocks=LocalMocks(self),
        )
        if self._errors:
            raise self._errors[0]
        self.config = config
        self.outputs = evaluation.outputs
        self._check_with_rotator()
        if self.gcp is not None:
            self.gcp.pump()  # what creating the secrets published
        return self

    def _register(
        self, args: MockResourceArgs, answer: Callable[[], tuple[str | None, dict[str, Any]]]
    ) -> tuple[str | None, dict[str, Any]]:
        """Create (or keep, or update) one resource; never raises into the engine's thread."""
        typ, inputs = args.typ, dict(args.inputs)
        known = self.resources.get(args.name)
        try:
            if known is not None and known.type == typ:
                if known.held:
                    self._update(known, inputs)
                known.inputs = inputs
                return known.id, known.outputs
            rid, outputs, held, why = self._create(typ, args.name, inputs, answer)
        except Exception as err:  # reported by up(), after the program finished
            self._errors.append(err)
            got, outputs = answer()
            return got, outputs
        self.resources[args.name] = Declared(typ, args.name, rid, inputs, outputs, held, why)
        return rid, outputs

    def _create(
        self,
        typ: str,
        name: str,
        inputs: dict[str, Any],
        answer: Callable[[], tuple[str | None, dict[str, Any]]],
    ) -> tuple[str, dict[str, Any], bool, str]:
        if typ.startswith(COMPONENT_PREFIX):
            rid, outputs = answer()
            return str(rid or ""), outputs, False, "a component (a grouping, no cloud resource)"
        if typ in aws_stack.CREATORS and self.aws is not None:
            try:
                rid, outputs = aws_stack.CREATORS[typ](self.aws, name, inputs)
            except NotHeld as outside:
                got, outputs = answer()
                return str(got or ""), outputs, False, str(outside)
            return rid, outputs, True, ""
        if typ in gcp_stack.CREATORS and self.gcp is not None:
            rid, outputs = gcp_stack.CREATORS[typ](self.gcp, name, inputs)
            return rid, outputs, True, ""
        got, outputs = answer()
        why = aws_stack.NOT_HELD.get(typ) or gcp_stack.NOT_HELD.get(typ) or ""
        return str(got or ""), outputs, False, why or UNKNOWN

    def _update(self, known: Declared, inputs: dict[str, Any]) -> None:
        if known.inputs == inputs:
            return
        if known.cloud == "aws" and self.aws is not None:
            updater = aws_stack.UPDATERS.get(known.type)
            if updater is not None:
                updater(self.aws, known.id, known.inputs, inputs)
        elif known.cloud == "gcp" and self.gcp is not None:
            gupdater = gcp_stack.UPDATERS.get(known.type)
            if gupdater is not None:
                gupdater(self.gcp, known.id, known.inputs, inputs)

    def _check_with_rotator(self) -> None:
        """Read every managed secret the program made through the rotator's own store: a
        tag or label the program and the rotator name differently fails here, naming it."""
        problems: list[str] = []
        for name, doc in (self.outputs.get("credentials") or {}).items():
            try:
                if self.aws is not None and doc.get("aws_secret_arn"):
                    store = self.aws.warm().store
                    with store.session():
                        store.snapshot(str(doc["aws_secret_arn"]))
                if self.gcp is not None and doc.get("gcp_secret_version"):
                    live = str(doc["gcp_secret_version"]).removesuffix("/versions/latest")
                    self.gcp.rt.store.snapshot(live)
            except RotationError as err:
                problems.append(f"{name}: {err}")
        if problems:
            raise LocalDeployError(
                "the rotator cannot read what the program deployed: " + "; ".join(problems)
            )

    # -- what is there ------------------------------------------------------------------------

    def secret_ids(self) -> dict[str, str]:
        """Credential name -> the live secret's ARN (AWS) or resource name (GCP)."""
        out: dict[str, str] = {}
        for name, doc in (self.outputs.get("credentials") or {}).items():
            if doc.get("aws_secret_arn"):
                out[name] = str(doc["aws_secret_arn"])
            elif doc.get("gcp_secret_version"):
                out[name] = str(doc["gcp_secret_version"]).removesuffix("/versions/latest")
        return out

    def cloud_resources(self, cloud: str) -> list[Declared]:
        return [
            r
            for r in self.resources.values()
            if r.cloud == cloud and not r.type.startswith(COMPONENT_PREFIX)
        ]

    def held(self, cloud: str) -> tuple[int, int]:
        """(resources the local cloud holds, resources the program declared) for a cloud."""
        mine = self.cloud_resources(cloud)
        return sum(r.held for r in mine), len(mine)

    def not_held(self) -> list[Declared]:
        return [r for r in self.resources.values() if not r.held and r.cloud in ("aws", "gcp")]

    def unknown_types(self) -> set[str]:
        """Types neither created nor listed as not held: a new type the local cloud ignores."""
        return {r.type for r in self.not_held() if r.why == UNKNOWN}

    def summary(self) -> str:
        parts = []
        for cloud in ("aws", "gcp"):
            held, total = self.held(cloud)
            if total:
                parts.append(
                    f"{cloud.upper()}: the local cloud holds {held} of the program's "
                    f"{total} resources"
                )
        return "; ".join(parts)

    # -- time ------------------------------------------------------------------------------------

    def advance(self, duration: timedelta) -> list[Fired]:
        """Move the clock on by `duration`, firing what the clouds fire, in time order."""
        end = self.clock.now() + duration
        fired: list[Fired] = []
        self._deliver()
        while True:
            now = self.clock.now()
            due = self._due(now)
            if not due:
                break
            when, what, fire = min(due, key=lambda d: (d[0], d[1]))
            if when > end:
                break
            if when > now:
                self.clock.advance(when - now)
            fire()
            fired.append(Fired(when, what))
            self._deliver()
        if end > self.clock.now():
            self.clock.advance(end - self.clock.now())
        self._deliver()
        self.fired += fired
        return fired

    def _due(self, now: datetime) -> list[Due]:
        due: list[Due] = []
        if self.aws is not None:
            due += self.aws.due(now)
        if self.gcp is not None:
            due += self.gcp.due(now)
        return due

    def _deliver(self) -> None:
        if self.gcp is not None:
            self.gcp.pump()


@cache
def _bundle(cloud: str, build_dir: Path) -> Bundle:
    """Each function's bundle, built once per process: every local deploy runs the same
    sources, and a build takes longer than the rest of a deploy."""
    if cloud == "aws":
        return build_aws_bundle(build_dir)
    return build_gcp_bundle(build_dir)


UNKNOWN = "a type the local cloud neither creates nor lists as not held"


def deploy(
    config: StackConfig,
    *,
    clock: SimulatedClock,
    cio: FakeCustomerIO,
    emulator: SecretManagerEmulator | None = None,
    aws_runtime: LocalAwsRuntime | None = None,
    stack: str = STACK,
) -> LocalStack:
    """Deploy the program for `config` into the local cloud (AWS: inside moto's mock_aws and
    the runtime's `active()`; GCP: with a running emulator)."""
    local = LocalStack(
        clock=clock, cio=cio, emulator=emulator, aws_runtime=aws_runtime, stack=stack
    )
    return local.up(config)


def local_config(
    credentials: Sequence[Mapping[str, Any]],
    clouds: tuple[str, ...],
    schedule: Mapping[str, int] | None = None,
) -> StackConfig:
    """A stack config for the local cloud: these credentials, one operator, no consumers."""
    from infra.config import parse_config

    raw: dict[str, Any] = {
        "clouds": list(clouds),
        "credentials": [dict(c) for c in credentials],
        "operator_emails": ["operators@example.com"],
        **dict(schedule or {}),
    }
    if "aws" in clouds:
        raw["aws_operator_principals"] = ["arn:aws:iam::123456789012:role/platform-oncall"]
    if "gcp" in clouds:
        raw.update(
            gcp_project=GCP_PROJECT,
            gcp_region=GCP_REGION,
            gcp_operator_members=["group:platform-oncall@example.com"],
        )
    return parse_config(raw)
