"""Who may still hold the old key after a promotion: the drain, as a pure function.

The grace period is a guess at the applications' cache lifetime; the drain replaces it
with what is known. Two kinds of evidence, read by the store's cloud (rotation/stores):

- key-usage reports from the consumer library (cio_consumer.usage): each process says,
  about once a minute, the fingerprint of the key it serves;
- the audit trail of reads of the live secret (CloudTrail GetSecretValue on AWS, Data
  Access logs AccessSecretVersion on GCP): a principal that read the secret before the
  promotion and not since may still hold the old key in memory, whether or not it uses
  the library.

The old key is drained when no reporter has used its fingerprint for `quiet` and no
principal that read before the promotion is still without a read since. Otherwise the
rotator waits, up to the grace maximum, and then names every straggler.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rotation.state import RotationState

# What the state keeps of the stragglers (RotationState.drain_holders): GCP keeps the state
# in the secret's annotations (16 KiB in all), so a few, and how many more.
DRAIN_HOLDERS_SHOWN = 8
_WHO_MAX = 120
_UNSAFE = re.compile(r"[^A-Za-z0-9_.:/=+\-@]")
_TIME = "%Y-%m-%dT%H:%M:%SZ"
# How far before the promotion the audit trail is read for principals that may hold the
# old key (a principal that read it earlier and cached it longer is not seen: the grace
# maximum still bounds the wait).
AUDIT_LOOKBACK = timedelta(hours=24)
EVIDENCE_KEY = "key"  # a process reports the old key's fingerprint
EVIDENCE_READ = "read"  # a principal read the secret before the promotion, not since


@dataclass(frozen=True)
class KeyReport:
    """The last time one process reported serving a key with `fingerprint`."""

    service: str
    instance: str
    fingerprint: str
    last_seen: datetime


@dataclass(frozen=True)
class SecretRead:
    """The last time a principal read the live secret, from the cloud's audit trail."""

    principal: str
    last_read: datetime


@dataclass(frozen=True)
class Straggler:
    """Someone who may still use the old key, as a person can find them."""

    who: str  # "service on instance" or the cloud principal
    last_seen: datetime
    evidence: str  # "reports the old key" | "read the secret before the promotion, not since"
    service: str = ""  # a reporter's service and instance ("" for a principal)
    instance: str = ""

    def describe(self) -> str:
        return f"{self.who} ({self.evidence}; last {self.last_seen:%Y-%m-%d %H:%M} UTC)"

    def entry(self) -> str:
        """The tag-safe "who|last_seen|evidence" the state keeps (RotationState.drain_holders)."""
        if self.service or self.instance:
            who, kind = f"{self.service}/{self.instance}", EVIDENCE_KEY
        else:
            who, kind = self.who, EVIDENCE_READ
        safe = _UNSAFE.sub("-", who.strip())[:_WHO_MAX] or "-"
        return f"{safe}|{self.last_seen.astimezone(UTC):{_TIME}}|{kind}"


@dataclass(frozen=True)
class Holder:
    """A straggler as the state recorded it (parse_holder), for notices and the CLI."""

    who: str  # "service/instance" or the principal
    last_seen: datetime | None
    evidence: str  # EVIDENCE_KEY | EVIDENCE_READ

    @property
    def reports(self) -> bool:
        return self.evidence == EVIDENCE_KEY


def parse_holder(entry: str) -> Holder:
    """One RotationState.drain_holders entry back into its parts (a malformed one is shown
    as it is, with no time)."""
    who, _, rest = entry.partition("|")
    when, _, evidence = rest.partition("|")
    try:
        seen: datetime | None = datetime.strptime(when, _TIME).replace(tzinfo=UTC)
    except ValueError:
        seen = None
    return Holder(who, seen, evidence or EVIDENCE_READ)


def holder_entries(stragglers: Iterable[Straggler]) -> tuple[tuple[str, ...], int]:
    """What the state keeps: the first DRAIN_HOLDERS_SHOWN entries (reporters first, the
    most recently seen first), and how many more there were."""
    ordered = sorted(stragglers, key=lambda s: (not s.service, -s.last_seen.timestamp(), s.who))
    entries = tuple(s.entry() for s in ordered)
    return entries[:DRAIN_HOLDERS_SHOWN], max(0, len(entries) - DRAIN_HOLDERS_SHOWN)


