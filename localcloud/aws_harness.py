"""A whole AWS account on this machine, running the stack the Pulumi program declares.

A thin facade over `localcloud.stack.LocalStack` for the tests, benches and drill:
`provision` adds a credential to the stack config and re-deploys the program (as
`pulumi up` would), so every secret, tag, schedule and the function's environment
come from infra/, never from a copy written here.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.secretsmanager.models import secretsmanager_backends
from moto.sns.models import sns_backends

from lambdas.aws_rotation import handler as rotator
from localcloud.aws_runtime import LocalAwsRuntime
from localcloud.aws_stack import REGION as REGION
from localcloud.aws_stack import local_client
from localcloud.harness import StackHarness
from localcloud.stack import LocalStack
from rotation import conventions as cv
from rotation.credentials import Credential
from rotation.state import RotationState
from rotation.stores.aws import AwsSecretsStore
from rotation.stores.base import wrap_submission

FUNCTION = "cio-rotator"  # the program's rotator_function_name("cio")
PREFIX = "cio"  # the Pulumi program's default prefix


def fake_aws_environment() -> None:
    """Credentials and region for moto; never real ones."""
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }
    )


@dataclass
class AwsHarness(StackHarness):
    """Use inside moto's `mock_aws()` and `runtime.active()`; the stack deploys at the first
    `provision` (a stack config needs at least one credential)."""

    CLOUD = "aws"

    runtime: LocalAwsRuntime = field(default_factory=LocalAwsRuntime)
    submitted_secrets: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.runtime.clock = self.clock  # AWS's own dates (LastRotatedDate) in simulated time
        self.stack = LocalStack(clock=self.clock, cio=self.cio, aws_runtime=self.runtime)
        # Clients of the same (moto) account, usable before the first deploy too.
        self.sm = local_client("secretsmanager")
        self.sns = local_client("sns")
        self.lam = local_client("lambda")
        self.iam = local_client("iam")

    @property
    def _aws(self) -> Any:
        if self.stack.aws is None:
            raise RuntimeError("nothing deployed yet: provision a credential first")
        return self.stack.aws

    @property
    def rt(self) -> rotator.Runtime:
        """The function's warm instance (built from the environment the program declared)."""
        runtime: rotator.Runtime = self._aws.warm()
        return runtime

    @rt.setter
    def rt(self, value: rotator.Runtime) -> None:
        """Replace the warm instance (tests wiring their own store or verifier)."""
        self._aws.rt = value

    @property
    def topic_arn(self) -> str:
        return str(self.stack.outputs["aws_notifications_topic_arn"])

    @property
    def function_arn(self) -> str:
        fn = self._aws.function
        return str(fn.arn)

    # -- what operators and AWS do ------------------------------------------------------

    def submit(
        self, name: str, credential: Credential | str, actor: str = "test", key_name: str = ""
    ) -> dict[str, Any]:
        """Operator hand-over, as the CLI does it: write the inbox, start the native rotation
        (which also bootstraps an empty secret); when AWS refuses to start one because a
        rotation is unfinished, the rotator resumes it."""
        arn = self.secrets[name]
        raw = credential if isinstance(credential, str) else credential.to_json()
        self._remember(raw)
        # The operator's client knows the inbox by name (the stack outputs carry it).
        body = wrap_submission(raw.encode("utf-8"), actor, key_name)
        self.sm.put_secret_value(SecretId=f"{PREFIX}/{name}/inbox", SecretString=body.decode())
        runs = len(self.runtime.rotation_events)
        try:
            self.sm.rotate_secret(SecretId=arn)
        except self.sm.exceptions.InvalidRequestException:
            handover = {"action": cv.ACTION_SUBMITTED, "secret_id": arn, "actor": actor}
            return self.invoke(handover)  # an unfinished rotation: the rotator resumes it
        ran = self.runtime.rotation_events[runs:]
        if ran and ran[-1].outcome != "succeeded":
            # The verdict, as the CLI reads it: the refusal the rotator recorded.
            st = AwsSecretsStore(self.sm).snapshot(arn).state
            if st.rejection:
                return {"outcome": "rejected", "reason": st.rejection}
            return {"outcome": "waiting", "detail": ran[-1].outcome}
        return {"outcome": "submitted"}

    def _remember(self, raw: str) -> None:
        try:
            doc = json.loads(raw)
        except ValueError:
            return
        if isinstance(doc, dict):
            self.submitted_secrets += [str(v) for k, v in doc.items() if k != "region"]

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        """lambda:Invoke through boto3 and moto, as the CLI and EventBridge do."""
        response = self.lam.invoke(FunctionName=FUNCTION, Payload=json.dumps(event).encode())
        body = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            raise RuntimeError(
                f"rotator failed: {body.get('errorType')}: {body.get('errorMessage')}"
            )
        return dict(body or {})

    def sweep(self) -> dict[str, Any]:
        """The daily sweep now (as its schedule sends it): it hands each credential to the
        work queue, whose event source mapping brings them to the function at once."""
        out = self.invoke({"action": cv.ACTION_SWEEP, "secret_ids": list(self.secrets.values())})
        self.advance(timedelta(0))
        return out

    def native_rotation(self, name: str) -> None:
        """The native schedule firing (AWS calls RotateSecret itself)."""
        try:
            self.sm.rotate_secret(SecretId=self.secrets[name])
        except self.sm.exceptions.InvalidRequestException:
            # AWS re-attempts the unfinished rotation on its own instead.
            self.runtime.reattempt_unfinished(secretsmanager_backends[DEFAULT_ACCOUNT_ID][REGION])

    def current_value(self, name: str) -> dict[str, str] | None:
        try:
            got = self.sm.get_secret_value(SecretId=self.secrets[name], VersionStage="AWSCURRENT")
        except self.sm.exceptions.ResourceNotFoundException:
            return None
        return dict(json.loads(got["SecretString"]))

    def notifications(self) -> list[dict[str, Any]]:
        """Everything published to the operators' topic, oldest first."""
        if self.stack.aws is None:
            return []
        topic = sns_backends[DEFAULT_ACCOUNT_ID][REGION].topics[self.topic_arn]
        out = []
        for _, message, subject, attributes, _ in topic.sent_notifications:
            attrs = {k: v.get("Value", v.get("StringValue")) for k, v in (attributes or {}).items()}
            out.append({"subject": subject, "body": message, **attrs})
        return out

    def state(self, name: str) -> RotationState:
        """The rotation state as the rotator last wrote it (its state document)."""
        return AwsSecretsStore(self.sm).snapshot(self.secrets[name]).state

    def tags(self, name: str) -> dict[str, str]:
        d = self.sm.describe_secret(SecretId=self.secrets[name])
        return {t["Key"]: t["Value"] for t in d.get("Tags", [])}
