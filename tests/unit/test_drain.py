"""The drain as a pure function: who may still hold the old key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rotation.drain import KeyReport, SecretRead, drain, latest_reads

PROMOTED = datetime(2026, 3, 23, 9, 0, tzinfo=UTC)
QUIET = timedelta(minutes=15)
OLD, NEW = "0ld0ld00", "9e99e999"


def _drain(reports, reads=(), now=PROMOTED + timedelta(minutes=20), **kw):
    return drain(
        reports,
        reads,
        old_fingerprint=OLD,
        new_fingerprint=NEW,
        promoted_at=PROMOTED,
        now=now,
        quiet=QUIET,
        **kw,
    )


def at(minutes: float) -> datetime:
    return PROMOTED + timedelta(minutes=minutes)


def test_nobody_reported_and_nobody_read_is_drained():
    result = _drain([])
    assert result.drained and result.quiet_since is None and result.reporters_on_new == 0


def test_a_process_still_reporting_the_old_key_is_a_straggler_until_quiet():
    reports = [
        KeyReport("api", "a:1", NEW, at(2)),
        KeyReport("api", "b:1", NEW, at(3)),
        KeyReport("cron", "c:7", OLD, at(19)),
    ]
    result = _drain(reports)
    assert not result.drained
    assert [s.who for s in result.stragglers] == ["cron on c:7"]
    assert result.reporters_on_new == 2
    assert "reports the old key" in result.stragglers[0].describe()
    # The straggler restarts on the new key: drained at once, whatever the old reports say.
    moved = [*reports, KeyReport("cron", "c:7", NEW, at(21))]
    assert _drain(moved, now=at(21)).drained
    # Or it stops (dies) and stays quiet for the quiet period.
    assert _drain(reports, now=at(19 + 15)).drained
    assert not _drain(reports, now=at(19 + 14.9)).drained


def test_old_reports_before_a_switch_do_not_count():
    reports = [KeyReport("api", "a:1", OLD, at(-1)), KeyReport("api", "a:1", NEW, at(1))]
    assert _drain(reports, now=at(2)).drained


def test_a_principal_that_read_before_the_promotion_and_not_since_may_hold_the_old_key():
    reads = [
        SecretRead("arn:aws:iam::1:role/app-backend", at(5)),
        SecretRead("arn:aws:iam::1:role/legacy-batch", at(-30)),
        SecretRead("arn:aws:iam::1:role/rotator", at(-1)),
    ]
    result = _drain([], reads, ignore_principals=["arn:aws:iam::1:role/rotator"])
    assert [s.who for s in result.stragglers] == ["arn:aws:iam::1:role/legacy-batch"]
    assert "before the promotion" in result.stragglers[0].evidence


def test_latest_reads_keeps_each_principals_last_read():
    events = [("a", at(1)), ("b", at(-3)), ("a", at(-9)), ("", at(0))]
    assert latest_reads(events) == [SecretRead("a", at(1)), SecretRead("b", at(-3))]
