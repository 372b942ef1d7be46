"""Runbooks are the product: each kind and mode says what to do, in order, and never a key."""

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest

from rotation.credentials import Kind, fingerprint
from rotation.notices import Notice
from rotation.policy import Policy
from rotation.runbook import (
    KINDS,
    RENDERERS,
    Context,
    after_promotion,
    kind_text,
    render,
    steps,
)
from rotation.state import Mode, Phase, RotationState, suggested_key_name

NOW = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
OLD_SINCE = datetime(2026, 2, 3, 9, 0, tzinfo=UTC)
NAME = "marketing-track"
NEW_NAME = "marketing-track-2026-05-04-alfa"
OLD_NAME = "marketing-track-20260203"
# "private" is listed even before rotation.credentials grows Kind.PRIVATE: its texts exist.
KIND_VALUES = sorted({k.value for k in Kind} | {"private"})
KEY_KINDS = [v for v in KIND_VALUES if v != "webhook_signing"]


def kind_of(value: str) -> Kind:
    """The Kind member, or the bare value for a kind the enum does not have yet."""
    return cast(Kind, Kind(value) if value in {k.value for k in Kind} else value)


def ctx(kind=Kind.TRACK, mode=Mode.SCHEDULED, revoke_first=False, phase=Phase.AWAITING_KEY, **kw):
    fields = dict(
        phase=phase,
        rotation_id="r2605040900-abcd",
        mode=mode,
        revoke_first=revoke_first,
        opened_at=NOW,
        deadline=NOW + timedelta(days=14),
        key_name=NEW_NAME,
        current_name=OLD_NAME,
        current_since=OLD_SINCE,
        current_last4="ab12",
        current_fp="1234abcd",
    )
    fields.update(kw)
    endpoint = fields.pop("webhook_endpoint", "")
    now = fields.pop("now", NOW)
    kind = kind_of(kind) if isinstance(kind, str) else kind
    return Context(
        name=NAME,
        kind=kind,
        region="" if kind is Kind.WEBHOOK_SIGNING else "us",
        workspace="1001",
        state=RotationState(**fields),
        policy=Policy(),
        now=now,
        webhook_endpoint=endpoint,
    )


def promoted(kind=Kind.TRACK, **kw):
    """The state the engine writes at promotion: the new key current, the old one previous."""
    fields = dict(
        phase=Phase.PROMOTED,
        current_name=NEW_NAME,
        current_since=NOW + timedelta(days=2),
        current_opened_at=NOW,  # the rotation that asked for it opened two days before
        current_last4="cd34",
        current_fp="5678ffff",
        previous_name=OLD_NAME,
        previous_since=OLD_SINCE,
        previous_last4="ab12",
        previous_fp="1234abcd",
        previous_version="v1",
        promoted_at=NOW + timedelta(days=2),
        grace_until=NOW + timedelta(days=3),
    )
    fields.update(kw)
    return ctx(kind, **fields)


def text_of(lines: list[str]) -> str:
    return "\n".join(lines)


# -- coverage of kinds and notices ------------------------------------------------------


def test_every_kind_has_its_texts():
    assert {k.value for k in Kind} <= set(KINDS)
    for kind in Kind:
        assert kind_text(kind).title and kind_text(kind).page


def test_a_kind_without_texts_fails_loudly():
    with pytest.raises(KeyError):
        kind_text("sms_key")


def test_every_notice_has_a_renderer():
    assert set(RENDERERS) == set(Notice)


# -- the runbook of an open rotation ---------------------------------------------------


@pytest.mark.parametrize("kind", KEY_KINDS)
def test_scheduled_runbook_orders_create_submit_then_delete(kind):
    text = text_of(steps(ctx(kind)))
    assert text.index("Open Customer.io") < text.index(f"cio-rotate submit {NAME}")
    assert f'name it "{NEW_NAME}"' in text
    assert text.index("cio-rotate submit") < text.index(f'Do NOT delete the old key "{OLD_NAME}"')
    assert text.index("Do NOT delete") < text.index(
        f'Then delete it in the same dashboard page and keep "{NEW_NAME}"'
    )
    # Nobody has to run anything after the deletion: the rotator's own probes close it.
    assert "The rotator confirms by itself, within 15 minutes" in text


