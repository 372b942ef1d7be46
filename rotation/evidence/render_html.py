"""The report as one self-contained HTML page for people: no network, prints to PDF.

Inline CSS and SVG only; a Content-Security-Policy that forbids every fetch, so even a
browser that would load something cannot. Per credential a timeline (each key's life
as a bar, past-policy days highlighted, rotations, emergencies, rollbacks and the
retirement marked, gaps hatched) and its rotations; the summary table first.
Every value is escaped: names and reasons are shown as written, never run.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape

from rotation.evidence.model import Control, CredentialEvidence, Report, Rotation
from rotation.state import format_time

WIDTH = 1000  # the timeline's drawing width (SVG user units; it scales to the page)
LANE = 26
KEY_COLOURS = ("#4a78b5", "#6aa0d8")  # alternate keys, so a change of key shows
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font: 13px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: #1d232b; margin: 24px auto; max-width: 1120px; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 2px solid #d7dde5; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 0 0 4px; }
.meta, .facts { color: #4b5563; margin: 0 0 8px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 10px; }
th, td { border: 1px solid #d7dde5; padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: #eef2f7; font-weight: 600; }
td.ids, span.ids { font: 11px/1.3 ui-monospace, Menlo, Consolas, monospace; color: #4b5563;
  word-break: break-all; }
.status { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: 600; }
.met { background: #dcfce7; color: #14532d; }
.missed { background: #fee2e2; color: #7f1d1d; }
.unknown { background: #fef3c7; color: #78350f; }
.info { background: #e0e7ff; color: #1e3a8a; }
tr.late td { background: #fff1e6; }
.gaps { border: 2px solid #d97706; background: #fffbeb; padding: 8px 12px; margin: 10px 0; }
.gaps li { margin: 2px 0; }
section.credential { break-inside: avoid; page-break-inside: avoid; margin: 18px 0 26px; }
svg { width: 100%; height: auto; display: block; }
svg text { font: 11px system-ui, sans-serif; fill: #1d232b; }
.legend span { display: inline-block; margin-right: 14px; }
.swatch { display: inline-block; width: 14px; height: 10px; vertical-align: middle;
  margin-right: 4px; border: 1px solid #64748b; }
@media print {
  body { margin: 0; max-width: none; font-size: 11px; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  h2 { break-after: avoid; }
  tr { break-inside: avoid; }
}
@page { size: A4 landscape; margin: 12mm; }
"""


def _e(text: object) -> str:
    return escape("" if text is None else str(text), quote=True)


def _day(t: datetime | None) -> str:
    return format_time(t).replace("T", " ").removesuffix("Z") if t else "-"


def render_html(report: Report) -> str:
    period = report.period
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Credential rotation evidence {_e(_day(period.since)[:10])} to "
        f"{_e(_day(period.until)[:10])}</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>Customer.io credential rotation: evidence</h1>",
        f'<p class="meta">Period {_e(format_time(period.since))} to '
        f"{_e(format_time(period.until))} (end exclusive) &middot; policy: every key replaced "
        f"within {report.rotation_days} days &middot; {len(report.credentials)} credentials "
        f"&middot; source {_e(report.source)} &middot; generated "
        f"{_e(format_time(report.generated_at))}. Keys appear only as fingerprints (first 8 "
        "hex of SHA-256); every row cites the audit event ids it was built from.</p>",
        "<h2>Summary</h2>",
        _summary(report.controls),
        _gaps(report),
        "<h2>Credentials</h2>",
        _legend(report.rotation_days),
    ]
    parts += [_credential(c, report) for c in report.credentials]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _summary(controls: list[Control]) -> str:
    rows = []
    for c in controls:
        if c.misses:
            items = "".join(
                f"<li><b>{_e(m.credential)}</b>"
                + (f" {_e(m.rotation_id)}" if m.rotation_id else "")
                + f": {_e(m.why)}"
                + (
                    f' <span class="ids">[{_e(" ".join(m.event_ids))}]</span>'
                    if m.event_ids
                    else ""
                )
                + "</li>"
                for m in c.misses
            )
            detail = f"<ul>{items}</ul>"
        else:
            detail = "none" if c.status != "info" else "none in the period"
        note = f"<br><i>{_e(c.note)}</i>" if c.note else ""
        rows.append(
            f"<tr><td>{_e(c.question)}</td>"
            f'<td><span class="status {_e(c.status)}">{_e(c.status)}</span></td>'
            f"<td>{detail}{note}</td></tr>"
        )
    head = "<tr><th>question</th><th>answer</th><th>misses / details</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _gaps(report: Report) -> str:
    if not report.gaps:
        return (
            '<p class="meta">Gaps in the audit trail: none found (the trail covers the '
            "period for every credential).</p>"
        )
    items = "".join(
        f"<li><b>{_e(g.credential or 'all ' + g.cloud + ' credentials')}</b> "
        f"({_e(g.cloud)}), {_e(_day(g.since))} to {_e(_day(g.until))}: {_e(g.why)}</li>"
        for g in report.gaps
    )
    return (
        '<div class="gaps"><b>Gaps in the audit trail</b> (stated, not filled in: nothing '
        f"in them is reported)<ul>{items}</ul></div>"
    )


