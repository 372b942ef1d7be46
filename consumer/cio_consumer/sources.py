"""Where a credential is read from: AWS Secrets Manager or GCP Secret Manager.

Both sources read exactly what the rotator promises applications:

- AWS: `GetSecretValue` of the `AWSCURRENT` stage. For webhook signing keys
  also `AWSPREVIOUS`, while that version carries the rotator's
  `cio-grace-until:<time>` staging label (read with `DescribeSecret`: the consumer
  policy allows no other stage and no state document), so the previous key is
  accepted only until the grace period ends.
- GCP: `versions/latest` (the rotator only ever adds verified versions, so
  latest is current). For webhook signing keys also the version aliased
  `previous`, and the grace deadline from the secret's annotations (needs
  `secretmanager.secrets.get` on the secret).

A retired credential is told apart from an unreadable one: an AWS secret
scheduled for deletion, or a GCP secret whose latest version is disabled or
destroyed, raises `CredentialRetired` (see `cio_consumer.errors`).

`current_version()` is the cheap check the webhook verifier uses before a
full reload (`CredentialLoader.check_for_new_version`): on AWS `DescribeSecret`
(metadata only, no payload), on GCP the version name of `versions/latest`.

When the previous key or its deadline cannot be read, the previous key is
left out: a receiver then refuses deliveries signed with the old key, which
Customer.io retries, instead of accepting a key nobody vouches for.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from cio_consumer.errors import CredentialRetired, CredentialUnavailable
from cio_consumer.logsafe import install_sdk_log_filter
from cio_consumer.usage import (
    CloudMonitoringSink,
    CloudWatchSink,
    UsageReporter,
    shared_reporter,
)

log = logging.getLogger("cio_consumer")

# The staging label the rotator puts on a webhook signing key's previous version while
# its grace period runs, followed by the deadline (rotation/conventions.py).
AWS_GRACE_STAGE_PREFIX = "cio-grace-until:"
# GCP annotation keys cannot contain ':'; this is the name the GCP store is expected to use.
GCP_GRACE_ANNOTATION = "cio-state-grace-until"
GCP_PREVIOUS_ALIAS = "previous"


@dataclass(frozen=True)
class SecretSnapshot:
    """Raw secret payloads as read; `previous` only when asked for and still in its grace."""

    current: bytes = field(repr=False)
    version: str
    previous: bytes | None = field(default=None, repr=False)
    previous_valid_until: datetime | None = None


class SecretSource(Protocol):
    """A place that holds the current (and maybe previous) version of one credential."""

    @property
    def description(self) -> str: ...

    def fetch(self, include_previous: bool = False) -> SecretSnapshot: ...


def parse_deadline(value: str | None) -> datetime | None:
    """The rotator's `YYYY-MM-DDTHH:MM:SSZ` timestamps; empty or malformed means none."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _aws_retired(err: Exception) -> bool:
    """GetSecretValue on a secret scheduled for deletion: InvalidRequestException."""
    response = getattr(err, "response", None)
    error = response.get("Error", {}) if isinstance(response, dict) else {}
    message = str(error.get("Message", "")).lower()
    return error.get("Code") == "InvalidRequestException" and "delet" in message


def _retired(description: str) -> CredentialRetired:
    return CredentialRetired(
        f"{description} has been retired (scheduled for deletion or disabled) by the "
        "operators: switch this application to the credential that replaced it."
    )


