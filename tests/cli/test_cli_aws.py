"""Every `cio-rotate` command end to end against moto, the in-process rotator and a fake Customer.io."""

from __future__ import annotations

import json
from datetime import timedelta

from rotation.state import Mode, Phase, key_name_stem, suggested_key_name

NAME = "marketing-track"


def state(aws, name=NAME):
    return aws.rt.store.snapshot(aws.secrets[name]).state


def stdin_doc(key, region="us"):
    return json.dumps({"site_id": key.site_id, "api_key": key.secret, "region": region})


def bootstrapped(cli, aws, clock, workspace="1001", open_rotation=True):
    """A track credential with a first key; 76 days later its rotation is open."""
    aws.provision(NAME, "track", "us", workspace=workspace)
    first = cli.track(workspace)
    assert aws.submit(NAME, first)["outcome"] == "submitted"
    if open_rotation:
        clock.advance(timedelta(days=76))
        aws.sweep()
        assert state(aws).phase is Phase.AWAITING_KEY
    return first


def promoted(cli, aws, clock):
    first = bootstrapped(cli, aws, clock)
    second = cli.track("1001")
    result = cli.run("submit", NAME, "--stdin", input=stdin_doc(second))
    assert result.exit_code == 0, result.output
    assert state(aws).phase is Phase.PROMOTED
    return first, second


# -- help and configuration ------------------------------------------------------------


def test_help_documents_exit_codes(cli, aws):
    aws.provision(NAME, "track")
    result = cli.run("--help")
    assert result.exit_code == 0
    for code in ("0 done", "2 usage", "3 key", "4 waiting", "5 cloud", "6 not found"):
        assert code in " ".join(result.output.split())


def test_missing_outputs_file_is_a_usage_error_naming_the_fix(cli, aws):
    from typer.testing import CliRunner

    from rotation.cli import app

    result = CliRunner().invoke(app, ["--outputs", "/nonexistent.json", "status"], env={})
    assert result.exit_code == 2
    assert "pulumi stack output --json" in result.output


# -- status ----------------------------------------------------------------------------


def test_status_shows_every_credential_from_metadata_only(cli, aws, clock):
    bootstrapped(cli, aws, clock)
    aws.provision("billing-app", "app", "eu")
    result = cli.run("status")
    assert result.exit_code == 0, result.output
    assert NAME in result.output and "billing-app" in result.output
    assert "operator: submit a new key" in result.output

    rows = {r["name"]: r for r in json.loads(cli.run("status", "--json").output)}
    track, app_ = rows[NAME], rows["billing-app"]
    st = state(aws)
    assert track["cloud"] == "aws" and track["kind"] == "track" and track["region"] == "us"
    assert track["phase"] == "awaiting_key" and track["mode"] == "scheduled"
    assert track["current_fp"] == st.current_fp and track["key_age"] == "76d"
    assert track["rotation_id"] == st.rotation_id and track["deadline"]
    assert app_["key_age"] == "no key yet" and app_["region"] == "eu"
    # The cli fixture asserts no GetSecretValue was called.
    assert "DescribeSecret" in cli.calls


def test_status_after_promotion_says_old_key_not_revoked(cli, aws, clock):
    first, second = promoted(cli, aws, clock)
    rows = json.loads(cli.run("status", "--json").output)
    assert rows[0]["current_fp"] == second.fingerprint
    assert rows[0]["previous_fp"] == first.fingerprint and rows[0]["previous_revoked"] == "no"
    assert rows[0]["waiting_on"] == "consumers: grace period"


def test_status_shows_when_the_current_key_was_last_confirmed_working(cli, aws, clock):
    first = bootstrapped(cli, aws, clock, open_rotation=False)
    rows = json.loads(cli.run("status", "--json").output)
    assert rows[0]["live_outcome"] == "accepted" and rows[0]["live_checked_at"]
    assert rows[0]["live_unknown_since"] is None
    result = cli.run("status")
    assert "current key works:" in result.output and "confirmed working 2026-03-02" in result.output
    aws.cio.fail_next(503, times=200)
    clock.advance(timedelta(days=1))
    aws.sweep()
    rows = json.loads(cli.run("status", "--json").output)
    assert rows[0]["live_unknown_since"] and rows[0]["live_outcome"].startswith("unavailable")
    assert "unknown since 2026-03-03" in cli.run("status").output
    aws.cio.faults.clear()
    aws.cio.delete_key(first)
    clock.advance(timedelta(days=1))
    aws.sweep()
    rows = json.loads(cli.run("status", "--json").output)
    assert rows[0]["live_outcome"] == "rejected"
    assert "REFUSED by Customer.io" in cli.run("status").output


