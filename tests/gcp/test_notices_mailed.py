"""Issue 20 on GCP without a chat webhook: every notice, "rotation closed" included, reaches
the operators' e-mail whole, through the stack's alert policy over the function's log.

`gcp.monitoring` evaluates the policy the program declares (notify_gcp.notice_policy)
over the entries Cloud Run would store from the function's stdout.
"""

from __future__ import annotations

import re
from datetime import timedelta

from localcloud.gcp_harness import GcpHarness
from localcloud.stack import STACK

NAME = "marketing-track"


def _as_read(body: str) -> str:
    """A notice as the rendered e-mail reads: commands are code spans (no backticks)."""
    return re.sub(r"`((?:cio-rotate|pulumi) [^`\n]*)`", r"\1", body)


def test_every_notice_of_whole_rotations_is_mailed_complete(gcp: GcpHarness, cio, clock) -> None:
    gcp.provision(NAME, "track", "us", workspace="1001")
    first = cio.new_track_key("1001")
    gcp.submit(NAME, first)
    clock.advance(timedelta(days=76))
    gcp.sweep()  # opened
    gcp.submit(NAME, cio.new_track_key("2002"))  # rejected
    good = cio.new_track_key("1001")
    gcp.submit(NAME, good)  # promoted
    clock.advance(timedelta(hours=25))
    gcp.sweep()  # delete the old key now
    clock.advance(timedelta(days=3))
    gcp.sweep()  # reminder
    cio.delete_key(first)
    gcp.sweep()  # closed
    assert gcp.emergency(NAME, "leaked in #eng (don't panic)", revoke_first=True) < 300
    cio.delete_key(good)
    gcp.submit(NAME, cio.new_track_key("1001"))  # promoted; the old key is already gone
    gcp.sweep()  # closed

    sent = gcp.notifier.sent
    mails = {m.labels["notice_id"]: m for m in gcp.monitoring.sent}
    kinds = {n.notice.split(".")[0] for n in sent}
    assert {"opened", "rejected", "promoted", "revoke_now", "revoke_reminder", "closed"} <= kinds
    assert "upgraded.revoke" in kinds or "opened" in kinds
    assert not gcp.monitoring.dropped
    assert set(mails) == {n.id for n in sent}  # every notice, none twice, none rate-limited
    for n in sent:
        mail = mails[n.id]
        assert mail.subject == n.subject
        assert mail.text == _as_read(n.body)  # complete, as written
        assert f"GCP stack {STACK}" in mail.subject and "project cio-test" in mail.text
    # The log holds each notice whole, as one structured entry.
    logged = [e["jsonPayload"]["cio_notification"] for e in gcp.logging.entries]
    assert [e["text"] for e in logged] == [n.body for n in sent]
