"""The operator's side on AWS: Secrets Manager metadata, the inbox, the rotator, its logs.

Everything runs with the operator role (infra/aws_policies.operator_policy):
DescribeSecret on managed secrets, PutSecretValue on inboxes, lambda:InvokeFunction on
the rotator's `operator` alias only (cv.OPERATOR_ALIAS: the function then takes operator
actions alone, never a rotation step) and logs:FilterLogEvents on its log group
(`history`, and `status` for the time of each key's last daily check). Starting a native
rotation is the rotator's: RotateSecret needs lambda:InvokeFunction on the unqualified
function (Secrets Manager API reference, RotateSecret), which operators do not have.
It never calls GetSecretValue: the operator cannot read a live key, and no
command needs to.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from rotation import conventions as cv
from rotation.errors import NotManaged
from rotation.operator.backend import (
    LIVENESS_EVENTS,
    AuditEntry,
    CloudFailure,
    Details,
    NotFound,
    OperatorError,
    Trail,
    liveness_entry,
    parse_audit_line,
    refuse_key_shaped_reason,
    trail_of,
)
from rotation.operator.config import CredentialRef, OperatorConfig
from rotation.stores.aws import AwsSecretsStore
from rotation.stores.base import Snapshot

if TYPE_CHECKING:
    from rotation.operator.drain_view import Reading

T = TypeVar("T")

_DENIED_CODES = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}
_LOGIN_CODES = {
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidSignatureException",
}
_NOT_FOUND_CODES = {"ResourceNotFoundException", "ResourceNotFound"}
_ACTION_RE = re.compile(r"not authorized to perform:?\s+([a-z0-9-]+:[A-Za-z0-9]+)")
_RESOURCE_RE = re.compile(r"on resource:?\s+(\S+)")
# `status` reads the daily checks of a few days: more pages than this means the pattern
# matched far more than liveness lines; what was read stands, the rest is left.
TRAIL_MAX_PAGES = 5
# API operation -> IAM action, where they differ.
_IAM_ACTION = {"lambda:Invoke": "lambda:InvokeFunction"}


def denied_action(err: ClientError, service: str) -> str:
    """The IAM action AWS refused: from the message when it says, else from the operation."""
    message = str(err.response.get("Error", {}).get("Message", ""))
    found = _ACTION_RE.search(message)
    if found:
        return found.group(1)
    action = f"{service}:{err.operation_name}"
    return _IAM_ACTION.get(action, action)


def translate(err: Exception, service: str, what: str) -> Exception:
    """A cloud error as an OperatorError that names the fix."""
    if isinstance(err, NoCredentialsError):
        return CloudFailure(
            f"No AWS credentials while trying to {what}. Log in with the operator role "
            "(e.g. `aws sso login --profile <profile>` and set AWS_PROFILE), then run it again."
        )
    if isinstance(err, BotoCoreError):
        return CloudFailure(
            f"Could not reach AWS to {what} ({type(err).__name__}). Check the network and "
            "the region (--region or CIO_AWS_REGION), then run it again."
        )
    if not isinstance(err, ClientError):
        return err
    code = str(err.response.get("Error", {}).get("Code", ""))
    message = str(err.response.get("Error", {}).get("Message", ""))
    if code in _DENIED_CODES or "not authorized to perform" in message:
        action = denied_action(err, service)
        resource = _RESOURCE_RE.search(message)
        on = f" on {resource.group(1)}" if resource else ""
        return CloudFailure(
            f"AWS denied {action}{on} while trying to {what}: the role you are using lacks "
            f"the {action} permission. Assume the stack's operator role "
            "(output aws_operator_role_arn), or ask the platform team to grant it "
            "(infra/aws_policies.operator_policy) and re-run `pulumi up`."
        )
    if code in _LOGIN_CODES:
        return CloudFailure(
            f"AWS does not accept your credentials ({code}) while trying to {what}: "
            "log in again (`aws sso login`), then run it again."
        )
    if code in _NOT_FOUND_CODES:
        return NotFound(
            f"AWS found nothing to {what} ({code}). The outputs file may belong to another "
            "stack, account or region: refresh it with `pulumi stack output --json`, and check "
            "--region / CIO_AWS_REGION."
        )
    if code in ("ThrottlingException", "TooManyRequestsException"):
        return CloudFailure(f"AWS is throttling ({code}) while trying to {what}: retry shortly.")
    return CloudFailure(f"AWS refused to {what} ({code}). Check the role and the region.")


@contextmanager
def _aws(service: str, what: str) -> Iterator[None]:
    try:
        yield
    except NotManaged as err:
        raise NotFound(
            f"{err} Refresh the outputs file with `pulumi stack output --json`."
        ) from None
    except (ClientError, BotoCoreError) as err:
        raise translate(err, service, what) from None


class AwsBackend:
    """`Backend` on AWS, with the operator role's permissions and nothing more."""

    def __init__(self, config: OperatorConfig, session: Any | None = None) -> None:
        self.config = config
        self.region = config.aws_region or None
        self.session = session or boto3.session.Session(region_name=self.region)

    # Clients are made on first use: each costs noticeable start-up time.
    @cached_property
    def sm(self) -> Any:
        return self.session.client("secretsmanager", region_name=self.region)

    @cached_property
    def lam(self) -> Any:
        return self.session.client("lambda", region_name=self.region)

    @cached_property
    def logs(self) -> Any:
        return self.session.client("logs", region_name=self.region)

    @cached_property
    def store(self) -> AwsSecretsStore:
        # Operators may not read keys: the store's quick read is the state document alone.
        return AwsSecretsStore(self.sm, read_payloads=False)

    def _call(self, service: str, what: str, fn: Callable[[], T]) -> T:
        with _aws(service, what):
            return fn()

    def snapshot(self, ref: CredentialRef, *, quick: bool = False) -> Snapshot:
        """`quick`: the state document alone (one call), whose configuration copy and
        recorded versions are enough to judge a hand-over; otherwise also the secret's
        tags and stages (DescribeSecret)."""
        return self._call(
            "secretsmanager",
            f"describe {ref.name}",
            lambda: self.store.snapshot(ref.secret_id, quick=quick),
        )

    def warm(self) -> None:
        """boto3 makes clients thread-unsafely; the clients themselves are thread-safe."""
        _ = self.store, self.logs

    def status_read(self, ref: CredentialRef) -> tuple[Snapshot, Details]:
        """DescribeSecret (tags, stages, the native schedule) and the state document."""
        snap, d = self._call(
            "secretsmanager",
            f"describe {ref.name}",
            lambda: self.store.described_snapshot(ref.secret_id),
        )
        return snap, Details(
            native_next_rotation=_utc(d.get("NextRotationDate")),
            native_last_rotated=_utc(d.get("LastRotatedDate")),
        )

    def hand_over(
        self, ref: CredentialRef, raw: bytes, actor: str, key_name: str = ""
    ) -> dict[str, Any] | None:
        """Inbox first, then the rotator (through the operator alias), which bootstraps an
        empty secret, resumes an unfinished rotation or starts the native one."""
        self._call(
            "secretsmanager",
            f"write the inbox of {ref.name}",
            lambda: self.store.write_submission(ref.secret_id, raw, actor=actor, key_name=key_name),
        )
        summary = self.invoke(ref, cv.ACTION_SUBMITTED, actor=actor)
        if summary.get("outcome") == "submitted" and summary.get("version"):
            # The version Secrets Manager started for this key: if AWSCURRENT moves to it
            # while the rotator's state does not follow (it crashed after promoting), submit
            # can tell.
            return {"outcome": "started", "version": str(summary["version"])}
        return summary

    def invoke(self, ref: CredentialRef, action: str, **fields: Any) -> dict[str, Any]:
        function = self.config.function_name
        if not function:
            raise NotFound(
                "The rotator function is unknown: pass --outputs (the stack outputs hold "
                "aws_rotator_function_name), or set CIO_ROTATOR_FUNCTION."
            )
        event = {"action": action, "secret_id": ref.secret_id, **fields}
        refuse_key_shaped_reason(fields)
        try:
            response = self._call(
                "lambda",
                f"invoke the rotator {function}:{cv.OPERATOR_ALIAS} ({action} {ref.name})",
                lambda: self.lam.invoke(
                    FunctionName=function,
                    Qualifier=cv.OPERATOR_ALIAS,
                    Payload=json.dumps(event).encode(),
                ),
            )
        except NotFound as err:
            raise NotFound(
                f"{err} If the function {function} exists, its {cv.OPERATOR_ALIAS!r} alias "
                "(the one operators may invoke) does not: the stack predates this CLI; run "
                "`pulumi up`."
            ) from None
        body = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            kind = str((body or {}).get("errorType", "error"))
            message = str((body or {}).get("errorMessage", ""))
            hint = (
                " The deployed rotator predates this CLI: run `pulumi up` to update it."
                if "unknown event" in message
                else f" Its log group {self.config.log_group or '(see the stack outputs)'} "
                "has the details."
            )
            raise CloudFailure(
                f"The rotator failed on {action} for {ref.name}: {kind}: {message}.{hint}"
            )
        return dict(body or {})

    def _log_group(self) -> str:
        group = self.config.log_group
        if not group:
            raise NotFound(
                "The rotator's log group is unknown: pass --outputs (the stack outputs hold "
                "aws_rotator_log_group), or set CIO_ROTATOR_LOG_GROUP."
            )
        return group

    def _audit_lines(
        self, what: str, max_pages: int | None = None, **kwargs: Any
    ) -> Iterator[tuple[int, tuple[AuditEntry, str]]]:
        """The audit lines FilterLogEvents finds on the rotator's log group, oldest first
        (CloudWatch's order), with their timestamps; at most `max_pages` pages."""
        group = self._log_group()
        with _aws("logs", f"{what} in {group}"):
            paginator = self.logs.get_paginator("filter_log_events")
            pages = paginator.paginate(logGroupName=group, **kwargs)
            for n, page in enumerate(pages, 1):
                for event in page.get("events", []):
                    parsed = parse_audit_line(
                        str(event.get("message", "")),
                        event.get("timestamp"),
                        str(event.get("eventId", "")),
                    )
                    if parsed is not None:
                        yield int(event.get("timestamp") or 0), parsed
                if max_pages is not None and n >= max_pages:
                    return

    def history(self, ref: CredentialRef, limit: int) -> list[AuditEntry]:
        found: list[tuple[int, int, AuditEntry]] = []
        # A quoted term: the credential's name. The JSON is checked below.
        lines = self._audit_lines(
            f"read the audit trail of {ref.name}", filterPattern=f'"{ref.name}"'
        )
        for timestamp, (entry, name) in lines:
            if name == ref.name:
                found.append((timestamp, len(found), entry))
        found.sort(key=lambda item: (item[0], item[1]), reverse=True)
        return [entry for _, _, entry in found[:limit]]

    def liveness_trail(
        self, refs: Sequence[CredentialRef], since: datetime
    ) -> dict[str, list[AuditEntry]]:
        """One FilterLogEvents read from `since` for every credential: the pattern matches
        the two liveness events only (a few lines a day per credential). CloudWatch
        answers oldest first, so the window, not an early stop, keeps it small."""
        wanted = [ref.name for ref in refs]
        found: dict[str, list[tuple[int, int, AuditEntry]]] = {}
        lines = self._audit_lines(
            "read the daily checks in the audit trail",
            max_pages=TRAIL_MAX_PAGES,
            startTime=int(since.timestamp() * 1000),
            filterPattern=" ".join(f'?"{event}"' for event in LIVENESS_EVENTS),
        )
        for n, (timestamp, parsed) in enumerate(lines):
            entry = liveness_entry(parsed, wanted, since)
            if entry is not None:
                found.setdefault(parsed[1], []).append((timestamp, n, entry))
        return {
            name: [entry for _, _, entry in sorted(items, key=lambda i: i[:2], reverse=True)]
            for name, items in found.items()
        }

    def audit_trail(self, refs: Sequence[CredentialRef], since: datetime, until: datetime) -> Trail:
        """One paged FilterLogEvents over the window, every audit line (the daily checks
        included: they show the trail is continuous). A failure part-way keeps what was
        read and says why: evidence states a gap, it never fills one in."""
        wanted = [ref.name for ref in refs]
        read: list[tuple[AuditEntry, str]] = []
        problem = ""
        try:
            for _, parsed in self._audit_lines(
                "read the audit trail",
                startTime=int(since.timestamp() * 1000),
                endTime=int(until.timestamp() * 1000) - 1,
                filterPattern='"audit"',
            ):
                read.append(parsed)
        except OperatorError as err:
            problem = str(err)
        events, earliest = trail_of(read, wanted, since, until)
        return Trail(events, problem, earliest)

    # -- the old key's drain (`cio-rotate drain`) ------------------------------------

    @cached_property
    def cloudwatch(self) -> Any:
        return self.session.client("cloudwatch", region_name=self.region)

    @cached_property
    def cloudtrail(self) -> Any:
        return self.session.client("cloudtrail", region_name=self.region)

    def drain_evidence(
        self, ref: CredentialRef, fingerprints: Sequence[str], since: datetime, now: datetime
    ) -> Reading:
        """CloudWatch `CioRotation/KeyInUse` (ListMetrics per fingerprint, GetMetricData)
        and CloudTrail's GetSecretValue history (LookupEvents), through the rotator's own
        reader. The rotator's role (GetFunctionConfiguration) reads the secret for its
        checks and holds no key for an application: its reads are left out."""
        from rotation.operator.drain_view import read_with
        from rotation.stores.usage import AwsUsageReader

        role, calls = self._rotator_role()
        return read_with(
            AwsUsageReader(self.cloudwatch, self.cloudtrail),
            ref.secret_id,
            fingerprints,
            since,
            now,
            failures=(ClientError, BotoCoreError),
            reports_failed=lambda err: (
                "the key-usage reports (CloudWatch CioRotation/KeyInUse): "
                f"{translate(err, 'cloudwatch', 'read them')}"
            ),
            audit_source="CloudTrail LookupEvents, which needs cloudtrail:LookupEvents",
            ignore=(role,) if role else (),
            calls=calls,
        )

    def _rotator_role(self) -> tuple[str, int]:
        """The rotator's role ARN ("" when unknown or not readable) and the calls made."""
        if not self.config.function_name:
            return "", 0
        try:
            got = self.lam.get_function_configuration(FunctionName=self.config.function_name)
        except (ClientError, BotoCoreError):
            return "", 1  # its reads then show as a holder: more said, never less
        return str(got.get("Role", "")), 1


def _utc(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return None