# -- submit ----------------------------------------------------------------------------


def test_bootstrap_submit_with_hidden_prompts(cli, aws):
    aws.provision(NAME, "track", "us", workspace="1001")
    key = cli.track("1001")
    # Site ID, key, then Enter: the suggested name, shown in [...], is the one recorded.
    result = cli.run("submit", NAME, input=f"{key.site_id}\n{key.secret}\n\n")
    assert result.exit_code == 0, result.output
    assert "Site ID" in result.output and "Tracking API key (input hidden)" in result.output
    assert f"…{key.secret[-4:]}" in result.output and key.fingerprint in result.output
    assert "first key" in result.output
    assert aws.current_value(NAME)["api_key"] == key.secret
    suggested = suggested_key_name(key_name_stem(NAME, "aws"), aws.clock.now())
    assert f"[{suggested}]" in result.output
    assert aws.state(NAME).current_name == suggested


def test_bootstrap_from_stdin_requires_the_dashboard_name(cli, aws):
    aws.provision(NAME, "track", "us", workspace="1001")
    key = cli.track("1001")
    doc = json.dumps({"site_id": key.site_id, "api_key": key.secret})
    result = cli.run("submit", NAME, "--stdin", input=doc)
    assert result.exit_code == 2
    assert "--key-name" in result.output and "PutSecretValue" not in cli.calls
    result = cli.run("submit", NAME, "--stdin", "--key-name", "Marketing prod", input=doc)
    assert result.exit_code == 0, result.output
    assert aws.state(NAME).current_name == "Marketing prod"


def test_app_key_prompt_takes_region_from_the_credential(cli, aws):
    aws.provision("billing-app", "app", "eu")
    key = cli.app_key(("77",), "eu")
    result = cli.run("submit", "billing-app", input=f"{key.secret}\n\n")
    assert result.exit_code == 0, result.output
    assert aws.current_value("billing-app") == {"app_api_key": key.secret, "region": "eu"}


def test_scheduled_rotation_promotes_and_says_when_to_delete_the_old_key(cli, aws, clock):
    first, second = promoted(cli, aws, clock)
    assert aws.current_value(NAME)["api_key"] == second.secret
    out = " ".join(cli.outputs[-1].split())
    assert "is now current" in out and "Do NOT delete the old key" in out
    assert first.fingerprint in out and f"cio-rotate check {NAME}" in out


def test_wrong_workspace_is_rejected_with_reason_then_a_good_key_goes_through(cli, aws, clock):
    first = bootstrapped(cli, aws, clock)
    wrong = cli.track("2002")
    result = cli.run("submit", NAME, "--stdin", input=stdin_doc(wrong))
    assert result.exit_code == 3, result.output
    assert "NOT accepted" in result.output and "another Customer.io workspace" in result.output
    assert aws.current_value(NAME)["api_key"] == first.secret
    # The failed native rotation left AWSPENDING: the CLI resumes it through the rotator.
    good = cli.track("1001")
    result = cli.run("submit", NAME, "--stdin", input=stdin_doc(good))
    assert result.exit_code == 0, result.output
    assert aws.current_value(NAME)["api_key"] == good.secret


def test_old_key_pasted_again_is_rejected(cli, aws, clock):
    first = bootstrapped(cli, aws, clock)
    result = cli.run("submit", NAME, "--stdin", input=stdin_doc(first))
    assert result.exit_code == 3
    assert "already in use" in result.output


def test_malformed_key_is_refused_locally_and_nothing_is_written(cli, aws, clock):
    bootstrapped(cli, aws, clock)
    result = cli.run("submit", NAME, input="site-1234567\nshort\n")
    assert result.exit_code == 3
    assert "'api_key' is 5 characters" in result.output and "Nothing was written" in result.output
    assert "PutSecretValue" not in cli.calls
    result = cli.run("submit", NAME, "--stdin", input="not json")
    assert result.exit_code == 3 and "not valid JSON" in result.output


