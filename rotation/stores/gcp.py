"""The credential store on GCP Secret Manager.

- The live secret only ever receives verified keys, so `versions/latest` is
  always current and applications keep reading it. The current version is the
  newest ENABLED one; the aliases `current` and `previous` label versions for
  people and tools, and are moved with the secret's etag (compare-and-swap).
- Rotation state lives in the live secret's `cio-state-*` annotations, written
  by UpdateSecret carrying the etag of the snapshot it was decided on: Secret
  Manager refuses a stale etag (HTTP 400 FAILED_PRECONDITION), which becomes
  StateConflict. Snapshot.revision is that etag. Every state write also sets the
  two aliases from the state, so a crash between moving them and recording the
  promotion is repaired by the next write.
- Adding a version does not change the secret's etag (the etag belongs to the
  resource a request modifies), so "promote" = add the version, then move the
  aliases and `rotation.next_rotation_time` in one etag-checked UpdateSecret.
  A retried promotion finds its value already newest and reuses it. Secret
  Manager has no conditional AddSecretVersion, so a promotion first claims the
  next version with an etag-checked annotation: of two concurrent promotions only
  one adds. No correctness rests on the function's concurrency.
- The submission inbox is a second secret operators may only add versions to.
  The newest ENABLED inbox version is the submission; consuming it DESTROYS it
  (and any older enabled submission it superseded), promoted or refused alike.
  Its annotations are Pulumi's alone (the rotator never writes them), so the one
  setting a label cannot hold and config may change, the webhook endpoint, is read
  there; the live secret's annotations are the rotator's state.
- Rollback is the engine's (Engine.rollback): through `promote`, the previous
  payload comes back as a new, newest version, so `latest` stays current.
- Applications hold secretAccessor on the live secret, which covers every version
  (IAM roles cannot be granted on a version). What narrows it is the versions' state:
  a DISABLED version cannot be accessed by anyone. While a rotation is open the
  previous version stays enabled (rollback, the revocation probes and, for a webhook
  signing key, receivers during the grace period need it); the write that closes the
  rotation first disables every enabled version but the current one (docs/DESIGN.md,
  "GCP consumers: one version").
- Payloads carry a CRC32C both ways (Secret Manager verifies it on AddSecretVersion;
  we verify it on access).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from google.api_core import exceptions as gexc

from rotation import conventions as cv
from rotation.clock import Clock, SystemClock
from rotation.credentials import Kind
from rotation.errors import NotManaged, StateConflict
from rotation.metadata import config_from_gcp, gcp_stack_label, refuse_other_stacks
from rotation.state import Phase, RotationState, format_time, parse_time
from rotation.stores.base import (
    Snapshot,
    StoreBase,
    Submission,
    unwrap_submission,
    wrap_submission,
)

if TYPE_CHECKING:
    from rotation.stores.usage import UsageReader

log = logging.getLogger(__name__)

ENABLED = 1
DESTROYED = 3
# The promotion claim (see GcpSecretStore._claim_promotion): a `cio-state-*` annotation,
# so the state write that records the promotion drops it.
PROMOTING = cv.GCP_STATE_PREFIX + "promoting"
PROMOTION_LEASE = timedelta(minutes=5)
# Secret Manager's `Rotation.next_rotation_time`: 5 minutes to 100 years ahead.
MIN_ROTATION_LEAD = timedelta(minutes=5)


def _crc_table() -> list[int]:
    table = []
    for n in range(256):
        crc = n
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
        table.append(crc)
    return table


_CRC_TABLE = _crc_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), what Secret Manager's `data_crc32c` holds."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def build_client(endpoint: str | None = None) -> Any:
    """Production: default credentials. Tests: a local endpoint, anonymous, REST transport."""
    from google.cloud import secretmanager

    if endpoint is None:
        return secretmanager.SecretManagerServiceClient()
    from google.auth.credentials import AnonymousCredentials

    return secretmanager.SecretManagerServiceClient(
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        transport="rest",
        client_options={"api_endpoint": endpoint},
    )


def api_status(err: gexc.GoogleAPICallError) -> str:
    """The google.rpc status name: REST maps errors by HTTP code, so read the JSON body too."""
    response = getattr(err, "response", None)
    if response is not None and hasattr(response, "json"):
        try:
            status = response.json().get("error", {}).get("status")
        except (ValueError, AttributeError):
            status = None
        if isinstance(status, str) and status:
            return status
    code = getattr(err, "grpc_status_code", None)
    return code.name if code is not None else ""


def _number(version_name: str) -> int:
    return int(version_name.rsplit("/", 1)[1])


class _DeferredSession:
    """An AuthorizedSession with the function's default credentials, made at first use."""

    SCOPES = (
        "https://www.googleapis.com/auth/monitoring.read",
        "https://www.googleapis.com/auth/logging.read",
    )

    def __init__(self) -> None:
        self._session: Any = None
        self._failed: Exception | None = None  # no credentials: asked once per instance

    def _made(self) -> Any:
        if self._failed is not None:
            raise self._failed
        if self._session is None:
            import google.auth
            from google.auth.transport.requests import AuthorizedSession

            # Without credentials google.auth logs its own WARNING first; the drain records
            # the failure (and the delete notice tells it), so that line says nothing more.
            auth_log = logging.getLogger("google.auth._default")
            level = auth_log.level
            auth_log.setLevel(logging.ERROR)
            try:
                credentials, _ = google.auth.default(scopes=list(self.SCOPES))
            except Exception as err:
                self._failed = err
                raise
            finally:
                auth_log.setLevel(level)
            self._session = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
        return self._session

    def get(self, url: str, **kw: Any) -> Any:
        return self._made().get(url, **kw)

    def post(self, url: str, **kw: Any) -> Any:
        return self._made().post(url, **kw)


