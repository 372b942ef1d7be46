"""The one protocol the engine is written against: a place that holds a credential's versions.

AWS Secrets Manager and GCP Secret Manager each implement it; the engine never
knows which one it talks to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from rotation.credentials import Kind, Region
from rotation.state import RotationState


@dataclass(frozen=True)
class CredentialConfig:
    """What the Pulumi program declared about a credential (tags / labels on the secret)."""

    id: str  # the store's identifier: an ARN or a resource name
    name: str
    kind: Kind
    region: Region | None
    workspace: str = ""  # expected Customer.io workspace id, checked at bootstrap


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


@dataclass(frozen=True)
class Submission:
    """An operator's hand-over waiting in the inbox. `raw` is secret: never log it."""

    version: str
    raw: bytes

    def __repr__(self) -> str:
        return f"Submission(version={self.version!r}, {len(self.raw)} bytes)"


class SecretStore(Protocol):
    def snapshot(self, credential_id: str) -> Snapshot:
        """Read config, state and version pointers; raises NotManaged for foreign secrets."""

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
