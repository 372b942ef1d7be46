"""From audit events and state to the evidence report: pure, so every rule is tested alone.

Each rotation is rebuilt from the events that carry its rotation id, each key's life
from the promotions, rollbacks and retirements that moved it. What the trail does not
show is reported as a gap (and makes a control `unknown`), never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from itertools import pairwise

from rotation.evidence.model import (
    Control,
    CredentialEvidence,
    CredentialFacts,
    Gap,
    KeySpan,
    Miss,
    Period,
    Report,
    Rotation,
)
from rotation.operator.backend import LIVENESS_EVENTS, AuditEntry, Trail, entry_time
from rotation.state import format_time

DAY = timedelta(days=1)
# A live key is checked every day: a longer silence in its trail is a gap, not calm.
SILENCE = timedelta(days=3)
# The daily cadence: a trail that starts within a day of `since` is whole.
SLACK = DAY


def lookback(since: datetime, rotation_days: int) -> datetime:
    """Where the read of the trail starts for a report from `since`: one policy period
    (and a day) before, to find when the key current at the start was promoted (a key
    rotated on time was promoted within rotation_days)."""
    return since - timedelta(days=rotation_days) - SLACK


def build_report(
    facts: Sequence[CredentialFacts],
    trails: Mapping[str, Trail],
    period: Period,
    rotation_days: int,
    *,
    read_since: datetime,
    generated_at: datetime,
    source: str,
) -> Report:
    """The report over `period` from each cloud's trail (read from `read_since`)."""
    gaps: list[Gap] = []
    for cloud, trail in sorted(trails.items()):
        if trail.problem:
            gaps.append(
                Gap(
                    "",
                    cloud,
                    period.since,
                    period.until,
                    f"the {cloud} audit trail could not be read (whole or in part): "
                    f"{trail.problem}",
                )
            )
    creds = [
        credential_evidence(
            f,
            trails.get(f.cloud, Trail()).events.get(f.name, []),
            period,
            rotation_days,
            read_since=read_since,
            unreadable=bool(trails.get(f.cloud, Trail()).problem),
        )
        for f in facts
    ]
    for c in creds:
        gaps += c.gaps
    return Report(
        period=period,
        generated_at=generated_at,
        source=source,
        rotation_days=rotation_days,
        credentials=creds,
        controls=controls(creds, rotation_days),
        gaps=gaps,
    )


def _age(later: datetime, born: datetime | None) -> float | None:
    return None if born is None else (later - born).total_seconds() / 86400


