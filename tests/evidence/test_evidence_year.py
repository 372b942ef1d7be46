"""`cio-rotate evidence` over a simulated year (tests/evidence/year.py): JSON, CSV and HTML
list exactly the year's events, the summary flags the late rotation, every row cites
audit event ids that exist, no key appears anywhere, and AWS's own record agrees."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime

from rotation.state import format_time
from tests.conftest import assert_no_secrets
from tests.evidence.year import (
    BILLING,
    EMERGENCY_REASON,
    LEGACY,
    MARKETING,
    RETIRE_REASON,
)

EXPECTED_MODES = {
    MARKETING: ["bootstrap", "scheduled", "scheduled", "emergency", "scheduled", "scheduled"],
    BILLING: ["bootstrap", "scheduled", "scheduled", "scheduled", "scheduled"],
    LEGACY: ["bootstrap", "retirement"],
}


def _doc(year_of_evidence):
    return json.loads(year_of_evidence.reports["json"])


def _creds(doc):
    return {c["credential"]: c for c in doc["credentials"]}


def test_json_lists_exactly_the_years_rotations(year_of_evidence):
    doc = _doc(year_of_evidence)
    year = year_of_evidence.year
    creds = _creds(doc)
    assert {n: [r["mode"] for r in c["rotations"]] for n, c in creds.items()} == EXPECTED_MODES
    for name in (MARKETING, BILLING):
        promoted = [r["promoted_at"] for r in creds[name]["rotations"]]
        # A rolled-back rotation is one row, promoted at its last (working) promotion.
        expected = [format_time(t) for t in year.promotions[name]]
        if name == BILLING:
            # The promotion the rollback undid: billing's last one before it.
            undone = max(t for t in year.promotions[name] if t < year.rolled_back_at)
            expected.remove(format_time(undone))
        assert promoted == expected
    emergency = next(r for r in creds[MARKETING]["rotations"] if r["mode"] == "emergency")
    assert emergency["reason"] == EMERGENCY_REASON
    assert emergency["opened_by"] == "carol" and emergency["submitted_by"] == "carol"
    assert emergency["opened_at"] == format_time(year.emergency_at)
    rolled = [r for r in creds[BILLING]["rotations"] if r["rolled_back_at"]]
    assert [r["rolled_back_at"] for r in rolled] == [[format_time(year.rolled_back_at)]]
    retirement = creds[LEGACY]["rotations"][-1]
    assert retirement["reason"] == RETIRE_REASON and retirement["opened_by"] == "alice"
    assert retirement["closed_at"] == format_time(year.retired_at)
    assert creds[LEGACY]["retired_at"] == format_time(year.retired_at)
    # Every scheduled promotion was verified first, against the workspace, and its old key
    # confirmed refused afterwards; submitted by the operator who handed it over.
    for name in (MARKETING, BILLING):
        for r in creds[name]["rotations"][1:]:
            assert r["verified_at"] and r["verified_at"] <= r["promoted_at"]
            assert "workspace 1001" in r["verified_against"]
            assert r["old_key_refused_at"] > r["promoted_at"]
            assert r["submitted_by"] in ("bob", "carol")
    assert doc["gaps"] == []


def test_the_summary_flags_the_late_rotation_and_nothing_else(year_of_evidence):
    doc = _doc(year_of_evidence)
    year = year_of_evidence.year
    summary = {c["control"]: c for c in doc["summary"]}
    late = summary["rotated_within_policy"]
    assert late["status"] == "missed"
    assert [(m["credential"], m["why"].split(" was ")[1]) for m in late["misses"]] == [
        (MARKETING, "95.0 days old when replaced (policy 90)")
    ]
    late_row = next(r for r in _creds(doc)[MARKETING]["rotations"] if r["late"])
    assert late_row["promoted_at"] == format_time(year.late_promoted_at)
    assert late["misses"][0]["rotation_id"] == late_row["rotation_id"]
    assert summary["promotions_verified"]["status"] == "met"
    assert summary["old_keys_revoked"]["status"] == "met"
    assert [m["why"] for m in summary["emergencies"]["misses"]] == [EMERGENCY_REASON]
    assert [m["credential"] for m in summary["rollbacks"]["misses"]] == [BILLING]
    marketing = _creds(doc)[MARKETING]
    assert marketing["max_key_age_days"] == 95.0
    assert max(_creds(doc)[BILLING]["days_between_rotations"]) < 90


def test_every_row_cites_audit_events_of_its_own_credential(year_of_evidence):
    doc = _doc(year_of_evidence)
    by_id = {e["id"]: e for e in year_of_evidence.trail}
    for c in doc["credentials"]:
        for r in c["rotations"]:
            assert r["event_ids"], r
            for event_id in r["event_ids"]:
                event = by_id[event_id]
                assert event["credential"] == c["credential"]
                assert event["rotation_id"] == r["rotation_id"]
    for control in doc["summary"]:
        for miss in control["misses"]:
            assert all(by_id[i]["credential"] == miss["credential"] for i in miss["event_ids"])


def test_csv_has_the_same_rows(year_of_evidence):
    doc = _doc(year_of_evidence)
    rows = list(csv.DictReader(io.StringIO(year_of_evidence.reports["csv"])))
    rotations = [r for r in rows if r["record"] in ("rotation", "retirement")]
    expected = [
        (c["credential"], r["rotation_id"]) for c in doc["credentials"] for r in c["rotations"]
    ]
    assert [(r["credential"], r["rotation_id"]) for r in rotations] == expected
    assert [r["rotation_id"] for r in rotations if r["late"] == "yes"] == [
        m["rotation_id"] for m in doc["summary"][0]["misses"]
    ]
    assert [r["why"] for r in rows if r["record"] == "emergency"] == [EMERGENCY_REASON]
    assert not [r for r in rows if r["record"] == "gap"]


def test_html_shows_every_rotation_and_the_late_one(year_of_evidence):
    html = year_of_evidence.reports["html"]
    doc = _doc(year_of_evidence)
    for c in doc["credentials"]:
        assert c["credential"] in html
        for r in c["rotations"]:
            assert r["rotation_id"] in html
    assert html.count('<tr class="late">') == 1
    assert EMERGENCY_REASON in html
    # Self-contained: nothing to fetch, and a policy that forbids fetching anyway.
    for needle in ("http://", "https://", "src=", "href=", "@import", "url(http", "<script"):
        assert needle not in html
    assert "default-src 'none'" in html


def test_no_key_in_any_report(year_of_evidence):
    reports = list(year_of_evidence.reports.values()) + year_of_evidence.stack.printed
    site_ids = [
        k.site_id for keys in year_of_evidence.year.keys.values() for k in keys if k.site_id
    ]
    assert_no_secrets(reports, year_of_evidence.stack.secrets_issued() + site_ids)


def test_each_promotion_moves_aws_last_rotated_date(year_of_evidence):
    """Security Hub SecretsManager.4 reads LastRotatedDate: it is the time of each
    promotion Secrets Manager's own rotation completed, read right after it."""
    year = year_of_evidence.year
    resumed = {year.late_promoted_at}  # finished by the rotator, not by RotateSecret
    for name, seen in year.last_rotated.items():
        for promoted_at, last_rotated in seen:
            assert isinstance(last_rotated, datetime)
            if promoted_at in resumed:
                assert last_rotated < promoted_at
            else:
                assert last_rotated == promoted_at, name
    doc = _doc(year_of_evidence)
    for name, c in _creds(doc).items():
        described = year_of_evidence.last_rotated[name]
        assert described is not None
        assert c["aws_last_rotated_date"] == format_time(described)