def test_inconclusive_verification_exits_4(cli, aws, clock):
    first = bootstrapped(cli, aws, clock)
    cio = aws.cio
    cio.fail_next(503, times=50)
    key = cli.track("1001")
    result = cli.run("submit", NAME, "--stdin", "--timeout", "0", input=stdin_doc(key))
    assert result.exit_code == 4, result.output
    assert "could not be verified yet" in result.output
    assert aws.current_value(NAME)["api_key"] == first.secret
    cio.faults.clear()


def test_submit_while_old_key_is_retiring_is_refused(cli, aws, clock):
    promoted(cli, aws, clock)
    again = cli.track("1001")
    result = cli.run("submit", NAME, "--stdin", input=stdin_doc(again))
    assert result.exit_code == 3 and "still retiring its previous key" in result.output


def test_unknown_name_exits_6_and_lists_known_names(cli, aws):
    aws.provision(NAME, "track")
    for args in (
        ("submit", "nope"),
        ("runbook", "nope"),
        ("check", "nope"),
        ("history", "nope"),
        ("rollback", "nope"),
        ("emergency", "nope", "--reason", "x", "--yes"),
    ):
        result = cli.run(*args)
        assert result.exit_code == 6, (args, result.output)
        assert "No managed credential is called 'nope'" in result.output
        assert NAME in result.output


def test_missing_inbox_permission_exits_5_and_names_it(cli, aws, clock):
    bootstrapped(cli, aws, clock)
    cli.deny("secretsmanager.PutSecretValue", "secretsmanager:PutSecretValue")
    key = cli.track("1001")
    result = cli.run("submit", NAME, "--stdin", input=stdin_doc(key))
    assert result.exit_code == 5, result.output
    out = " ".join(result.output.split())
    assert "lacks the secretsmanager:PutSecretValue permission" in out
    assert "operator role" in out


def test_missing_invoke_permission_names_the_iam_action(cli, aws):
    aws.provision(NAME, "track")
    cli.deny("lambda.Invoke", "lambda:InvokeFunction")
    result = cli.run("check", NAME)
    assert result.exit_code == 5
    assert "lambda:InvokeFunction" in result.output


# -- emergency -------------------------------------------------------------------------


def test_emergency_needs_a_reason_and_confirmation(cli, aws, clock):
    bootstrapped(cli, aws, clock, open_rotation=False)
    assert cli.run("emergency", NAME, "--yes").exit_code == 2
    declined = cli.run("emergency", NAME, "--reason", "leaked in CI log", input="n\n")
    assert declined.exit_code == 1
    assert state(aws).phase is Phase.IDLE
    result = cli.run("emergency", NAME, "--reason", "leaked in CI log", input="y\n")
    assert result.exit_code == 0, result.output
    st = state(aws)
    assert st.phase is Phase.AWAITING_KEY and st.mode is Mode.EMERGENCY
    assert st.reason == "leaked in CI log" and st.actor == "alice"
    assert "Emergency declared" in result.output


def test_a_second_emergency_says_it_is_already_open_and_sends_nothing(cli, aws, clock):
    bootstrapped(cli, aws, clock, open_rotation=False)
    assert cli.run("emergency", NAME, "--reason", "leaked in CI log", "--yes").exit_code == 0
    sent = len(aws.notifications())
    result = cli.run("emergency", NAME, "--reason", "seen again", "--yes")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert f"{NAME} already has an emergency rotation open: nothing changed." in text
    assert "Emergency declared" not in text
    assert len(aws.notifications()) == sent
    assert state(aws).reason == "leaked in CI log"  # the first declaration stands
    doc = json.loads(cli.run("emergency", NAME, "--reason", "x", "--yes", "--json").stdout)
    assert doc["outcome"] == "already_open"
    # Revoke-first is stronger: that one is an upgrade, told as a declaration.
    result = cli.run("emergency", NAME, "--reason", "worse", "--revoke-first", "--yes")
    assert "Emergency declared" in result.output and state(aws).revoke_first