def credential_evidence(
    facts: CredentialFacts,
    events: Sequence[AuditEntry],
    period: Period,
    rotation_days: int,
    *,
    read_since: datetime,
    unreadable: bool = False,
) -> CredentialEvidence:
    """One credential's rotations, key lifetimes, maximum key age and gaps."""
    ev = CredentialEvidence(facts=facts, event_count=len(events))
    rotations: dict[str, Rotation] = {}
    born: dict[str, datetime] = {}
    current: str = ""
    started: datetime | None = None
    spans: list[KeySpan] = []

    def switch(key: str, at: datetime, *, new: bool) -> None:
        nonlocal current, started
        if current and started is not None:
            spans.append(KeySpan(current, started, at, born.get(current)))
        current, started = key, at
        if key and new:
            born.setdefault(key, at)

    def adopt(entry: AuditEntry, at: datetime) -> None:
        """A key seen current before the trail shows its promotion: its birth unknown."""
        if not current and entry.fingerprints.get("current"):
            switch(entry.fingerprints["current"], max(at, read_since), new=False)

    times: list[datetime] = []
    for e in events:
        at = entry_time(e)
        if at is None:
            continue
        times.append(at)
        if e.event in LIVENESS_EVENTS:
            adopt(e, at)
            if at >= period.since:
                ev.liveness_checks += 1
                if e.event == LIVENESS_EVENTS[0]:
                    ev.last_alive_at = at
            continue
        if e.event == "notification.sent":
            continue
        rid = e.rotation_id or f"{e.event}@{format_time(at)}"
        r = rotations.setdefault(rid, Rotation(rid))
        if e.event == "rotation.followup":
            # Reminders are in the trail; the row cites the one that says it became overdue.
            if e.outcome.startswith("overdue"):
                r.overdue = True
                r.event_ids.append(e.event_id)
            continue
        if e.event_id:
            r.event_ids.append(e.event_id)
        if e.event == "rotation.opened":
            adopt(e, at)
            r.opened_at, r.opened_by, r.mode = at, e.actor, e.mode
            r.reason = "" if e.detail == "by submission" else e.detail
            r.old_key = e.fingerprints.get("current", "")
        elif e.event == "rotation.upgraded":
            r.mode, r.reason = e.mode or "emergency", e.detail or r.reason
        elif e.event == "rotation.overdue":
            r.overdue = True
        elif e.event == "key.verified":
            r.verified_at, r.submitted_by = at, e.actor
            r.new_key = e.fingerprints.get("candidate", "")
            r.verified_against = _verified_against(facts, bool(e.fingerprints.get("current")))
        elif e.event == "key.rejected":
            r.rejected_submissions += 1
        elif e.event == "key.promoted":
            new_key = e.fingerprints.get("current", "")
            r.old_key = e.fingerprints.get("previous", "") or r.old_key
            r.promoted_at, r.submitted_by, r.new_key = at, e.actor or r.submitted_by, new_key
            r.mode = r.mode or e.mode
            if r.old_key:
                r.old_key_age_days = _age(at, born.get(r.old_key))
            switch(new_key, at, new=True)
        elif e.event == "revocation.confirmed":
            r.revocation_outcome, r.closed_at = e.outcome, at
            if e.outcome == "revoked":
                r.old_key_refused_at = at
        elif e.event == "revocation.pending":
            r.revocation_outcome = r.revocation_outcome or e.outcome
        elif e.event == "rotation.rolled_back":
            r.rolled_back_at.append(at)
            switch(e.fingerprints.get("current", ""), at, new=False)
        elif e.event == "key.refused":
            ev.notes.append(
                f"{format_time(at)}: Customer.io refused the current key; no key worked"
            )
            switch("", at, new=False)
        elif e.event == "state.repaired":
            ev.notes.append(
                f"{format_time(at)}: the rotator adopted a current version it had not recorded "
                "(a crash after a promotion, or a change made outside the rotator)"
            )
            switch(e.fingerprints.get("current", ""), at, new=True)
        elif e.event == "retire.opened":
            r.kind, r.mode = "retirement", "retirement"
            r.opened_at, r.opened_by, r.reason = at, e.actor, e.detail
            r.old_key = current
        elif e.event == "credential.retired":
            r.kind, r.mode = "retirement", "retirement"
            r.closed_at, r.revocation_outcome = at, e.outcome
            if e.outcome == "revoked":
                r.old_key_refused_at = at
            ev.retired_at = at
            switch("", at, new=False)
    end = period.until
    if current and started is not None:
        spans.append(KeySpan(current, started, end, born.get(current)))

    # Days between rotations: from one rotation's (last) promotion to the next one's.
    last_promotion: datetime | None = None
    for r in sorted(
        (r for r in rotations.values() if r.promoted_at is not None),
        key=lambda r: r.promoted_at or period.until,
    ):
        assert r.promoted_at is not None
        if last_promotion is not None:
            r.days_since_previous = _age(r.promoted_at, last_promotion)
        last_promotion = r.promoted_at
    in_period = [
        r
        for r in rotations.values()
        if any(t is not None and t >= period.since for t in _times(r))
        and r.kind in ("rotation", "retirement")
        and (r.opened_at or r.promoted_at or r.closed_at)
    ]
    for r in in_period:
        _judge_lateness(r, born, rotation_days, period, current, started)
    ev.rotations = in_period
    ev.spans = [
        replace(s, since=max(s.since, period.since)) for s in spans if s.until > period.since
    ]
    _max_age(ev, [s for s in spans if s.until > period.since])
    ev.first_event_at = times[0] if times else None
    ev.gaps = _gaps(facts, events, times, period, read_since, unreadable, ev)
    return ev


def _times(r: Rotation) -> list[datetime | None]:
    return [r.opened_at, r.verified_at, r.promoted_at, r.closed_at, *r.rolled_back_at]


def _verified_against(facts: CredentialFacts, had_key: bool) -> str:
    """What the rotator checks before a promotion (rotation/verify.py), for this kind."""
    if facts.kind == "webhook_signing":
        return "format only: no Customer.io API can check a webhook signing key"
    where = f"Customer.io {facts.region.upper() or '?'} region"
    workspace = f", workspace {facts.workspace}" if facts.workspace else ", its own workspace"
    return f"{where}{workspace}" + ("; differs from the current key" if had_key else "")


def _judge_lateness(
    r: Rotation,
    born: Mapping[str, datetime],
    rotation_days: int,
    period: Period,
    current: str,
    started: datetime | None,
) -> None:
    if r.kind != "rotation" or r.mode == "bootstrap":
        return
    if r.old_key_age_days is not None and r.old_key_age_days > rotation_days:
        r.late = True
        r.late_why = (
            f"the old key {r.old_key} was {r.old_key_age_days:.1f} days old when replaced "
            f"(policy {rotation_days})"
        )
    elif r.overdue:
        r.late = True
        r.late_why = "the rotation passed its deadline before a key was promoted"
    elif r.promoted_at is None and r.old_key and r.old_key in born:
        age = _age(period.until, born[r.old_key])
        if age is not None and age > rotation_days:
            r.late = True
            r.late_why = (
                f"still open at the end of the period; the key {r.old_key} is "
                f"{age:.1f} days old (policy {rotation_days})"
            )


def _max_age(ev: CredentialEvidence, spans: Sequence[KeySpan]) -> None:
    """The oldest any key got while current in the period (a span that ended before the
    period does not count)."""
    best: float | None = None
    for s in spans:
        age = _age(s.until, s.born)
        if age is None:
            # Its promotion is not in the trail: it is at least as old as the first sight.
            floor = _age(s.until, s.since) or 0.0
            ev.notes.append(
                f"key {s.key} was current when the trail read begins ({format_time(s.since)}): "
                f"its promotion is not in the trail; at least {floor:.1f} days old by "
                f"{format_time(s.until)}"
            )
            age = floor
        if best is None or age > best:
            best, ev.max_key_age_key = age, s.key
    ev.max_key_age_days = best


