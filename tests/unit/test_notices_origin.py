"""Issue 20 in pure functions: every notice says where it comes from and prints runnable
commands, texts survive each channel's escaping, and suggested key names never repeat."""

from __future__ import annotations

import random
import re
import shlex
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from localcloud.customerio import FakeCustomerIO
from localcloud.memory_store import MemoryStore
from localcloud.monitoring import CloudLogging, LocalMonitoring, rendered_text
from rotation.clock import SimulatedClock
from rotation.credentials import Kind, Region
from rotation.engine import Engine
from rotation.notices import Notice
from rotation.notify import chat_escape
from rotation.notify_gcp import (
    TEXT_LIMIT,
    StructuredLogNotifier,
    log_entry,
    mail_text,
    markdown,
    notice_policy,
)
from rotation.origin import Origin, aws_origin, gcp_origin
from rotation.runbook import Context, render
from rotation.state import Mode, reason_problem
from rotation.verify import Verifier, build_session
from tests.unit.test_engine_memory import Outbox, hand_over
from tests.unit.test_runbook import KIND_VALUES, NAME, NOTICES, ctx, promoted

AWS = aws_origin(
    {
        "CIO_STACK": "prod",
        "AWS_REGION": "eu-west-1",
        "CIO_SNS_TOPIC_ARN": "arn:aws:sns:eu-west-1:210987654321:cio-rotation-operators",
    }
)
GCP = gcp_origin({"CIO_STACK": "prod", "GOOGLE_CLOUD_PROJECT": "acme-prod"})
PLACE = {"aws": ("AWS", "210987654321", "eu-west-1"), "gcp": ("GCP", "acme-prod")}
FIRST = {"aws": ("account 210987654321",), "gcp": ("project acme-prod",)}
COMMAND = re.compile(r"`(cio-rotate [^`]+)`")
VERBS = {"submit", "check", "runbook", "emergency"}


def contexts(kind: str, origin: Origin) -> list[Context]:
    """Every mode and phase a notice is rendered in (as tests/unit/test_runbook.py's)."""
    states = [
        ctx(kind),
        ctx(kind, mode=Mode.EMERGENCY),
        ctx(kind, mode=Mode.EMERGENCY, revoke_first=True),
        ctx(kind, live_outcome="rejected"),
        ctx(kind, mode=Mode.BOOTSTRAP, current_name="", current_fp=""),
        promoted(kind),
        promoted(kind, mode=Mode.EMERGENCY, revoke_first=True),
        promoted(kind, previous_name=""),
    ]
    return [replace(c, origin=origin) for c in states]


def test_the_origin_is_read_from_each_functions_environment() -> None:
    assert Origin("aws", "prod", account="210987654321", region="eu-west-1") == AWS
    assert Origin("gcp", "prod", project="acme-prod") == GCP
    assert AWS.flags() == "--cloud aws --stack prod"


@pytest.mark.parametrize("kind", KIND_VALUES)
@pytest.mark.parametrize("origin", [AWS, GCP], ids=["aws", "gcp"])
def test_every_notice_says_where_it_comes_from_and_prints_runnable_commands(
    kind: str, origin: Origin
) -> None:
    for context in contexts(kind, origin):
        for notice in NOTICES:
            n = render(f"{notice}/r1/1", context)
            first = n.body.split("\n", 1)[0]
            for word in (NAME, *PLACE[origin.cloud], "stack prod"):
                assert word in n.subject, (notice, word, n.subject)
                assert word in first, (notice, word, first)
            assert all(word in first for word in FIRST[origin.cloud])
            assert len(n.subject) <= 100
            for command in COMMAND.findall(n.body):
                argv = shlex.split(command)  # pastes into a shell as one command
                assert argv[1] in VERBS and argv[2] == NAME, command
                assert argv[-4:] == ["--cloud", origin.cloud, "--stack", "prod"], command


@pytest.mark.parametrize("kind", KIND_VALUES)
def test_every_notice_fits_one_monitoring_mail_whole(kind: str) -> None:
    for context in contexts(kind, GCP):
        for notice in NOTICES:
            n = render(f"{notice}/r1/1", context)
            entry = log_entry(n)
            parts = "".join(entry["cio_notification"][f"part_{i}"] for i in range(8))
            assert parts == mail_text(n) == markdown(n.body)  # nothing cut
            assert len(parts) <= TEXT_LIMIT
            assert entry["cio_notification"]["text"] == n.body  # the log holds it whole too


def test_revoke_first_texts_say_the_old_key_is_gone() -> None:
    for code in ("rejected.1234abcd.1/r1/1", "opened/r1/1"):
        body = render(code, ctx("app", mode=Mode.EMERGENCY, revoke_first=True)).body
        assert "stays in use" not in body and "still works" not in body
        assert "applications keep failing until a new key passes" in body


def test_dates_say_exactly_what_is_known() -> None:
    body = render("revoke_now/r1/3", promoted("track", current_opened_at=None)).body
    assert "created no later than 2026-05-06 (day not recorded)" in body
    assert "created on or before" not in body
    same_day = promoted("track", current_opened_at=datetime(2026, 5, 6, 8, tzinfo=UTC))
    assert "created on 2026-05-06" in render("revoke_now/r1/3", same_day).body


