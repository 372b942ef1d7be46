"""What the CLI needs from a cloud, as one protocol, and the outcomes it reports.

`aws.AwsBackend` implements it on Secrets Manager + Lambda + CloudWatch Logs. A
GCP backend implements the same methods on Secret Manager + Pub/Sub + Cloud
Logging; the commands in `operations` and the CLI never know which one they use.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from rotation import intake
from rotation.errors import KeyInFreeText
from rotation.operator.config import CredentialRef
from rotation.state import parse_time
from rotation.stores.base import Snapshot

if TYPE_CHECKING:
    from rotation.operator.drain_view import Reading

# The audit events of the daily liveness check (rotation/engine.py `_check_liveness`):
# Customer.io accepted the current key, or could not say. A refusal changes the state.
ALIVE_EVENT = "key.alive"
UNVERIFIED_EVENT = "key.unverified"
LIVENESS_EVENTS = (ALIVE_EVENT, UNVERIFIED_EVENT)

# Exit codes, documented in the CLI's --help epilog and README section.
EXIT_OK = 0
EXIT_ABORTED = 1
EXIT_USAGE = 2
EXIT_REJECTED = 3
EXIT_WAITING = 4
EXIT_CLOUD = 5
EXIT_NOT_FOUND = 6
EXIT_QUEUED = 7  # an emergency accepted but queued behind an old key still to be deleted
EXIT_UNKNOWN = 8  # not measured: what the answer rests on could not be read (`drain`)


class OperatorError(Exception):
    """A failure the CLI reports as one message (naming the fix) and an exit code.

    `code` is the stable name scripts match on (`--json` errors carry it); `fix`,
    when given, is the part of the message that says what to do.
    """

    exit_code = EXIT_CLOUD
    code = "cloud_error"

    def __init__(self, message: str, *, code: str = "", fix: str = "") -> None:
        super().__init__(message)
        if code:
            self.code = code
        self.fix = fix


class Rejected(OperatorError):
    """The key (or the request, e.g. a rollback) was refused; nothing changed."""

    exit_code = EXIT_REJECTED
    code = "refused"


def refuse_key_shaped_reason(fields: dict[str, Any]) -> None:
    """A reason is a person's words, and the CLI cannot read the keys to check it against:
    one shaped like a key is refused here, before it leaves this machine in a payload or a
    message (the rotator checks again against the real keys). Both clouds use this."""
    try:
        intake.refuse_key_shaped_text({"--reason": str(fields.get("reason") or "")})
    except KeyInFreeText as err:
        raise Rejected(str(err)) from None


class Waiting(OperatorError):
    """The outcome is not known yet, or the rotation waits on someone."""

    exit_code = EXIT_WAITING
    code = "waiting"


class CloudFailure(OperatorError):
    """The cloud refused or failed the call (permissions, credentials, the rotator itself)."""

    exit_code = EXIT_CLOUD
    code = "cloud_error"


class NotFound(OperatorError):
    """No such credential, secret or function; or nothing of what was asked exists."""

    exit_code = EXIT_NOT_FOUND
    code = "not_found"


@dataclass(frozen=True)
class Details:
    """Cloud facts beyond the rotation state: the native schedule, for `status`."""

    native_next_rotation: datetime | None = None
    native_last_rotated: datetime | None = None


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit trail (rotation/audit.py): ids and fingerprints only."""

    at: str
    logged_at: datetime | None
    event: str
    rotation_id: str
    mode: str
    actor: str
    outcome: str
    fingerprints: dict[str, str] = field(default_factory=dict)
    detail: str = ""
    # The cloud's own id of the log event (CloudWatch Logs eventId, Cloud Logging insertId):
    # what evidence cites, since the rotator's lines carry no id of their own.
    event_id: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    via: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "event": self.event,
            "rotation_id": self.rotation_id,
            "mode": self.mode,
            "actor": self.actor,
            "outcome": self.outcome,
            "fingerprints": self.fingerprints,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Trail:
    """Every audit event of some credentials over a window, oldest first, by credential.

    `problem` says why the trail could not be read (whole or in part); `earliest` is
    the first event the cloud returned for any credential of the read, so a trail that
    starts late (retention, deleted logs) shows as such instead of as a quiet period."""

    events: dict[str, list[AuditEntry]] = field(default_factory=dict)
    problem: str = ""
    earliest: datetime | None = None


