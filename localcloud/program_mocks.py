"""Run the Pulumi program under Pulumi's official mocks and record every resource.

The program tests (tests/program/) and the local stack (localcloud/stack.py) share it:
the local stack's mocks subclass `RecordingMocks` and create what they can in the
local cloud.

Each `evaluate` call installs a fresh mock monitor and a fresh root stack, runs the
program inside `pulumi.runtime.test` (which drives the event loop until every
registration and apply has finished), and returns plain data: the resources with
their inputs, and the resolved outputs. Tests then assert on dicts, outside any
event loop, so they stay self-contained.

The mocks answer like the clouds do where the program depends on it: secret
ARNs carry Secrets Manager's random 6-character suffix, GCP resource names are
full paths, service accounts have e-mails and `member`s.
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi.runtime.settings as pulumi_settings
from pulumi.runtime import MockCallArgs, MockResourceArgs, Mocks
from pulumi.runtime.mocks import MockMonitor

from infra.removal_guard import READ_STACK_OUTPUTS

ACCOUNT = "123456789012"
REGION = "us-east-1"
PARTITION = "aws"
GCP_PROJECT_NUMBER = "123456789"
ORGANIZATION = "organization"  # what a self-managed backend calls every organization
_ALNUM = string.ascii_letters + string.digits


def _suffix(name: str) -> str:
    """Deterministic stand-in for Secrets Manager's random ARN suffix."""
    digest = hashlib.sha256(name.encode()).digest()
    return "".join(_ALNUM[b % len(_ALNUM)] for b in digest[:6])


@dataclass(frozen=True)
class Recorded:
    type: str
    name: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    id: str


@dataclass(frozen=True)
class Options:
    """The resource options the program passed (the mock monitor does not see them)."""

    ignore_changes: tuple[str, ...]
    depends_on: tuple[str, ...]  # logical names
    parent: str | None
    protect: bool = False


@dataclass
class Evaluation:
    resources: list[Recorded]
    outputs: dict[str, Any] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    call_args: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    options: dict[str, Options] = field(default_factory=dict)  # by logical name
    # Every dependency the SDK sent to the engine (explicit depends_on and those implied
    # by inputs that are other resources' outputs), by logical name.
    dependencies: dict[str, frozenset[str]] = field(default_factory=dict)
    region: str = "us-east-1"
    stack: str = "test"

    def depends_on(self, name: str) -> set[str]:
        """Everything `name` waits for, directly or through other resources."""
        seen: set[str] = set()
        todo = list(self.dependencies.get(name, ()))
        while todo:
            dep = todo.pop()
            if dep not in seen:
                seen.add(dep)
                todo.extend(self.dependencies.get(dep, ()))
        return seen

    def of_type(self, type_: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == type_]

    def named(self, name: str) -> Recorded:
        matches = [r for r in self.resources if r.name == name]
        assert len(matches) == 1, f"{len(matches)} resources named {name!r}"
        return matches[0]

    def types(self) -> set[str]:
        return {r.type for r in self.resources}


