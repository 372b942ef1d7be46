"""The credential store on AWS Secrets Manager.

- The live secret's versions carry AWSCURRENT / AWSPENDING / AWSPREVIOUS.
  Promotion moves AWSCURRENT with `RemoveFromVersionId`, which Secrets Manager
  refuses when the label has moved: a true compare-and-swap.
- Rotation state lives in a per-credential **state document**, a third secret
  only the rotator writes (`<prefix>/<name>/state`, found through the live
  secret's `cio-rotation:state` tag). Revision n is the version whose
  ClientRequestToken is derived from (secret, n). Writing revision n+1 puts a
  version with the token of n+1: Secrets Manager refuses to reuse a token with
  different content (ResourceExistsException), so of two writers that read
  revision n, exactly one wins, whatever the function's concurrency. Every
  document carries a per-write nonce, so two writers never produce the same
  content by chance. Limit: a token stays reserved while its version exists;
  Secrets Manager prunes unlabelled versions only past 100 versions and 24
  hours, far beyond the few seconds between a read and the write decided on it.
- Stacks deployed before the state document kept state in `cio-state:*` tags on
  the live secret: with no state document yet, the snapshot reads those tags
  (they arrive with DescribeSecret anyway) and the first write migrates them.
- The live secret's tags hold configuration only; Pulumi manages them.
- The submission inbox is a second secret. A consumed submission is replaced as
  AWSCURRENT by a small marker version (compare-and-swap on the label).
- A webhook signing key's previous version carries a `cio-grace-until:<time>` label
  while its grace period runs: receivers (who may read neither state documents nor
  any stage but AWSCURRENT and AWSPREVIOUS) learn the window from DescribeSecret.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from rotation import conventions as cv
from rotation.credentials import Kind, Region
from rotation.errors import NotManaged, StateConflict
from rotation.metadata import config_from_aws, refuse_other_stacks
from rotation.state import Phase, RotationState, format_time
from rotation.stores.aws_wakeups import ScheduledWakeUps
from rotation.stores.base import (
    CredentialConfig,
    Snapshot,
    StoreBase,
    Submission,
    unwrap_submission,
    wrap_submission,
)

if TYPE_CHECKING:
    from rotation.stores.usage import UsageReader

_TOKENS = uuid.UUID("6f0c8a43-5b0e-4d4e-9d59-3c1b2b8f6a10")
CONSUMED_STAGE = "CIO-CONSUMED"
BOOTSTRAP_STAGE = "CIO-BOOTSTRAP"
CONSUMED_KEY = "cio_consumed"
REVISION = "rev"
_STATE_FORMAT = 1


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def state_token(state_secret: str, revision: int) -> str:
    """The ClientRequestToken of a revision: the same for every writer, so only one wins."""
    return str(uuid.uuid5(_TOKENS, f"state/{state_secret}/{revision}"))


# Tags of the live secret a session keeps (and the state document copies for the quick
# read): where its inbox and state document are, and the stack that owns it.
_LINKS = (cv.TAG_INBOX, cv.TAG_STATE, cv.TAG_STACK)


def _tags(description: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in description.get("Tags", [])}


class AwsSecretsStore(StoreBase):
    """`read_payloads`: the rotator's quick read includes the current key (its liveness
    probe needs it); operators, who may not read keys, read the state document alone.

    `stack`: the rotator's Pulumi stack (CIO_STACK). A secret whose stack tag says another
    stack (or none) is refused (OtherStacksSecret) by the very read that finds it: the
    DescribeSecret the snapshot makes anyway, or the copy of the tag the state document
    keeps for the quick read. None: no such check (the operator CLI)."""

    def __init__(
        self,
        client: Any,
        *,
        read_payloads: bool = True,
        wakeups: ScheduledWakeUps | None = None,
        stack: str | None = None,
    ) -> None:
        super().__init__()
        self.client = client
        self.read_payloads = read_payloads
        self.wakeups = wakeups
        self.stack = stack
        # Set once by Pulumi and never moved: safe to keep across invocations.
        self._links: dict[str, dict[str, str]] = {}
        # The live secret's version stages as last described (grace labels are kept in
        # step with the state from them).
        self._stages: dict[str, dict[str, list[str]]] = {}

    def usage_reader(self, env: Mapping[str, str]) -> UsageReader:
        """CloudWatch (the consumer library's reports) and CloudTrail (reads of the secret),
        in the store's own region."""
        import boto3

        from rotation.stores.usage import AwsUsageReader

        region = self.client.meta.region_name
        return AwsUsageReader(
            boto3.client("cloudwatch", region_name=region),
            boto3.client("cloudtrail", region_name=region),
        )

    # -- reading -----------------------------------------------------------------

    def _describe(self, secret_id: str) -> dict[str, Any]:
        try:
            return dict(self.client.describe_secret(SecretId=secret_id))
        except ClientError as err:
            if _code(err) == "ResourceNotFoundException":
                raise NotManaged(f"secret {secret_id} does not exist (check the name).") from None
            raise

    def _read_snapshot(self, credential_id: str) -> Snapshot:
        """DescribeSecret of the live secret, then GetSecretValue of its state document."""
        return self.described_snapshot(credential_id)[0]

    def described_snapshot(self, credential_id: str) -> tuple[Snapshot, dict[str, Any]]:
        """The full snapshot and the DescribeSecret answer it came from (two calls): the
        operator's `status` reads the native schedule there instead of describing again."""
        d = self._describe(credential_id)
        tags = _tags(d)
        refuse_other_stacks(d.get("Name", credential_id), tags.get(cv.TAG_STACK, ""), self.stack)
        config = config_from_aws(d["ARN"], d.get("Name", credential_id), tags)
        links = {k: tags[k] for k in _LINKS if tags.get(k)}
        self._links[credential_id] = self._links[d["ARN"]] = links
        stages: dict[str, list[str]] = d.get("VersionIdsToStages", {})
        self._stages[credential_id] = stages
        state, revision = self._read_state(links.get(cv.TAG_STATE), tags)
        snap = Snapshot(
            config=config,
            state=state,
            revision=revision,
            current_version=_holder(stages, cv.AWSCURRENT),
            previous_version=_holder(stages, cv.AWSPREVIOUS),
            pending_version=_pending(stages),
        )
        return snap, d

    def _read_quick_snapshot(self, credential_id: str) -> Snapshot | None:
        """An idle credential in two reads: its state document, then the current version
        with its value (which the daily liveness probe needs anyway).

        The configuration comes from the copy the last full read left in the state
        document. Only for an idle state whose recorded current version is still
        AWSCURRENT; anything else (or any write, see `Snapshot.partial`) reads it all.
        """
        state_secret = state_name_of(credential_id)
        if state_secret is None:
            return None
        doc = self._state_document(state_secret)
        if doc is None or not isinstance(doc.get("config"), dict):
            return None
        state, revision = self._state_from(doc)
        if not self.read_payloads:
            return self._from_document(credential_id, doc, state, revision)
        links = doc["config"].get("links")
        if self.stack is not None and (
            not isinstance(links, dict) or links.get(cv.TAG_STACK) != self.stack
        ):
            return None  # the full read (DescribeSecret) decides whose secret it is
        if state.phase is not Phase.IDLE or not state.current_version or not state.current_since:
            return None
        try:
            got = self.client.get_secret_value(SecretId=credential_id, VersionStage=cv.AWSCURRENT)
        except ClientError as err:
            if _code(err) == "ResourceNotFoundException":
                return None
            raise
        if got.get("VersionId") != state.current_version:
            return None
        try:
            config = _config_from_copy(doc["config"], str(got.get("ARN") or credential_id))
        except (KeyError, ValueError):
            return None
        self._links[credential_id] = self._links[config.id] = {
            k: v for k, v in doc["config"].get("links", {}).items() if isinstance(v, str)
        }
        value = got.get("SecretString")
        if self.in_session and value is not None:
            # Known by the name the manifest gives and by the ARN the engine reads it as.
            for known in {credential_id, config.id}:
                self._values[(known, state.current_version)] = value.encode("utf-8")
        return Snapshot(
            config=config,
            state=state,
            revision=revision,
            current_version=state.current_version,
            previous_version=state.previous_version or None,
            partial=True,
        )

    def _from_document(
        self, credential_id: str, doc: dict[str, Any], state: RotationState, revision: str
    ) -> Snapshot | None:
        """What the state document alone says (the operator's quick read, any phase)."""
        try:
            config = _config_from_copy(doc["config"], credential_id)
        except (KeyError, ValueError):
            return None
        self._links[credential_id] = {
            k: v for k, v in doc["config"].get("links", {}).items() if isinstance(v, str)
        }
        return Snapshot(
            config=config,
            state=state,
            revision=revision,
            current_version=state.current_version or None,
            previous_version=state.previous_version or None,
            partial=True,
        )

    def _complete_snapshot(self, partial: Snapshot) -> Snapshot:
        """DescribeSecret for what the quick read left out: configuration and stages."""
        d = self._describe(partial.config.id)
        tags = _tags(d)
        name = d.get("Name", partial.config.id)
        refuse_other_stacks(name, tags.get(cv.TAG_STACK, ""), self.stack)
        config = config_from_aws(d["ARN"], name, tags)
        links = {k: tags[k] for k in _LINKS if tags.get(k)}
        self._links[partial.config.id] = self._links[d["ARN"]] = links
        stages: dict[str, list[str]] = d.get("VersionIdsToStages", {})
        self._stages[partial.config.id] = stages
        return replace(
            partial,
            config=config,
            current_version=_holder(stages, cv.AWSCURRENT),
            previous_version=_holder(stages, cv.AWSPREVIOUS),
            pending_version=_pending(stages),
            partial=False,
        )

    def _state_document(self, state_secret: str) -> dict[str, Any] | None:
        try:
            got = self.client.get_secret_value(SecretId=state_secret)
        except ClientError as err:
            if _code(err) == "ResourceNotFoundException":
                return None
            raise
        try:
            doc = json.loads(got.get("SecretString") or "{}")
        except ValueError:
            return None
        return doc if isinstance(doc, dict) else None

    @staticmethod
    def _state_from(doc: dict[str, Any]) -> tuple[RotationState, str]:
        fields = {str(k): str(v) for k, v in doc["fields"].items()}
        return RotationState.from_fields(fields), str(int(doc.get(REVISION, 0)))

    def _read_state(
        self, state_secret: str | None, tags: dict[str, str]
    ) -> tuple[RotationState, str]:
        doc = self._state_document(state_secret) if state_secret else None
        if isinstance(doc, dict) and isinstance(doc.get("fields"), dict):
            return self._state_from(doc)
        # No state document yet: the state of an older deployment, kept in tags.
        legacy = {
            k[len(cv.STATE_PREFIX) :]: v for k, v in tags.items() if k.startswith(cv.STATE_PREFIX)
        }
        legacy.pop(REVISION, None)
        return RotationState.from_fields(legacy), "0"

    def _read_value(self, credential_id: str, version: str) -> bytes | None:
        try:
            got = self.client.get_secret_value(SecretId=credential_id, VersionId=version)
        except ClientError as err:
            if _code(err) == "ResourceNotFoundException":
                return None
            raise
        text = got.get("SecretString")
        return text.encode("utf-8") if text is not None else None

    def _link(self, credential_id: str, tag: str) -> str:
        if credential_id not in self._links:
            self._read_snapshot(credential_id)
        found = self._links[credential_id].get(tag)
        if not found:
            raise NotManaged(f"secret {credential_id} has no {tag} tag: re-run pulumi up.")
        return found

    def inbox_id(self, credential_id: str) -> str:
        return self._link(credential_id, cv.TAG_INBOX)

    def state_id(self, credential_id: str) -> str:
        return self._link(credential_id, cv.TAG_STATE)

    def _read_submission(self, credential_id: str) -> Submission | None:
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
        return unwrap_submission(got["VersionId"], raw)

    # -- writing -----------------------------------------------------------------

    def _write_state(self, credential_id: str, state: RotationState, expected: str) -> str:
        """Revision n+1 with the token of n+1: refused if anyone else wrote it first."""
        state_secret = self.state_id(credential_id)
        revision = int(expected) + 1
        doc: dict[str, Any] = {
            "format": _STATE_FORMAT,
            REVISION: revision,
            "writer": uuid.uuid4().hex,  # two writers never write the same content
            "fields": {k: v for k, v in sorted(state.to_fields().items()) if v},
        }
        known = self._snapshots.get(credential_id)
        if known is not None and not known.partial:
            # A copy of the configuration as read with this write's snapshot: the daily
            # sweep's quick read of an idle credential uses it (see _read_quick_snapshot).
            doc["config"] = _config_copy(known.config, self._links.get(credential_id, {}))
        elif known is not None:
            previous = self._state_document(state_secret) or {}
            if isinstance(previous.get("config"), dict):
                doc["config"] = previous["config"]
        try:
            self.client.put_secret_value(
                SecretId=state_secret,
                ClientRequestToken=state_token(state_secret, revision),
                SecretString=json.dumps(doc, separators=(",", ":")),
            )
        except ClientError as err:
            if _code(err) == "ResourceExistsException":
                raise StateConflict(
                    f"state revision {revision} of {credential_id} was written by another "
                    "invocation first."
                ) from None
            raise
        if known is not None and known.config.kind is Kind.WEBHOOK_SIGNING:
            self._label_grace(credential_id, state)
        return str(revision)

    def _label_grace(self, credential_id: str, state: RotationState) -> None:
        """Keep the grace label on the previous version in step with the state just written:
        on it while the grace period runs, on no version otherwise. Idempotent; a racing
        writer's label is replaced by the state that won (the next write of either)."""
        want: tuple[str, str] | None = None
        if state.phase is Phase.PROMOTED and state.grace_until and state.previous_version:
            want = (grace_stage(format_time(state.grace_until)), state.previous_version)
        stages = self._stages.get(credential_id)
        if stages is None:
            stages = self._describe(credential_id).get("VersionIdsToStages", {})
        have = {
            (label, version)
            for version, labels in stages.items()
            for label in labels
            if label.startswith(cv.AWS_GRACE_STAGE_PREFIX)
        }
        for label, version in have - {want}:
            self._move_stage(credential_id, label, version, None)
        if want is not None and want not in have:
            self.client.update_secret_version_stage(
                SecretId=credential_id, VersionStage=want[0], MoveToVersionId=want[1]
            )
        updated = {v: [x for x in ls if not x.startswith(cv.AWS_GRACE_STAGE_PREFIX)]
                   for v, ls in stages.items()}  # fmt: skip
        if want is not None:
            updated.setdefault(want[1], []).append(want[0])
        self._stages[credential_id] = updated

    def _consume_submission(self, credential_id: str, submission: Submission, outcome: str) -> None:
        """A marker replaces the submission as AWSCURRENT, unless a newer one arrived."""
        inbox = self.inbox_id(credential_id)
        marker = str(uuid.uuid5(_TOKENS, f"{submission.version}/{outcome}"))
        self.client.put_secret_value(
            SecretId=inbox,
            ClientRequestToken=marker,
            SecretString=json.dumps({CONSUMED_KEY: submission.version, "outcome": outcome}),
            VersionStages=[CONSUMED_STAGE],
        )
        # Compare-and-swap: if the operator submitted again meanwhile, theirs stays current.
        self._move_stage(inbox, cv.AWSCURRENT, submission.version, marker)

    def _promote(
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
        # AWSPENDING stays on the new current version, as after any native rotation:
        # only AWSPENDING on a version that is not AWSCURRENT marks an unfinished one.
        # A rollback makes an older version current instead, and the version rolled away
        # from keeps its own rotation's AWSPENDING label: off with it, or AWS would take
        # it for an unfinished rotation and refuse the next one.
        known = self._snapshots.get(credential_id)
        if expected_current and (known is None or known.pending_version != pending_version):
            self._move_stage(credential_id, cv.AWSPENDING, expected_current, None)
        return pending_version

    def _bootstrap(self, credential_id: str, value: bytes, expected_current: str | None) -> str:
        """The first key of an empty secret: no rotation is running, so write it directly.

        Secrets Manager gives AWSCURRENT to a secret's first version by itself, so the
        value is written under a label of ours: it is current only if it was first (the
        response says), and a different first key racing it never replaces it. The token
        is derived from the value, so a retry of the same write is idempotent.
        """
        if expected_current is not None:
            raise ValueError("a secret that has a current version is promoted through AWSPENDING")
        token = str(uuid.uuid5(_TOKENS, hashlib.sha256(value).hexdigest()))
        try:
            got = self.client.put_secret_value(
                SecretId=credential_id,
                ClientRequestToken=token,
                SecretString=value.decode("utf-8"),
                VersionStages=[BOOTSTRAP_STAGE],
            )
        except ClientError as err:
            if _code(err) == "ResourceExistsException":
                raise StateConflict("the secret got a current version since it was read.") from None
            raise
        if cv.AWSCURRENT not in got.get("VersionStages", []):
            raise StateConflict("the secret got a current version since it was read.")
        return token

    def _write_tombstone(
        self, credential_id: str, value: bytes, expected_current: str | None
    ) -> str:
        """PutSecretValue straight to AWSCURRENT on the live secret: acceptable only here,
        for a RETIRED credential, where no rotation (and no AWSPENDING) can ever run. The
        token is derived from the value, so a retry writes nothing twice."""
        stages = self._describe(credential_id).get("VersionIdsToStages", {}) or {}
        holder = _holder(stages, cv.AWSCURRENT)
        token = str(uuid.uuid5(_TOKENS, "tombstone/" + hashlib.sha256(value).hexdigest()))
        if holder == token:
            return token
        if holder != expected_current:
            raise StateConflict("AWSCURRENT moved since it was read.")
        self.client.put_secret_value(
            SecretId=credential_id,
            ClientRequestToken=token,
            SecretString=value.decode("utf-8"),
            VersionStages=[cv.AWSCURRENT],
        )
        return token

    def arm_wakeup(self, credential_id: str, at: datetime | None) -> None:
        """The credential's one-time schedule (rotation/stores/aws_wakeups.py)."""
        if self.wakeups is not None:
            self.wakeups.arm(credential_id, at)

    def stage_pending(self, credential_id: str, token: str, value: bytes) -> None:
        """createSecret: put the verified key into the rotation's AWSPENDING version."""
        self.client.put_secret_value(
            SecretId=credential_id,
            ClientRequestToken=token,
            SecretString=value.decode("utf-8"),
            VersionStages=[cv.AWSPENDING],
        )
        if self.in_session:
            self._values[(credential_id, token)] = value

    def abandon_pending(self, credential_id: str, token: str) -> None:
        """Drop AWSPENDING from a version whose value failed verification."""
        self._move_stage(credential_id, cv.AWSPENDING, token, None)
        self._forget(credential_id)

    def start_rotation(self, credential_id: str) -> str | None:
        """Ask Secrets Manager to rotate; None when a rotation is already unfinished.

        Secrets Manager adds the pending version and calls the rotation function, which may
        be this very instance (the rotator starts rotations for operators): what this
        session read of the secret is stale from here on, for those steps too."""
        self._forget(credential_id)
        try:
            got = self.client.rotate_secret(SecretId=credential_id)
        except ClientError as err:
            if _code(err) == "InvalidRequestException":
                return None
            raise
        self._forget(credential_id)
        return str(got.get("VersionId", ""))

    def write_submission(
        self, credential_id: str, raw: bytes, actor: str = "", key_name: str = ""
    ) -> str:
        """The operator's side: add a version to the inbox (operators never touch the live one)."""
        inbox = self.inbox_id(credential_id)
        body = wrap_submission(raw, actor, key_name)
        got = self.client.put_secret_value(SecretId=inbox, SecretString=body.decode("utf-8"))
        return str(got["VersionId"])

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


def grace_stage(until: str) -> str:
    """The staging label saying until when a webhook's previous signing key is accepted."""
    return f"{cv.AWS_GRACE_STAGE_PREFIX}{until}"


def state_name_of(live_arn: str) -> str | None:
    """The state document's name, from the live secret's ARN (`<name>-XXXXXX` at its end:
    Secrets Manager adds a hyphen and six characters) or name: `<name>/state`."""
    if ":secret:" in live_arn:
        name = live_arn.split(":secret:", 1)[1]
        if len(name) < 8 or name[-7] != "-":
            return None
        return f"{name[:-7]}/state"
    return f"{live_arn}/state" if live_arn else None


def _config_copy(config: CredentialConfig, links: dict[str, str]) -> dict[str, Any]:
    return {
        "name": config.name,
        "kind": config.kind.value,
        "region": config.region.value if config.region else "",
        "workspace": config.workspace,
        "webhook_endpoint": config.webhook_endpoint,
        "links": dict(links),
    }


def _config_from_copy(copy: dict[str, Any], arn: str) -> CredentialConfig:
    region = str(copy.get("region") or "")
    return CredentialConfig(
        id=arn,
        name=str(copy["name"]),
        kind=Kind(str(copy["kind"])),
        region=Region(region) if region else None,
        workspace=str(copy.get("workspace") or ""),
        webhook_endpoint=str(copy.get("webhook_endpoint") or ""),
    )


def _pending(stages: dict[str, list[str]]) -> str | None:
    """The token of an unfinished rotation: AWSPENDING on a version that is not current."""
    return next(
        (v for v, s in stages.items() if cv.AWSPENDING in s and cv.AWSCURRENT not in s), None
    )


def _holder(stages: dict[str, list[str]], label: str) -> str | None:
    return next((v for v, s in stages.items() if label in s), None)


def _is_marker(raw: bytes) -> bool:
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        return False
    return isinstance(doc, dict) and CONSUMED_KEY in doc
