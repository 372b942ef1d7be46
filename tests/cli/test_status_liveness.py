"""`status` shows when each current key was last confirmed working, from the audit trail.

An accepted daily check writes no state (only a `key.alive` audit line), so `status`
reads the trail once per cloud, for every credential, in a window of a few days; when
the trail has nothing or cannot be read it falls back to the state's record and says so.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from rotation.operator.operations import TRAIL_DAYS
from rotation.state import Phase

NAME = "marketing-track"
OTHER = "billing-app"


def rows(result: Any) -> dict[str, dict[str, Any]]:
    assert result.exit_code == 0, result.output
    return {r["name"]: r for r in json.loads(result.output)}


def filter_calls(cli: Any) -> list[dict[str, Any]]:
    """Every FilterLogEvents request the CLI's own client makes, as it built them."""
    seen: list[dict[str, Any]] = []
    cli.session.events.register(
        "before-parameter-build.logs.FilterLogEvents",
        lambda params, **_: seen.append(dict(params)),
    )
    return seen


def two_live_keys(cli: Any, aws: Any) -> None:
    aws.provision(NAME, "track", "us", workspace="1001")
    assert aws.submit(NAME, cli.track("1001"))["outcome"] == "submitted"
    aws.provision(OTHER, "app", "eu")
    assert aws.submit(OTHER, cli.app_key(("77",), "eu"))["outcome"] == "submitted"


def test_status_shows_the_last_daily_check_with_one_trail_read_for_all(cli, aws, clock):
    two_live_keys(cli, aws)
    promoted_at = clock.now()
    for _ in range(TRAIL_DAYS + 1):  # the promotion is older than the window
        clock.advance(timedelta(days=1))
        aws.sweep()
    st = aws.rt.store.snapshot(aws.secrets[NAME]).state
    assert st.live_checked_at == promoted_at  # an accepted check wrote nothing
    calls = filter_calls(cli)

    found = rows(cli.run("status", "--json"))

    assert len(calls) == 1  # one read of the trail for both credentials
    pattern = calls[0]["filterPattern"]
    assert pattern == '?"key.alive" ?"key.unverified"'
    assert calls[0]["startTime"] == int(
        (clock.now() - timedelta(days=TRAIL_DAYS)).timestamp() * 1000
    )
    for name in (NAME, OTHER):
        row = found[name]
        assert row["last_alive_at"] == clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
        assert row["last_check_at"] == row["last_alive_at"]
        assert row["last_check_outcome"] == "accepted" and row["live_trail"] == ""
        assert row["live_checked_at"] == promoted_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    text = cli.run("status").output
    assert f"confirmed working {clock.now():%Y-%m-%d %H:%M} UTC (last daily check)" in text
    assert "could not be read" not in text


def test_one_read_of_the_whole_window_and_each_row_keeps_its_own(cli, aws, clock):
    """The trail is read while the rows are (so rows stream): over the whole window, once."""
    two_live_keys(cli, aws)
    clock.advance(timedelta(hours=3))
    aws.sweep()
    calls = filter_calls(cli)
    found = rows(cli.run("status", "--json"))
    assert len(calls) == 1
    assert calls[0]["startTime"] == int(
        (clock.now() - timedelta(days=TRAIL_DAYS)).timestamp() * 1000
    )
    assert found[NAME]["last_alive_at"] == clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")


def test_nothing_in_the_window_falls_back_to_the_state_and_says_so(cli, aws, clock):
    two_live_keys(cli, aws)
    promoted_at = clock.now()
    clock.advance(timedelta(days=1))
    aws.sweep()
    clock.advance(timedelta(days=TRAIL_DAYS + 1))  # no sweep since: the check is out of window
    found = rows(cli.run("status", "--json"))
    since = clock.now() - timedelta(days=TRAIL_DAYS)
    assert found[NAME]["last_alive_at"] is None
    assert found[NAME]["live_trail"] == (
        f"no daily check in the audit trail since {since:%Y-%m-%d %H:%M} UTC"
    )
    text = " ".join(cli.run("status").output.split())
    assert (
        f"confirmed working {promoted_at:%Y-%m-%d %H:%M} UTC (last change of outcome recorded; "
        f"no daily check in the audit trail since {since:%Y-%m-%d %H:%M} UTC)"
    ) in text