@pytest.mark.parametrize("kind", KEY_KINDS)
def test_api_keys_are_found_where_customerio_documents_them(kind):
    text = text_of(steps(ctx(kind)))
    assert "Customer.io > Account Settings > API Credentials" in text
    assert "Settings > Workspace Settings > API and Webhook Credentials" in text


def test_track_runbook_names_the_tab_and_the_checks():
    text = text_of(steps(ctx()))
    assert "tab Tracking API Keys" in text
    assert "same workspace and region" in text


@pytest.mark.parametrize("kind", ["app", "private"])
def test_keys_shown_once_say_so(kind):
    text = text_of(steps(ctx(kind)))
    assert "shown once" in text


def test_app_keys_are_on_their_tab():
    assert "tab App API Keys" in text_of(steps(ctx(Kind.APP)))


def test_private_keys_are_sk_keys_made_where_api_keys_are():
    text = text_of(steps(ctx("private")))
    assert "private API key (it starts with sk_)" in text
    assert "Account Settings > API Credentials" in text
    assert "paste the new private key (it starts with sk_)" in text


def test_webhook_runbook_follows_the_documented_path_and_names_nothing():
    lines = steps(ctx(Kind.WEBHOOK_SIGNING, webhook_endpoint="https://hooks.example.com/cio"))
    text = text_of(lines)
    assert lines[0] == (
        "Open Customer.io > Data & Integrations > Integrations > Reporting Webhooks, then the "
        "webhook that posts to https://hooks.example.com/cio."
    )
    assert "signing key" in lines[1] and "name it" not in text
    assert "Do NOT delete" not in text and "nothing to delete in the dashboard" in text


def test_webhook_without_configured_endpoint_points_at_the_receiver():
    text = text_of(steps(ctx(Kind.WEBHOOK_SIGNING)))
    assert "then the webhook that posts to your receiver" in text


def test_revoke_first_deletes_the_named_key_before_creating():
    lines = steps(ctx(mode=Mode.EMERGENCY, revoke_first=True))
    assert lines[0].startswith("Contain the leak first") and "DELETE" in lines[0]
    assert (
        f'DELETE the old key "{OLD_NAME}" (created no later than 2026-02-03 (day not recorded)'
        in lines[0]
    )
    assert 'ends in "ab12"' in lines[0]
    assert not any("Do NOT delete" in line for line in lines)


def test_revoke_first_runbook_and_submit_agree_on_who_closes_and_when():
    closing = "the rotator confirms by itself, within 15 minutes, that Customer.io refuses"
    runbook = text_of(steps(ctx(mode=Mode.EMERGENCY, revoke_first=True)))
    after = text_of(after_promotion(promoted(mode=Mode.EMERGENCY, revoke_first=True)))
    for text in (runbook, after):
        assert closing in text
        assert f"closes the rotation (`cio-rotate check {NAME}` confirms it at once)" in text


def test_emergency_grace_is_minutes():
    text = text_of(steps(ctx(mode=Mode.EMERGENCY)))
    assert "15 minutes after the promotion" in text


def test_durations_and_articles_are_english():
    # The drain (default): told once no application used the old key, at the latest...
    text = text_of(steps(ctx()))
    assert "as soon as no application has used it for 15 minutes" in text
    assert "at the latest 1 day after the promotion" in text
    two_days = Policy(grace_hours=48)
    assert "at the latest 2 days after the promotion" in text_of(
        steps(replace(ctx(), policy=two_days))
    )
    # A stack on the timer alone is told the timer.
    one_hour = Policy(grace_hours=1, drain_quiet_minutes=0)
    assert "You will be told to delete it 1 hour after the promotion." in text_of(
        steps(replace(ctx(), policy=one_hour))
    )
    body = render("rejected.89ab12cd.1/r1/1", ctx(Kind.APP, rejection="malformed")).body
    assert "is not an app credential" in body


