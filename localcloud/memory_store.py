"""A credential store in memory, with the same compare-and-swap as the clouds.

For unit tests of the engine (no moto, no emulator): versions are immutable,
the state has a revision that a stale write cannot pass, promotion is a
compare-and-swap on the current version, and the inbox keeps the newest
unconsumed submission. `calls` counts every raw read and write, so tests can
assert what an invocation costs.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from rotation.credentials import Kind, Region
from rotation.errors import NotManaged, StateConflict
from rotation.state import RotationState
from rotation.stores.base import (
    CredentialConfig,
    Snapshot,
    StoreBase,
    Submission,
    unwrap_submission,
    wrap_submission,
)


@dataclass
class _Credential:
    config: CredentialConfig
    state: RotationState = field(default_factory=RotationState)
    revision: int = 0
    versions: dict[str, bytes] = field(default_factory=dict)
    created: dict[str, datetime] = field(default_factory=dict)
    current: str | None = None
    previous: str | None = None
    inbox: list[tuple[str, bytes]] = field(default_factory=list)  # unconsumed, oldest first
    next_version: int = 1
    next_submission: int = 1


class MemoryStore(StoreBase):
    def __init__(self, now: datetime | None = None) -> None:
        super().__init__()
        self._credentials: dict[str, _Credential] = {}
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.now = now
        # Every wake-up armed, in order: (credential, moment); kept apart from `calls`,
        # which counts the store's reads and writes.
        self.armed: list[tuple[str, datetime | None]] = []

    def connect(self) -> MemoryStore:
        """Another invocation's store over the same data (its own session), as a second
        Lambda or Cloud Function instance would have."""
        other = MemoryStore(self.now)
        other._credentials, other._lock, other.calls = self._credentials, self._lock, self.calls
        other.armed = self.armed
        return other

    def arm_wakeup(self, credential_id: str, at: datetime | None) -> None:
        """A timer in memory: only recorded (tests read `armed`)."""
        self.armed.append((credential_id, at))

    def add(self, name: str, kind: Kind, region: Region | None = None, workspace: str = "") -> str:
        """Provision a credential, as the Pulumi program would."""
        config = CredentialConfig(
            id=f"mem/{name}", name=name, kind=kind, region=region, workspace=workspace
        )
        self._credentials[config.id] = _Credential(config=config)
        return config.id

    def _get(self, credential_id: str) -> _Credential:
        found = self._credentials.get(credential_id)
        if found is None:
            raise NotManaged(f"{credential_id} is not a managed credential.")
        return found

    def _read_snapshot(self, credential_id: str) -> Snapshot:
        self.calls["snapshot"] += 1
        with self._lock:
            c = self._get(credential_id)
            return Snapshot(
                config=c.config,
                state=c.state,
                revision=str(c.revision),
                current_version=c.current,
                previous_version=c.previous,
                current_created=c.created.get(c.current) if c.current else None,
            )

    def _write_state(self, credential_id: str, state: RotationState, expected: str) -> str:
        self.calls["write_state"] += 1
        with self._lock:
            c = self._get(credential_id)
            if str(c.revision) != expected:
                raise StateConflict(f"revision is {c.revision}, expected {expected}")
            c.state, c.revision = state, c.revision + 1
            return str(c.revision)

    def _read_value(self, credential_id: str, version: str) -> bytes | None:
        self.calls["read_value"] += 1
        with self._lock:
            return self._get(credential_id).versions.get(version)

    def _read_submission(self, credential_id: str) -> Submission | None:
        self.calls["read_submission"] += 1
        with self._lock:
            inbox = self._get(credential_id).inbox
            return unwrap_submission(*inbox[-1]) if inbox else None

    def _consume_submission(self, credential_id: str, submission: Submission, outcome: str) -> None:
        self.calls["consume_submission"] += 1
        with self._lock:
            c = self._get(credential_id)
            upto = int(submission.version)
            c.inbox = [(v, raw) for v, raw in c.inbox if int(v) > upto]

    def _promote(
        self, credential_id: str, value: bytes, pending: str | None, expected_current: str | None
    ) -> str:
        self.calls["promote"] += 1
        with self._lock:
            c = self._get(credential_id)
            if c.current is not None and c.versions.get(c.current) == value:
                return c.current  # a retry of the promotion that already happened
            if c.current != expected_current:
                raise StateConflict("the current version moved: another promotion got there")
            version = str(c.next_version)
            c.next_version += 1
            c.versions[version] = value
            if self.now is not None:
                c.created[version] = self.now
            c.previous, c.current = c.current, version
            return version

    def submit(self, credential_id: str, raw: bytes, actor: str = "", key_name: str = "") -> str:
        """The operator's side: add a submission to the inbox."""
        with self._lock:
            c = self._get(credential_id)
            version = str(c.next_submission)
            c.next_submission += 1
            c.inbox.append((version, wrap_submission(raw, actor, key_name)))
            return version

    def current_value(self, credential_id: str) -> bytes | None:
        """What an application reads."""
        c = self._get(credential_id)
        return c.versions.get(c.current) if c.current else None