def _legend(rotation_days: int) -> str:
    return (
        '<p class="legend">'
        f'<span><i class="swatch" style="background:{KEY_COLOURS[0]}"></i>key current</span>'
        '<span><i class="swatch" style="background:#ea580c"></i>'
        f"key older than {rotation_days} days (late)</span>"
        '<span><b style="color:#15803d">|</b> promotion</span>'
        '<span><b style="color:#dc2626">&#9670;</b> emergency</span>'
        '<span><b style="color:#7c3aed">&#8630;</b> rollback</span>'
        "<span><b>&#10006;</b> retired</span>"
        '<span><i class="swatch" style="background:repeating-linear-gradient(45deg,#d97706 0 3px,'
        '#fff 3px 6px)"></i>gap in the trail</span></p>'
    )


def _x(t: datetime, report: Report) -> float:
    p = report.period
    span = (p.until - p.since).total_seconds() or 1.0
    frac = (t - p.since).total_seconds() / span
    return round(min(max(frac, 0.0), 1.0) * WIDTH, 1)


def _timeline(c: CredentialEvidence, report: Report) -> str:
    top, bar = 18, 20
    height = top + bar + 34
    out = [
        f'<svg viewBox="-4 0 {WIDTH + 8} {height}" role="img" '
        f'aria-label="Key timeline of {_e(c.facts.name)}">',
        '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="3" height="6" fill="#d97706"/></pattern>'
        "</defs>",
        f'<rect x="0" y="{top}" width="{WIDTH}" height="{bar}" fill="#f1f5f9" stroke="#cbd5e1"/>',
    ]
    policy = timedelta(days=report.rotation_days)
    for i, s in enumerate(c.spans):
        x0, x1 = _x(s.since, report), _x(s.until, report)
        colour = KEY_COLOURS[i % 2]
        born = _day(s.born) if s.born else "before the trail read"
        out.append(
            f'<rect x="{x0}" y="{top}" width="{max(x1 - x0, 0.8)}" height="{bar}" '
            f'fill="{colour}"><title>key {_e(s.key)} current {_e(_day(s.since))} to '
            f"{_e(_day(s.until))} (current since {_e(born)})</title></rect>"
        )
        if s.born is not None and s.until - s.born > policy:
            over = max(s.born + policy, s.since)
            ox = _x(over, report)
            out.append(
                f'<rect x="{ox}" y="{top}" width="{max(x1 - ox, 0.8)}" height="{bar}" '
                f'fill="#ea580c"><title>key {_e(s.key)} older than {report.rotation_days} '
                f"days from {_e(_day(over))}</title></rect>"
            )
        if x1 - x0 > 60:
            out.append(f'<text x="{x0 + 4}" y="{top + 14}" style="fill:#fff">{_e(s.key)}</text>')
    for g in c.gaps:
        if g.since is None or g.until is None:
            continue
        x0, x1 = _x(g.since, report), _x(g.until, report)
        out.append(
            f'<rect x="{x0}" y="{top - 4}" width="{max(x1 - x0, 2)}" height="{bar + 8}" '
            f'fill="url(#hatch)" opacity="0.8"><title>gap: {_e(g.why)}</title></rect>'
        )
    for r in c.rotations:
        out += _marks(r, report, top, bar)
    out += _axis(report, top + bar)
    out.append("</svg>")
    return "".join(out)


def _marks(r: Rotation, report: Report, top: int, bar: int) -> list[str]:
    marks: list[str] = []
    label = f"{r.rotation_id} ({r.mode})"
    if r.promoted_at is not None:
        x = _x(r.promoted_at, report)
        colour = "#ea580c" if r.late else "#15803d"
        marks.append(
            f'<line x1="{x}" y1="{top - 6}" x2="{x}" y2="{top + bar + 4}" stroke="{colour}" '
            f'stroke-width="{3 if r.late else 2}"><title>{_e(label)} promoted '
            f"{_e(_day(r.promoted_at))}{' LATE: ' + _e(r.late_why) if r.late else ''}"
            "</title></line>"
        )
        if r.late:
            marks.append(
                f'<text x="{x + 3}" y="{top - 6}" style="fill:#c2410c;font-weight:700">late</text>'
            )
    if r.mode == "emergency" and r.opened_at is not None:
        x = _x(r.opened_at, report)
        y = top - 8
        marks.append(
            f'<path d="M{x} {y - 6} L{x + 6} {y} L{x} {y + 6} L{x - 6} {y} Z" fill="#dc2626">'
            f"<title>{_e(label)}: {_e(r.reason)}</title></path>"
        )
    for t in r.rolled_back_at:
        x = _x(t, report)
        marks.append(
            f'<text x="{x - 5}" y="{top + bar + 14}" style="fill:#7c3aed;font-size:14px">'
            f"&#8630;<title>{_e(label)} rolled back {_e(_day(t))}</title></text>"
        )
    if r.kind == "retirement" and r.closed_at is not None:
        x = _x(r.closed_at, report)
        marks.append(
            f'<text x="{x - 5}" y="{top + 15}" style="font-size:15px;font-weight:700">'
            f"&#10006;<title>retired {_e(_day(r.closed_at))}: {_e(r.reason)}</title></text>"
        )
    return marks


