"""One entry point for the three formats, so the CLI and the bench print the same bytes."""

from __future__ import annotations

import json

from rotation.evidence.model import Report
from rotation.evidence.render_csv import render_csv
from rotation.evidence.render_html import render_html


def render(report: Report, fmt: str) -> str:
    """The report as `json` (indented, sorted keys), `csv` or `html`."""
    if fmt == "csv":
        return render_csv(report)
    if fmt == "html":
        return render_html(report)
    return json.dumps(report.to_json(), indent=2, sort_keys=True) + "\n"