def test_bootstrap_has_nothing_to_delete():
    text = text_of(steps(ctx(mode=Mode.BOOTSTRAP)))
    assert "no old key to delete" in text and "Do NOT delete" not in text
    assert f'name it "{NEW_NAME}"' in text


def test_a_key_without_recorded_name_is_told_apart_by_day_and_last_four():
    text = text_of(steps(ctx(current_name="")))
    assert (
        'Do NOT delete the old key (created no later than 2026-02-03 (day not recorded), ends in "ab12"'
        in text
    )
    assert "pick it by its creation day and the last 4 characters" in text


def test_an_app_key_without_name_is_told_apart_without_characters_it_never_shows():
    text = text_of(steps(ctx(Kind.APP, current_name="")))
    assert "ab12" not in text  # App keys are shown once: the dashboard has no last 4 to match
    assert "never shows an App API key again" in text and "creation day" in text


# -- notices ---------------------------------------------------------------------------

NOTICES = [
    "opened",
    "upgraded",
    "upgraded.revoke",
    "reminder.2",
    "escalated",
    "overdue",
    "rejected.89ab12cd.1",
    "inconclusive.forbidden",
    "promoted",
    "revoke_now",
    "revoke_reminder.1",
    "revoke_escalated",
    "closed",
    "external_change",
    "emergency_queued",
    "rolled_back",
    "wrong_key_deleted",
    "both_keys_refused",
    "current_refused",
    "liveness_unknown",
    "retire_opened",
    "retire_reminder.1",
    "retired",
]


def test_the_list_covers_every_notice():
    assert {n.partition(".")[0] if n != "upgraded.revoke" else n for n in NOTICES} == {
        n.value for n in Notice
    }


@pytest.mark.parametrize("notice", NOTICES)
def test_every_notice_renders_with_a_stable_id(notice):
    n = render(
        f"{notice}/r2605040900-abcd",
        ctx(rejection="wrong_workspace", rejection_detail="2002 instead of 1001"),
    )
    assert n.id == f"r2605040900-abcd/{notice}"
    assert n.notice == notice
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


def test_delete_notice_names_the_old_key_and_the_one_to_keep():
    body = render("revoke_now/r1/3", promoted(now=NOW + timedelta(days=3))).body
    assert (
        f'Delete the old key "{OLD_NAME}" (created no later than 2026-02-03 (day not recorded), ends in "ab12"'
        in body
    )
    assert (
        f'Keep the new key "{NEW_NAME}" (created between 2026-05-04 and 2026-05-06, ends in "cd34"'
        in body
    )
    assert "fingerprint 1234abcd" in body  # a cross-reference to status, not the identification


def test_promoted_notice_names_both_keys():
    body = render("promoted/r1/2", promoted()).body
    assert f'The new key "{NEW_NAME}"' in body
    assert f'Do NOT delete the old key "{OLD_NAME}"' in body


def test_closed_notice_names_the_dead_key_and_the_live_one():
    body = render("closed/r1/4", promoted(phase=Phase.IDLE, previous_revoked=True)).body
    assert f'refuses the old key "{OLD_NAME}"' in body and f'In use: the key "{NEW_NAME}"' in body


def test_emergency_queued_names_the_key_to_delete_now():
    body = render("emergency_queued/r1/5", promoted(follow_up_emergency=True)).body
    assert f'The old key "{OLD_NAME}"' in body and "delete it now" in body
    assert f'Keep the new key "{NEW_NAME}"' in body


def after_wrong_deletion(**kw):
    """What the engine writes after rolling back: old key current again, deleted key previous."""
    fields = dict(
        previous_name=NEW_NAME,
        previous_since=NOW + timedelta(days=2),
        previous_last4="cd34",
        previous_fp="5678ffff",
    )
    fields.update(kw)
    return ctx(**fields)


