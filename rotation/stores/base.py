"""The one protocol the engine is written against: a place that holds a credential's versions.

AWS Secrets Manager and GCP Secret Manager each implement it; the engine never
knows which one it talks to. `StoreBase` holds what both share: the
per-invocation unit of work. Inside `with store.session():` a credential's
snapshot is read once and carried, every write hands back what it wrote instead
of reading it again, and immutable versions are read at most once. Nothing is
cached outside a session, and nothing survives it: compare-and-swap, not
re-reading, is what keeps a stale read from doing harm (a write decided on it
is refused, and the engine then reads afresh).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from rotation.credentials import Kind, Region
from rotation.state import RotationState

if TYPE_CHECKING:
    from rotation.stores.usage import UsageReader


@dataclass(frozen=True)
class CredentialConfig:
    """What the Pulumi program declared about a credential (tags / labels on the secret)."""

    id: str  # the store's identifier: an ARN or a resource name
    name: str
    kind: Kind
    region: Region | None
    workspace: str = ""  # expected Customer.io workspace id, checked at bootstrap
    webhook_endpoint: str = ""  # webhook_signing: the endpoint the dashboard lists it by


@dataclass(frozen=True)
class Snapshot:
    """One consistent read of a credential: config, rotation state and version pointers."""

    config: CredentialConfig
    state: RotationState
    revision: str  # opaque; passed back to save_state for compare-and-swap
    current_version: str | None
    previous_version: str | None
    pending_version: str | None = None  # AWS only: the AWSPENDING token of an open rotation
    current_created: datetime | None = None
    # Read the cheap way (see StoreBase.snapshot's `quick`): good for deciding that there
    # is nothing to do, never for a write; the engine reads afresh before writing.
    partial: bool = False


@dataclass(frozen=True)
class Submission:
    """An operator's hand-over waiting in the inbox. `raw` is secret: never log it.

    `actor` and `key_name` are what the operator's CLI recorded beside the key: who
    handed it over and what the key is called in the Customer.io dashboard.
    """

    version: str
    raw: bytes
    actor: str = ""
    key_name: str = ""

    def __repr__(self) -> str:
        return f"Submission(version={self.version!r}, {len(self.raw)} bytes)"


class SecretStore(Protocol):
    def session(self) -> AbstractContextManager[None]:
        """One invocation's unit of work (see the module docstring)."""

    def snapshot(self, credential_id: str, *, fresh: bool = False, quick: bool = False) -> Snapshot:
        """Read config, state and version pointers; raises NotManaged for foreign secrets."""

    def complete(self, credential_id: str) -> Snapshot:
        """The whole snapshot where the session holds a partial one."""

    def read_value(self, credential_id: str, version: str) -> bytes | None:
        """The payload of a version of the live secret; None if the version holds no value."""

    def save_state(self, credential_id: str, state: RotationState, expected_revision: str) -> str:
        """Write the state if the revision is still `expected_revision`, else StateConflict."""

    def read_submission(self, credential_id: str) -> Submission | None:
        """The newest unconsumed submission in the credential's inbox, if any."""

    def consume_submission(self, credential_id: str, submission: Submission, outcome: str) -> None:
        """Retire a submission (promoted or rejected) so it is never processed again."""

    def promote(
        self,
        credential_id: str,
        value: bytes,
        pending_version: str | None,
        expected_current: str | None,
    ) -> str:
        """Make `value` current if `expected_current` still is; returns the new version id.

        Raises StateConflict when another promotion got there first.
        """

    def write_tombstone(
        self, credential_id: str, value: bytes, expected_current: str | None
    ) -> str:
        """A retired credential only: make the retirement tombstone the live value."""

    def arm_wakeup(self, credential_id: str, at: datetime | None) -> None:
        """Make the cloud's own timer wake the rotator for this credential at `at` (or, with
        None, at no moment of its own: the calendar's). One timer per credential: arming
        again moves it. A cloud detail, like everything else behind this protocol."""

    def usage_reader(self, env: Mapping[str, str]) -> UsageReader | None:
        """Where this cloud keeps the drain's evidence (key-usage reports, the audit trail
        of reads), for the function environment `env`; None: nowhere (timer only)."""


