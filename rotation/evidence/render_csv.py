"""The report as one CSV table, for spreadsheets and GRC tools.

One row per rotation or retirement, then one per gap and one per control miss (the
`record` column says which), so the file stands alone. Text a person wrote (a reason)
is kept as written, except that a cell a spreadsheet would run as a formula is
prefixed with an apostrophe (OWASP's advice on CSV injection).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from rotation.evidence.model import Report
from rotation.state import format_time

COLUMNS = (
    "record",
    "credential",
    "cloud",
    "kind",
    "workspace",
    "rotation_id",
    "mode",
    "reason",
    "opened_at",
    "opened_by",
    "submitted_by",
    "verified_at",
    "verified_against",
    "new_key",
    "old_key",
    "promoted_at",
    "old_key_refused_at",
    "closed_at",
    "rolled_back_at",
    "rejected_submissions",
    "days_since_previous",
    "old_key_age_days",
    "late",
    "late_why",
    "control",
    "status",
    "since",
    "until",
    "why",
    "event_ids",
)
# Informational controls list events, not misses: their rows say which.
_RECORD = {"emergencies": "emergency", "rollbacks": "rollback"}
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def rows(report: Report) -> Iterator[dict[str, object]]:
    for c in report.credentials:
        f = c.facts
        base = {"credential": f.name, "cloud": f.cloud, "kind": f.kind, "workspace": f.workspace}
        for r in c.rotations:
            doc = r.to_json()
            yield {
                **base,
                **{k: v for k, v in doc.items() if k in COLUMNS},
                "record": r.kind,
                "rolled_back_at": " ".join(doc["rolled_back_at"]),
                "late": "yes" if r.late else "no",
                "event_ids": " ".join(r.event_ids),
            }
    for g in report.gaps:
        yield {
            "record": "gap",
            "credential": g.credential,
            "cloud": g.cloud,
            "since": format_time(g.since),
            "until": format_time(g.until),
            "why": g.why,
        }
    for control in report.controls:
        for m in control.misses:
            yield {
                "record": _RECORD.get(control.code, "miss"),
                "control": control.code,
                "status": control.status,
                "credential": m.credential,
                "rotation_id": m.rotation_id,
                "why": m.why,
                "event_ids": " ".join(m.event_ids),
            }


def render_csv(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows(report):
        writer.writerow({k: _cell(row.get(k, "")) for k in COLUMNS})
    return buffer.getvalue()