def test_wrong_key_deleted_says_what_happened_and_what_to_do_now():
    n = render("wrong_key_deleted/r1/6", after_wrong_deletion())
    assert n.urgency == "urgent"
    assert f'Customer.io refuses the new key "{NEW_NAME}"' in n.body
    assert "deleted in the dashboard instead of the old one" in n.body
    assert f'made the old key "{OLD_NAME}"' in n.body and "current again" in n.body
    assert "Applications read a working key again" in n.body
    assert "On-call has been paged" in n.body
    assert f'Do NOT delete the old key "{OLD_NAME}": it is the only key that works' in n.body
    assert "The rotation is open again" in n.body
    assert f'name it "{NEW_NAME}"' in n.body and f"cio-rotate submit {NAME}" in n.body


def test_both_keys_refused_is_an_emergency_with_a_create_now_runbook():
    st = promoted(mode=Mode.EMERGENCY, live_outcome="rejected")
    n = render("both_keys_refused/r1/6", st)
    assert n.urgency == "urgent" and "EMERGENCY" in n.subject
    assert f'the current key "{NEW_NAME}"' in n.body and f'the old key "{OLD_NAME}"' in n.body
    assert "failing now" in n.body and "no working key to roll back to" in n.body
    assert "Create a new key now" in n.body and f"cio-rotate submit {NAME}" in n.body
    assert "Do NOT delete" not in n.body and "Contain the leak" not in n.body


def test_current_refused_without_rollback_gives_the_emergency_runbook():
    n = render("current_refused/r1/7", ctx(mode=Mode.EMERGENCY, live_outcome="rejected"))
    assert n.urgency == "urgent"
    assert f'Customer.io refuses the live key "{OLD_NAME}"' in n.body
    assert "no earlier key to roll back to" in n.body and "Create a new key now" in n.body
    # `cio-rotate runbook` shows the same steps while the live key is refused
    assert "already refuses" in text_of(steps(ctx(mode=Mode.EMERGENCY, live_outcome="rejected")))


def test_current_refused_with_rollback_says_so():
    n = render("current_refused/r1/7", after_wrong_deletion())
    assert "previous key restored" in n.subject
    assert f'Customer.io refuses the live key "{NEW_NAME}"' in n.body
    assert f'made the previous key "{OLD_NAME}"' in n.body and "current again" in n.body
    assert "Create a new key now" not in n.body


@pytest.mark.parametrize(
    ("outcome", "cause", "urgency"),
    [
        ("forbidden", "IP allowlist", "action"),
        ("unavailable:503", "Customer.io is unavailable (503)", "info"),
    ],
)
def test_liveness_unknown_names_the_cause_and_says_nothing_changed(outcome, cause, urgency):
    st = ctx(
        phase=Phase.IDLE,
        live_outcome=outcome,
        live_unknown_since=NOW - timedelta(hours=30),
        live_checked_at=NOW - timedelta(hours=31),
    )
    n = render("liveness_unknown/r1/8", st)
    assert n.urgency == urgency
    assert cause in n.body and "30 hours" in n.body and "Nothing changed" in n.body
    assert f'the live key "{OLD_NAME}"' in n.body


@pytest.mark.parametrize("notice", ["retire_opened", "retire_reminder.2"])
def test_retirement_moves_consumers_then_deletes_then_lets_pulumi_go(notice):
    n = render(f"{notice}/r1/9", ctx(phase=Phase.RETIRING, reason="moved to private keys"))
    body = n.body
    switch = body.index("Switch every application that reads")
    delete = body.index(f'delete the key "{OLD_NAME}"')
    check = body.index(f"cio-rotate check {NAME}")
    pulumi = body.index("`pulumi up`")
    assert switch < delete < check < pulumi
    assert "marks marketing-track retired" in body and "marked retired" in body
    assert "Reason: moved to private keys" in body


