"""The old key's drain as an operator sees it: `status` (what the rotator last recorded)
and `drain NAME` (the evidence read now, with the operator's credentials).

Pure: the cloud reads are the backends' (`Backend.drain_evidence`), the judgement is
rotation.drain's. `recorded` is the one place that reads the rotator's drain fields
from a RotationState (`drain_checked_at`, `drain_on_new`, `drain_holders`, `drain_more`,
`drain_unconfirmed`, `drained_at`; rotation/drain.py says their form).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from rotation import conventions as cv
from rotation.drain import (
    EVIDENCE_KEY,
    EVIDENCE_READ,
    KeyReport,
    SecretRead,
    after_promotion,
    parse_holder,
)
from rotation.operator.backend import EXIT_OK, EXIT_UNKNOWN, EXIT_WAITING
from rotation.state import Phase, RotationState, format_time

if TYPE_CHECKING:
    from rotation.stores.usage import UsageReader

# The quiet period when the stack's policy names none (issue 23: 15 minutes).
DEFAULT_QUIET = timedelta(minutes=15)
# How far before the promotion `drain` looks for reads of the live secret: a reader seen
# in this window and not since may hold the old key. Bounded by when the old key became
# current (a read before that gave an even older key, already refused).
READS_LOOKBACK = timedelta(days=7)


@dataclass(frozen=True)
class Holder:
    """Someone who may still use the old key: a reporting process or a cloud principal."""

    who: str
    evidence: str
    last_seen: datetime | None

    def describe(self) -> str:
        seen = f"last seen {_when(self.last_seen)}" if self.last_seen else "last seen unknown"
        return f"{self.who}: {self.evidence}; {seen}" if self.evidence else f"{self.who}: {seen}"

    def to_json(self) -> dict[str, Any]:
        return {"who": self.who, "evidence": self.evidence, "last_seen": _time(self.last_seen)}


@dataclass(frozen=True)
class DrainView:
    """Where the old key's drain stands. From the state (`recorded`): what the rotator
    last measured; from `measure`: read now. `problems` says what could not be read."""

    checked_at: datetime | None
    holders: tuple[Holder, ...] = ()
    on_new: int = 0
    drained_at: datetime | None = None
    quiet_since: datetime | None = None
    audit_read: bool | None = None  # None: not known (the rotator's record does not say)
    problems: tuple[str, ...] = field(default_factory=tuple)
    more: int = 0  # holders beyond those listed (the rotator keeps the first few)

    @property
    def drained(self) -> bool | None:
        """True: nobody holds the old key; False: someone does; None: not known."""
        if self.holders:
            return False
        if self.problems or (self.checked_at is None and self.drained_at is None):
            return None
        return True

    def to_json(self) -> dict[str, Any]:
        return {
            "checked_at": _time(self.checked_at),
            "drained": self.drained,
            "drained_at": _time(self.drained_at),
            "holders": [h.to_json() for h in self.holders],
            "more_holders": self.more,
            "on_new": self.on_new,
            "quiet_since": _time(self.quiet_since),
            "audit_read": self.audit_read,
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class Reading:
    """The evidence a backend read for one drain check, and what it could not read."""

    reports: tuple[KeyReport, ...] = ()
    reads: tuple[SecretRead, ...] = ()
    reports_problem: str = ""  # "" when the key-usage metrics were read
    audit_problem: str = ""  # "" when the audit trail of reads was read whole
    ignore: tuple[str, ...] = ()  # the rotator's own principal(s): its reads hold no key
    calls: int = 0


def read_with(
    reader: UsageReader,
    secret_id: str,
    fingerprints: Sequence[str],
    since: datetime,
    now: datetime,
    *,
    failures: tuple[type[Exception], ...],
    reports_failed: Callable[[Exception], str],
    audit_source: str,
    ignore: tuple[str, ...] = (),
    calls: int = 0,
) -> Reading:
    """One drain reading through the rotator's own `reader`. Reports it cannot read (one of
    `failures`; `reports_failed` says why) leave the audit trail to be read alone; an
    unreadable trail is named by `audit_source` (the API and the permission it needs)."""
    reports_problem = ""
    try:
        evidence = reader.evidence(secret_id, fingerprints, since, now)
    except failures as err:
        reports_problem = reports_failed(err)
        evidence = reader.evidence(secret_id, (), since, now)  # the audit trail alone
    audit_problem = ""
    if not evidence.audit_read:
        audit_problem = f"who read the secret ({audit_source}): {evidence.audit_problem}"
    return Reading(
        reports=evidence.reports,
        reads=evidence.reads,
        reports_problem=reports_problem,
        audit_problem=audit_problem,
        ignore=ignore,
        calls=evidence.calls + calls,
    )


# What each kind of evidence means, in the words `status` and `drain` print.
EVIDENCE_TEXT = {
    EVIDENCE_KEY: "reports the old key",
    EVIDENCE_READ: "read the secret before the promotion, not since",
}


def recorded(state: Any) -> DrainView | None:
    """What the rotator last recorded of the drain (RotationState's drain fields, or their
    stored form: a dict of strings), or None when it recorded nothing."""
    checked = _instant(_field(state, "drain_checked_at"))
    drained_at = _instant(_field(state, "drained_at"))
    if checked is None and drained_at is None:
        return None
    raw: Any = _field(state, "drain_holders") or ()
    items: Iterable[str] = raw.split() if isinstance(raw, str) else raw  # stored: space-joined
    holders = [_holder(str(item)) for item in items]
    unconfirmed = str(_field(state, "drain_unconfirmed") or "")
    return DrainView(
        checked_at=checked,
        holders=tuple(holders),
        on_new=int(_field(state, "drain_on_new") or 0),
        drained_at=drained_at,
        more=int(_field(state, "drain_more") or 0),
        problems=(unconfirmed,) if unconfirmed and drained_at is None else (),
    )


def _holder(entry: str) -> Holder:
    """A holder as the rotator records it (rotation/drain.py), its evidence in words."""
    h = parse_holder(entry)
    return Holder(h.who, EVIDENCE_TEXT.get(h.evidence, h.evidence), h.last_seen)


def _field(state: Any, name: str) -> Any:
    """A field of a RotationState, or of its stored form (a dict, hyphenated or not)."""
    if isinstance(state, Mapping):
        return state.get(name, state.get(name.replace("_", "-")))
    return getattr(state, name, None)


def _instant(value: Any) -> datetime | None:
    """A datetime as it is, or one in its stored text form."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return _parse_time(value) if isinstance(value, str) else None


