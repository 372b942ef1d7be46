"""The CLI against a whole AWS account in moto, through typer's CliRunner.

`cli.run(...)` invokes `cio-rotate` with an outputs file pointing at the harness's
secrets and function, a boto3 session of its own (so a test can make AWS refuse a
call from the CLI's real clients), the harness's simulated clock and no sleeping.
Audit lines the in-process rotator logs are shipped to moto's CloudWatch Logs, as
Lambda would. After every test, no key the test created may appear in any output.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from localcloud.aws_harness import REGION
from localcloud.cloudwatch import audit_lines_to, shipped_audit
from localcloud.google_apis import CloudRunLogging, GoogleApis
from localcloud.stack_outputs import AWS_LOG_GROUP, aws_outputs, gcp_outputs
from rotation.cli import Overrides, app
from rotation.credentials import Credential
from rotation.stores.gcp import build_client
from tests.gcp.conftest import emulator, emulator_server, gcp  # noqa: F401 (fixtures)

LOG_GROUP = AWS_LOG_GROUP


def access_denied(action: str) -> Any:
    """A before-call hook: AWS's own AccessDenied for `action`, from the real client."""

    def deny(**_: Any) -> None:
        raise ClientError(
            {
                "Error": {
                    "Code": "AccessDeniedException",
                    "Message": "User: arn:aws:sts::123456789012:assumed-role/cio-operator/alice "
                    f"is not authorized to perform: {action} on resource: "
                    "arn:aws:secretsmanager:us-east-1:123456789012:secret:x because no "
                    f"identity-based policy allows the {action} action",
                }
            },
            action.split(":")[1],
        )

    return deny


@dataclass
class CliHarness:
    aws: Any
    tmp: Any
    session: Any
    outputs: list[str] = field(default_factory=list)
    keys: list[Credential] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)

    def outputs_file(self) -> str:
        doc = aws_outputs(self.aws)  # the program's own stack outputs
        path = self.tmp / "outputs.json"
        path.write_text(json.dumps(doc))
        return str(path)

    def run(
        self, *args: str, input: str | bytes | None = None, env: dict[str, str] | None = None
    ) -> Any:
        return self.run_with_outputs(self.outputs_file(), *args, input=input, env=env)

    def run_with_outputs(
        self,
        outputs: str | None,
        *args: str,
        input: str | bytes | None = None,
        env: dict[str, str] | None = None,
    ) -> Any:
        """`cio-rotate [--outputs OUTPUTS] ARGS` (no --outputs flag when None)."""
        runner = CliRunner()
        argv = [*(["--outputs", outputs] if outputs else []), *args]
        result = runner.invoke(
            app,
            argv,
            input=input,
            obj=Overrides(session=self.session, clock=self.aws.clock, sleep=lambda _: None),
            env={"COLUMNS": "250", "CIO_ACTOR": "alice", **(env or {})},
        )
        self.outputs.append(result.output)
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    def deny(self, event: str, action: str) -> None:
        self.session.events.register(f"before-call.{event}", access_denied(action))

    def track(self, workspace: str, region: str = "us") -> Credential:
        key: Credential = self.aws.cio.new_track_key(workspace, region)
        self.keys.append(key)
        return key

    def app_key(self, workspaces: tuple[str, ...], region: str = "us") -> Credential:
        key: Credential = self.aws.cio.new_app_key(workspaces, region)
        self.keys.append(key)
        return key


@pytest.fixture
def cli(aws, tmp_path):
    session = boto3.session.Session(region_name=REGION)
    harness = CliHarness(aws=aws, tmp=tmp_path, session=session)

    def record(event_name: str, params: Any = None, **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        secret = str(params.get("SecretId", "")) if isinstance(params, dict) else ""
        if operation == "GetSecretValue" and re.search(r"/state(-[A-Za-z0-9]{6})?$", secret):
            operation = "GetSecretValue(state)"  # the rotation state: no key in it
        harness.calls.append(operation)

    # Parameters as the caller gave them (before serialisation): which secret is read.
    session.events.register("before-parameter-build.*.*", record)
    with shipped_audit(boto3.client("logs", region_name=REGION)):
        yield harness
    # No key (nor a Site ID) the test created appears in anything the CLI printed.
    printed = "\n".join(harness.outputs)
    for key in harness.keys:
        assert key.secret not in printed
        if key.site_id:
            assert key.site_id not in printed
    # The operator's CLI never reads a live key (only the state documents, which hold none).
    assert "GetSecretValue" not in harness.calls


# -- GCP: the Secret Manager emulator, the function, and Pub/Sub + Logging REST fakes ------


@dataclass
class GcpCliHarness:
    gcp: Any
    tmp: Any
    apis: GoogleApis
    client: Any
    session: Any
    outputs: list[str] = field(default_factory=list)
    keys: list[Credential] = field(default_factory=list)

    def outputs_file(self) -> str:
        doc = gcp_outputs(self.gcp)  # the program's own stack outputs
        path = self.tmp / "outputs.json"
        path.write_text(json.dumps(doc))
        return str(path)

    def run(self, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> Any:
        result = CliRunner().invoke(
            app,
            ["--outputs", self.outputs_file(), *args],
            input=input,
            obj=Overrides(
                gcp_client=self.client,
                gcp_session=self.session,
                clock=self.gcp.clock,
                sleep=lambda _: self.gcp.pump(),
            ),
            env={"COLUMNS": "250", "CIO_ACTOR": "alice", **(env or {})},
        )
        self.outputs.append(result.output)
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    def track(self, workspace: str, region: str = "us") -> Credential:
        key: Credential = self.gcp.cio.new_track_key(workspace, region)
        self.keys.append(key)
        return key


@pytest.fixture
def gcli(gcp, tmp_path):  # noqa: F811 (the imported fixture)
    apis = GoogleApis(gcp)
    session = requests.Session()
    session.trust_env = False
    session.mount("https://", apis)
    harness = GcpCliHarness(
        gcp=gcp,
        tmp=tmp_path,
        apis=apis,
        client=build_client(gcp.emulator.endpoint),
        session=session,
    )
    with audit_lines_to(CloudRunLogging(apis)):
        yield harness
    printed = "\n".join(harness.outputs)
    for key in harness.keys:
        assert key.secret not in printed
        if key.site_id:
            assert key.site_id not in printed