def _gaps(
    facts: CredentialFacts,
    events: Sequence[AuditEntry],
    times: Sequence[datetime],
    period: Period,
    read_since: datetime,
    unreadable: bool,
    ev: CredentialEvidence,
) -> list[Gap]:
    gaps: list[Gap] = []
    name, cloud = facts.name, facts.cloud
    if facts.problem:
        gaps.append(Gap(name, cloud, None, None, f"its state could not be read: {facts.problem}"))
    if unreadable:
        return gaps  # the cloud's gap covers it
    if not times:
        if facts.current_fp or facts.phase not in ("", "idle"):
            gaps.append(
                Gap(
                    name,
                    cloud,
                    period.since,
                    period.until,
                    "no audit event of this credential in the trail, though its state shows "
                    "a key: the logs are missing (retention, or deleted)",
                )
            )
        return gaps
    first = events[0]
    bootstrap = first.event == "rotation.opened" and not first.fingerprints.get("current")
    if times[0] > max(read_since, period.since) + SLACK and not bootstrap:
        gaps.append(
            Gap(
                name,
                cloud,
                period.since,
                times[0],
                f"the audit trail starts at {format_time(times[0])}, after the period's start, "
                "with a credential that already had a key: older events are gone (log "
                "retention shorter than the period, or deleted logs). Nothing before it is "
                "reported.",
            )
        )
    checked = facts.kind != "webhook_signing"
    in_period = [t for t in times if t >= period.since]
    for a, b in pairwise(in_period):
        live = ev.retired_at is None or a < ev.retired_at
        if checked and live and b - a > SILENCE:
            gaps.append(
                Gap(
                    name,
                    cloud,
                    a,
                    b,
                    f"no audit event for {(b - a).days} days while the key was live (checked "
                    "daily): the sweep did not run or the logs are missing",
                )
            )
    return gaps


def _unrevoked_why(outcome: str) -> str:
    if outcome == "unprobeable":
        return "no API can check a webhook signing key: closed after the grace period without proof"
    last = f" (last check: {outcome})" if outcome else ""
    return f"not confirmed refused by the end of the period{last}"


def controls(creds: Sequence[CredentialEvidence], rotation_days: int) -> list[Control]:
    """The summary: each question auditors ask, met or missed, with every miss listed."""
    has_gap = any(c.gaps for c in creds)
    late: list[Miss] = []
    unverified: list[Miss] = []
    unrevoked: list[Miss] = []
    emergencies: list[Miss] = []
    rollbacks: list[Miss] = []
    for c in creds:
        name = c.facts.name
        for r in c.rotations:
            ids = tuple(r.event_ids)
            if r.late:
                late.append(Miss(name, r.rotation_id, r.late_why, ids))
            if r.promoted_at is not None and (
                r.verified_at is None or r.verified_at > r.promoted_at
            ):
                unverified.append(
                    Miss(name, r.rotation_id, "no key.verified event before the promotion", ids)
                )
            if (
                r.kind == "rotation"
                and r.promoted_at is not None
                and r.old_key
                and r.old_key_refused_at is None
            ):
                why = _unrevoked_why(r.revocation_outcome)
                unrevoked.append(Miss(name, r.rotation_id, f"old key {r.old_key}: {why}", ids))
            if r.mode == "emergency":
                emergencies.append(Miss(name, r.rotation_id, r.reason or "(no reason)", ids))
            for t in r.rolled_back_at:
                rollbacks.append(Miss(name, r.rotation_id, f"rolled back at {format_time(t)}", ids))
        age = c.max_key_age_days
        if (
            age is not None
            and age > rotation_days
            and not any(m.credential == name and m.rotation_id for m in late)
        ):
            late.append(
                Miss(
                    name,
                    "",
                    f"key {c.max_key_age_key} reached {age:.1f} days (policy {rotation_days}) "
                    "with no rotation promoted",
                )
            )

    def status(misses: list[Miss]) -> str:
        return "missed" if misses else ("unknown" if has_gap else "met")

    gap_note = "the trail has gaps (listed): a miss may be hidden in them" if has_gap else ""
    return [
        Control(
            "rotated_within_policy",
            f"Was every key replaced within {rotation_days} days?",
            status(late),
            tuple(late),
            gap_note,
        ),
        Control(
            "promotions_verified",
            "Was every new key verified against Customer.io before it became current?",
            status(unverified),
            tuple(unverified),
            gap_note,
        ),
        Control(
            "old_keys_revoked",
            "Was every replaced key confirmed refused by Customer.io?",
            status(unrevoked),
            tuple(unrevoked),
            gap_note,
        ),
        Control(
            "emergencies",
            "Which rotations were emergencies, and why?",
            "info",
            tuple(emergencies),
        ),
        Control(
            "rollbacks",
            "Which promotions were rolled back?",
            "info",
            tuple(rollbacks),
        ),
    ]
