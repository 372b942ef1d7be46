"""A whole AWS account on this machine: moto, the rotation Lambda in-process, a fake Customer.io.

Used by the tests and by the drill. Resources are created the way the Pulumi
program creates them (same tags, an empty live secret, an inbox, rotation
configured with RotateImmediately=false), so what runs here is what runs there.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from typing import Any

import boto3
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.secretsmanager.models import secretsmanager_backends
from moto.sns.models import sns_backends

from lambdas.aws_rotation import handler as rotator
from localcloud.aws_runtime import LocalAwsRuntime
from localcloud.customerio import FakeCustomerIO
from localcloud.local_stack import STACK
from rotation import conventions as cv
from rotation.clock import SimulatedClock
from rotation.credentials import Credential
from rotation.policy import Policy
from rotation.state import RotationState
from rotation.stores.aws import AwsSecretsStore
from rotation.stores.base import wrap_submission
from rotation.verify import Verifier, build_session

REGION = "us-east-1"
FUNCTION = "cio-rotator"
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


def _empty_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("lambdas/aws_rotation/handler.py", "# deployed by infra/bundle.py\n")
    return buffer.getvalue()


@dataclass
class AwsHarness:
    cio: FakeCustomerIO
    clock: SimulatedClock
    policy: Policy = field(default_factory=Policy)
    runtime: LocalAwsRuntime = field(default_factory=LocalAwsRuntime)
    secrets: dict[str, str] = field(default_factory=dict)
    topic_arn: str = ""
    function_arn: str = ""
    submitted_secrets: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.runtime.clock = self.clock  # AWS's own dates (LastRotatedDate) in simulated time
        self.sm = boto3.client("secretsmanager", region_name=REGION)
        self.sns = boto3.client("sns", region_name=REGION)
        self.lam = boto3.client("lambda", region_name=REGION)
        self.iam = boto3.client("iam", region_name=REGION)
        self.topic_arn = self.sns.create_topic(Name="cio-rotation-operators")["TopicArn"]
        role = self.iam.create_role(
            RoleName="cio-rotator",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )["Role"]["Arn"]
        self.function_arn = self.lam.create_function(
            FunctionName=FUNCTION,
            Runtime="python3.12",
            Role=role,
            Handler="lambdas/aws_rotation/handler.handler",
            Code={"ZipFile": _empty_zip()},
        )["FunctionArn"]
        env = {
            cv.ENV_SNS_TOPIC_ARN: self.topic_arn,
            cv.ENV_STACK: STACK,  # as the program sets them (infra/aws_component.py)
            "AWS_REGION": REGION,
            **self.cio.env(),
        }
        self.rt = rotator.build_runtime(
            env=env,
            clock=self.clock,
            verifier=Verifier(session=build_session(backoff_factor=0.01), env=env),
        )
        self.rt.engine.policy = self.policy
        self.runtime.register(FUNCTION, lambda event, context: rotator.handle(event, self.rt))

    # -- provisioning, as the Pulumi program does it --------------------------------

    def provision(self, name: str, kind: str, region: str = "us", workspace: str = "") -> str:
        live_name = f"{PREFIX}/{name}"
        inbox = self.sm.create_secret(Name=f"{live_name}/inbox")["ARN"]
        state = self.sm.create_secret(
            Name=f"{live_name}/state", Tags=[{"Key": cv.TAG_STATE_OF, "Value": live_name}]
        )["ARN"]
        tags = {
            cv.TAG_MANAGED: "true",
            cv.TAG_STACK: STACK,
            cv.TAG_CREDENTIAL: name,
            cv.TAG_KIND: kind,
            cv.TAG_REGION: region if kind != "webhook_signing" else "",
            cv.TAG_INBOX: inbox,
            cv.TAG_STATE: state,
        }
        if workspace:
            tags[cv.TAG_WORKSPACE] = workspace
        arn = self.sm.create_secret(
            Name=live_name, Tags=[{"Key": k, "Value": v} for k, v in tags.items()]
        )["ARN"]
        self.sm.tag_resource(SecretId=inbox, Tags=[{"Key": cv.TAG_INBOX_OF, "Value": arn}])
        self.sm.rotate_secret(
            SecretId=arn,
            RotationLambdaARN=self.function_arn,
            RotationRules={"AutomaticallyAfterDays": self.policy.rotation_days},
            RotateImmediately=False,
        )
        self.secrets[name] = str(arn)
        return str(arn)

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
        return self.invoke({"action": cv.ACTION_SWEEP, "secret_ids": list(self.secrets.values())})

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