class AwsSecretsManagerSource:
    """Read a managed secret from AWS Secrets Manager (needs the `aws` extra: boto3)."""

    def __init__(
        self, secret_id: str, *, client: Any = None, region_name: str | None = None
    ) -> None:
        install_sdk_log_filter()
        if client is None:
            import boto3  # only when used, so the package installs without boto3

            client = boto3.client("secretsmanager", region_name=region_name)
        self.secret_id = secret_id
        self.client = client

    @property
    def description(self) -> str:
        return f"AWS secret {self.secret_id}"

    @property
    def usage_secret(self) -> str:
        """The secret as usage reports name it: its name (an ARN's name part, suffix kept)."""
        if self.secret_id.startswith("arn:"):
            return self.secret_id.split(":", 6)[-1]
        return self.secret_id

    def usage_reporter(self, service_name: str | None = None) -> UsageReporter:
        """CloudWatch in the secret client's region: one reporter per region per process."""
        region = str(getattr(getattr(self.client, "meta", None), "region_name", "") or "")
        return shared_reporter(
            ("aws", region), lambda: CloudWatchSink(region_name=region or None), service_name
        )

    def _get(self, stage: str) -> dict[str, Any]:
        response: dict[str, Any] = self.client.get_secret_value(
            SecretId=self.secret_id, VersionStage=stage
        )
        return response

    @staticmethod
    def _payload(response: dict[str, Any]) -> bytes:
        if "SecretString" in response:
            return str(response["SecretString"]).encode("utf-8")
        return bytes(response.get("SecretBinary", b""))

    def fetch(self, include_previous: bool = False) -> SecretSnapshot:
        try:
            got = self._get("AWSCURRENT")
        except Exception as err:
            if _aws_retired(err):
                raise _retired(self.description) from None
            # botocore's messages name the secret and the error code, never a value.
            raise CredentialUnavailable(
                f"cannot read {self.description} (AWSCURRENT): {err}. Check that the "
                "application's role has the consumer policy and the secret has a current key."
            ) from None
        current = self._payload(got)
        previous, until = (None, None)
        if include_previous:
            previous, until = self._previous()
        return SecretSnapshot(current, str(got.get("VersionId", "")), previous, until)

    def current_version(self) -> str:
        """The version id staged AWSCURRENT, from DescribeSecret (no payload is read)."""
        try:
            described = self.client.describe_secret(SecretId=self.secret_id)
        except Exception as err:
            raise CredentialUnavailable(
                f"cannot describe {self.description}: {type(err).__name__}."
            ) from None
        if described.get("DeletedDate"):
            raise _retired(self.description)
        stages = described.get("VersionIdsToStages", {})
        return next((v for v, s in stages.items() if "AWSCURRENT" in s), "")

    def _previous(self) -> tuple[bytes | None, datetime | None]:
        try:
            described = self.client.describe_secret(SecretId=self.secret_id)
            stages: dict[str, list[str]] = described.get("VersionIdsToStages", {})
            previous = next((v for v, s in stages.items() if "AWSPREVIOUS" in s), None)
            labels = stages.get(previous or "", [])
            until = next(
                (
                    parse_deadline(label[len(AWS_GRACE_STAGE_PREFIX) :])
                    for label in labels
                    if label.startswith(AWS_GRACE_STAGE_PREFIX)
                ),
                None,
            )
            if previous is None or until is None:
                return None, None
            got = self._get("AWSPREVIOUS")
        except Exception as err:
            log.warning(
                "cannot read the previous key of %s (%s): only the current key is accepted",
                self.description,
                type(err).__name__,
            )
            return None, None
        if got.get("VersionId") != previous:
            # AWSPREVIOUS moved since the labels were read: vouch for nothing.
            return None, None
        return self._payload(got), until


def _gcp_status(err: Exception) -> str:
    """The google.rpc status: gRPC raises by status, REST by HTTP code (400), so read the body."""
    if type(err).__name__ == "FailedPrecondition":
        return "FAILED_PRECONDITION"
    response = getattr(err, "response", None)
    try:
        return str(response.json().get("error", {}).get("status", ""))  # type: ignore[union-attr]
    except Exception:
        return ""


class GcpSecretManagerSource:
    """Read a managed secret from GCP Secret Manager (needs the `gcp` extra).

    `name` is the secret's resource name, `projects/PROJECT/secrets/SECRET`.
    """

    def __init__(
        self,
        name: str,
        *,
        client: Any = None,
        grace_annotation: str = GCP_GRACE_ANNOTATION,
        previous_alias: str = GCP_PREVIOUS_ALIAS,
    ) -> None:
        install_sdk_log_filter()
        if client is None:
            from google.cloud import secretmanager

            client = secretmanager.SecretManagerServiceClient()
        self.name = name.rstrip("/")
        self.client = client
        self.grace_annotation = grace_annotation
        self.previous_alias = previous_alias

    @property
    def description(self) -> str:
        return f"GCP secret {self.name}"

    @property
    def usage_secret(self) -> str:
        return self.name

    def usage_reporter(self, service_name: str | None = None) -> UsageReporter:
        """Cloud Monitoring in the secret's project: one reporter per project per process."""
        project = self.name.split("/")[1] if self.name.startswith("projects/") else ""
        transport = getattr(self.client, "transport", None)
        credentials = getattr(transport, "_credentials", None)
        return shared_reporter(
            ("gcp", project),
            lambda: CloudMonitoringSink(project, credentials=credentials),
            service_name,
        )

    def fetch(self, include_previous: bool = False) -> SecretSnapshot:
        got = self._latest()
        previous, until = (None, None)
        if include_previous:
            previous, until = self._previous()
        return SecretSnapshot(bytes(got.payload.data), str(got.name), previous, until)

    def current_version(self) -> str:
        """The version name behind `versions/latest`."""
        return str(self._latest().name)

    def _latest(self) -> Any:
        try:
            return self.client.access_secret_version(name=f"{self.name}/versions/latest")
        except Exception as err:
            if _gcp_status(err) == "FAILED_PRECONDITION":  # latest is DISABLED or DESTROYED
                raise _retired(self.description) from None
            raise CredentialUnavailable(
                f"cannot read {self.description} (versions/latest): {type(err).__name__}. "
                "Check the application's service account has secretAccessor on this secret."
            ) from None

    def _previous(self) -> tuple[bytes | None, datetime | None]:
        try:
            secret = self.client.get_secret(name=self.name)
            until = parse_deadline(dict(secret.annotations).get(self.grace_annotation))
            if until is None:
                return None, None
            got = self.client.access_secret_version(
                name=f"{self.name}/versions/{self.previous_alias}"
            )
        except Exception as err:
            log.warning(
                "cannot read the previous key of %s (%s): only the current key is accepted",
                self.description,
                type(err).__name__,
            )
            return None, None
        return bytes(got.payload.data), until
