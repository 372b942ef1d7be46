"""Whole rotations on a local GCP: the Secret Manager emulator, the Cloud Function under
functions-framework reached through Pub/Sub CloudEvents, and the local Customer.io."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from rich.console import Console

from drill.narrate import Narrator, Shown
from drill.operator import Operator
from localcloud.cloudwatch import audit_lines_to
from localcloud.customerio import FakeCustomerIO
from localcloud.data_access_log import DataAccessLog
from localcloud.gcp_harness import PROJECT, GcpHarness
from localcloud.google_apis import CloudRunLogging
from localcloud.monitoring_emulator import MonitoringEmulator
from localcloud.secretmanager_emulator import SecretManagerEmulator
from rotation import conventions as cv
from rotation.clock import SimulatedClock
from rotation.notify_gcp import NOTICE_POLICY_PREFIX


def _notices(h: GcpHarness) -> Callable[[], list[Shown]]:
    """What reaches a person on GCP: the e-mails Cloud Monitoring sends for the stack's
    alert policies over the function's log entries (localcloud/monitoring.py)."""
    return lambda: [
        Shown(m.subject, m.text, _urgency(m.subject), _credential(m.policy))
        for m in h.monitoring.sent
    ]


def _credential(policy: str) -> str:
    """Whose notices a policy mails: notify_gcp.notice_policy names the credential."""
    if not policy.startswith(NOTICE_POLICY_PREFIX):
        return ""  # the function's other warnings and errors: about no one credential
    return policy.removeprefix(NOTICE_POLICY_PREFIX).rsplit(" (", 1)[0]


def _urgency(subject: str) -> str:
    return next((u for u in ("urgent", "action") if subject.startswith(f"[{u}]")), "info")


def scheduled(n: Narrator, h: GcpHarness, cio: FakeCustomerIO, clock: SimulatedClock) -> None:
    name = "marketing-track"
    op = n.operator
    n.console.rule(f"[bold]GCP: scheduled rotation of {name}[/]")
    n.follow(name)
    n.step("pulumi up created the secret (90-day rotation, Pub/Sub topic) and its inbox")
    h.provision(name, "track", "us", workspace="1001")
    first = n.remember(cio.new_track_key("1001"))
    op.submit(name, first)
    n.notifications()

    n.step("76 days on, the daily sweep (Cloud Scheduler → Pub/Sub, 06:00 UTC) opens the rotation")
    h.advance(timedelta(days=76, hours=21))  # the stack's job fires, Eventarc delivers
    n.notifications()
    since = n.actions()  # the same scene as on AWS, counted the same way

    n.step("The operator submits the key the e-mail names: SECRET_VERSION_ADD → verify → promote")
    good = n.created(
        "a Tracking API key in workspace 1001, named as the e-mail says", cio.new_track_key("1001")
    )
    op.submit(name, good)
    n.note(f"versions/latest now holds {good.fingerprint}: {h.current_value(name) is not None}")
    n.notifications()

    n.step("Grace passes, the old key still works; three days later a reminder")
    h.advance(timedelta(hours=25))
    h.advance(timedelta(days=3))
    n.notifications()

    n.step("The operator deletes the old key; the rotator probes it by itself")
    n.deleted(
        "the old key (the name, creation day and last 4 the e-mail gives)", first, cio.delete_key
    )
    h.advance(timedelta(minutes=20))  # the secret's timer: probes at most 15 minutes apart
    if h.state(name).phase.value == "promoted":
        # The 15-minute probes last a day after the delete notice; then the daily pass.
        n.note("deleted days after the delete notice: the next daily pass (06:00 UTC) sees it")
        h.advance(_until_sweep(clock))
    n.note(f"phase: {h.state(name).phase.value}")
    n.notifications()
    n.measure("scheduled", since)


def emergency(n: Narrator, h: GcpHarness, cio: FakeCustomerIO, clock: SimulatedClock) -> None:
    name = "support-app"
    op = n.operator
    n.console.rule(f"[bold]GCP: emergency rotation of {name} (revoke first)[/]")
    n.follow(name)
    h.provision(name, "app", "us")
    first = n.remember(cio.new_app_key(("42",)))
    h.submit(name, first)
    n.skip_notifications()
    h.advance(timedelta(days=30))

    n.step("On-call contains a leak: delete the old key first, then rotate")
    since = n.actions()
    op.run(
        "emergency",
        name,
        "--reason",
        "key pasted in ticket #4521 (don't ask) \u2014 [bold]now[/bold] :smile:",
        "--revoke-first",
        "--yes",
    )
    n.notifications()
    n.deleted("the old key (step 1 of the e-mail)", first, cio.delete_key)

    n.step("The operator submits a new key; the rotator confirms the old one is dead")
    op.submit(name, n.created("an App API key in workspace 42", cio.new_app_key(("42",))))
    h.advance(timedelta(minutes=20))  # its own probe of the old key, no `check` needed
    n.notifications()
    n.measure("emergency, revoke first", since)