def test_emergency_all_shows_progress_and_a_summary(cli, aws, clock):
    bootstrapped(cli, aws, clock, open_rotation=False)
    aws.provision("billing-app", "app", "us")
    aws.submit("billing-app", cli.app_key(("1001",)))
    result = cli.run("emergency", "--all", "--reason", "vendor breach", "--revoke-first", "--yes")
    assert result.exit_code == 0, result.output
    assert "Emergency: vendor breach" in result.output
    assert result.output.count("waiting for a new key") == 2
    for name in (NAME, "billing-app"):
        st = state(aws, name)
        assert st.mode is Mode.EMERGENCY and st.revoke_first


# -- runbook ---------------------------------------------------------------------------


def test_runbook_without_open_rotation_exits_6(cli, aws, clock):
    bootstrapped(cli, aws, clock, open_rotation=False)
    result = cli.run("runbook", NAME)
    assert result.exit_code == 6
    assert "No rotation of marketing-track is open" in result.output


def test_runbook_prints_the_open_rotations_steps(cli, aws, clock):
    first = bootstrapped(cli, aws, clock)
    result = cli.run("runbook", NAME)
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"Rotation {state(aws).rotation_id}" in out
    assert "1. Open Customer.io > Account Settings > API Credentials" in out
    assert f"cio-rotate submit {NAME}" in out and first.fingerprint in out


def test_runbook_after_promotion_tells_when_to_delete(cli, aws, clock):
    first, _ = promoted(cli, aws, clock)
    result = cli.run("runbook", NAME)
    assert result.exit_code == 0
    # The old key by its dashboard name, its creation day, last 4 and fingerprint.
    assert 'Do NOT delete the old key "marketing-track-aws-2026-03-02-alfa"' in result.output
    assert f'ends in "{first.secret[-4:]}"; fingerprint {first.fingerprint}) yet' in result.output
    clock.advance(timedelta(days=2))
    result = cli.run("runbook", NAME)
    assert "Delete the old key now" in result.output


def _squash(text):
    return " ".join(text.split())


def test_submit_and_runbook_say_the_same_after_promotion(cli, aws, clock):
    bootstrapped(cli, aws, clock)
    second = cli.track("1001")
    submitted = cli.run("submit", NAME, "--stdin", input=stdin_doc(second))
    assert submitted.exit_code == 0, submitted.output
    shown = cli.run("runbook", NAME)
    line = next(x for x in shown.output.splitlines() if x.startswith("Do NOT delete"))
    assert _squash(line) in _squash(submitted.output)


def test_submit_records_the_key_name_given(cli, aws, clock):
    bootstrapped(cli, aws, clock)
    second = cli.track("1001")
    result = cli.run(
        "submit", NAME, "--stdin", "--key-name", "mkt track march", input=stdin_doc(second)
    )
    assert result.exit_code == 0, result.output
    st = state(aws)
    assert st.current_name == "mkt track march" and st.submitted_by
    assert st.phase is Phase.PROMOTED


def test_submit_without_key_name_keeps_the_suggested_name(cli, aws, clock):
    bootstrapped(cli, aws, clock)
    suggested = state(aws).key_name
    result = cli.run("submit", NAME, "--stdin", input=stdin_doc(cli.track("1001")))
    assert result.exit_code == 0, result.output
    assert state(aws).current_name == suggested


def test_submit_refuses_a_key_name_it_cannot_record(cli, aws, clock):
    bootstrapped(cli, aws, clock)
    before = state(aws)
    second = cli.track("1001")
    for bad in ("mkt;drop", "x" * 101, " "):
        result = cli.run("submit", NAME, "--stdin", "--key-name", bad, input=stdin_doc(second))
        assert result.exit_code == 2 and "--key-name" in result.output, result.output
    result = cli.run(
        "submit", NAME, "--stdin", "--key-name", second.secret, input=stdin_doc(second)
    )
    assert result.exit_code == 2 and "part of the key itself" in result.output
    assert second.secret not in result.output
    assert state(aws).current_fp == before.current_fp


def test_submit_refuses_a_key_name_for_a_webhook_signing_key(cli, aws):
    aws.provision("hooks", "webhook_signing")
    result = cli.run(
        "submit",
        "hooks",
        "--stdin",
        "--key-name",
        "x",
        input=json.dumps({"signing_key": "5" * 40}),
    )
    assert result.exit_code == 2 and "does not name webhook signing keys" in result.output