def _state_of(secret: Any) -> RotationState:
    """The rotator's state, kept in the live secret's annotations under GCP_STATE_PREFIX."""
    prefix = cv.GCP_STATE_PREFIX
    return RotationState.from_fields(
        {k[len(prefix) :]: v for k, v in secret.annotations.items() if k.startswith(prefix)}
    )


class GcpSecretStore(StoreBase):
    """`read_payloads`: the rotator reads the newest version's payload with the snapshot
    (one call gives the current version and its key); operators, who may not read
    keys, list versions instead.

    `stack`: the function's Pulumi stack (CIO_STACK). A secret whose stack label says
    another stack (or none) is refused (OtherStacksSecret) by the GetSecret the snapshot
    makes anyway. None: no such check (the operator CLI)."""

    def __init__(
        self,
        client: Any,
        clock: Clock | None = None,
        *,
        read_payloads: bool = True,
        stack: str | None = None,
    ) -> None:
        super().__init__()
        self.client = client
        self.clock = clock or SystemClock()
        self.read_payloads = read_payloads
        self.stack_label = gcp_stack_label(stack) if stack is not None else None
        self._secrets: dict[str, Any] = {}  # the session's Secret resources, with their etags

    def usage_reader(self, env: Mapping[str, str]) -> UsageReader | None:
        """Cloud Monitoring (the consumer library's reports) and Cloud Logging (the Data
        Access log of reads), in the function's project, with its default credentials
        (obtained at the first read: a failure there is an unreadable trail, not a crash)."""
        from rotation.stores.usage import GcpUsageReader

        project = env.get("GOOGLE_CLOUD_PROJECT", "")
        if not project:
            return None
        monitoring, logging_url = env.get(cv.ENV_MONITORING_URL), env.get(cv.ENV_LOGGING_URL)
        if monitoring and logging_url:  # the local cloud's: no credentials
            import requests

            return GcpUsageReader(
                requests.Session(),
                project,
                monitoring_endpoint=monitoring,
                logging_endpoint=logging_url,
            )
        return GcpUsageReader(_DeferredSession(), project)

    # -- reading -----------------------------------------------------------------

    def _get(self, name: str) -> Any:
        try:
            return self.client.get_secret(name=name)
        except gexc.NotFound:
            raise NotManaged(f"secret {name} does not exist (check the resource name).") from None

    def _versions(self, name: str) -> list[Any]:
        """All versions, newest first."""
        versions = list(self.client.list_secret_versions(request={"parent": name}))
        return sorted(versions, key=lambda v: _number(v.name), reverse=True)

    def _newest_enabled(self, name: str) -> Any | None:
        return next((v for v in self._versions(name) if int(v.state) == ENABLED), None)

    def _end_session(self) -> None:
        super()._end_session()
        self._secrets.clear()

    def _secret(self, name: str) -> Any:
        """The session's copy of a Secret resource (its etag is the state's revision)."""
        if self.in_session and name in self._secrets:
            return self._secrets[name]
        secret = self._get(name)
        if self.in_session:
            self._secrets[name] = secret
        return secret

    def _read_snapshot(self, credential_id: str) -> Snapshot:
        """Labels, `cio-state-*` annotations and the etag; current = newest ENABLED version."""
        snap, live = self._read_live(credential_id)
        return self._with_endpoint(snap, live)

    def described_snapshot(self, credential_id: str) -> tuple[Snapshot, Any]:
        """The snapshot (partial for a webhook signing key: no endpoint) and the Secret
        resource it came from: the operator's `status` reads `next_rotation_time` there
        instead of getting the secret again. Two calls (GetSecret, ListSecretVersions)."""
        return self._read_live(credential_id)

    def _read_quick_snapshot(self, credential_id: str) -> Snapshot | None:
        """The sweep's read of an idle credential: a webhook signing key's endpoint (only
        the runbook's words need it) is left for `complete`, which any write or notice
        asks for first."""
        return self._read_live(credential_id)[0]

    def _complete_snapshot(self, partial: Snapshot) -> Snapshot:
        return self._with_endpoint(partial, self._secret(partial.config.id))

    def _with_endpoint(self, snap: Snapshot, live: Any) -> Snapshot:
        if not snap.partial:
            return snap
        config = replace(snap.config, webhook_endpoint=self._webhook_endpoint(live))
        return replace(snap, config=config, partial=False)

    def _read_live(self, credential_id: str) -> tuple[Snapshot, Any]:
        """The live secret alone (one GetSecret); partial for a webhook signing key."""
        secret = self._get(credential_id)
        if self.in_session:
            self._secrets[credential_id] = secret
        labels = dict(secret.labels)
        refuse_other_stacks(secret.name, labels.get(cv.GCP_LABEL_STACK, ""), self.stack_label)
        config = config_from_gcp(secret.name, labels, {})
        state = _state_of(secret)
        previous = dict(secret.version_aliases).get(cv.GCP_ALIAS_PREVIOUS)
        current, created = self._current(secret.name, state)
        snap = Snapshot(
            config=config,
            state=state,
            revision=secret.etag,
            current_version=current,
            previous_version=str(previous) if previous else None,
            pending_version=None,
            current_created=created.replace(microsecond=0) if created else None,
            partial=config.kind is Kind.WEBHOOK_SIGNING,
        )
        return snap, secret

    def rotation_config(self, credential_id: str) -> tuple[timedelta | None, datetime | None, int]:
        """The live secret's native rotation (period, next time) and how many topics it
        names, from the session's copy (no extra call after a snapshot): the rotator's role
        may update the secret, so the sweep checks these against the stack's calendar."""
        secret = self._secret(credential_id)
        rotation = secret.rotation if "rotation" in secret else None
        period: timedelta | None = rotation.rotation_period if rotation else None
        next_time: datetime | None = rotation.next_rotation_time if rotation else None
        return period or None, next_time or None, len(secret.topics)

    def _webhook_endpoint(self, live: Any) -> str:
        """The endpoint the stack config names, from the inbox's annotations.

        Not from the live secret's: those hold the rotator's state, so Pulumi writes them
        at creation only and ignores their changes. The rotator never writes the inbox's
        metadata, so there Pulumi owns the annotations and `pulumi up` updates them (the
        same `up` that deploys a rotator reading them). One GetSecret, webhook keys only, and
        not on the sweep's quick read (see `_read_quick_snapshot`).
        """
        inbox = dict(live.annotations).get(cv.GCP_ANNOTATION_INBOX)
        if not inbox:
            return ""
        try:
            annotations = dict(self._get(str(inbox)).annotations)
        except NotManaged:
            return ""  # the inbox is gone: the endpoint only makes the runbook clearer
        return str(annotations.get(cv.GCP_ANNOTATION_WEBHOOK_ENDPOINT, ""))

    def _current(self, name: str, state: RotationState) -> tuple[str | None, datetime | None]:
        """The newest ENABLED version, and when it was created.

        The rotator asks for `latest` with its payload: one call names the current
        version and hands over its key (kept for the session's liveness probe). Only
        when that is not the recorded current version, or its age is needed, are the
        versions listed.
        """
        if self.read_payloads and state.current_version and state.current_since:
            latest = self._access_named(f"{name}/versions/latest")
            if latest is not None and latest[0] == state.current_version:
                if self.in_session:
                    self._values[(name, latest[0])] = latest[1]
                return latest[0], None
        current = self._newest_enabled(name)
        if current is None:
            return None, None
        return str(_number(current.name)), current.create_time

    def _access_named(self, version_name: str) -> tuple[str, bytes] | None:
        """(version number, payload) of a version or alias; None if it holds no value."""
        got = self._access_response(version_name)
        return None if got is None else (str(_number(got.name)), bytes(got.payload.data))

    def _read_value(self, credential_id: str, version: str) -> bytes | None:
        """A version's payload (checksum verified); None if missing, disabled or destroyed."""
        return self._access(f"{credential_id}/versions/{version}")

    def _access(self, version_name: str) -> bytes | None:
        got = self._access_response(version_name)
        return None if got is None else bytes(got.payload.data)

    def _access_response(self, version_name: str) -> Any | None:
        try:
            got = self.client.access_secret_version(name=version_name)
        except gexc.NotFound:
            return None
        except gexc.BadRequest as err:
            if api_status(err) == "FAILED_PRECONDITION":  # disabled or destroyed
                return None
            raise
        data = bytes(got.payload.data)
        if "data_crc32c" in got.payload and got.payload.data_crc32c != crc32c(data):
            raise RuntimeError(
                f"{version_name} arrived with a bad checksum (corrupted in transit): retry."
            )
        return got

    def inbox_id(self, credential_id: str) -> str:
        """The inbox secret's resource name, from the live secret's annotation."""
        inbox = dict(self._secret(credential_id).annotations).get(cv.GCP_ANNOTATION_INBOX)
        if not inbox:
            raise NotManaged(
                f"secret {credential_id} has no {cv.GCP_ANNOTATION_INBOX} annotation: "
                "re-run pulumi up."
            )
        return str(inbox)

    def live_secret_of(self, inbox_name: str) -> str | None:
        """The live secret an inbox belongs to, or None if it is no managed inbox."""
        try:
            inbox = self.client.get_secret(name=inbox_name)
        except gexc.NotFound:
            return None
        live = dict(inbox.annotations).get(cv.GCP_ANNOTATION_INBOX_OF)
        return str(live) if live else None

    def _read_submission(self, credential_id: str) -> Submission | None:
        """The newest ENABLED inbox version (consumed ones are destroyed)."""
        inbox = self.inbox_id(credential_id)
        newest = self._newest_enabled(inbox)
        if newest is None:
            return None
        raw = self._access(newest.name)
        if raw is None:
            return None
        return unwrap_submission(str(_number(newest.name)), raw)

    # -- writing -----------------------------------------------------------------

    def _write_state(self, credential_id: str, state: RotationState, expected_revision: str) -> str:
        """Write the annotations and aliases with the snapshot's etag; a stale one: StateConflict.

        The body is built on the session's copy of the secret (its other annotations and
        aliases); the etag makes Secret Manager refuse it if anything changed since.
        """
        secret = self._secret(credential_id)
        if secret.etag != expected_revision:
            raise StateConflict(f"{credential_id} changed since it was read (etag moved).")
        prefix = cv.GCP_STATE_PREFIX
        annotations = {k: v for k, v in secret.annotations.items() if not k.startswith(prefix)}
        # Empty fields are left out: from_fields reads a missing field as empty.
        annotations.update({prefix + k: v for k, v in state.to_fields().items() if v})
        aliases = dict(secret.version_aliases)
        for alias, version in (
            (cv.GCP_ALIAS_CURRENT, state.current_version),
            (cv.GCP_ALIAS_PREVIOUS, state.previous_version),
        ):
            if version.isdigit():
                aliases[alias] = int(version)
            else:
                aliases.pop(alias, None)
        body: dict[str, Any] = {
            "name": credential_id,
            "etag": expected_revision,
            "annotations": annotations,
            "version_aliases": aliases,
        }
        paths = ["annotations", "version_aliases"]
        # The credential's wake-up rides on the same etag-checked write (no extra call).
        paths += self._next_rotation(secret, state, body)
        before = _state_of(secret)
        if state.phase is Phase.IDLE and before.phase is not Phase.IDLE and state.previous_version:
            # Before the write: a crash in between leaves the rotation open, and the write
            # that closes it again repeats this (disabling is idempotent).
            self._disable_all_but_current(credential_id, state)
        try:
            updated = self._update(body, paths)
        except StateConflict:
            self._secrets.pop(credential_id, None)
            raise
        if self.in_session:
            self._secrets[credential_id] = updated
        return str(updated.etag)

    def _next_rotation(self, secret: Any, state: RotationState, body: dict[str, Any]) -> list[str]:
        """Set `rotation.next_rotation_time` to the credential's next wake-up, if it moved.

        The secret's own timer is its one wake-up: Secret Manager publishes SECRET_ROTATE at
        that time and moves it on by `rotation_period`. While a moment is owed (the state's
        `wake_at`) the timer is set to it; otherwise to the 90-day calendar, one period
        after the current key became current (the promotion sets it, as before), or one
        period from now once that has passed. Google takes a time 5 minutes to 100 years
        ahead: an earlier owed moment fires 5 minutes out.
        """
        period: timedelta | None = secret.rotation.rotation_period if secret.rotation else None
        if not period:
            return []
        now = self.clock.now()
        if state.wake_at is not None:
            target = max(state.wake_at, now + MIN_ROTATION_LEAD)
        else:
            target = (state.current_since or now) + period
            if target < now + MIN_ROTATION_LEAD:
                # The calendar's moment has passed (it fired; a retired credential): one
                # period on, as Secret Manager itself moves it, never a 5-minute loop.
                target = now + period
        armed = secret.rotation.next_rotation_time
        if armed and int(armed.timestamp()) == int(target.timestamp()):
            return []
        body["rotation"] = {"next_rotation_time": target, "rotation_period": period}
        return ["rotation.next_rotation_time"]

    def arm_wakeup(self, credential_id: str, at: datetime | None) -> None:
        """The state write already set the timer (see `_next_rotation`); this repairs it
        when it was moved by anything else (it fired, or a person changed it): one
        UpdateSecret then, none when the session's copy shows it right."""
        secret = self._secret(credential_id)
        known = self._snapshots.get(credential_id)
        state = known.state if known is not None else self.snapshot(credential_id).state
        state = replace(state, wake_at=at)
        body: dict[str, Any] = {"name": credential_id}
        paths = self._next_rotation(secret, state, body)
        if not paths:
            return
        updated = self._update(body, paths)  # no etag: the timer is the only field written
        if self.in_session:
            self._secrets[credential_id] = updated
        if known is not None:
            self._snapshots[credential_id] = replace(known, revision=str(updated.etag))

    def _update(self, secret: dict[str, Any], paths: list[str]) -> Any:
        try:
            return self.client.update_secret(
                request={"secret": secret, "update_mask": {"paths": paths}}
            )
        except (gexc.BadRequest, gexc.Conflict, gexc.Aborted) as err:
            if api_status(err) in ("FAILED_PRECONDITION", "ABORTED"):
                raise StateConflict(
                    f"{secret['name']} changed since it was read (stale etag)."
                ) from None
            raise

    def _consume_submission(self, credential_id: str, submission: Submission, outcome: str) -> None:
        """Destroy the submission and any older one it superseded: never processed again."""
        inbox = self.inbox_id(credential_id)
        upto = int(submission.version)
        for version in self._versions(inbox):
            if _number(version.name) <= upto and int(version.state) != DESTROYED:
                self._destroy(version.name, version.etag)
        log.info("inbox version %s of %s destroyed (%s)", submission.version, inbox, outcome)

    def _disable_all_but_current(self, credential_id: str, state: RotationState) -> None:
        """Disable every enabled version of the live secret but the current one (and the
        newest, which `latest` names, should the state disagree): applications may then
        read only the current key. A version changed meanwhile (etag) is left for the next
        close; the rotator never needs an old payload once its rotation is closed."""
        versions = list(
            self.client.list_secret_versions(
                request={"parent": credential_id, "filter": "state:ENABLED"}
            )
        )
        if not versions:
            return
        newest = max(_number(v.name) for v in versions)
        keep = {str(newest), state.current_version}
        for version in versions:
            number = version.name.rsplit("/", 1)[1]
            if number in keep or int(version.state) != ENABLED:
                continue
            try:
                self.client.disable_secret_version(
                    request={"name": version.name, "etag": version.etag}
                )
            except (gexc.BadRequest, gexc.NotFound) as err:
                if isinstance(err, gexc.BadRequest) and api_status(err) != "FAILED_PRECONDITION":
                    raise
                continue
            log.info("version %s of %s disabled: its rotation is closed", number, credential_id)

    def _destroy(self, version_name: str, etag: str) -> None:
        for _ in range(3):
            try:
                self.client.destroy_secret_version(request={"name": version_name, "etag": etag})
                return
            except gexc.NotFound:
                return
            except gexc.BadRequest as err:
                if api_status(err) != "FAILED_PRECONDITION":
                    raise
            # Someone enabled / disabled / destroyed it meanwhile: look again.
            current = self.client.get_secret_version(name=version_name)
            if int(current.state) == DESTROYED:
                return
            etag = current.etag
        raise StateConflict(f"{version_name} kept changing; the next sweep destroys it.")

    def _promote(
        self,
        credential_id: str,
        value: bytes,
        pending_version: str | None,
        expected_current: str | None,
    ) -> str:
        """Add the verified value (once) as the newest version; the state write that records
        the promotion moves the aliases and the native rotation time (one etag-checked write)."""
        newest_number = self.snapshot(credential_id).current_version
        if newest_number is not None and self.read_value(credential_id, newest_number) == value:
            # A retry after a crash between adding and recording: reuse, never add twice.
            number = newest_number
        elif newest_number != expected_current:
            raise StateConflict(
                f"{credential_id} got version {newest_number} since it was read: "
                "another promotion got there first."
            )
        else:
            self._claim_promotion(credential_id, value)
            added = self.client.add_secret_version(
                request={
                    "parent": credential_id,
                    "payload": {"data": value, "data_crc32c": crc32c(value)},
                }
            )
            number = str(_number(added.name))
        return number

    def _claim_promotion(self, credential_id: str, value: bytes) -> None:
        """Claim the next version with the secret's etag before adding it.

        Secret Manager has no conditional AddSecretVersion: two invocations promoting at
        once could both add. The claim is an annotation written with the etag the
        promotion was decided on, so only one of them gets to add; the other is refused
        (StateConflict) and its event is redelivered. The claim carries the value's
        fingerprint and a time: a retry of the same promotion passes, a claim left by a
        crashed invocation expires after PROMOTION_LEASE, and the state write that records
        the promotion drops it (it is one of the `cio-state-*` annotations).
        """
        secret = self._secret(credential_id)
        annotations = dict(secret.annotations)
        mine = hashlib.sha256(value).hexdigest()[:16]
        held, _, at = annotations.get(PROMOTING, "").rpartition("@")
        claimed_at = parse_time(at) if held else None
        live_claim = (
            held
            and held != mine
            and claimed_at is not None
            and self.clock.now() < claimed_at + PROMOTION_LEASE
        )
        if live_claim and held != self._newest_fingerprint(credential_id):
            # Another invocation claimed the next version and has not added it yet.
            raise StateConflict(f"{credential_id}: another promotion is in progress.")
        annotations[PROMOTING] = f"{mine}@{format_time(self.clock.now())}"
        body = {"name": credential_id, "etag": secret.etag, "annotations": annotations}
        try:
            updated = self._update(body, ["annotations"])
        except StateConflict:
            self._secrets.pop(credential_id, None)
            raise
        if self.in_session:
            self._secrets[credential_id] = updated
        known = self._snapshots.get(credential_id)
        if known is not None:
            self._snapshots[credential_id] = replace(known, revision=str(updated.etag))

    def _newest_fingerprint(self, credential_id: str) -> str:
        """The claim fingerprint of the current version's value (a spent claim matches it)."""
        current = self.snapshot(credential_id).current_version
        value = self.read_value(credential_id, current) if current else None
        return hashlib.sha256(value).hexdigest()[:16] if value is not None else ""

    # -- the operator's and the platform's side ------------------------------------

    def write_submission(
        self, credential_id: str, raw: bytes, actor: str = "", key_name: str = ""
    ) -> str:
        """The operator's side: add a version to the inbox (operators never touch the live one)."""
        inbox = self.inbox_id(credential_id)
        body = wrap_submission(raw, actor, key_name)
        added = self.client.add_secret_version(
            request={"parent": inbox, "payload": {"data": body, "data_crc32c": crc32c(body)}}
        )
        return str(_number(added.name))
