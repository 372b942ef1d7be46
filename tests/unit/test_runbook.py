"""Runbooks are the product: each kind and mode says what to do, in order, and never a key."""

from datetime import UTC, datetime, timedelta

import pytest

from rotation.credentials import Kind
from rotation.policy import Policy
from rotation.runbook import Context, render, steps
from rotation.state import Mode, Phase, RotationState

NOW = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


def ctx(kind=Kind.TRACK, mode=Mode.SCHEDULED, revoke_first=False, phase=Phase.AWAITING_KEY, **kw):
    state = RotationState(
        phase=phase,
        rotation_id="r2605040900-abcd",
        mode=mode,
        revoke_first=revoke_first,
        opened_at=NOW,
        deadline=NOW + timedelta(days=14),
        current_fp="1234abcd",
        previous_fp="9999eeee",
        promoted_at=NOW,
        grace_until=NOW + timedelta(hours=24),
        **kw,
    )
    return Context(
        name="marketing-track",
        kind=kind,
        region="" if kind is Kind.WEBHOOK_SIGNING else "us",
        workspace="1001",
        state=state,
        policy=Policy(),
        now=NOW,
    )


@pytest.mark.parametrize("kind", list(Kind))
def test_scheduled_runbook_orders_create_submit_then_delete(kind):
    text = "\n".join(steps(ctx(kind)))
    assert text.index("Open Customer.io") < text.index("cio-rotate submit marketing-track")
    assert "Do NOT delete" in text
    assert text.index("cio-rotate submit") < text.index("Then delete the old key")
    assert 'name it "marketing-track-20260504"' in text


def test_track_runbook_names_the_dashboard_page_and_the_checks():
    text = "\n".join(steps(ctx()))
    assert "Account Settings > API Credentials > Tracking API Keys" in text
    assert "same workspace and region" in text


def test_app_runbook_warns_the_key_is_shown_once():
    assert "shown once" in "\n".join(steps(ctx(Kind.APP)))


def test_revoke_first_deletes_before_creating():
    lines = steps(ctx(mode=Mode.EMERGENCY, revoke_first=True))
    assert lines[0].startswith("Contain the leak first") and "DELETE" in lines[0]
    assert not any("Do NOT delete" in line for line in lines)


def test_emergency_grace_is_minutes():
    text = "\n".join(steps(ctx(mode=Mode.EMERGENCY)))
    assert "15 minutes after the promotion" in text


def test_bootstrap_has_nothing_to_delete():
    text = "\n".join(steps(ctx(mode=Mode.BOOTSTRAP)))
    assert "no old key to delete" in text and "Do NOT delete" not in text


NOTICES = [
    "opened",
    "upgraded",
    "upgraded.revoke",
    "reminder.2",
    "escalated",
    "overdue",
    "rejected.89ab12cd",
    "inconclusive.forbidden",
    "promoted",
    "revoke_now",
    "revoke_reminder.1",
    "revoke_escalated",
    "closed",
    "external_change",
    "emergency_queued",
]


@pytest.mark.parametrize("notice", NOTICES)
def test_every_notice_renders_with_a_stable_id(notice):
    n = render(
        f"{notice}/r2605040900-abcd",
        ctx(rejection="wrong_workspace", rejection_detail="2002 instead of 1001"),
    )
    assert n.id == f"r2605040900-abcd/{notice}"
    assert n.subject and n.body and len(n.subject) <= 100
    assert n.urgency in {"info", "action", "urgent"}


def test_sequence_numbers_make_ids_unique():
    first = render("reminder.1/r1/4", ctx())
    again = render("reminder.1/r1/9", ctx())
    assert first.id == "r1/reminder.1/4" and again.id == "r1/reminder.1/9"
    assert "(notification r1/reminder.1/4," in first.body


def test_urgency_follows_the_mode_and_step():
    assert render("opened/r1", ctx(mode=Mode.EMERGENCY)).urgency == "urgent"
    assert render("opened/r1", ctx()).urgency == "action"
    assert render("escalated/r1", ctx()).urgency == "urgent"
    assert render("closed/r1", ctx()).urgency == "info"


def test_unknown_notice_is_an_error():
    with pytest.raises(ValueError, match="unknown notice"):
        render("bogus/r1", ctx())