@dataclass(frozen=True)
class Drain:
    """Where the drain stands at `checked_at`."""

    checked_at: datetime
    stragglers: tuple[Straggler, ...]
    reporters_on_new: int  # processes seen with the new key since the promotion
    quiet_since: datetime | None  # when the old key was last reported (None: never)
    audit_read: bool  # whether the audit trail could be read (else only reports count)

    @property
    def drained(self) -> bool:
        return not self.stragglers


def drain(
    reports: Iterable[KeyReport],
    reads: Iterable[SecretRead],
    *,
    old_fingerprint: str,
    new_fingerprint: str,
    promoted_at: datetime,
    now: datetime,
    quiet: timedelta,
    audit_read: bool = True,
    ignore_principals: Iterable[str] = (),
) -> Drain:
    """Who still holds the old key. Pure: the caller reads the clouds.

    A reporter is a straggler while its last report of the old fingerprint is less than
    `quiet` old and came after its last report of the new one (a process that loaded
    the new key is off the old one, whatever it reported before). A principal is a
    straggler when its last read of the secret came before the promotion. The rotator's
    own principal is in `ignore_principals`.
    """
    latest: dict[tuple[str, str], dict[str, datetime]] = {}
    for report in reports:
        seen = latest.setdefault((report.service, report.instance), {})
        if report.last_seen > seen.get(report.fingerprint, datetime.min.replace(tzinfo=now.tzinfo)):
            seen[report.fingerprint] = report.last_seen
    stragglers: list[Straggler] = []
    quiet_since: datetime | None = None
    on_new = 0
    for (service, instance), seen in sorted(latest.items()):
        old = seen.get(old_fingerprint)
        new = seen.get(new_fingerprint)
        if new is not None and new >= promoted_at:
            on_new += 1
        if old is None:
            continue
        quiet_since = old if quiet_since is None else max(quiet_since, old)
        moved = new is not None and new >= old
        if not moved and now - old < quiet:
            stragglers.append(
                Straggler(f"{service} on {instance}", old, "reports the old key", service, instance)
            )
    ignored = set(ignore_principals)
    for read in sorted(reads, key=lambda r: r.principal):
        if read.principal in ignored or read.last_read >= promoted_at:
            continue
        stragglers.append(
            Straggler(
                read.principal,
                read.last_read,
                "read the secret before the promotion, not since",
            )
        )
    return Drain(now, tuple(stragglers), on_new, quiet_since, audit_read)


NO_EVIDENCE = (
    "no application reported which key it uses, and the audit trail shows no read of the secret"
)


def unconfirmed(
    reports: Sequence[KeyReport],
    reads: Iterable[SecretRead],
    *,
    reports_problem: str = "",
    audit_problem: str = "",
    ignore_principals: Iterable[str] = (),
) -> tuple[str, ...]:
    """What a drain check could not confirm: each source it could not read, or, when both
    were read and hold nothing (no report, no read but the rotator's), that there is no
    evidence at all. Either way the old key is not drained: the rotator waits for the
    grace maximum and `cio-rotate drain` exits "unknown"."""
    problems = tuple(p for p in (reports_problem, audit_problem) if p)
    ignored = set(ignore_principals)
    if not problems and not reports and not any(r.principal not in ignored for r in reads):
        return (NO_EVIDENCE,)
    return problems


def after_promotion(
    state: RotationState,
    reports: Sequence[KeyReport],
    reads: Sequence[SecretRead],
    *,
    now: datetime,
    quiet: timedelta,
    reports_problem: str = "",
    audit_problem: str = "",
    ignore_principals: Iterable[str] = (),
) -> tuple[Drain, tuple[str, ...]]:
    """The drain of `state`'s promotion (old key: the previous one) and what could not be
    confirmed: the one reading the rotator acts on and `cio-rotate drain` shows."""
    assert state.promoted_at is not None, "a drain follows a promotion"
    ignored = tuple(ignore_principals)
    result = drain(
        reports,
        reads,
        old_fingerprint=state.previous_fp,
        new_fingerprint=state.current_fp,
        promoted_at=state.promoted_at,
        now=now,
        quiet=quiet,
        audit_read=not audit_problem,
        ignore_principals=ignored,
    )
    problems = unconfirmed(
        reports,
        reads,
        reports_problem=reports_problem,
        audit_problem=audit_problem,
        ignore_principals=ignored,
    )
    return result, problems


def latest_reads(events: Iterable[tuple[str, datetime]]) -> list[SecretRead]:
    """Each principal's last read, from (principal, time) audit events in any order."""
    last: dict[str, datetime] = {}
    for principal, at in events:
        if principal and (principal not in last or at > last[principal]):
            last[principal] = at
    return [SecretRead(p, t) for p, t in sorted(last.items())]