def test_an_unreadable_trail_is_one_line_and_never_fails_status(cli, aws, clock):
    two_live_keys(cli, aws)
    clock.advance(timedelta(days=1))
    aws.sweep()
    cli.deny("logs.FilterLogEvents", "logs:FilterLogEvents")
    calls = filter_calls(cli)
    result = cli.run("status")
    assert result.exit_code == 0, result.output
    assert len(calls) == 1
    text = " ".join(result.output.split())
    assert text.count("The aws audit trail could not be read") == 1
    assert "logs:FilterLogEvents" in text
    assert "(last change of outcome recorded; audit trail not read: AWS denied" in text
    found = rows(cli.run("status", "--json"))
    assert found[NAME]["live_trail"].startswith("audit trail not read: AWS denied logs:Filter")
    assert found[NAME]["last_alive_at"] is None


def test_an_inconclusive_run_shows_the_last_check_and_the_last_time_it_worked(cli, aws, clock):
    two_live_keys(cli, aws)
    clock.advance(timedelta(days=1))
    aws.sweep()
    worked = clock.now()
    aws.cio.fail_next(503, times=200)
    clock.advance(timedelta(days=1))
    aws.sweep()
    clock.advance(timedelta(days=1))
    aws.sweep()
    found = rows(cli.run("status", "--json"))
    row = found[NAME]
    assert row["last_check_at"] == clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    assert row["last_check_outcome"].startswith("unavailable")
    assert row["last_alive_at"] == worked.strftime("%Y-%m-%dT%H:%M:%SZ")
    text = " ".join(cli.run("status").output.split())
    assert f"last check {clock.now():%Y-%m-%d %H:%M} UTC" in text
    assert f"last confirmed working {worked:%Y-%m-%d %H:%M} UTC" in text


def test_no_trail_read_when_no_row_needs_one(cli, aws, clock):
    aws.provision(NAME, "track", "us", workspace="1001")  # no key yet
    aws.provision("hooks", "webhook_signing")
    calls = filter_calls(cli)
    found = rows(cli.run("status", "--json"))
    assert calls == [] and "FilterLogEvents" not in cli.calls
    assert found[NAME]["live_trail"] == "" and found["hooks"]["live_trail"] == ""


def test_a_refused_key_is_read_from_the_state_not_the_trail(cli, aws, clock):
    aws.provision(NAME, "track", "us", workspace="1001")
    first = cli.track("1001")
    aws.submit(NAME, first)
    aws.cio.delete_key(first)
    clock.advance(timedelta(days=1))
    aws.sweep()
    assert aws.rt.store.snapshot(aws.secrets[NAME]).state.phase is Phase.AWAITING_KEY
    calls = filter_calls(cli)
    assert "REFUSED by Customer.io" in cli.run("status").output
    assert calls == []


# -- GCP: Cloud Logging entries:list, newest first ------------------------------------------


def test_status_on_gcp_reads_the_last_daily_check(gcli):
    gcp = gcli.gcp
    gcp.provision(NAME, "track", "us", workspace="111")
    gcp.submit(NAME, gcli.track("111"))
    gcp.clock.advance(timedelta(days=1))
    gcp.sweep()
    before = len(gcli.apis.queries)
    found = rows(gcli.run("status", "--json"))
    queries = gcli.apis.queries[before:]
    assert len(queries) == 1
    query = queries[0]
    assert query["orderBy"] == "timestamp desc"
    # The read starts before any row is known (rows stream): the whole window.
    since = gcp.clock.now() - timedelta(days=TRAIL_DAYS)
    assert f'timestamp>="{since:%Y-%m-%dT%H:%M:%SZ}"' in query["filter"]
    assert 'jsonPayload.event="key.alive"' in query["filter"]
    row = found[NAME]
    assert row["last_alive_at"] == gcp.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    assert row["last_check_outcome"] == "accepted"
    text = gcli.run("status").output
    assert f"confirmed working {gcp.clock.now():%Y-%m-%d %H:%M} UTC (last daily check)" in text


def test_status_on_gcp_without_logging_permission_falls_back(gcli):
    gcp = gcli.gcp
    gcp.provision(NAME, "track", "us", workspace="111")
    gcp.submit(NAME, gcli.track("111"))
    gcli.apis.deny.add("logs")
    result = gcli.run("status")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "The gcp audit trail could not be read" in text
    assert "logging.logEntries.list" in text
    assert "(last change of outcome recorded; audit trail not read" in text


def test_entry_time_prefers_the_rotators_own_time():
    from rotation.operator.backend import AuditEntry, entry_time

    logged = datetime(2026, 1, 2, tzinfo=UTC)
    entry = AuditEntry("2026-01-01T09:00:00Z", logged, "key.alive", "", "", "rotator", "accepted")
    assert entry_time(entry) == datetime(2026, 1, 1, 9, tzinfo=UTC)
    assert entry_time(AuditEntry("", logged, "key.alive", "", "", "", "")) == logged