def _axis(report: Report, y: int) -> list[str]:
    """Month ticks (UTC), labelled with the month's short name and, in January, the year."""
    p = report.period
    out = [f'<line x1="0" y1="{y}" x2="{WIDTH}" y2="{y}" stroke="#94a3b8"/>']
    t = p.since.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    ticks = 0
    while t < p.until and ticks < 400:
        if t >= p.since and _x(t, report) < WIDTH - 40:  # no label cut at the right edge
            x = _x(t, report)
            text = t.strftime("%b %Y" if t.month == 1 or ticks == 0 else "%b")
            out.append(f'<line x1="{x}" y1="{y}" x2="{x}" y2="{y + 4}" stroke="#94a3b8"/>')
            out.append(f'<text x="{x + 2}" y="{y + 26}">{_e(text)}</text>')
        t = (t.replace(day=28) + timedelta(days=4)).replace(day=1)
        ticks += 1
    return out


def _credential(c: CredentialEvidence, report: Report) -> str:
    f = c.facts
    where = ", ".join(
        x
        for x in (f.cloud, f.kind, f.region, f"workspace {f.workspace}" if f.workspace else "")
        if x
    )
    intervals = [r.days_since_previous for r in c.rotations if r.days_since_previous]
    facts = [
        f"max key age {c.max_key_age_days:.1f} days ({_e(c.max_key_age_key)})"
        if c.max_key_age_days is not None
        else "max key age unknown",
        "days between rotations: " + (", ".join(f"{d:.0f}" for d in intervals) or "-"),
        f"{c.liveness_checks} daily checks, last confirmed working {_e(_day(c.last_alive_at))}",
    ]
    if f.aws_last_rotated is not None:
        facts.append(f"AWS LastRotatedDate {_e(_day(f.aws_last_rotated))}")
    if c.retired_at is not None:
        facts.append(f"retired {_e(_day(c.retired_at))}")
    notes = "".join(f"<li>{_e(n)}</li>" for n in c.notes)
    rows = "".join(_rotation_row(r) for r in c.rotations)
    head = (
        "<tr><th>rotation</th><th>mode / reason</th><th>opened (by)</th><th>submitted by</th>"
        "<th>verified (against)</th><th>promoted</th><th>old key refused</th><th>closed</th>"
        "<th>days since previous</th><th>event ids</th></tr>"
    )
    table = (
        f"<table>{head}{rows}</table>" if rows else '<p class="meta">No rotation in the period.</p>'
    )
    return (
        f'<section class="credential"><h3>{_e(f.name)} <small>({_e(where)})</small></h3>'
        f'<p class="facts">{" &middot; ".join(facts)}</p>'
        f"{_timeline(c, report)}{table}"
        + (f'<ul class="meta">{notes}</ul>' if notes else "")
        + "</section>"
    )


def _rotation_row(r: Rotation) -> str:
    mode = _e(r.mode)
    if r.late:
        mode += f"<br><b>LATE</b>: {_e(r.late_why)}"
    if r.reason:
        mode += f"<br>{_e(r.reason)}"
    if r.rolled_back_at:
        mode += "<br>rolled back " + ", ".join(_e(_day(t)) for t in r.rolled_back_at)
    if r.rejected_submissions:
        mode += f"<br>{r.rejected_submissions} submission(s) refused"
    verified = _e(_day(r.verified_at))
    if r.verified_against:
        verified += f"<br><small>{_e(r.verified_against)}</small>"
    keys = f"<br><small>{_e(r.old_key or '-')} &rarr; {_e(r.new_key or '-')}</small>"
    refused = _e(_day(r.old_key_refused_at))
    if r.old_key_refused_at is None and r.revocation_outcome:
        refused = f"not confirmed ({_e(r.revocation_outcome)})"
    days = f"{r.days_since_previous:.1f}" if r.days_since_previous is not None else "-"
    css = ' class="late"' if r.late else ""
    return (
        f"<tr{css}><td>{_e(r.rotation_id)}</td><td>{mode}</td>"
        f"<td>{_e(_day(r.opened_at))}<br><small>{_e(r.opened_by)}</small></td>"
        f"<td>{_e(r.submitted_by or '-')}</td><td>{verified}</td>"
        f"<td>{_e(_day(r.promoted_at))}{keys}</td><td>{refused}</td>"
        f"<td>{_e(_day(r.closed_at))}</td><td>{days}</td>"
        f'<td class="ids">{_e(" ".join(r.event_ids))}</td></tr>'
    )
