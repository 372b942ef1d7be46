"""What `status` and `drain` show of the drain, from the rotator's record and from a reading."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from rotation.credentials import Kind, Region
from rotation.drain import KeyReport, SecretRead, Straggler
from rotation.operator import drain_view
from rotation.operator import operations as ops
from rotation.operator.backend import EXIT_OK, EXIT_UNKNOWN, EXIT_WAITING
from rotation.operator.drain_view import DrainView, Holder, Reading
from rotation.operator.operations import Outcome
from rotation.policy import Policy
from rotation.state import Phase, RotationState
from rotation.stores.base import CredentialConfig, Snapshot

PROMOTED = datetime(2026, 3, 23, 9, 0, tzinfo=UTC)
NOW = PROMOTED + timedelta(minutes=20)
OLD, NEW = "0ld0ld00", "9e99e999"
# As the rotator stores them (rotation/drain.py Straggler.entry): tag-safe, no spaces.
CRON = Straggler(
    "cron on batch-7", datetime(2026, 3, 23, 9, 18, tzinfo=UTC), "", "cron", "batch-7"
).entry()
LEGACY = Straggler(
    "arn:aws:iam::123456789012:role/legacy", datetime(2026, 3, 23, 8, 40, tzinfo=UTC), ""
).entry()


def promoted(**changes: Any) -> RotationState:
    base = RotationState(
        phase=Phase.PROMOTED,
        current_fp=NEW,
        previous_fp=OLD,
        promoted_at=PROMOTED,
        previous_since=PROMOTED - timedelta(days=90),
    )
    return replace(base, **changes)


def test_the_rotators_holders_are_shown_with_their_evidence_in_words():
    view = drain_view.recorded(SimpleNamespace(drain_checked_at=NOW, drain_holders=(CRON, LEGACY)))
    assert view is not None
    assert view.holders == (
        Holder("cron/batch-7", "reports the old key", datetime(2026, 3, 23, 9, 18, tzinfo=UTC)),
        Holder(
            "arn:aws:iam::123456789012:role/legacy",
            "read the secret before the promotion, not since",
            datetime(2026, 3, 23, 8, 40, tzinfo=UTC),
        ),
    )


def test_what_the_rotator_could_not_confirm_is_never_shown_as_drained():
    state = SimpleNamespace(
        drain_checked_at=NOW, drain_unconfirmed="CloudTrail could not be read", drained_at=None
    )
    view = drain_view.recorded(state)
    assert view is not None and view.drained is None
    [(_label, text)] = drain_view.status_cells(view, "billing")
    assert text.startswith("not confirmed: CloudTrail could not be read")


def test_holders_beyond_those_kept_are_counted():
    view = drain_view.recorded(
        SimpleNamespace(drain_checked_at=NOW, drain_holders=(CRON,), drain_more=3)
    )
    assert view is not None
    cells = drain_view.status_cells(view, "billing")
    assert cells[0][1].startswith("yes: 4 holders") and cells[-1] == ("", "- and 3 more")


def test_nothing_recorded_is_none():
    assert drain_view.recorded(RotationState()) is None
    assert drain_view.recorded({}) is None
    assert drain_view.recorded(SimpleNamespace(drain_holders=(CRON,))) is None  # never checked


def test_the_stored_form_is_read_as_strings():
    stored = {
        "drain-checked-at": "2026-03-23T09:20:00Z",
        "drain-on-new": "3",
        "drain-holders": f"{CRON} {LEGACY}",
        "drained-at": "",
    }
    view = drain_view.recorded(stored)
    assert view is not None
    assert view.checked_at == NOW and view.on_new == 3 and view.drained is False
    assert [h.who for h in view.holders] == [
        "cron/batch-7",
        "arn:aws:iam::123456789012:role/legacy",
    ]


def test_a_state_object_with_the_fields():
    state = SimpleNamespace(
        drain_checked_at=NOW, drain_on_new=2, drain_holders=(CRON,), drained_at=None
    )
    view = drain_view.recorded(state)
    assert view == DrainView(
        checked_at=NOW,
        holders=(
            Holder("cron/batch-7", "reports the old key", datetime(2026, 3, 23, 9, 18, tzinfo=UTC)),
        ),
        on_new=2,
    )
    drained = SimpleNamespace(
        drain_checked_at=NOW, drain_on_new=2, drain_holders=(), drained_at=NOW
    )
    view = drain_view.recorded(drained)
    assert view is not None and view.drained is True and view.drained_at == NOW


def test_the_rotation_state_itself_when_it_has_the_fields():
    assert drain_view.recorded(promoted()) is None  # nothing checked yet
    state = promoted(drain_checked_at=NOW, drain_on_new=1, drain_holders=(CRON,), drained_at=None)
    view = drain_view.recorded(state)
    assert view is not None and [h.who for h in view.holders] == ["cron/batch-7"]
    # and through the stored form, as the store hands it back
    again = drain_view.recorded(RotationState.from_fields(state.to_fields()))
    assert again == view


def test_status_lines():
    name = "billing"
    assert drain_view.status_cells(None, name) == [
        ("old key in use", "not measured yet (`cio-rotate drain billing` reads it now)")
    ]
    view = drain_view.recorded(
        SimpleNamespace(drain_checked_at=NOW, drain_on_new=2, drain_holders=(CRON, LEGACY))
    )
    assert drain_view.status_cells(view, name) == [
        ("old key in use", "yes: 2 holders (2 on the new key; checked 2026-03-23 09:20 UTC)"),
        ("", "- cron/batch-7: reports the old key; last seen 2026-03-23 09:18 UTC"),
        (
            "",
            "- arn:aws:iam::123456789012:role/legacy: read the secret before the promotion, "
            "not since; last seen 2026-03-23 08:40 UTC",
        ),
    ]
    done = DrainView(checked_at=NOW, on_new=3, drained_at=NOW - timedelta(minutes=5))
    assert drain_view.status_cells(done, name) == [
        (
            "old key in use",
            "no: drained 2026-03-23 09:15 UTC (3 on the new key; checked 2026-03-23 09:20 UTC)",
        )
    ]


def test_json_of_a_view():
    view = drain_view.recorded(
        SimpleNamespace(drain_checked_at=NOW, drain_on_new=1, drain_holders=(CRON,))
    )
    assert view is not None
    assert view.to_json() == {
        "checked_at": "2026-03-23T09:20:00Z",
        "drained": False,
        "drained_at": None,
        "holders": [
            {
                "who": "cron/batch-7",
                "evidence": "reports the old key",
                "last_seen": "2026-03-23T09:18:00Z",
            }
        ],
        "more_holders": 0,
        "on_new": 1,
        "quiet_since": None,
        "audit_read": None,
        "problems": [],
    }


def test_only_a_promotion_is_in_flight():
    assert drain_view.in_flight(promoted())
    assert not drain_view.in_flight(RotationState(phase=Phase.IDLE, current_fp=NEW))
    assert not drain_view.in_flight(promoted(phase=Phase.AWAITING_KEY))
    assert not drain_view.in_flight(promoted(previous_fp=""))


def test_reads_are_looked_for_a_week_back_but_not_before_the_old_key():
    assert drain_view.reads_since(promoted()) == PROMOTED - drain_view.READS_LOOKBACK
    young = promoted(previous_since=PROMOTED - timedelta(days=2))
    assert drain_view.reads_since(young) == PROMOTED - timedelta(days=2)


def test_the_quiet_period_is_the_policys_when_it_has_one():
    assert drain_view.quiet_period(SimpleNamespace()) == timedelta(minutes=15)
    minutes = getattr(Policy(), "drain_quiet_minutes", 15)
    assert drain_view.quiet_period(Policy()) == timedelta(minutes=minutes)
    assert drain_view.quiet_period(SimpleNamespace(drain_quiet_minutes=40)) == timedelta(minutes=40)


def reading(**changes: object) -> Reading:
    base = Reading(
        reports=(
            KeyReport("api", "web-1:17", NEW, NOW - timedelta(minutes=1)),
            KeyReport("cron", "batch-7:4242", OLD, NOW - timedelta(minutes=2)),
        ),
        reads=(
            SecretRead("arn:aws:iam::1:role/rotator", PROMOTED - timedelta(hours=1)),
            SecretRead("arn:aws:iam::1:role/app", PROMOTED + timedelta(minutes=3)),
        ),
        ignore=("arn:aws:iam::1:role/rotator",),
    )
    return Reading(**{**base.__dict__, **changes})


def test_measure_and_its_exit_codes():
    quiet = timedelta(minutes=15)
    view = drain_view.measure(reading(), promoted(), NOW, quiet)
    assert [h.who for h in view.holders] == ["cron/batch-7:4242"]
    assert view.on_new == 1 and view.quiet_since == NOW - timedelta(minutes=2)
    assert view.drained is False and drain_view.exit_code(view) == EXIT_WAITING

    gone = drain_view.measure(reading(), promoted(), NOW + timedelta(minutes=14), quiet)
    assert gone.drained is True and gone.drained_at == NOW + timedelta(minutes=14)
    assert drain_view.exit_code(gone) == EXIT_OK

    # Nothing holds it as far as was read, but the audit trail was not: unknown, not drained.
    blind = drain_view.measure(
        reading(reads=(), audit_problem="who read the secret: denied"),
        promoted(),
        NOW + timedelta(minutes=14),
        quiet,
    )
    assert blind.drained is None and blind.drained_at is None and blind.audit_read is False
    assert drain_view.exit_code(blind) == EXIT_UNKNOWN
    # A holder stays known whatever else could not be read.
    partial = drain_view.measure(reading(reports_problem="reports: denied"), promoted(), NOW, quiet)
    assert drain_view.exit_code(partial) == EXIT_WAITING


def _outcome(state: RotationState, view: DrainView) -> Outcome:
    config = CredentialConfig("arn:x", "billing", Kind.TRACK, Region.US)
    return ops.drain_outcome(Snapshot(config, state, "r1", "v2", "v1"), view)


def test_the_drain_outcome_says_what_to_do_and_never_to_delete_early():
    view = drain_view.measure(reading(), promoted(), NOW, timedelta(minutes=15))
    outcome = _outcome(promoted(previous_name="billing-2026-01-05-alfa"), view)
    assert outcome.code == EXIT_WAITING
    assert outcome.headline == "billing: the old key is still in use: 1 holder."
    assert outcome.lines[0] == (
        'Old key "billing-2026-01-05-alfa" (fingerprint 0ld0ld00), replaced 2026-03-23 09:00 '
        "UTC by fingerprint 9e99e999."
    )
    assert outcome.lines[-1].startswith("Do not delete the old key yet")
    # Revoke-first: the old key is already gone, so the holders fail now.
    revoked = _outcome(promoted(revoke_first=True), view)
    assert revoked.lines[-1].startswith("The old key is already revoked, so these fail now.")
    assert not any("Do not delete" in line for line in revoked.lines)
