"""Audit evidence: what auditors ask about credential rotation, answered from the record.

`collect` reads the audit trail and state of every managed credential through the
operator backends; `build` turns them into a `Report` (pure); `render_csv` and
`render_html` print it for spreadsheets and people (JSON is `Report.to_json`).
Nothing here ever holds a key: events carry fingerprints, never values.
"""