_NO_SUBMISSION = Submission(version="", raw=b"")
# The operator's CLI writes an envelope: the key document exactly as typed (base64, so
# that no byte of it is changed before the rotator's own parser refuses or accepts it),
# and beside it who handed it over and what the key is called in the dashboard.
HANDOVER = "handover"
DOCUMENT = "document_b64"


def wrap_submission(raw: bytes, actor: str, key_name: str) -> bytes:
    """The inbox document for a hand-over."""
    envelope = {
        HANDOVER: {"actor": actor[:120], "key_name": key_name[:120]},
        DOCUMENT: base64.b64encode(raw).decode("ascii"),
    }
    return json.dumps(envelope, separators=(",", ":")).encode("utf-8")


def unwrap_submission(version: str, raw: bytes) -> Submission:
    """Split an inbox document into the key document and the hand-over record; a bare key
    document (an older CLI, or a hand-written one) is the submission itself."""
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        return Submission(version=version, raw=raw)
    if not (
        isinstance(doc, dict)
        and set(doc) == {HANDOVER, DOCUMENT}
        and isinstance(doc[HANDOVER], dict)
        and isinstance(doc[DOCUMENT], str)
    ):
        return Submission(version=version, raw=raw)
    try:
        document = base64.b64decode(doc[DOCUMENT], validate=True)
    except ValueError:
        return Submission(version=version, raw=raw)
    meta = doc[HANDOVER]
    return Submission(
        version=version,
        raw=document,
        actor=str(meta.get("actor") or "")[:120],
        key_name=str(meta.get("key_name") or "")[:120],
    )