def migration(n: Narrator, h: GcpHarness, cio: FakeCustomerIO, clock: SimulatedClock) -> None:
    """An app credential gives way to a private key; the old one is retired."""
    old_name, new_name = "helpdesk-app", "helpdesk-private"
    op = n.operator
    op.env = cio.env()
    n.console.rule(f"[bold]GCP: moving {old_name} to a private key, then retiring it[/]")
    n.follow(old_name, new_name)
    h.provision(old_name, "app", "us", workspace="77")
    old = n.remember(cio.new_app_key(("77",)))
    h.submit(old_name, old)
    n.skip_notifications()

    n.step(f"pulumi up added {new_name} (workspace 77); a key of another workspace is refused")
    h.provision(new_name, "private", "us", workspace="77")
    op.submit(new_name, n.remember(cio.new_private_key(("78",), "us")))
    n.note(f"{new_name} holds no key yet: {h.current_value(new_name) is None}")
    n.notifications()

    n.step("The operator probes the right sk_ key, then submits it")
    private = n.remember(cio.new_private_key(("77",), "us"))
    op.run("probe", new_name, typed=f"{private.secret}\n")
    op.submit(new_name, private)
    n.notifications()

    n.step(f"Applications use {new_name}; {old_name} is retired (the CLI publishes the action)")
    op.run("retire", old_name, "--reason", f"moved to {new_name}", "--yes")
    n.notifications()

    n.step("The old App key is deleted in the dashboard; the rotator's own probe sees it")
    n.deleted("the old App key", old, cio.delete_key)
    deleted_at = clock.now()
    h.advance(timedelta(minutes=20))  # the secret's timer: probes at most 15 minutes apart
    retired = h.state(old_name).retired_at
    lag = f"{(retired - deleted_at).total_seconds() / 60:.0f} min" if retired else "not yet"
    n.note(f"phase: {h.state(old_name).phase.value}; retired after the deletion: {lag}")
    n.notifications()
    n.note(f"versions/latest of {old_name} is now the tombstone: {h.current_value(old_name)}")


def _until_sweep(clock: SimulatedClock) -> timedelta:
    """From now to just after the next daily sweep (06:00 UTC)."""
    sweep = clock.now().replace(hour=6, minute=0, second=0)
    if sweep <= clock.now():
        sweep += timedelta(days=1)
    return sweep - clock.now() + timedelta(minutes=5)


def run(console: Console) -> list[str]:
    """Run both GCP drills; returns every key used, for the leak scan."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    cio = FakeCustomerIO().start()
    emulator = SecretManagerEmulator().start()
    # The drain's evidence: key-usage reports and the Data Access log, read locally.
    monitoring = MonitoringEmulator().start()
    reads = DataAccessLog(PROJECT).start()
    services = {cv.ENV_MONITORING_URL: monitoring.address, cv.ENV_LOGGING_URL: reads.address}
    clock = SimulatedClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    try:
        harness = GcpHarness(cio=cio, clock=clock, emulator=emulator, services=services)
        operator = Operator.for_gcp(console, harness)
        n = Narrator(console, _notices(harness), operator)
        assert operator.google is not None
        # Cloud Run keeps the function's audit lines in Cloud Logging: `status` reads them.
        with audit_lines_to(CloudRunLogging(operator.google, clock.now)):
            scheduled(n, harness, cio, clock)
            emergency(n, harness, cio, clock)
            migration(n, harness, cio, clock)
        emitted = [f"{x.subject} {x.body}" for x in _notices(harness)()]
        emitted += [json.dumps(e) for e in harness.logging.entries]
        emitted += [str(e) for e in emulator.published]
        leaks = [k for k in n.keys if any(k in text for text in emitted)]
        console.rule("[bold]GCP summary")
        console.print(
            f"notices: {len(harness.notifier.sent)}, e-mailed whole by Cloud Monitoring: "
            f"{len(harness.monitoring.sent)} (dropped: {len(harness.monitoring.dropped)}); "
            f"keys found in notifications or events: {len(leaks)}"
        )
        sent = {x.notice.split(".")[0] for x in harness.notifier.sent}
        mailed = {
            m.labels["notice_id"].split("/")[1].split(".")[0] for m in harness.monitoring.sent
        }
        console.print(
            f"notice kinds e-mailed to a person: {len(sent & mailed)} of {len(sent)} sent"
        )
        for scene, count in n.measured.items():
            console.print(f"operator actions, opening notice to closed ({scene}): {count}")
        console.print(harness.stack.summary())
        if leaks:
            raise SystemExit("a key leaked into a notification or an event")
        return n.keys
    finally:
        reads.stop()
        monitoring.stop()
        emulator.stop()
        cio.stop()
