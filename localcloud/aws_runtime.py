"""What moto cannot do here, done the way AWS does it.

moto stores secrets faithfully but cannot run a Lambda without Docker, and its
RotateSecret differs from Secrets Manager's documented behaviour. This module
patches just those two seams of moto's backends (not boto3, not a client):

- RotateSecret refuses while an AWSPENDING version other than AWSCURRENT exists
  ("A previous rotation isn't complete"), creates an empty AWSPENDING version
  keyed by the token, then calls the rotation function for createSecret,
  setSecret, testSecret, finishSecret, stopping at the first failure and leaving
  AWSPENDING in place (RotationFailed). With RotateImmediately=false it runs only
  the testSecret configuration test against an empty pending version.
- lambda:Invoke of a registered function runs the handler in-process, with a context
  whose `invoked_function_arn` is the ARN the caller named: qualified by the alias when it
  invoked one (`Qualifier`, or `name:alias`), as Lambda's is; Secrets Manager's own calls
  name the rotation function's ARN as configured on the secret.
- SendMessage to a queue with a Lambda event source mapping only queues the message:
  moto invokes the function inline, inside SendMessage, one message per invocation and
  ignoring `ReportBatchItemFailures`; Lambda's poller (batches, partial failures, the
  visibility timeout on the simulated clock) is localcloud/aws_stack.py's instead.

Rotation bookkeeping as DescribeSecret shows it (Secrets Manager API reference,
DescribeSecret): `LastRotatedDate` is "the most recent date and time that the Secrets
Manager rotation process was successfully completed", so it moves when all four steps
succeed and at no other time (not on a failure, not on the configuration test), at
the runtime's clock (the simulated one when given); `RotationEnabled`, `RotationRules`
and `LastRotatedDate` appear once rotation is configured. `NextRotationDate` is not
modelled: when AWS moves it after a rotation completed outside its own process (a
rotation the rotator resumed) is not documented.

Plus the bookkeeping moto skips: AWSCURRENT moved by UpdateSecretVersionStage
becomes what GetSecretValue without a stage returns; and PutSecretValue's token
check and write happen as one step, as in AWS (the state document's
compare-and-swap rests on it), and a version that holds a value is never
rewritten (moto resets an AWSPENDING version's labels when its token is reused).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest.mock import patch

from moto.awslambda.models import LambdaBackend, LambdaFunction
from moto.awslambda.responses import LambdaResponse
from moto.secretsmanager.exceptions import (
    InvalidRequestException,
    ResourceExistsException,
    SecretNotFoundException,
)
from moto.secretsmanager.models import SecretsManagerBackend
from moto.sqs.models import Message, Queue

from rotation.clock import Clock

Handler = Callable[[dict[str, Any], Any], Any]
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


@dataclass(frozen=True)
class LambdaContext:
    """What the handlers read of Lambda's context object."""

    invoked_function_arn: str


def invoked_arn(function_arn: str, qualifier: str | None) -> str:
    """The ARN an invocation named: the function's, qualified by an alias or version."""
    base = ":".join(function_arn.split(":")[:7])
    return f"{base}:{qualifier}" if qualifier and qualifier != "$LATEST" else base


def _qualifier(function_name: str, qualifier: str | None) -> str | None:
    """Lambda takes the qualifier from the name (`name:alias`, a qualified ARN) first."""
    parts = function_name.split(":")
    if function_name.startswith("arn:"):
        return parts[7] if len(parts) > 7 else qualifier
    return parts[1] if len(parts) == 2 else qualifier


@dataclass
class RotationEvent:
    secret: str
    token: str
    outcome: str  # "succeeded" | "failed at <step>: <error>"