class RecordingMocks(Mocks):
    """Echo inputs as outputs and add the computed attributes the program reads.

    `previous_outputs` is the backend: the outputs each stack (by fully qualified name)
    exported at its last deployment, answered to the engine's stack-reference read; a
    stack not in it was never deployed. `previous_outputs_error` makes that read fail.
    """

    def __init__(
        self,
        gcp_project: str = "test-project",
        region: str = REGION,
        previous_outputs: Mapping[str, Mapping[str, Any]] | None = None,
        previous_outputs_error: str | None = None,
    ) -> None:
        self.gcp_project = gcp_project
        self.region = region
        self.previous_outputs = dict(previous_outputs or {})
        self.previous_outputs_error = previous_outputs_error
        self.resources: list[Recorded] = []
        self.calls: list[str] = []
        self.call_args: list[tuple[str, dict[str, Any]]] = []

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        self.calls.append(args.token)
        self.call_args.append((args.token, dict(args.args)))
        if args.token == READ_STACK_OUTPUTS:
            if self.previous_outputs_error is not None:  # the engine's answer, not a crash
                return {}, [("name", self.previous_outputs_error)]
            name = str(args.args["name"])
            outputs = dict(self.previous_outputs.get(name, {}))
            return {"name": name, "outputs": outputs, "secretOutputNames": []}, []
        results: dict[str, dict[str, Any]] = {
            "aws:index/getCallerIdentity:getCallerIdentity": {
                "accountId": ACCOUNT,
                "arn": f"arn:aws:iam::{ACCOUNT}:user/deployer",
                "userId": "AIDAEXAMPLE",
                "id": ACCOUNT,
            },
            "aws:index/getRegion:getRegion": {
                "region": self.region,
                "name": self.region,
                "id": self.region,
            },
            "aws:index/getPartition:getPartition": {
                "partition": PARTITION,
                "dnsSuffix": "amazonaws.com",
                "id": PARTITION,
            },
            "gcp:organizations/getProject:getProject": {
                "projectId": args.args.get("projectId", self.gcp_project),
                "number": GCP_PROJECT_NUMBER,
                "id": f"projects/{args.args.get('projectId', self.gcp_project)}",
            },
        }
        return results.get(args.token, {}), []

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = dict(args.inputs)
        out = dict(inputs)
        name = str(inputs.get("name") or args.name)
        project = self.gcp_project
        arn_base = f"arn:{PARTITION}"
        rid = f"{args.name}-id"
        t = args.typ
        region = self.region
        if t == "aws:secretsmanager/secret:Secret":
            rid = f"{arn_base}:secretsmanager:{region}:{ACCOUNT}:secret:{name}-{_suffix(name)}"
            out.update(arn=rid, name=name)
        elif t == "aws:kms/key:Key":
            key_id = hashlib.sha256(args.name.encode()).hexdigest()[:32]
            rid = key_id
            out.update(arn=f"{arn_base}:kms:{region}:{ACCOUNT}:key/{key_id}", keyId=key_id)
        elif t == "aws:sns/topic:Topic":
            rid = f"{arn_base}:sns:{region}:{ACCOUNT}:{name}"
            out.update(arn=rid, name=name)
        elif t == "aws:cloudwatch/logGroup:LogGroup":
            out.update(arn=f"{arn_base}:logs:{region}:{ACCOUNT}:log-group:{name}", name=name)
            rid = name
        elif t == "aws:iam/role:Role":
            out.update(arn=f"{arn_base}:iam::{ACCOUNT}:role/{name}", name=name)
            rid = name
        elif t == "aws:iam/policy:Policy":
            rid = f"{arn_base}:iam::{ACCOUNT}:policy/{name}"
            out.update(arn=rid, name=name)
        elif t == "aws:lambda/function:Function":
            out.update(arn=f"{arn_base}:lambda:{region}:{ACCOUNT}:function:{name}", name=name)
            rid = name
        elif t == "aws:ssm/parameter:Parameter":
            out.update(arn=f"{arn_base}:ssm:{region}:{ACCOUNT}:parameter{name}", name=name)
            rid = name
        elif t == "aws:cloudwatch/eventRule:EventRule":
            out.update(arn=f"{arn_base}:events:{region}:{ACCOUNT}:rule/{name}", name=name)
            rid = name
        elif t == "aws:sqs/queue:Queue":
            rid = f"https://sqs.{region}.amazonaws.com/{ACCOUNT}/{name}"
            out.update(arn=f"{arn_base}:sqs:{region}:{ACCOUNT}:{name}", url=rid, name=name)
        elif t == "aws:scheduler/scheduleGroup:ScheduleGroup":
            out.update(arn=f"{arn_base}:scheduler:{region}:{ACCOUNT}:schedule-group/{name}")
            out.update(name=name)
            rid = name
        elif t == "gcp:secretmanager/secretVersion:SecretVersion":
            rid = f"{inputs['secret']}/versions/1"
            out.update(name=rid, version="1")
        elif t == "gcp:artifactregistry/repository:Repository":
            rid = (
                f"projects/{project}/locations/{inputs['location']}/repositories/"
                f"{inputs['repositoryId']}"
            )
            out.update(name=inputs["repositoryId"])
        elif t in ("aws:scheduler/schedule:Schedule", "aws:cloudwatch/metricAlarm:MetricAlarm"):
            out.update(arn=f"{arn_base}:{t.split(':')[1].split('/')[0]}:{region}:{ACCOUNT}:{name}")
        elif t == "gcp:pubsub/topic:Topic":
            rid = f"projects/{project}/topics/{name}"
            out.update(name=name)
        elif t == "gcp:secretmanager/secret:Secret":
            rid = f"projects/{project}/secrets/{inputs['secretId']}"
            out.update(name=rid)
        elif t == "gcp:projects/serviceIdentity:ServiceIdentity":
            service = str(inputs["service"]).split(".")[0]
            email = f"service-{GCP_PROJECT_NUMBER}@gcp-sa-{service}.iam.gserviceaccount.com"
            out.update(email=email, member=f"serviceAccount:{email}")
        elif t == "gcp:serviceaccount/account:Account":
            email = f"{inputs['accountId']}@{project}.iam.gserviceaccount.com"
            rid = f"projects/{project}/serviceAccounts/{email}"
            out.update(email=email, member=f"serviceAccount:{email}", name=rid)
        elif t == "gcp:projects/iAMCustomRole:IAMCustomRole":
            rid = f"projects/{project}/roles/{inputs['roleId']}"
            out.update(name=rid)
        elif t == "gcp:monitoring/notificationChannel:NotificationChannel":
            rid = f"projects/{project}/notificationChannels/{_suffix(args.name)}"
            out.update(name=rid)
        elif t.startswith("gcp:") and "name" not in out:
            out["name"] = name
        self.resources.append(Recorded(t, args.name, inputs, out, rid))
        return rid, out