def quiet_period(policy: Any) -> timedelta:
    """The stack's quiet period (`drain_quiet_minutes` when its policy has one)."""
    minutes = getattr(policy, "drain_quiet_minutes", None)
    return timedelta(minutes=int(minutes)) if minutes is not None else DEFAULT_QUIET


def in_flight(state: RotationState) -> bool:
    """Whether an old key is being drained: a promotion recorded and not yet closed."""
    return (
        state.phase is Phase.PROMOTED
        and bool(state.previous_fp)
        and bool(state.current_fp)
        and state.promoted_at is not None
    )


def reads_since(state: RotationState) -> datetime:
    """The start of the audit read: READS_LOOKBACK before the promotion, not before the
    old key became current."""
    assert state.promoted_at is not None
    start = state.promoted_at - READS_LOOKBACK
    if state.previous_since is not None and state.previous_since > start:
        start = state.previous_since
    return start


def measure(reading: Reading, state: RotationState, now: datetime, quiet: timedelta) -> DrainView:
    """The drain now, from what was read; what could not be read is kept as a problem."""
    result, problems = after_promotion(
        state,
        reading.reports,
        reading.reads,
        now=now,
        quiet=quiet,
        reports_problem=reading.reports_problem,
        audit_problem=reading.audit_problem,
        ignore_principals=reading.ignore,
    )
    return DrainView(
        checked_at=result.checked_at,
        holders=tuple(_holder(s.entry()) for s in result.stragglers),  # as the rotator shows them
        on_new=result.reporters_on_new,
        drained_at=result.checked_at if result.drained and not problems else None,
        quiet_since=result.quiet_since,
        audit_read=result.audit_read,
        problems=problems,
    )


def exit_code(view: DrainView) -> int:
    """0 drained; 4 holders remain (known even when part of the evidence was unreadable);
    EXIT_UNKNOWN when nothing holds it as far as was read, but not everything was."""
    if view.holders:
        return EXIT_WAITING
    return EXIT_UNKNOWN if view.problems else EXIT_OK


def status_cells(view: DrainView | None, name: str) -> list[tuple[str, str]]:
    """The lines `status` shows for a promoted credential: a summary, then each holder."""
    if view is None:
        return [
            (
                "old key in use",
                f"not measured yet (`{cv.CLI_NAME} drain {name}` reads it now)",
            )
        ]
    checked = f"checked {_when(view.checked_at)}" if view.checked_at else "not checked"
    on_new = f"{view.on_new} on the new key"
    if not view.holders:
        if view.drained is None:
            unknown = "; ".join(view.problems) or "no evidence yet"
            return [("old key in use", f"not confirmed: {unknown} ({on_new}; {checked})")]
        when = view.drained_at or view.checked_at
        return [("old key in use", f"no: drained {_when(when)} ({on_new}; {checked})")]
    total = len(view.holders) + view.more
    count = f"{total} holder" + ("s" * (total != 1))
    cells = [("old key in use", f"yes: {count} ({on_new}; {checked})")]
    cells += [("", f"- {h.describe()}") for h in view.holders]
    if view.more:
        cells.append(("", f"- and {view.more} more"))
    return cells


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def _time(value: datetime | None) -> str | None:
    return format_time(value) if value else None


def _parse_time(text: str) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