def test_the_deadline_line_says_what_happens_at_the_deadline() -> None:
    body = render("opened/r1/1", ctx("track")).body
    line = next(x for x in body.split("\n") if x.startswith("Deadline:"))
    assert "OVERDUE" in line and "current key keeps working" in line


def test_app_keys_are_identified_by_name_and_creation_day() -> None:
    body = render("revoke_now/r1/3", promoted("app")).body
    assert "never shows an App API key again" in body and "creation day" in body


# A reason with what each channel would read as markup, and a newline.
REASON = "leaked in Slack #eng, see INC-42 (don't panic) \u2014 [bold]x[/bold] :smile: <b>&\nnext"
LINES = hs.text(
    alphabet=hs.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"))
    | hs.sampled_from("\t =-*#>`_[]()!<&.1) "),  # what Markdown reads at a line's start
    max_size=60,
).map(str.strip)


@settings(max_examples=200, deadline=None)
@given(hs.lists(LINES.filter(bool), min_size=1, max_size=5))
def test_markdown_renders_back_to_the_text_as_written(lines: list[str]) -> None:
    text = "\n".join(lines)
    assert rendered_text(markdown(text)) == text


def test_a_reason_survives_the_email_and_chat_channels() -> None:
    assert rendered_text(markdown(f"Reason: {REASON}")) == f"Reason: {REASON}"
    assert chat_escape("<!channel> & <b>") == "&lt;!channel&gt; &amp; &lt;b&gt;"


def test_suggested_names_over_three_years_are_unique_and_never_the_old_keys() -> None:
    """One stack's credentials, scheduled rotations and emergencies (some the same day)."""
    rng = random.Random(20)
    clock = SimulatedClock(datetime(2026, 1, 5, 9, tzinfo=UTC))
    cio = FakeCustomerIO().start()
    try:
        store = MemoryStore(now=clock.now())
        verifier = Verifier(session=build_session(backoff_factor=0.01), env=cio.env())
        engine = Engine(store, verifier, Outbox(), clock, origin=GCP)
        ids = {n: store.add(n, Kind.TRACK, Region.US, workspace="1001") for n in ("a", "b-c")}
        names: list[str] = []
        keys = {}
        for name, cid in ids.items():
            keys[name] = cio.new_track_key("1001")
            hand_over(store, engine, cid, keys[name].to_json())
            names.append(store.snapshot(cid).state.current_name)
        end = clock.now() + timedelta(days=3 * 365)
        while clock.now() < end:
            clock.advance(timedelta(days=1))
            for name, cid in ids.items():
                emergency = rng.random() < 0.03
                if emergency:
                    engine.open_rotation(cid, Mode.EMERGENCY, reason="drill", actor="oncall")
                else:
                    engine.reconcile(cid)
                st = store.snapshot(cid).state
                if st.phase.value != "awaiting_key":
                    continue
                assert st.key_name not in (st.current_name, st.previous_name)
                names.append(st.key_name)
                old, keys[name] = keys[name], cio.new_track_key("1001")
                hand_over(store, engine, cid, keys[name].to_json())
                cio.delete_key(old)
                engine.reconcile(cid)  # confirms the old key dead and closes
                if rng.random() < 0.3:  # another emergency the same day
                    engine.open_rotation(cid, Mode.EMERGENCY, reason="again", actor="oncall")
        rotations = len(names)
        assert rotations > 2 * 3 * 4  # at least the scheduled ones
        assert len(set(names)) == rotations, names
    finally:
        cio.stop()


def test_every_notice_kind_reaches_the_operators_mail_on_gcp() -> None:
    """23 of 23 kinds: the stack's policy (as declared) matches every notice entry."""
    clock = SimulatedClock(datetime(2026, 5, 4, 9, tzinfo=UTC))
    monitoring = LocalMonitoring(now=clock.now)
    monitoring.add_policy(notice_policy("cio-rotator", NAME, "GCP stack prod, project acme-prod"))
    logging = CloudLogging("cio-rotator", monitoring)
    notifier = StructuredLogNotifier(stream=logging)
    context = replace(ctx("track"), origin=GCP)
    for seq, notice in enumerate(NOTICES, 1):
        if seq == 12:
            clock.advance(timedelta(days=1))  # Monitoring mails at most 20 a day per policy
        notifier.send(render(f"{notice}/r1/{seq}", context))
    assert len(NOTICES) == len(Notice) == 23
    assert len(monitoring.sent) == len(NOTICES) and not monitoring.dropped
    # The limit, as modelled (docs/GCP.md): past 20 notices of one credential in a day none is
    # mailed; it stays in Cloud Logging (and chat, when configured).
    for seq in range(30, 40):
        notifier.send(render(f"rejected.89ab12cd.{seq}/r1/{seq}", context))
    assert [why for _, why in monitoring.dropped] == ["daily cap"] * 2  # 12 + 10 = 22 that day


def test_an_overdue_notice_says_the_deadline_has_passed() -> None:
    late = ctx("track", overdue=True)
    line = next(x for x in render("overdue/r1/1", late).body.split("\n") if "Deadline" in x)
    assert "passed: the rotation is OVERDUE" in line and "If no new key" not in line


def test_a_reason_is_refused_only_for_its_length_or_a_control_character() -> None:
    assert reason_problem("x" * 500) == "" and reason_problem("a\nb\tc — [bold] :smile:") == ""
    assert "at most 500" in reason_problem("x" * 501)
    assert "U+001B at position 4" in reason_problem("red\x1b[31m")
