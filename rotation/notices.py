"""The notices the state machine queues, as one enum that the engine and the runbook share.

An outbox entry is `code[.arg]/rotation-id/sequence`: `arg` numbers reminders
and names the refused key's fingerprint; the sequence is never reused, so no two
notices of a credential share an id and receivers can drop repeated ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Notice(StrEnum):
    OPENED = "opened"
    UPGRADED = "upgraded"  # the open rotation became an emergency
    UPGRADED_REVOKE = "upgraded.revoke"  # ... an emergency that revokes first
    REMINDER = "reminder"  # arg: the reminder's number
    ESCALATED = "escalated"
    OVERDUE = "overdue"
    REJECTED = "rejected"  # arg: "<fingerprint>.<n>"
    INCONCLUSIVE = "inconclusive"  # arg: the reason (only "forbidden" is told)
    PROMOTED = "promoted"
    REVOKE_NOW = "revoke_now"
    REVOKE_REMINDER = "revoke_reminder"  # arg: the reminder's number
    REVOKE_ESCALATED = "revoke_escalated"
    CLOSED = "closed"
    EMERGENCY_QUEUED = "emergency_queued"
    ROLLED_BACK = "rolled_back"  # an operator asked for the previous key back
    WRONG_KEY_DELETED = "wrong_key_deleted"  # the new key was refused, the old one restored
    BOTH_KEYS_REFUSED = "both_keys_refused"  # nothing to roll back to: a new key now
    CURRENT_REFUSED = "current_refused"  # the live key stopped working between rotations
    LIVENESS_UNKNOWN = "liveness_unknown"  # the live key could not be checked for too long
    EXTERNAL_CHANGE = "external_change"
    RETIRE_OPENED = "retire_opened"  # a credential's end of life began
    RETIRE_REMINDER = "retire_reminder"  # arg: the reminder's number
    RETIRED = "retired"


# Codes whose entries carry a dotted argument after the code itself.
_WITH_ARG = (
    Notice.REMINDER,
    Notice.REJECTED,
    Notice.INCONCLUSIVE,
    Notice.REVOKE_REMINDER,
    Notice.RETIRE_REMINDER,
)


@dataclass(frozen=True)
class Entry:
    """One parsed outbox entry."""

    notice: Notice
    arg: str
    rotation_id: str
    seq: str

    @property
    def code(self) -> str:
        """The entry's code as queued (`reminder.2`): unique per rotation together with seq."""
        return f"{self.notice.value}.{self.arg}" if self.arg else self.notice.value


def code(notice: Notice, arg: str | int = "") -> str:
    """The code of a notice as the outbox stores it."""
    return f"{notice.value}.{arg}" if arg != "" else notice.value


def parse(entry: str) -> Entry:
    """Read `code[.arg]/rotation-id/seq`; ValueError for an entry no version ever wrote."""
    head, _, rest = entry.partition("/")
    rid, _, seq = rest.partition("/")
    try:
        return Entry(Notice(head), "", rid, seq)
    except ValueError:
        pass
    for notice in _WITH_ARG:
        if head.startswith(notice.value + "."):
            return Entry(notice, head[len(notice.value) + 1 :], rid, seq)
    raise ValueError(f"unknown notice {head!r}")