class StoreBase:
    """What every store shares: `snapshot()` once per session, writes that hand back."""

    def __init__(self) -> None:
        self._depth = 0
        # Which invocation this is: what an invocation holds (an outbox claim) is its own
        # and is never taken for another's, even on a warm instance.
        self.session_serial = 0
        self._snapshots: dict[str, Snapshot] = {}
        self._values: dict[tuple[str, str], bytes | None] = {}
        self._submissions: dict[str, Submission] = {}

    # -- the unit of work ---------------------------------------------------------

    @contextmanager
    def session(self) -> Iterator[None]:
        """Everything read inside is read once; nested sessions share the outer one."""
        self._depth += 1
        if self._depth == 1:
            self.session_serial += 1
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0:
                self._end_session()

    def _end_session(self) -> None:
        """Forget what the session read: a warm instance's next invocation reads afresh."""
        self._snapshots.clear()
        self._values.clear()
        self._submissions.clear()

    @property
    def in_session(self) -> bool:
        return self._depth > 0

    def snapshot(self, credential_id: str, *, fresh: bool = False, quick: bool = False) -> Snapshot:
        """The session's snapshot of a credential (read on first use, or when `fresh`).

        `quick`: the daily sweep's read of an idle credential, which a store may answer
        more cheaply (a partial snapshot, see `Snapshot.partial`) when it can.
        """
        if self.in_session and not fresh and credential_id in self._snapshots:
            return self._snapshots[credential_id]
        snap = (self._read_quick_snapshot(credential_id) if quick else None) or (
            self._read_snapshot(credential_id)
        )
        self._remember(credential_id, snap)
        return snap

    def complete(self, credential_id: str) -> Snapshot:
        """The whole snapshot, where the session holds a partial one: only what the quick
        read left out is read (the state's revision still guards every write)."""
        known = self._snapshots.get(credential_id)
        if known is None or not known.partial:
            return self.snapshot(credential_id, fresh=known is None)
        snap = self._complete_snapshot(known)
        self._remember(credential_id, snap)
        return snap

    def save_state(self, credential_id: str, state: RotationState, expected_revision: str) -> str:
        """Compare-and-swap the state; the session's snapshot becomes what was written."""
        revision = self._write_state(credential_id, state, expected_revision)
        known = self._snapshots.get(credential_id)
        if known is not None:
            self._snapshots[credential_id] = replace(known, state=state, revision=revision)
        return revision

    def read_value(self, credential_id: str, version: str) -> bytes | None:
        """A version's payload: versions are immutable, so a session reads each once."""
        key = (credential_id, version)
        if self.in_session and key in self._values:
            return self._values[key]
        value = self._read_value(credential_id, version)
        if self.in_session:
            self._values[key] = value
        return value

    def read_submission(self, credential_id: str) -> Submission | None:
        """The inbox's unconsumed submission, read once per session."""
        if self.in_session and credential_id in self._submissions:
            found = self._submissions[credential_id]
            return None if found is _NO_SUBMISSION else found
        submission = self._read_submission(credential_id)
        if self.in_session:
            self._submissions[credential_id] = submission or _NO_SUBMISSION
        return submission

    def consume_submission(self, credential_id: str, submission: Submission, outcome: str) -> None:
        self._consume_submission(credential_id, submission, outcome)
        if self.in_session:
            self._submissions[credential_id] = _NO_SUBMISSION

    def promote(
        self,
        credential_id: str,
        value: bytes,
        pending_version: str | None,
        expected_current: str | None,
    ) -> str:
        """Make a verified value current (compare-and-swap on the current version)."""
        version = self._promote(credential_id, value, pending_version, expected_current)
        if self.in_session:
            self._values[(credential_id, version)] = value
        known = self._snapshots.get(credential_id)
        if known is not None:
            moved = known.current_version != version
            self._snapshots[credential_id] = replace(
                known,
                current_version=version,
                previous_version=known.current_version if moved else known.previous_version,
                pending_version=None,
            )
        return version

    def write_tombstone(
        self, credential_id: str, value: bytes, expected_current: str | None
    ) -> str:
        """Make the retirement tombstone current. Only the engine calls it, and only for a
        RETIRED credential, when no rotation can run: no staging dance is needed."""
        version = self._write_tombstone(credential_id, value, expected_current)
        self._forget(credential_id)
        if self.in_session:
            self._values[(credential_id, version)] = value
        return version

    def _write_tombstone(
        self, credential_id: str, value: bytes, expected_current: str | None
    ) -> str:
        # A new newest version, as a promotion adds one (GCP: latest is current).
        return self._promote(credential_id, value, None, expected_current)

    def arm_wakeup(self, credential_id: str, at: datetime | None) -> None:
        """No timer here (the in-memory store, a store without one configured): the daily
        sweep and an operator's `check` are the only wake-ups."""

    def usage_reader(self, env: Mapping[str, str]) -> UsageReader | None:
        """No evidence here (the in-memory store): the delete notice keeps the grace timer."""
        return None

    def _remember(self, credential_id: str, snap: Snapshot) -> None:
        if self.in_session:
            self._snapshots[credential_id] = snap

    def _forget(self, credential_id: str) -> None:
        """A write whose effect on the snapshot cannot be predicted: read it again next time."""
        self._snapshots.pop(credential_id, None)

    # -- what each cloud implements -------------------------------------------------

    def _read_snapshot(self, credential_id: str) -> Snapshot:
        raise NotImplementedError

    def _read_quick_snapshot(self, credential_id: str) -> Snapshot | None:
        """A cheaper read for an idle credential, or None where the store has none."""
        return None

    def _complete_snapshot(self, partial: Snapshot) -> Snapshot:
        return self._read_snapshot(partial.config.id)

    def _write_state(self, credential_id: str, state: RotationState, expected: str) -> str:
        raise NotImplementedError

    def _read_value(self, credential_id: str, version: str) -> bytes | None:
        raise NotImplementedError

    def _read_submission(self, credential_id: str) -> Submission | None:
        raise NotImplementedError

    def _consume_submission(self, credential_id: str, submission: Submission, outcome: str) -> None:
        raise NotImplementedError

    def _promote(
        self, credential_id: str, value: bytes, pending: str | None, expected_current: str | None
    ) -> str:
        raise NotImplementedError