# -- check -----------------------------------------------------------------------------


def test_check_closes_the_rotation_once_the_old_key_is_deleted(cli, aws, clock):
    first, _ = promoted(cli, aws, clock)
    result = cli.run("check", NAME)
    assert result.exit_code == 4 and "grace period runs until" in result.output
    clock.advance(timedelta(days=2))
    result = cli.run("check", NAME)
    assert result.exit_code == 4 and "still accepts the old key" in result.output
    aws.cio.delete_key(first)
    result = cli.run("check", NAME)
    assert result.exit_code == 0, result.output
    assert "rotation closed" in result.output and "it is dead" in result.output
    assert state(aws).previous_revoked


def test_check_after_the_wrong_key_was_deleted_says_what_happened(cli, aws, clock):
    first, second = promoted(cli, aws, clock)
    clock.advance(timedelta(days=2))
    aws.cio.delete_key(second)
    result = cli.run("check", NAME)
    assert result.exit_code == 4, result.output
    text = " ".join(result.output.split())
    assert "it was deleted" in text and "current again" in text
    assert f"fingerprint {first.fingerprint}) current again" in text
    assert "Do NOT delete" in text and f"runbook {NAME}" in text
    assert state(aws).current_fp == first.fingerprint


def test_check_when_both_keys_were_deleted_says_nothing_works(cli, aws, clock):
    first, second = promoted(cli, aws, clock)
    clock.advance(timedelta(days=2))
    aws.cio.delete_key(second)
    aws.cio.delete_key(first)
    result = cli.run("check", NAME)
    assert result.exit_code == 4, result.output
    assert "no working key" in " ".join(result.output.split())
    assert state(aws).current_fp == second.fingerprint


# -- rollback --------------------------------------------------------------------------


def test_rollback_during_grace_restores_the_previous_key(cli, aws, clock):
    first, second = promoted(cli, aws, clock)
    result = cli.run("rollback", NAME)
    assert result.exit_code == 0, result.output
    assert aws.current_value(NAME)["api_key"] == first.secret
    st = state(aws)
    assert st.phase is Phase.AWAITING_KEY
    assert st.current_fp == first.fingerprint and st.previous_fp == second.fingerprint
    assert f"fingerprint {second.fingerprint} is no longer used" in result.output
    # The rotation is open again and takes a new key.
    third = cli.track("1001")
    result = cli.run("submit", NAME, "--stdin", input=stdin_doc(third))
    assert result.exit_code == 0, result.output
    assert aws.current_value(NAME)["api_key"] == third.secret


def test_rollback_is_refused_once_the_previous_key_is_revoked(cli, aws, clock):
    first, second = promoted(cli, aws, clock)
    clock.advance(timedelta(days=2))
    aws.cio.delete_key(first)
    assert cli.run("check", NAME).exit_code == 0
    result = cli.run("rollback", NAME)
    assert result.exit_code == 3
    assert "already refuses the previous key" in result.output
    assert aws.current_value(NAME)["api_key"] == second.secret


def test_rollback_refused_by_the_rotator_when_customerio_refuses_the_old_key(cli, aws, clock):
    first, second = promoted(cli, aws, clock)
    aws.cio.delete_key(first)  # deleted during the grace period: not yet probed
    result = cli.run("rollback", NAME)
    assert result.exit_code == 3, result.output
    assert "Customer.io refuses the previous key" in result.output
    assert aws.current_value(NAME)["api_key"] == second.secret


def test_rollback_with_nothing_promoted_is_refused(cli, aws, clock):
    bootstrapped(cli, aws, clock)
    result = cli.run("rollback", NAME)
    assert result.exit_code == 3 and "No new key" in result.output


# -- history ---------------------------------------------------------------------------