class Backend(Protocol):
    """One cloud's side of every command. Nothing here ever returns a key."""

    def snapshot(self, ref: CredentialRef, *, quick: bool = False) -> Snapshot:
        """Config and rotation state, from metadata only (tags / annotations / the state
        document). `quick`: the cheapest read the cloud has (it may leave the version
        stages out)."""

    def warm(self) -> None:
        """Make the clients now, in this thread, before several threads share them."""

    def status_read(self, ref: CredentialRef) -> tuple[Snapshot, Details]:
        """What `status` shows of one credential, in at most two store calls: the snapshot
        and the cloud's own schedule from the same metadata read. Safe to call from
        several threads at once (`status` reads credentials in parallel)."""

    def hand_over(
        self, ref: CredentialRef, raw: bytes, actor: str, key_name: str = ""
    ) -> dict[str, Any] | None:
        """Write the inbox (the key, who hands it over and its dashboard name) and set the
        rotator going; its summary if it answered at once."""

    def invoke(self, ref: CredentialRef, action: str, **fields: Any) -> dict[str, Any]:
        """Ask the rotator to take an action (emergency, reconcile, rollback) now."""

    def history(self, ref: CredentialRef, limit: int) -> list[AuditEntry]:
        """The credential's audit events, newest first."""

    def liveness_trail(
        self, refs: Sequence[CredentialRef], since: datetime
    ) -> dict[str, list[AuditEntry]]:
        """The daily liveness checks (`LIVENESS_EVENTS`) of these credentials logged since
        `since`, newest first, by credential name: ONE bounded read of the audit trail for
        them all (an accepted check writes no state, so the trail alone has its time)."""

    def drain_evidence(
        self, ref: CredentialRef, fingerprints: Sequence[str], since: datetime, now: datetime
    ) -> Reading:
        """Who uses the keys with `fingerprints` (the consumer library's reports) and who
        read the live secret between `since` and `now` (the cloud's audit trail), read now
        with the operator's credentials. What cannot be read is said in the Reading's
        problems, never raised: `drain` reports what it could not measure."""

    def audit_trail(self, refs: Sequence[CredentialRef], since: datetime, until: datetime) -> Trail:
        """Every audit event of these credentials from `since` to `until` (exclusive),
        oldest first, each with the cloud's event id: ONE paged read for them all. A read
        that fails part-way keeps what was read and says why in `problem`."""


def parse_audit_line(
    message: str, timestamp: Any = None, event_id: str = ""
) -> tuple[AuditEntry, str] | None:
    """An audit event and its credential's name from a log line, or None for other lines.

    Lambda's text format prefixes `[INFO] <time> <request id>`; its JSON format wraps
    the line in {"message": ...}. Both are accepted. `event_id` is the cloud's id of
    the log event, kept so evidence can cite it.
    """
    start = message.find("{")
    if start < 0:
        return None
    try:
        doc = json.loads(message[start:])
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    if "message" in doc and isinstance(doc["message"], str) and "audit" not in doc:
        # Lambda's JSON log format wraps the line.
        return parse_audit_line(doc["message"], timestamp, event_id)
    if doc.get("audit") is not True:
        return None
    logged = (
        datetime.fromtimestamp(int(timestamp) / 1000, UTC) if isinstance(timestamp, int) else None
    )
    entry = AuditEntry(
        at=str(doc.get("at", "")),
        logged_at=logged,
        event=str(doc.get("event", "")),
        rotation_id=str(doc.get("rotation_id", "")),
        mode=str(doc.get("mode", "")),
        actor=str(doc.get("actor", "")),
        outcome=str(doc.get("outcome", "")),
        fingerprints=_strings(doc.get("fingerprints")),
        detail=str(doc.get("detail", "")),
        event_id=event_id,
        versions=_strings(doc.get("versions")),
        names=_strings(doc.get("names")),
        via=str(doc.get("via", "")),
    )
    return entry, str(doc.get("credential", ""))


def _strings(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def entry_time(entry: AuditEntry) -> datetime | None:
    """When the rotator says the event happened (its `at`), else when it was logged."""
    at = entry.at
    if len(at) == 20 and at.endswith("Z"):
        # The rotator's own format (state.format_time): fromisoformat reads it many times
        # faster than strptime, which matters for a year of a hundred credentials' trail.
        try:
            return datetime.fromisoformat(at).astimezone(UTC)
        except ValueError:
            return entry.logged_at
    try:
        return parse_time(at) or entry.logged_at
    except ValueError:
        return entry.logged_at


def trail_of(
    lines: Iterable[tuple[AuditEntry, str]], wanted: Sequence[str], since: datetime, until: datetime
) -> tuple[dict[str, list[AuditEntry]], datetime | None]:
    """The wanted credentials' events in [since, until), oldest first, and the earliest
    event time seen. The cloud's filter narrows the read; this is the exact test."""
    found: dict[str, list[tuple[datetime, int, AuditEntry]]] = {}
    earliest: datetime | None = None
    for n, (entry, name) in enumerate(lines):
        at = entry_time(entry)
        if at is None or not since <= at < until or name not in wanted:
            continue
        earliest = at if earliest is None else min(earliest, at)
        found.setdefault(name, []).append((at, n, entry))
    return {
        name: [entry for _, _, entry in sorted(items, key=lambda i: i[:2])]
        for name, items in found.items()
    }, earliest


def liveness_entry(
    parsed: tuple[AuditEntry, str] | None, wanted: Sequence[str], since: datetime
) -> AuditEntry | None:
    """`parsed` if it is a liveness check of a wanted credential at or after `since`.

    The cloud's filter narrows the read; this is the exact test (a term pattern can
    also match another credential's name or a detail that quotes an event name)."""
    if parsed is None:
        return None
    entry, name = parsed
    if name not in wanted or entry.event not in LIVENESS_EVENTS:
        return None
    at = entry_time(entry)
    return entry if at is not None and at >= since else None