@dataclass
class LocalAwsRuntime:
    functions: dict[str, Handler] = field(default_factory=dict)
    # Where AWS's own timestamps (LastRotatedDate) come from: a
    # simulated clock makes them follow simulated time, as everything else does.
    clock: Clock | None = None
    rotation_events: list[RotationEvent] = field(default_factory=list)
    lambda_invocations: int = 0
    errors: list[str] = field(default_factory=list)  # what a failed invocation reported
    on_rotated: Callable[[str], None] | None = None  # told each secret ARN rotated in full

    def register(self, function_name: str, handler: Handler) -> None:
        self.functions[function_name] = handler

    @contextmanager
    def active(self) -> Iterator[LocalAwsRuntime]:
        runtime = self
        original_stage = SecretsManagerBackend.update_secret_version_stage
        original_invoke = LambdaBackend.invoke
        named = threading.local()  # the qualifier of the invocation in progress, per thread

        original_response_invoke = LambdaResponse.invoke

        def response_invoke(response: LambdaResponse) -> Any:
            # moto's handler reads `qualifier`; boto3 sends the query parameter `Qualifier`.
            outer = getattr(named, "asked", None)
            named.asked = response.querystring.get("Qualifier", [None])[0]
            try:
                return original_response_invoke(response)
            finally:
                named.asked = outer

        def backend_invoke(
            backend: LambdaBackend,
            function_name: str,
            qualifier: str | None,
            body: Any,
            headers: Any,
            response_headers: Any,
        ) -> Any:
            qualifier = qualifier or getattr(named, "asked", None)
            outer = getattr(named, "qualifier", None)
            named.qualifier = _qualifier(function_name, qualifier)
            try:
                # With the qualifier, moto resolves the alias: an unknown one is refused.
                return original_invoke(
                    backend, function_name, qualifier, body, headers, response_headers
                )
            finally:
                named.qualifier = outer

        def invoke_lambda(fn: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
            handler = runtime.functions.get(fn.function_name)
            if handler is None:
                raise RuntimeError(f"no local handler for {fn.function_name}")
            payload = json.loads(event) if isinstance(event, str) else (event or {})
            runtime.lambda_invocations += 1
            context = LambdaContext(invoked_arn(fn.function_arn, getattr(named, "qualifier", None)))
            try:
                result = handler(payload, context)
            except Exception as err:
                runtime.errors.append(f"{type(err).__name__}: {err}")
                return (
                    json.dumps({"errorType": type(err).__name__, "errorMessage": str(err)}),
                    True,
                    "",
                )
            return json.dumps(result), False, ""

        def rotate_secret(
            backend: SecretsManagerBackend,
            secret_id: str,
            client_request_token: str | None = None,
            rotation_lambda_arn: str | None = None,
            rotation_rules: dict[str, Any] | None = None,
            rotate_immediately: bool = True,
        ) -> str:
            if not backend._is_valid_identifier(secret_id):
                raise SecretNotFoundException()
            secret: Any = backend.secrets[secret_id]
            if rotation_lambda_arn:
                secret.rotation_lambda_arn = rotation_lambda_arn
            if rotation_rules:
                secret.auto_rotate_after_days = rotation_rules.get("AutomaticallyAfterDays", 0)
                secret.rotation_enabled = True
            secret.rotation_requested = True  # DescribeSecret shows the rotation fields
            if not secret.rotation_lambda_arn:
                raise InvalidRequestException("No Lambda rotation function ARN is associated.")
            # DescribeSecret and ListSecrets then show RotationLambdaARN, as AWS does.
            secret.rotation_requested = True
            for version in secret.versions.values():
                stages = version["version_stages"]
                if "AWSPENDING" in stages and "AWSCURRENT" not in stages:
                    raise InvalidRequestException(
                        "A previous rotation isn't complete. That rotation will be reattempted."
                    )
            token = client_request_token or str(uuid.uuid4())
            secret.versions[token] = {
                "createdate": int(time.time()),
                "version_id": token,
                "version_stages": ["AWSPENDING"],
            }
            if rotate_immediately:
                runtime._run(secret, token, STEPS)
            else:
                runtime._run(secret, token, ("testSecret",))
                secret.versions.pop(token, None)  # the configuration test leaves nothing behind
            return json.dumps({"ARN": secret.arn, "Name": secret.name, "VersionId": token})

        atomic = threading.RLock()

        def update_stage(
            backend: SecretsManagerBackend,
            secret_id: str,
            version_stage: str,
            remove_from_version_id: str,
            move_to_version_id: str,
        ) -> Any:
            # AWS checks RemoveFromVersionId and moves the label as one step (the
            # compare-and-swap promotions rely on); moto's check-then-move is not atomic
            # between threads, so it is made so here, under the same lock as writes.
            with atomic:
                return _update_stage(
                    backend, secret_id, version_stage, remove_from_version_id, move_to_version_id
                )

        def _update_stage(
            backend: SecretsManagerBackend,
            secret_id: str,
            version_stage: str,
            remove_from_version_id: str,
            move_to_version_id: str,
        ) -> Any:
            secret: Any = (
                backend.secrets[secret_id] if backend._is_valid_identifier(secret_id) else None
            )
            holders = [
                v
                for v in (secret.versions.values() if secret else [])
                if version_stage in v["version_stages"]
            ]
            if (
                secret
                and version_stage == "AWSCURRENT"
                and not remove_from_version_id
                and not holders
            ):
                # moto indexes a missing AWSCURRENT here; AWS just attaches the label.
                secret.versions[move_to_version_id]["version_stages"].append("AWSCURRENT")
                result: Any = (secret.arn, secret.name)
            else:
                result = original_stage(
                    backend, secret_id, version_stage, remove_from_version_id, move_to_version_id
                )
            for secret in dict.values(backend.secrets):
                for vid, version in secret.versions.items():
                    if "AWSCURRENT" in version["version_stages"]:
                        secret.default_version_id = vid
            return result

        original_put = SecretsManagerBackend.put_secret_value

        def put_secret_value(
            backend: SecretsManagerBackend,
            secret_id: str,
            secret_string: str,
            secret_binary: str,
            client_request_token: str,
            version_stages: list[str],
        ) -> Any:
            # AWS checks a ClientRequestToken and adds the version as one step; moto's
            # check-then-add is not atomic between threads, so it is made so here.
            with atomic:
                secret: Any = (
                    backend.secrets[secret_id] if backend._is_valid_identifier(secret_id) else None
                )
                existing = secret.versions.get(client_request_token) if secret else None
                if existing is not None and (
                    existing.get("secret_string") is not None
                    or existing.get("secret_binary") is not None
                ):
                    # A version that already holds a value is never rewritten: the same
                    # value again is a no-op (its labels stay as they are), another value
                    # is refused. moto rewrites an AWSPENDING version's labels here.
                    if (
                        existing.get("secret_string") != secret_string
                        or existing.get("secret_binary") != secret_binary
                    ):
                        raise ResourceExistsException(
                            f"You can't use ClientRequestToken {client_request_token} because "
                            f"that value is already in use for a version of secret {secret.arn}."
                        )
                    return secret.to_short_dict(
                        include_version_stages=True, version_id=client_request_token
                    )
                return original_put(
                    backend,
                    secret_id,
                    secret_string,
                    secret_binary,
                    client_request_token,
                    version_stages,
                )

        original_add = Queue.add_message

        def add_message(queue: Queue, message: Message) -> None:
            mappings, queue.lambda_event_source_mappings = queue.lambda_event_source_mappings, {}
            try:
                original_add(queue, message)
            finally:
                queue.lambda_event_source_mappings = mappings

        with ExitStack() as stack:
            stack.enter_context(patch.object(LambdaFunction, "_invoke_lambda", invoke_lambda))
            stack.enter_context(patch.object(LambdaBackend, "invoke", backend_invoke))
            stack.enter_context(patch.object(LambdaResponse, "invoke", response_invoke))
            stack.enter_context(patch.object(Queue, "add_message", add_message))
            stack.enter_context(
                patch.object(SecretsManagerBackend, "put_secret_value", put_secret_value)
            )
            stack.enter_context(patch.object(SecretsManagerBackend, "rotate_secret", rotate_secret))
            stack.enter_context(
                patch.object(SecretsManagerBackend, "update_secret_version_stage", update_stage)
            )
            yield self

    def _run(self, secret: Any, token: str, steps: tuple[str, ...]) -> None:
        handler = self._handler_for(secret.rotation_lambda_arn)
        context = LambdaContext(str(secret.rotation_lambda_arn))
        for step in steps:
            event = {"Step": step, "SecretId": secret.arn, "ClientRequestToken": token}
            try:
                handler(event, context)
            except Exception as err:
                self.errors.append(f"{type(err).__name__}: {err}")
                self.rotation_events.append(
                    RotationEvent(secret.name, token, f"failed at {step}: {type(err).__name__}")
                )
                return
        if len(steps) == len(STEPS):
            secret.last_rotation_date = self.now()
            if self.on_rotated is not None:
                self.on_rotated(secret.arn)
        self.rotation_events.append(RotationEvent(secret.name, token, "succeeded"))

    def now(self) -> int:
        """AWS's clock, in the epoch seconds moto keeps."""
        return int(self.clock.now().timestamp()) if self.clock is not None else int(time.time())

    def _handler_for(self, arn: str) -> Handler:
        name = arn.rsplit(":", 1)[-1]
        if name not in self.functions:
            raise RuntimeError(f"no local handler for rotation function {arn}")
        return self.functions[name]

    def reattempt_unfinished(self, backend: SecretsManagerBackend) -> int:
        """What Secrets Manager does on its own during the rotation window: retry."""
        count = 0
        for secret in list(dict.values(backend.secrets)):
            for vid, version in list(secret.versions.items()):
                stages = version["version_stages"]
                if "AWSPENDING" in stages and "AWSCURRENT" not in stages:
                    self._run(secret, vid, STEPS)
                    count += 1
        return count
