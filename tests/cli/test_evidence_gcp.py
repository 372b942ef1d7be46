"""`cio-rotate evidence` on GCP: one Cloud Logging read (oldest first, the period's
window), every row citing the entries' insertIds."""

from __future__ import annotations

import json

from tests.cli.test_cli_gcp import NAME, promoted


def test_evidence_on_gcp_cites_insert_ids(gcli):
    _, second = promoted(gcli)
    result = gcli.run("evidence", "--since", "2026-01-01", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    [cred] = doc["credentials"]
    assert cred["cloud"] == "gcp" and cred["kind"] == "track" and cred["workspace"] == "111"
    bootstrap, scheduled = cred["rotations"]
    assert bootstrap["mode"] == "bootstrap" and scheduled["mode"] == "scheduled"
    assert scheduled["new_key"] == second.fingerprint and scheduled["submitted_by"] == "alice"
    ids = {f"{e['n']:08x}-fake": e["jsonPayload"] for e in gcli.apis.entries}
    for row in cred["rotations"]:
        assert row["event_ids"]
        for event_id in row["event_ids"]:
            assert ids[event_id]["credential"] == NAME
            assert ids[event_id]["rotation_id"] == row["rotation_id"]
    query = gcli.apis.queries[-1]
    assert query["orderBy"] == "timestamp asc"
    assert 'timestamp>="2025-10-02T00:00:00Z"' in query["filter"]  # 91 days before --since
    assert query["resourceNames"] == ["projects/cio-test"]


def test_evidence_on_gcp_without_logging_permission_states_the_gap(gcli):
    promoted(gcli)
    gcli.apis.deny.add("logs")
    result = gcli.run("evidence", "--since", "2026-01-01", "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    [gap] = doc["gaps"]
    assert gap["cloud"] == "gcp" and "logging.logEntries.list" in gap["why"]
    assert doc["credentials"][0]["rotations"] == []
