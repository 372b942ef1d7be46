"""The evidence report as data: the one shape JSON, CSV and HTML are printed from."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rotation.state import format_time


@dataclass(frozen=True)
class Period:
    """The window the report covers: [since, until)."""

    since: datetime
    until: datetime

    @property
    def days(self) -> float:
        return (self.until - self.since).total_seconds() / 86400


@dataclass(frozen=True)
class CredentialFacts:
    """What the stack and the state say about a credential (no trail, no key)."""

    name: str
    cloud: str
    kind: str = ""
    region: str = ""
    workspace: str = ""
    phase: str = ""
    current_fp: str = ""
    current_since: datetime | None = None
    # AWS's own record (DescribeSecret LastRotatedDate), which Security Hub reads.
    aws_last_rotated: datetime | None = None
    problem: str = ""  # why the state could not be read, if it could not


@dataclass
class Rotation:
    """One rotation (or a retirement) of one credential, from its audit events."""

    rotation_id: str
    kind: str = "rotation"  # rotation | retirement
    mode: str = ""
    reason: str = ""
    opened_at: datetime | None = None
    opened_by: str = ""
    submitted_by: str = ""
    verified_at: datetime | None = None
    verified_against: str = ""
    new_key: str = ""  # fingerprint
    old_key: str = ""  # fingerprint
    promoted_at: datetime | None = None
    old_key_refused_at: datetime | None = None
    revocation_outcome: str = ""
    closed_at: datetime | None = None
    rolled_back_at: list[datetime] = field(default_factory=list)
    rejected_submissions: int = 0
    overdue: bool = False
    late: bool = False
    late_why: str = ""
    old_key_age_days: float | None = None
    days_since_previous: float | None = None
    event_ids: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "rotation_id": self.rotation_id,
            "kind": self.kind,
            "mode": self.mode,
            "reason": self.reason,
            "opened_at": format_time(self.opened_at),
            "opened_by": self.opened_by,
            "submitted_by": self.submitted_by,
            "verified_at": format_time(self.verified_at),
            "verified_against": self.verified_against,
            "new_key": self.new_key,
            "old_key": self.old_key,
            "promoted_at": format_time(self.promoted_at),
            "old_key_refused_at": format_time(self.old_key_refused_at),
            "revocation_outcome": self.revocation_outcome,
            "closed_at": format_time(self.closed_at),
            "rolled_back_at": [format_time(t) for t in self.rolled_back_at],
            "rejected_submissions": self.rejected_submissions,
            "late": self.late,
            "late_why": self.late_why,
            "old_key_age_days": _days(self.old_key_age_days),
            "days_since_previous": _days(self.days_since_previous),
            "event_ids": list(self.event_ids),
        }


@dataclass(frozen=True)
class KeySpan:
    """A stretch of time one key was current (for the timeline and the maximum age)."""

    key: str  # fingerprint
    since: datetime  # when this stretch began
    until: datetime  # when it ended (or the end of the period)
    born: datetime | None  # when the key first became current, if the trail shows it

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "since": format_time(self.since),
            "until": format_time(self.until),
            "key_current_since": format_time(self.born),
        }


@dataclass(frozen=True)
class Gap:
    """A stretch the trail does not cover: stated, never filled in."""

    credential: str  # "" for a whole cloud
    cloud: str
    since: datetime | None
    until: datetime | None
    why: str

    def to_json(self) -> dict[str, Any]:
        return {
            "credential": self.credential,
            "cloud": self.cloud,
            "since": format_time(self.since),
            "until": format_time(self.until),
            "why": self.why,
        }


@dataclass
class CredentialEvidence:
    facts: CredentialFacts
    rotations: list[Rotation] = field(default_factory=list)
    spans: list[KeySpan] = field(default_factory=list)
    max_key_age_days: float | None = None
    max_key_age_key: str = ""
    retired_at: datetime | None = None
    liveness_checks: int = 0
    last_alive_at: datetime | None = None
    first_event_at: datetime | None = None
    gaps: list[Gap] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    event_count: int = 0

    def to_json(self) -> dict[str, Any]:
        f = self.facts
        intervals = [r.days_since_previous for r in self.rotations if r.days_since_previous]
        return {
            "credential": f.name,
            "cloud": f.cloud,
            "kind": f.kind,
            "region": f.region,
            "workspace": f.workspace,
            "phase": f.phase,
            "current_key": f.current_fp,
            "aws_last_rotated_date": format_time(f.aws_last_rotated),
            "rotations": [r.to_json() for r in self.rotations],
            "days_between_rotations": [_days(d) for d in intervals],
            "max_key_age_days": _days(self.max_key_age_days),
            "max_key_age_key": self.max_key_age_key,
            "key_lifetimes": [s.to_json() for s in self.spans],
            "retired_at": format_time(self.retired_at),
            "daily_checks": self.liveness_checks,
            "last_confirmed_working_at": format_time(self.last_alive_at),
            "first_event_at": format_time(self.first_event_at),
            "audit_events_read": self.event_count,
            "gaps": [g.to_json() for g in self.gaps],
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Miss:
    """One failure of a control: which credential, which rotation, why, from which events."""

    credential: str
    rotation_id: str
    why: str
    event_ids: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "credential": self.credential,
            "rotation_id": self.rotation_id,
            "why": self.why,
            "event_ids": list(self.event_ids),
        }


@dataclass(frozen=True)
class Control:
    """One question auditors ask, and whether the record answers it yes."""

    code: str
    question: str
    status: str  # met | missed | unknown (the trail has a gap) | info
    misses: tuple[Miss, ...] = ()
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "control": self.code,
            "question": self.question,
            "status": self.status,
            "misses": [m.to_json() for m in self.misses],
            "note": self.note,
        }


@dataclass
class Report:
    period: Period
    generated_at: datetime
    source: str
    rotation_days: int
    credentials: list[CredentialEvidence]
    controls: list[Control]
    gaps: list[Gap]

    def to_json(self) -> dict[str, Any]:
        return {
            "report": "cio-rotation evidence",
            "period": {
                "since": format_time(self.period.since),
                "until": format_time(self.period.until),
            },
            "generated_at": format_time(self.generated_at),
            "source": self.source,
            "policy": {"rotation_days": self.rotation_days},
            "summary": [c.to_json() for c in self.controls],
            "gaps": [g.to_json() for g in self.gaps],
            "credentials": [c.to_json() for c in self.credentials],
        }


def _days(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
