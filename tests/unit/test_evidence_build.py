"""The evidence rules alone (rotation/evidence/build.py), on hand-written audit events."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from rotation.evidence.build import build_report, credential_evidence, lookback
from rotation.evidence.model import CredentialFacts, Period
from rotation.evidence.render_csv import render_csv
from rotation.evidence.render_html import render_html
from rotation.operator.backend import AuditEntry, Trail
from rotation.state import format_time

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PERIOD = Period(T0, T0 + timedelta(days=365))
READ = lookback(T0, 90)
FACTS = CredentialFacts("c", "aws", "track", "us", "1001", "idle", "bbbb")
_ids = iter(range(10_000))


def ev(day: float, event: str, rid: str = "r1", **kw: object) -> AuditEntry:
    at = T0 + timedelta(days=day)
    fields: dict[str, object] = {
        "mode": "scheduled",
        "actor": "bob",
        "outcome": "ok",
        "fingerprints": {},
        "detail": "",
    }
    fields.update(kw)
    return AuditEntry(
        at=format_time(at),
        logged_at=at,
        event=event,
        rotation_id=rid,
        event_id=f"e{next(_ids)}",
        **fields,  # type: ignore[arg-type]
    )


def daily(start: float, end: float, key: str) -> list[AuditEntry]:
    return [
        ev(d, "key.alive", "", actor="rotator", fingerprints={"current": key})
        for d in range(int(start), int(end))
    ]


def bootstrap(key: str = "aaaa") -> list[AuditEntry]:
    return [
        ev(-10, "rotation.opened", "r0", mode="bootstrap", detail="by submission"),
        ev(-10, "key.verified", "r0", mode="bootstrap", fingerprints={"candidate": key}),
        ev(-10, "key.promoted", "r0", mode="bootstrap", fingerprints={"current": key}),
    ]


def rotation(
    day: float, old: str, new: str, rid: str = "r1", verify: bool = True
) -> list[AuditEntry]:
    out = [ev(day, "rotation.opened", rid, actor="calendar", fingerprints={"current": old})]
    if verify:
        out.append(ev(day + 1, "key.verified", rid, fingerprints={"candidate": new}))
    out.append(ev(day + 1, "key.promoted", rid, fingerprints={"current": new, "previous": old}))
    return out


def test_an_unverified_promotion_and_an_unconfirmed_revocation_are_misses():
    events = [
        *bootstrap(),
        *daily(-9, 60, "aaaa"),
        *rotation(60, "aaaa", "bbbb", verify=False),
        *daily(61, 365, "bbbb"),
    ]
    report = build_report(
        [FACTS],
        {"aws": Trail({"c": events})},
        PERIOD,
        90,
        read_since=READ,
        generated_at=PERIOD.until,
        source="t",
    )
    controls = {c.code: c for c in report.controls}
    assert controls["promotions_verified"].status == "missed"
    assert [m.rotation_id for m in controls["promotions_verified"].misses] == ["r1"]
    assert controls["old_keys_revoked"].status == "missed"
    assert "not confirmed refused" in controls["old_keys_revoked"].misses[0].why
    # bbbb was current from day 61 to the end: 304 days, with no rotation open.
    assert controls["rotated_within_policy"].status == "missed"
    assert "304.0 days" in controls["rotated_within_policy"].misses[0].why


def test_a_silent_week_of_a_live_key_is_a_gap():
    events = [*bootstrap(), *daily(-9, 20, "aaaa"), *daily(27, 60, "aaaa")]
    c = credential_evidence(FACTS, events, Period(T0, T0 + timedelta(days=60)), 90, read_since=READ)
    [gap] = c.gaps
    assert (gap.since, gap.until) == (T0 + timedelta(days=19), T0 + timedelta(days=27))
    assert "no audit event for 8 days" in gap.why


def test_a_key_seen_before_its_promotion_is_at_least_as_old_as_the_first_sight():
    events = daily(0, 30, "aaaa")  # a trail that starts at the period's start, mid-life
    c = credential_evidence(FACTS, events, Period(T0, T0 + timedelta(days=30)), 90, read_since=READ)
    assert c.max_key_age_days == 30.0
    assert "its promotion is not in the trail" in c.notes[0]
    assert c.gaps == []  # the trail covers the period from its first day


def test_webhook_signing_keys_are_never_reported_as_confirmed_refused():
    facts = CredentialFacts("h", "aws", "webhook_signing", "", "", "idle", "bbbb")
    events = [
        *bootstrap(),
        *rotation(60, "aaaa", "bbbb"),
        ev(62, "revocation.confirmed", "r1", outcome="unprobeable", actor="rotator"),
    ]
    report = build_report(
        [facts],
        {"aws": Trail({"h": events})},
        Period(T0, T0 + timedelta(days=90)),
        90,
        read_since=READ,
        generated_at=T0,
        source="t",
    )
    [row] = [r for r in report.credentials[0].rotations if r.rotation_id == "r1"]
    assert row.old_key_refused_at is None and row.closed_at is not None
    assert "format only" in row.verified_against
    [miss] = {c.code: c for c in report.controls}["old_keys_revoked"].misses
    assert "no API can check a webhook signing key" in miss.why


def test_what_people_wrote_is_shown_as_written_and_never_run():
    reason = '<script>alert(1)</script> =HYPERLINK("x") & "quotes"'
    events = [
        *bootstrap(),
        *daily(-9, 30, "aaaa"),
        ev(30, "rotation.opened", "r9", mode="emergency", detail=reason, actor="carol"),
    ]
    report = build_report(
        [FACTS],
        {"aws": Trail({"c": events})},
        Period(T0, T0 + timedelta(days=31)),
        90,
        read_since=READ,
        generated_at=T0,
        source="t",
    )
    html = render_html(report)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    rows = list(csv.DictReader(io.StringIO(render_csv(report))))
    [emergency] = [r for r in rows if r["record"] == "emergency"]
    assert emergency["why"] == reason  # not a formula: it starts with '<'
    [row] = [r for r in rows if r["rotation_id"] == "r9" and r["record"] == "rotation"]
    assert row["reason"] == reason


def test_a_csv_cell_a_spreadsheet_would_run_is_defused():
    events = [*bootstrap(), ev(1, "rotation.opened", "r5", mode="emergency", detail="=1+1")]
    report = build_report(
        [FACTS],
        {"aws": Trail({"c": events})},
        Period(T0, T0 + timedelta(days=2)),
        90,
        read_since=READ,
        generated_at=T0,
        source="t",
    )
    rows = list(csv.DictReader(io.StringIO(render_csv(report))))
    assert {
        r["reason"] for r in rows if r["record"] == "rotation" and r["rotation_id"] == "r5"
    } == {"'=1+1"}
    assert [r["why"] for r in rows if r["record"] == "emergency"] == ["'=1+1"]