def test_retired_tells_the_last_step():
    n = render("retired/r1/10", ctx(phase=Phase.RETIRED, retired_at=NOW))
    assert n.urgency == "info"
    assert "is retired since 2026-05-04" in n.body
    assert "`retired` in the stack config and run `pulumi up`" in n.body


# -- what no text may say ----------------------------------------------------------------

SECRET = "trk_live_8f3a9c0e6d1b2a4f7e5c3b1aZQ9X"


def every_text(kind: str, secret: str = SECRET) -> list[str]:
    """Every notice, for an open, a promoted, a legacy (unnamed) and a retiring rotation."""
    last4, fp = secret[-4:], fingerprint(secret)
    states = [
        ctx(kind, current_last4=last4, current_fp=fp),
        ctx(kind, current_name="", current_last4=last4, current_fp=fp),
        ctx(kind, mode=Mode.EMERGENCY, revoke_first=True, current_last4=last4, current_fp=fp),
        promoted(kind, previous_last4=last4, previous_fp=fp),
        promoted(kind, previous_name="", previous_last4=last4, previous_fp=fp),
        ctx(kind, phase=Phase.RETIRING, current_last4=last4, current_fp=fp),
        ctx(kind, mode=Mode.BOOTSTRAP, current_name="", current_fp=""),
    ]
    out = []
    for st in states:
        out.append(text_of(steps(st)))
        for notice in NOTICES:
            n = render(f"{notice}/r1/1", st)
            out.append(f"{n.subject}\n{n.body}")
    return out


@pytest.mark.parametrize("kind", KIND_VALUES)
def test_no_text_describes_a_key_by_what_it_is_not(kind):
    for text in every_text(kind):
        assert "not named" not in text.lower()


@pytest.mark.parametrize("kind", KIND_VALUES)
def test_no_text_contains_a_key_or_a_hedged_plural(kind):
    for text in every_text(kind):
        assert SECRET not in text and SECRET[:-4] not in text
        assert "(s)" not in text


@pytest.mark.parametrize("kind", KIND_VALUES)
def test_last_four_appear_only_where_the_dashboard_shows_the_key(kind):
    shown = any(SECRET[-4:] in text for text in every_text(kind))
    assert shown is kind_text(kind).shows_key


def test_suggested_name_is_the_opening_day():
    assert suggested_key_name(NAME, NOW) == NEW_NAME
    assert suggested_key_name(NAME, NOW + timedelta(hours=14, minutes=59)) == NEW_NAME


def test_a_missing_recorded_name_falls_back_to_the_opening_day_not_today():
    late = ctx(key_name="", now=NOW + timedelta(days=9))
    assert re.findall(r'name it "([^"]+)"', text_of(steps(late))) == [NEW_NAME]


def test_after_the_probe_window_the_self_check_promises_the_daily_pass_only():
    """The old key is probed every 15 minutes for a day after the grace end, then daily
    (policy.next_due): a reminder sent later must not promise 15 minutes."""
    from rotation.runbook import steps

    grace = NOW + timedelta(days=3)
    soon = text_of(steps(promoted(now=grace)))
    assert "within 15 minutes (until 2026-05-08 09:00 UTC; after that at its daily pass)" in soon
    late = text_of(steps(promoted(now=grace + timedelta(days=3))))
    assert "within 15 minutes" not in late
    assert "The rotator confirms by itself, at its daily pass, that Customer.io refuses it" in late


@pytest.mark.parametrize("notice", NOTICES)
def test_every_notice_ends_with_the_operator_guide(notice):
    """A person who never used cio-rotate learns where the guide is, from any notice."""
    from rotation.runbook import OPERATOR_GUIDE

    n = render(f"{notice}/r2605040900-abcd", ctx(rejection="revoked"))
    assert n.body.split("\n")[-1] == OPERATOR_GUIDE
    assert n.body.count(OPERATOR_GUIDE) == 1