def evaluate(
    program: Callable[[], Mapping[str, Any] | None],
    *,
    gcp_project: str = "test-project",
    region: str = REGION,
    stack: str = "test",
    preview: bool = False,
    previous_outputs: Mapping[str, Mapping[str, Any]] | None = None,
    previous_outputs_error: str | None = None,
    mocks: RecordingMocks | None = None,
) -> Evaluation:
    """Run `program` under fresh mocks; return every resource and its resolved outputs.

    `previous_outputs`: what stacks (by `organization/cio-rotation/<stack>`, the name a
    self-managed backend gives them) exported at their last deployment; none by default,
    as for a first deploy. `mocks`: answer with these instead (the local stack's).
    """
    if mocks is None:
        mocks = RecordingMocks(gcp_project, region, previous_outputs, previous_outputs_error)
    pulumi_settings.ROOT.set(None)  # a fresh root stack, not the previous test's
    pulumi.runtime.set_mocks(
        mocks,
        project="cio-rotation",
        stack=stack,
        preview=preview,
        organization=ORGANIZATION,
    )
    resolved: dict[str, Any] = {}
    options: dict[str, Options] = {}
    dependencies: dict[str, frozenset[str]] = {}
    original = pulumi.CustomResource.__init__
    original_register = MockMonitor.RegisterResource

    def recording_register(monitor: MockMonitor, request: Any) -> Any:
        dependencies[request.name] = frozenset(
            urn.rsplit("::", 1)[-1] for urn in request.dependencies
        )
        return original_register(monitor, request)  # type: ignore[no-untyped-call]

    def recording_init(
        self: pulumi.CustomResource,
        t: str,
        name: str,
        props: Any = None,
        opts: pulumi.ResourceOptions | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        o = opts or pulumi.ResourceOptions()
        depends = o.depends_on if isinstance(o.depends_on, list) else []
        options[name] = Options(
            ignore_changes=tuple(o.ignore_changes or ()),
            depends_on=tuple(
                r.pulumi_resource_name for r in depends if isinstance(r, pulumi.Resource)
            ),
            parent=o.parent.pulumi_resource_name if o.parent is not None else None,
            protect=bool(o.protect),
        )
        original(self, t, name, props, opts, *args, **kwargs)

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def run() -> pulumi.Output[None]:
        outputs = dict(program() or {})
        return pulumi.Output.from_input(outputs).apply(lambda r: resolved.update(r))

    pulumi.CustomResource.__init__ = recording_init  # type: ignore[method-assign]
    MockMonitor.RegisterResource = recording_register  # type: ignore[method-assign]
    try:
        run()
    finally:
        pulumi.CustomResource.__init__ = original  # type: ignore[method-assign]
        MockMonitor.RegisterResource = original_register  # type: ignore[method-assign]
    return Evaluation(
        resources=list(mocks.resources),
        outputs=resolved,
        calls=list(mocks.calls),
        call_args=list(mocks.call_args),
        options=options,
        dependencies=dependencies,
        region=region,
        stack=stack,
    )


def stack_exports() -> dict[str, Any]:
    """What `pulumi.export` recorded on the current root stack (values still Outputs)."""
    root = pulumi_settings.get_root_resource()
    return dict(getattr(root, "outputs", {}))
