"""The credential store on AWS Secrets Manager.

- The live secret's versions carry AWSCURRENT / AWSPENDING / AWSPREVIOUS.
  Promotion moves AWSCURRENT with `RemoveFromVersionId`, which Secrets Manager
  refuses when the label has moved: a true compare-and-swap.
- Rotation state lives in the live secret's `cio-state:*` tags with a revision
  counter. Tags have no conditional write, so `save_state` checks the revision
  just before writing; what makes that check-then-write safe is that the rotator
  Lambda is the only writer of these tags and runs with reserved concurrency 1
  (see infra/). Operators cannot tag (their policy has no TagResource).
- The submission inbox is a second secret. A consumed submission is replaced as
  AWSCURRENT by a small marker version and loses its labels (Secrets Manager
  keeps label-less versions only until it prunes deprecated versions).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from botocore.exceptions import ClientError

from rotation import conventions as cv
from rotation.credentials import Kind, Region
from rotation.errors import NotManaged, StateConflict
from rotation.state import RotationState
from rotation.stores.base import CredentialConfig, Snapshot, Submission

_TOKENS = uuid.UUID("6f0c8a43-5b0e-4d4e-9d59-3c1b2b8f6a10")
CONSUMED_STAGE = "CIO-CONSUMED"
CONSUMED_KEY = "cio_consumed"
REVISION = "rev"


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


class AwsSecretsStore:
    def __init__(self, client: Any) -> None:
        self.client = client
        self._inboxes: dict[str, str] = {}  # the inbox tag is set once by Pulumi

    # -- reading -----------------------------------------------------------------

    def _describe(self, secret_id: str) -> dict[str, Any]:
        try:
            return dict(self.client.describe_secret(SecretId=secret_id))
        except ClientError as err:
            if _code(err) == "ResourceNotFoundException":
                raise NotManaged(f"secret {secret_id} does not exist (check the name).") from None
            raise

    @staticmethod
    def _tags(description: dict[str, Any]) -> dict[str, str]:
        return {t["Key"]: t["Value"] for t in description.get("Tags", [])}

    def snapshot(self, credential_id: str) -> Snapshot:
        d = self._describe(credential_id)
        tags = self._tags(d)
        if tags.get(cv.TAG_MANAGED) != "true" or cv.TAG_KIND not in tags:
            raise NotManaged(
                f"secret {d.get('Name', credential_id)} is not a managed Customer.io credential "
                f"(tag {cv.TAG_MANAGED}=true missing): it is provisioned by the Pulumi program."
            )
        region = tags.get(cv.TAG_REGION, "")
        config = CredentialConfig(
            id=d["ARN"],
            name=tags.get(cv.TAG_CREDENTIAL) or d["Name"],
            kind=Kind(tags[cv.TAG_KIND]),
            region=Region(region) if region else None,
            workspace=tags.get(cv.TAG_WORKSPACE, ""),
        )
        fields = {
            k[len(cv.STATE_PREFIX) :]: v for k, v in tags.items() if k.startswith(cv.STATE_PREFIX)
        }
        revision = fields.pop(REVISION, "0")
        stages: dict[str, list[str]] = d.get("VersionIdsToStages", {})
        return Snapshot(
            config=config,
            state=RotationState.from_fields(fields),
            revision=revision,
            current_version=_holder(stages, cv.AWSCURRENT),
            previous_version=_holder(stages, cv.AWSPREVIOUS),
            pending_version=next(
                (v for v, s in stages.items() if cv.AWSPENDING in s and cv.AWSCURRENT not in s),
                None,
            ),
        )

    def read_value(self, credential_id: str, version: str) -> bytes | None:
        try:
            got = self.client.get_secret_value(SecretId=credential_id, VersionId=version)
        except ClientError as err:
            if _code(err) == "ResourceNotFoundException":
                return None
            raise
        text = got.get("SecretString")
        return text.encode("utf-8") if text is not None else None

    def inbox_id(self, credential_id: str) -> str:
        if credential_id not in self._inboxes:
            tags = self._tags(self._describe(credential_id))
            inbox = tags.get(cv.TAG_INBOX)
            if not inbox:
                raise NotManaged(
                    f"secret {credential_id} has no {cv.TAG_INBOX} tag: re-run pulumi up."
                )
            self._inboxes[credential_id] = inbox
        return self._inboxes[credential_id]

    def read_submission(self, credential_id: str) -> Submission | None:
        inbox = self.inbox_id(credential_id)
        try:
            got = self.client.get_secret_value(SecretId=inbox, VersionStage=cv.AWSCURRENT)
        except ClientError as err:
            if _code(err) == "ResourceNotFoundException":
                return None
            raise
        raw = str(got.get("SecretString") or "").encode("utf-8")
        if _is_marker(raw):
            return None
        return Submission(version=got["VersionId"], raw=raw)

    # -- writing -----------------------------------------------------------------

    def save_state(self, credential_id: str, state: RotationState, expected_revision: str) -> str:
        tags = self._tags(self._describe(credential_id))
        revision = tags.get(cv.STATE_PREFIX + REVISION, "0")
        if revision != expected_revision:
            raise StateConflict(f"state revision is {revision}, expected {expected_revision}")
        fields = state.to_fields()
        fields[REVISION] = str(int(revision) + 1)
        self.client.tag_resource(
            SecretId=credential_id,
            Tags=[{"Key": cv.STATE_PREFIX + k, "Value": v} for k, v in sorted(fields.items())],
        )
        return fields[REVISION]

    def consume_submission(self, credential_id: str, submission: Submission, outcome: str) -> None:
        inbox = self.inbox_id(credential_id)
        marker = str(uuid.uuid5(_TOKENS, f"{submission.version}/{outcome}"))
        self.client.put_secret_value(
            SecretId=inbox,
            ClientRequestToken=marker,
            SecretString=json.dumps({CONSUMED_KEY: submission.version, "outcome": outcome}),
            VersionStages=[CONSUMED_STAGE],
        )
        stages: dict[str, list[str]] = self._describe(inbox).get("VersionIdsToStages", {})
        held = stages.get(submission.version, [])
        if cv.AWSCURRENT in held:
            # Compare-and-swap: if the operator submitted again meanwhile, theirs stays current.
            self._move_stage(inbox, cv.AWSCURRENT, submission.version, marker)
            held = [cv.AWSPREVIOUS]
        for label in held:
            if label != cv.AWSCURRENT:
                self._move_stage(inbox, label, submission.version, None)

    def promote(
        self,
        credential_id: str,
        value: bytes,
        pending_version: str | None,
        expected_current: str | None,
    ) -> str:
        if pending_version is None:
            return self._bootstrap(credential_id, value, expected_current)
        try:
            kwargs: dict[str, str] = {"MoveToVersionId": pending_version}
            if expected_current:
                kwargs["RemoveFromVersionId"] = expected_current
            self.client.update_secret_version_stage(
                SecretId=credential_id, VersionStage=cv.AWSCURRENT, **kwargs
            )
        except ClientError as err:
            if _code(err) in ("InvalidParameterException", "InvalidRequestException"):
                raise StateConflict(
                    "AWSCURRENT moved since it was read: another promotion got there first."
                ) from None
            raise
        self._move_stage(credential_id, cv.AWSPENDING, pending_version, None)
        return pending_version

    def _bootstrap(self, credential_id: str, value: bytes, expected_current: str | None) -> str:
        """The first key of an empty secret: no rotation is running, so write it directly."""
        if expected_current is not None:
            raise ValueError("a secret that has a current version is promoted through AWSPENDING")
        current = _holder(
            self._describe(credential_id).get("VersionIdsToStages", {}), cv.AWSCURRENT
        )
        token = str(uuid.uuid5(_TOKENS, hashlib.sha256(value).hexdigest()))
        if current is not None and current != token:
            raise StateConflict("the secret got a current version since it was read.")
        self.client.put_secret_value(
            SecretId=credential_id,
            ClientRequestToken=token,
            SecretString=value.decode("utf-8"),
            VersionStages=[cv.AWSCURRENT],
        )
        return token

    def stage_pending(self, credential_id: str, token: str, value: bytes) -> None:
        """createSecret: put the verified key into the rotation's AWSPENDING version."""
        self.client.put_secret_value(
            SecretId=credential_id,
            ClientRequestToken=token,
            SecretString=value.decode("utf-8"),
            VersionStages=[cv.AWSPENDING],
        )

    def abandon_pending(self, credential_id: str, token: str) -> None:
        """Drop AWSPENDING from a version whose value failed re-verification."""
        self._move_stage(credential_id, cv.AWSPENDING, token, None)

    def version_stages(self, credential_id: str) -> dict[str, list[str]]:
        stages: dict[str, list[str]] = self._describe(credential_id).get("VersionIdsToStages", {})
        return stages

    def start_rotation(self, credential_id: str) -> str | None:
        """Ask Secrets Manager to rotate; None when a rotation is already unfinished."""
        try:
            got = self.client.rotate_secret(SecretId=credential_id)
        except ClientError as err:
            if _code(err) == "InvalidRequestException":
                return None
            raise
        return str(got.get("VersionId", ""))

    def write_submission(self, credential_id: str, raw: bytes) -> str:
        """The operator's side: add a version to the inbox (operators never touch the live one)."""
        inbox = self.inbox_id(credential_id)
        got = self.client.put_secret_value(SecretId=inbox, SecretString=raw.decode("utf-8"))
        return str(got["VersionId"])

    def managed_secret_ids(self) -> list[str]:
        """Fallback discovery for a sweep event without ids (needs secretsmanager:ListSecrets)."""
        ids: list[str] = []
        paginator = self.client.get_paginator("list_secrets")
        for page in paginator.paginate(Filters=[{"Key": "tag-key", "Values": [cv.TAG_MANAGED]}]):
            for entry in page.get("SecretList", []):
                tags = self._tags(entry)
                if tags.get(cv.TAG_MANAGED) == "true":
                    ids.append(entry["ARN"])
        return ids

    def _move_stage(
        self, secret_id: str, label: str, from_version: str, to_version: str | None
    ) -> None:
        kwargs: dict[str, str] = {"RemoveFromVersionId": from_version}
        if to_version:
            kwargs["MoveToVersionId"] = to_version
        try:
            self.client.update_secret_version_stage(
                SecretId=secret_id, VersionStage=label, **kwargs
            )
        except ClientError as err:
            # The label is no longer on that version: someone else already moved it.
            if _code(err) not in ("InvalidParameterException", "InvalidRequestException"):
                raise


def _holder(stages: dict[str, list[str]], label: str) -> str | None:
    return next((v for v, s in stages.items() if label in s), None)


def _is_marker(raw: bytes) -> bool:
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):  # a submission nested thousands deep is no marker
        return False
    return isinstance(doc, dict) and CONSUMED_KEY in doc