def test_history_reads_the_audit_trail_newest_first(cli, aws, clock):
    _, second = promoted(cli, aws, clock)
    result = cli.run("history", NAME, "--json")
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.output.splitlines()]
    names = [e["event"] for e in events]
    assert (
        names.index("key.promoted") < names.index("key.verified") < names.index("rotation.opened")
    )
    promoted_event = next(e for e in events if e["event"] == "key.promoted")
    assert promoted_event["fingerprints"]["current"] == second.fingerprint
    table = cli.run("history", NAME)  # not a terminal: a header, then one row a line (TSV)
    lines = table.output.splitlines()
    assert lines[0] == "at\tevent\trotation\tmode\tactor\toutcome\tfingerprints"
    assert len(lines) == len(events) + 1
    assert [line.split("\t")[1] for line in lines[1:]] == names
    assert (
        len(
            json.loads(
                "["
                + ",".join(cli.run("history", NAME, "--json", "--limit", "2").output.splitlines())
                + "]"
            )
        )
        == 2
    )


def test_history_without_log_permission_names_it(cli, aws):
    aws.provision(NAME, "track")
    cli.deny("logs.FilterLogEvents", "logs:FilterLogEvents")
    result = cli.run("history", NAME)
    assert result.exit_code == 5 and "logs:FilterLogEvents" in result.output


# -- no key in any output ----------------------------------------------------------------


def test_no_key_appears_in_any_output_of_a_whole_rotation(cli, aws, clock):
    """Every command, happy and unhappy; the fixture repeats this scan after every test."""
    aws.provision(NAME, "track", "us", workspace="1001")
    first = cli.track("1001")
    cli.run("submit", NAME, input=f"{first.site_id}\n{first.secret}\n\n")
    cli.run("emergency", NAME, "--reason", "drill", "--yes")
    cli.run("submit", NAME, "--stdin", input=stdin_doc(cli.track("2002")))  # wrong workspace
    cli.run("submit", NAME, "--stdin", input=stdin_doc(first))  # the old key again
    bad = json.dumps({"site_id": first.site_id, "api_key": first.secret + " ", "region": "us"})
    cli.run("submit", NAME, "--stdin", input=bad)  # malformed: trailing space
    second = cli.track("1001")
    cli.run("submit", NAME, "--stdin", input=stdin_doc(second))
    for args in (("status",), ("status", "--json"), ("runbook", NAME), ("history", NAME)):
        cli.run(*args)
    cli.run("history", NAME, "--json")
    cli.run("rollback", NAME)
    cli.run("check", NAME)
    printed = "\n".join(cli.outputs)
    assert "drill" in printed and second.fingerprint in printed
    for key in cli.keys:
        assert key.secret not in printed and key.site_id not in printed


def test_status_reports_a_missing_secret_with_the_fix(cli, aws):
    aws.provision(NAME, "track")
    aws.provision("gone", "app")
    aws.sm.delete_secret(SecretId=aws.secrets["gone"], ForceDeleteWithoutRecovery=True)
    result = cli.run("status")
    del aws.secrets["gone"]  # the harness's own teardown scan reads every secret it knows
    assert result.exit_code == 6
    assert NAME in result.output and "pulumi stack output --json" in result.output


def test_submit_costs_three_calls_to_hand_over_and_one_read_per_look(cli, aws, clock):
    """The hand-over is a state read, the inbox write and the rotator's operator alias
    (which starts the native rotation: operators may not call RotateSecret); each look for
    the verdict is one more state read (moto runs the rotator at once, so one look
    suffices)."""
    bootstrapped(cli, aws, clock)
    key = cli.track("1001")
    before = len(cli.calls)
    result = cli.run("submit", NAME, "--stdin", "--no-wait", input=stdin_doc(key))
    assert result.exit_code == 4, result.output
    assert "handed over" in result.output
    assert "cio-rotate status`" in result.output and f"history {NAME}`" in result.output
    assert cli.calls[before:] == ["GetSecretValue(state)", "PutSecretValue", "Invoke"]
    assert state(aws).current_fp == key.fingerprint  # the rotator promoted it all the same


def test_submit_waiting_for_the_verdict_adds_one_state_read_per_look(cli, aws, clock):
    bootstrapped(cli, aws, clock)
    key = cli.track("1001")
    before = len(cli.calls)
    result = cli.run("submit", NAME, "--stdin", input=stdin_doc(key))
    assert result.exit_code == 0, result.output
    assert cli.calls[before:] == [
        "GetSecretValue(state)",
        "PutSecretValue",
        "Invoke",
        "GetSecretValue(state)",
    ]
