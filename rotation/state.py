"""The record of one credential's rotation, as it is kept in the secret store.

It lives in the AWS state document (JSON) or GCP annotations as flat string
fields, both of which hold any text: what a person wrote (a reason) is stored
exactly as written and escaped only where it is shown. Keys are never stored:
only version ids and fingerprints.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from typing import Any

from rotation import notices
from rotation.notices import Notice


class Phase(StrEnum):
    IDLE = "idle"  # no rotation open (the last one, if any, is closed)
    AWAITING_KEY = "awaiting_key"  # open: waiting for an operator's submission
    PROMOTED = "promoted"  # new key is current; waiting for the old key to die
    RETIRING = "retiring"  # end of life: consumers move off, then the key is deleted
    RETIRED = "retired"  # Customer.io refuses the key; Pulumi may delete the secrets


class Mode(StrEnum):
    SCHEDULED = "scheduled"
    EMERGENCY = "emergency"
    BOOTSTRAP = "bootstrap"  # the secret has never held a key


TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# What AWS accepts in a tag value (letters, digits, spaces and _ . : / = + - @).
_UNSAFE = re.compile(r"[^A-Za-z0-9 _.:/=+\-@]")
MAX_FIELD = 250
# The longest reason the rotator records: GCP keeps the whole state in the live secret's
# annotations (less than 16 KiB in all), and a notice must stay readable.
REASON_MAX = 500


def format_time(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime(TIME_FORMAT) if value else ""


def parse_time(value: str) -> datetime | None:
    return datetime.strptime(value, TIME_FORMAT).replace(tzinfo=UTC) if value else None


def tag_safe(text: str) -> str:
    """Fold machine-made detail (a status text) into a short tag-safe word; never applied
    to what a person wrote, which is kept as written (see reason_problem)."""
    return _UNSAFE.sub("-", text.strip())[:MAX_FIELD]


def reason_problem(reason: str) -> str:
    """Why a reason cannot be recorded as written ("" when it can): its length, or a
    control character (an escape sequence would repaint the reader's terminal)."""
    if len(reason) > REASON_MAX:
        return (
            f"the reason is {len(reason)} characters long; at most {REASON_MAX} are recorded "
            "(in the audit trail and every notice, as written). Shorten it and put the "
            "details in your incident ticket."
        )
    for i, char in enumerate(reason):
        if unicodedata.category(char) == "Cc" and char not in "\n\t":
            return (
                f"the reason holds a control character (U+{ord(char):04X} at position {i + 1}), "
                "which no terminal or mail shows as written. Remove it."
            )
    return ""


@dataclass(frozen=True)
class RotationState:
    """One credential's rotation as recorded: flat, secret-free fields, so that it
    round-trips through tags, annotations or a JSON document unchanged."""

    phase: Phase = Phase.IDLE
    rotation_id: str = ""
    mode: Mode | None = None
    revoke_first: bool = False
    reason: str = ""
    actor: str = ""
    opened_at: datetime | None = None
    deadline: datetime | None = None
    # Follow-ups sent in the current phase (reminders), and when the last notice went out.
    followups: int = 0
    last_notice_at: datetime | None = None
    escalated: bool = False
    overdue: bool = False
    # What the engine last recorded as current, so a crash after a promotion is visible.
    current_version: str = ""
    current_fp: str = ""
    current_since: datetime | None = None
    workspace: str = ""
    previous_version: str = ""
    previous_fp: str = ""
    promoted_at: datetime | None = None
    grace_until: datetime | None = None
    # How a person finds each key in the Customer.io dashboard: the name given when the
    # rotation opened (fixed for its whole life), and, for kinds whose dashboard shows
    # the key itself, its last 4 characters. Never the key.
    key_name: str = ""  # the name the open rotation's new key is to be given
    current_name: str = ""
    current_last4: str = ""
    previous_name: str = ""
    previous_last4: str = ""
    previous_since: datetime | None = None  # when the previous key became current
    # When the rotation that asked for each key opened: a key made as its runbook said was
    # created between this and its `_since` (None: not recorded, e.g. for older states).
    current_opened_at: datetime | None = None
    previous_opened_at: datetime | None = None
    submitted_by: str = ""  # the operator whose submission the open rotation is verifying
    # AWS: the verified key createSecret put into AWSPENDING, for finishSecret to promote.
    staged_token: str = ""
    staged_fp: str = ""
    staged_last4: str = ""
    staged_workspace: str = ""
    # The daily liveness check of the current key.
    live_checked_at: datetime | None = None  # last time Customer.io answered for it
    live_outcome: str = ""  # accepted | rejected | inconclusive reason
    live_unknown_since: datetime | None = None  # first inconclusive answer of a run of them
    live_unknown_told: bool = False
    # End of life (cio-rotate retire): why, and when Customer.io was seen refusing the key.
    retired_at: datetime | None = None
    # Last refused submission, so the same refusal is told once.
    rejection: str = ""
    rejection_fp: str = ""
    rejection_detail: str = ""
    rejections: int = 0  # refusals told in this rotation: each refusal notice gets its own id
    inconclusive: str = ""
    inconclusive_fp: str = ""  # the submission Customer.io could not be asked about
    inconclusive_detail: str = ""  # what was seen, e.g. "503 after retries"
    # An emergency that arrived while an old key still awaited revocation.
    follow_up_emergency: bool = False
    # Notices decided but not yet delivered (the outbox), and the one being sent.
    outbox: tuple[str, ...] = ()
    sending: str = ""
    notice_seq: int = 0  # never reset: every queued notice gets an id no other notice had
    # The last closed rotation, for status and history.
    last_rotation_id: str = ""
    last_closed_at: datetime | None = None
    previous_revoked: bool = False
    # The next moment the rotator must wake for this credential (policy.next_due), armed
    # with the cloud's own timer after the write that moved it; empty while idle.
    wake_at: datetime | None = None
    # Probes of the old key after the delete notice: how many, and the last one's time
    # (they back off: policy.revoke_probe_delay).
    revoke_probes: int = 0
    revoke_probed_at: datetime | None = None
    # The drain after a promotion (rotation/drain.py, policy.drain_check_due): when it was
    # last checked, how many reporting processes use the new key, who may still hold the
    # old one, and when nobody did (then "delete the old key now" goes at once).
    # `drain_holders`: at most DRAIN_HOLDERS_SHOWN entries "who|last_seen|evidence" (who:
    # "service/instance" or the cloud principal; last_seen in TIME_FORMAT; evidence "key"
    # (reports the old key) or "read" (read the secret before the promotion, not since)),
    # tag-safe, no spaces (drain.holder_entry / drain.parse_holder); `drain_more`: how many
    # more there were. `drain_unconfirmed`: what the check could not confirm (no evidence,
    # an unreadable audit trail), "" when nothing.
    drain_waits: bool = False  # this promotion's delete notice waits for the drain
    drain_checked_at: datetime | None = None
    drain_on_new: int = 0
    drain_holders: tuple[str, ...] = ()
    drain_more: int = 0
    drain_unconfirmed: str = ""
    drained_at: datetime | None = None

    def to_fields(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for f in fields(self):
            value: Any = getattr(self, f.name)
            key = f.name.replace("_", "-")
            if isinstance(value, datetime):
                out[key] = format_time(value)
            elif isinstance(value, bool):
                out[key] = "true" if value else ""
            elif isinstance(value, tuple):
                out[key] = " ".join(value)
            elif value is None:
                out[key] = ""
            else:
                # Stored as it is: both stores hold any text (see the module docstring).
                out[key] = str(value)
        return out

    @classmethod
    def from_fields(cls, data: dict[str, str]) -> RotationState:
        return cls(**{name: decode(data.get(key, "")) for name, key, decode in _decoders()})

    def with_notice(self, notice: Notice, arg: str | int = "") -> RotationState:
        """Queue a notice in the same write as the transition that decided it.

        Entries are `code/rotation-id/sequence` (see notices.py): a notice still queued
        when the next rotation opens is still told about its own rotation, and no two
        notices of a credential ever share an id, so receivers can safely drop repeats.
        """
        code = notices.code(notice, arg)
        rid = self.rotation_id or self.last_rotation_id
        if any(e.startswith(f"{code}/{rid}/") for e in self.outbox):
            return self  # the same notice is already waiting to be sent
        seq = self.notice_seq + 1
        return replace(self, outbox=(*self.outbox, f"{code}/{rid}/{seq}"), notice_seq=seq)


def _phase(raw: str) -> Phase:
    return Phase(raw) if raw else Phase.IDLE


def _mode(raw: str) -> Mode | None:
    return Mode(raw) if raw else None


def _flag(raw: str) -> bool:
    return raw == "true"


def _count(raw: str) -> int:
    return int(raw) if raw else 0


def _words(raw: str) -> tuple[str, ...]:
    return tuple(raw.split())


@cache
def _decoders() -> tuple[tuple[str, str, Callable[[str], Any]], ...]:
    """(field, stored key, parser) for every field, worked out once: the daily sweep
    parses a state per credential, and this is most of its own cost."""
    default = RotationState()
    table: list[tuple[str, str, Callable[[str], Any]]] = []
    for f in fields(RotationState):
        value = getattr(default, f.name)
        decode: Callable[[str], Any]
        if f.name == "phase":
            decode = _phase
        elif f.name == "mode":
            decode = _mode
        elif isinstance(value, bool):
            decode = _flag
        elif isinstance(value, int):
            decode = _count
        elif isinstance(value, tuple):
            decode = _words
        elif f.name.endswith(("_at", "_since", "_until")) or f.name == "deadline":
            decode = parse_time
        else:
            decode = str
        table.append((f.name, f.name.replace("_", "-"), decode))
    return tuple(table)


def summary(state: RotationState, outcome: str, **extra: Any) -> dict[str, Any]:
    """The one answer shape of a rotator action, on both clouds (the CLI reads it)."""
    return {
        "outcome": outcome,
        "phase": state.phase.value,
        "rotation_id": state.rotation_id or state.last_rotation_id,
        "mode": state.mode.value if state.mode else "",
        "current_fp": state.current_fp,
        "previous_fp": state.previous_fp,
        "grace_until": state.grace_until.isoformat() if state.grace_until else "",
        **extra,
    }


# The word that ends a suggested key name: the next one after the current key's word, so
# the new key and the old one differ in a word, not only in date digits.
KEY_NAME_WORDS = (
    "alfa", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
    "juliett", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo",
    "sierra", "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu",
)  # fmt: skip
_SUGGESTED = re.compile(r"^(?P<base>.+)-(?P<day>\d{4}-\d{2}-\d{2})-(?P<word>[a-z]+)$")


def suggested_key_name(credential_name: str, opened_at: datetime, current: str = "") -> str:
    """The name a rotation's new key is to be given, computed once when the rotation opens:
    `marketing-track-2026-03-22-bravo`, the credential, the day it opened and the word after
    the current key's (`current`, its recorded name).

    Unique for as long as the credential lives: the day changes between rotations, and two
    rotations opened the same day differ in the word (26 of them would be needed to repeat
    one). Credential names are unique in a stack (infra/config.py), so names are unique
    across everything a stack manages, and never equal the key they replace.

    The engine stores it in `RotationState.key_name`; every text reads it from there, so
    the opening notice, reminders, `runbook` and the delete notice all say the same name.
    """
    word = KEY_NAME_WORDS[0]
    found = _SUGGESTED.match(current)
    if found and found["word"] in KEY_NAME_WORDS:
        word = KEY_NAME_WORDS[(KEY_NAME_WORDS.index(found["word"]) + 1) % len(KEY_NAME_WORDS)]
    return f"{credential_name}-{opened_at.strftime('%Y-%m-%d')}-{word}"


def key_name_stem(credential_name: str, cloud: str) -> str:
    """What a suggested key name starts with: the credential and its cloud, so the keys of a
    credential configured on both clouds (`cloud: both`) never share a name, and a key in
    the dashboard says which rotator it belongs to."""
    return f"{credential_name}-{cloud}" if cloud else credential_name


def key_name_base(name: str) -> str:
    """The credential part of a suggested key name ("" if it is not one)."""
    found = _SUGGESTED.match(name)
    return found["base"] if found else ""
