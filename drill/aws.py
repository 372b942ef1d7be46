"""Whole rotations on a local AWS (moto) with a local Customer.io, narrated for a person.

Time is simulated, so ninety days pass in a second; every notification an
operator would receive is printed in full.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import boto3
from moto import mock_aws
from rich.console import Console

from drill.narrate import Narrator, Shown
from drill.operator import Operator
from localcloud.apps import MONTH_SECONDS, REQUEST_EVERY, LocalApps
from localcloud.aws_harness import REGION, AwsHarness, fake_aws_environment
from localcloud.cloudtrail import CloudTrailHistory
from localcloud.cloudwatch import shipped_audit
from localcloud.customerio import FakeCustomerIO
from rotation.clock import SimulatedClock
from rotation.credentials import Credential


def _notices(h: AwsHarness) -> Callable[[], list[Shown]]:
    return lambda: [
        Shown(
            str(n["subject"]),
            str(n["body"]),
            str(n.get("urgency", "")),
            str(n.get("credential", "")),
        )
        for n in h.notifications()
    ]


def _phase(h: AwsHarness, name: str) -> str:
    return h.rt.store.snapshot(h.secrets[name]).state.phase.value


def _timed(action: Callable[[], int]) -> tuple[int, float]:
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


def scheduled(n: Narrator, h: AwsHarness, cio: FakeCustomerIO, clock: SimulatedClock) -> float:
    name = "marketing-track"
    op = n.operator
    n.console.rule(f"[bold]AWS: scheduled rotation of {name}[/]")
    n.follow(name)
    n.step(
        "pulumi up created the empty secret and its inbox; the operator bootstraps the first key"
    )
    h.provision(name, "track", "us", workspace="1001")
    first = n.remember(cio.new_track_key("1001"))
    op.submit(name, first)
    n.notifications()

    n.step(
        "76 days on, the stack's daily sweep schedule (06:00 UTC) opens the rotation "
        "(14 days before the 90-day deadline)"
    )
    h.advance(timedelta(days=76, hours=21))  # EventBridge Scheduler fires the sweeps
    n.notifications()
    since = n.actions()

    n.step("The operator creates the key the notice names and submits it")
    good = n.created(
        "a Tracking API key in workspace 1001, named as the notice says", cio.new_track_key("1001")
    )
    _, elapsed = _timed(lambda: op.submit(name, good))
    n.note(f"verified and promoted in {elapsed * 1000:.0f} ms of machine time")
    n.note(f"current key is now {good.fingerprint}: {h.current_value(name) == _doc(good)}")
    n.notifications()

    n.step("The 24-hour grace period passes; the old key still works")
    h.advance(timedelta(hours=25))
    n.notifications()

    n.step("Nobody deleted it: three days later a reminder")
    h.advance(timedelta(days=3))
    n.notifications()

    n.step("The operator deletes the old key in the dashboard; the rotator probes it by itself")
    n.deleted(
        "the old key (the name, creation day and last 4 the notice gives)", first, cio.delete_key
    )
    h.advance(timedelta(minutes=20))  # its wake-up probes the old key (at most 15 minutes)
    if _phase(h, name) == "promoted":
        # The 15-minute probes last a day after the delete notice; then the daily pass.
        n.note("deleted days after the delete notice: the next daily pass (06:00 UTC) sees it")
        h.advance(_until_sweep(clock, timedelta(0)))
    n.note(f"phase: {_phase(h, name)}")
    n.notifications()
    n.measure("scheduled", since)
    return elapsed


def wrong_deletion(n: Narrator, h: AwsHarness, cio: FakeCustomerIO, clock: SimulatedClock) -> None:
    """A key from another workspace is refused; then the operator deletes the NEW key, and
    the rotator notices, rolls back and says what now."""
    name = "support-track"
    op = n.operator
    n.console.rule(
        f"[bold]AWS: a key from the wrong workspace, then the wrong key deleted ({name})[/]"
    )
    n.follow(name)
    h.provision(name, "track", "us", workspace="1001")
    old = n.remember(cio.new_track_key("1001"))
    h.submit(name, old)
    n.skip_notifications()  # a bootstrap, as above
    h.advance(_until_sweep(clock, timedelta(days=76)))  # the daily sweep opens it
    n.step("The rotation opens")
    n.notifications()
    since = n.actions()
    suggested = h.state(name).key_name

    op.run("status")

    n.step("The operator pastes a key from the wrong workspace: refused, nothing changes")
    wrong = n.created(
        "a Tracking API key, in the wrong workspace (2002)", cio.new_track_key("2002")
    )
    op.submit(name, wrong)
    n.note(f"current key still {old.fingerprint}: {h.current_value(name) == _doc(old)}")
    n.notifications()

    n.step("The operator creates the new key, names it as suggested, and submits it")
    new = n.created(
        f"a Tracking API key in workspace 1001 named {suggested}", cio.new_track_key("1001")
    )
    op.submit(name, new, key_name=suggested)
    n.notifications()

    n.step("The grace period passes: delete the old key now")
    h.advance(timedelta(hours=24, minutes=5))  # its wake-up at the grace end
    n.notifications()

    n.step("The operator deletes the NEW key by mistake; the rotator's own probe sees it")
    n.deleted(f"{suggested} (the new key) instead of the old one", new, cio.delete_key)
    h.advance(timedelta(minutes=20))  # the probes after the delete notice
    back = _doc(old) == h.current_value(name)
    n.note(
        f"applications read the previous key again: {back}; Customer.io accepts it: "
        f"{cio.is_live(old)}; phase: {_phase(h, name)}"
    )
    n.notifications()
    if not back or not cio.is_live(old):
        raise SystemExit("the rotator did not roll back to the previous key")

    n.step("The operator follows the page: a new key, submitted; the old one deleted after grace")
    again = h.state(name).key_name
    newer = n.created(
        f"another Tracking API key in workspace 1001 named {again}", cio.new_track_key("1001")
    )
    op.submit(name, newer, key_name=again)
    n.notifications()
    h.advance(timedelta(hours=24, minutes=5))
    n.notifications()
    n.deleted(
        "the old key this time (the name, creation day and last 4 the notice gives)",
        old,
        cio.delete_key,
    )
    h.advance(timedelta(minutes=20))
    n.note(f"phase: {_phase(h, name)}")
    n.notifications()
    if _phase(h, name) != "idle":
        raise SystemExit("the rotation did not close after the wrong deletion was repaired")
    n.measure("wrong deletion", since)


def emergency(n: Narrator, h: AwsHarness, cio: FakeCustomerIO, clock: SimulatedClock) -> float:
    name = "billing-app"
    op = n.operator
    n.console.rule(f"[bold]AWS: emergency rotation of {name}[/]")
    n.follow(name)
    h.provision(name, "app", "eu")
    first = n.remember(cio.new_app_key(("3003",), region="eu"))
    h.submit(name, first)
    n.skip_notifications()  # the bootstrap was shown above already
    h.advance(timedelta(days=20))

    n.step("On-call suspects a leak")
    since = n.actions()
    op.run("emergency", name, "--reason", "key seen in a public CI log", "--yes")
    n.notifications()

    n.step("The same emergency is declared twice (a second on-call engineer): nothing new")
    before = len(h.notifications())
    op.run("emergency", name, "--reason", "again", "--yes")
    n.note(f"notifications sent: {len(h.notifications()) - before} new")
    n.skip_notifications()

    n.step("The operator creates and submits a new App key")
    new = n.created("an App API key in workspace 3003", cio.new_app_key(("3003",), region="eu"))
    _, elapsed = _timed(lambda: op.submit(name, new))
    n.note(f"promoted in {elapsed * 1000:.0f} ms; current is {new.fingerprint}")
    n.notifications()

    n.step("15 minutes of grace (the consumers' cache TTL), then the old key must die")
    h.advance(timedelta(minutes=16))  # its wake-up 15 minutes after the promotion
    n.notifications()
    n.deleted("the old key", first, cio.delete_key)
    h.advance(timedelta(minutes=20))  # the rotator probes it by itself
    n.note(f"phase: {_phase(h, name)}")
    n.notifications()
    n.measure("emergency", since)
    return elapsed


def migration(n: Narrator, h: AwsHarness, cio: FakeCustomerIO, clock: SimulatedClock) -> None:
    """A consumer group moves from a track credential to a private key; the old one retires."""
    old_name, new_name = "shop-track", "shop-private"
    op = n.operator
    op.env = cio.env()
    n.console.rule(f"[bold]AWS: moving {old_name} to a private key, then retiring it[/]")
    n.follow(old_name, new_name)
    h.provision(old_name, "track", "us", workspace="4004")
    old = n.remember(cio.new_track_key("4004"))
    h.submit(old_name, old)
    n.skip_notifications()
    h.advance(timedelta(days=10))

    n.step(f"The platform team adds the private credential {new_name} to the stack: pulumi up")
    h.provision(new_name, "private", "us", workspace="4004")
    op.run("status")

    n.step("The operator pastes a public pk_ key by mistake: refused locally, nothing written")
    public = cio.new_public_key("4004")
    n.keys.append(public)
    op.run("probe", new_name, typed=f"{public}\n")

    n.step("The operator probes the new sk_ key from their machine, without handing it over")
    private = n.remember(cio.new_private_key(("4004",), "us"))
    op.run("probe", new_name, typed=f"{private.secret}\n")

    n.step("... then submits it: the private credential bootstraps")
    op.submit(new_name, private)
    n.notifications()

    n.step(f"Applications switch to {new_name} (private_client); the old credential is retired")
    op.run("retire", old_name, "--reason", f"moved to {new_name}", "--yes")
    n.notifications()

    n.step("Three days later the old key still works: a reminder")
    h.advance(timedelta(days=3, hours=1))  # its wake-up, three days after the notice
    n.notifications()

    n.step("The operator deletes the old Track key in the dashboard; nothing else to run")
    n.deleted("the old Track key", old, cio.delete_key)
    h.advance(timedelta(minutes=20))  # the rotator's own probes of the retiring key
    if _phase(h, old_name) == "retiring":
        # Its 15-minute probes last a day after the retire notice; then the daily pass.
        n.note("deleted days after the retire notice: the next daily pass (06:00 UTC) sees it")
        h.advance(_until_sweep(clock, timedelta(0)))
    n.note(f"phase: {_phase(h, old_name)}")
    n.notifications()
    n.note(f"live value of {old_name} is now the tombstone: {h.current_value(old_name)}")
    op.run("status")


def drain(
    n: Narrator, h: AwsHarness, cio: FakeCustomerIO, clock: SimulatedClock
) -> tuple[timedelta, timedelta]:
    """The old key goes when no application uses it: applications report the key they use
    (the consumer library), the rotator reads the reports and CloudTrail, and a straggler
    holds the delete notice back until it restarts. Returns promotion -> delete notice
    without and with the straggler."""
    name = "orders-track"
    op = n.operator
    n.console.rule(f"[bold]AWS: the old key goes when no application uses it ({name})[/]")
    n.follow(name)
    h.provision(name, "track", "us", workspace="1001")
    first = n.remember(cio.new_track_key("1001"))
    h.submit(name, first)
    n.skip_notifications()
    apps = LocalApps.on_aws(clock, h.advance, h.secrets[name], REGION)
    n.step(
        "orders-api runs on api-1 and api-2 with the consumer library: each process "
        "reports the key it uses (a CloudWatch metric, at most once a minute)"
    )
    apps.start("orders-api", "api-1")
    apps.start("orders-api", "api-2")
    apps.run(timedelta(minutes=10))

    n.step("The operator hands over a new key; both processes load it within 5 minutes")
    second = n.remember(cio.new_track_key("1001"))
    n.dashboard(f"creates a Tracking API key named {name}-bravo")
    op.submit(name, second, key_name=f"{name}-bravo")
    n.notifications()
    quick = _until_delete_notice(h, apps, name)
    n.notifications()
    n.note(f"promotion → delete notice: {_minutes(quick)} (nobody used the old key)")
    n.dashboard("deletes the old key")
    cio.delete_key(first)
    apps.run(timedelta(minutes=20))
    n.skip_notifications()  # "rotation closed", as in the scenes above

    n.step("Next rotation: orders-cron on batch-1 caches the key for a month (a straggler)")
    cron = apps.start("orders-cron", "batch-1", ttl=MONTH_SECONDS)
    apps.run(timedelta(minutes=10))
    third = n.remember(cio.new_track_key("1001"))
    n.dashboard(f"creates a Tracking API key named {name}-charlie")
    op.submit(name, third, key_name=f"{name}-charlie")
    n.notifications()
    apps.run(timedelta(hours=1))
    st = h.state(name)
    held = ", ".join(e.split("|")[0] for e in st.drain_holders) or "nobody"
    n.note(
        f"an hour later: no delete notice; {st.drain_on_new} processes on the new key; "
        f"still on the old one: {held}"
    )
    n.step("On-call asks who still uses the old key (exit 4 while someone does)")
    op.run("drain", name)

    n.step("The team restarts orders-cron: the new process (batch-2) reads the new key")
    restarted = clock.now()
    apps.stop(cron)
    apps.start("orders-cron", "batch-2", ttl=MONTH_SECONDS)
    slow = _until_delete_notice(h, apps, name)
    n.notifications()
    promoted_at = h.state(name).promoted_at
    assert promoted_at is not None
    n.note(
        f"promotion → delete notice: {_minutes(slow)} with the straggler; "
        f"{_minutes(promoted_at + slow - restarted)} after its restart "
        "(the 15-minute quiet period, checked every 5 minutes)"
    )
    n.dashboard("deletes the old key")
    cio.delete_key(second)
    apps.run(timedelta(minutes=20))
    n.note(f"phase: {_phase(h, name)}")
    n.skip_notifications()
    return quick, slow


def _until_delete_notice(h: AwsHarness, apps: LocalApps, name: str) -> timedelta:
    """Let the applications run until "delete the old key now" is sent (at most a day):
    how long after the promotion it came."""
    for _ in range(24 * 12):
        st = h.state(name)
        if st.followups and st.last_notice_at and st.promoted_at:
            return st.last_notice_at - st.promoted_at
        apps.run(REQUEST_EVERY)
    raise SystemExit(f"no delete notice for {name} within a day of its promotion")


def _minutes(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def _until_sweep(clock: SimulatedClock, at_least: timedelta) -> timedelta:
    """From now to the first daily sweep (06:00 UTC) at least `at_least` from now."""
    then = clock.now() + at_least
    sweep = then.replace(hour=6, minute=0, second=0)
    if sweep < then:
        sweep += timedelta(days=1)
    return sweep - clock.now() + timedelta(minutes=5)


def _doc(credential: Credential) -> dict[str, str]:
    return dict(json.loads(credential.to_json()))


def run(console: Console) -> list[str]:
    """Run both AWS drills; returns every key used, for the leak scan."""
    fake_aws_environment()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("cio.rotator").setLevel(logging.WARNING)
    cio = FakeCustomerIO().start()
    clock = SimulatedClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    try:
        with mock_aws():
            harness = AwsHarness(cio=cio, clock=clock)
            # Lambda ships the rotator's audit lines to its log group: `status` reads them.
            logs = boto3.client("logs", region_name=REGION)
            # CloudTrail's event history: who read each secret, and when (the drain).
            trail = CloudTrailHistory(clock=clock.now)
            with harness.runtime.active(), shipped_audit(logs), trail.active():
                n = Narrator(console, _notices(harness), Operator.for_aws(console, harness))
                t1 = scheduled(n, harness, cio, clock)
                t2 = emergency(n, harness, cio, clock)
                migration(n, harness, cio, clock)
                wrong_deletion(n, harness, cio, clock)
                quick, slow = drain(n, harness, cio, clock)
                emitted = [str(x) for x in harness.notifications()]
                for name in harness.secrets:
                    emitted.append(str(harness.tags(name)))
                leaks = [k for k in n.keys if any(k in text for text in emitted)]
                console.rule("[bold]AWS summary")
                console.print(
                    f"submit → promoted (machine time): scheduled {t1 * 1000:.0f} ms, "
                    f"emergency {t2 * 1000:.0f} ms; notifications: {len(harness.notifications())}; "
                    f"keys found in notifications or tags: {len(leaks)}"
                )
                console.print(
                    f"promotion → delete notice: {_minutes(quick)} when every application "
                    f"had moved, {_minutes(slow)} with a straggler that restarted an hour "
                    "after the promotion (grace maximum: 24 h)"
                )
                for scene, count in n.measured.items():
                    console.print(f"operator actions, opening notice to closed ({scene}): {count}")
                console.print(harness.stack.summary())
                if leaks:
                    raise SystemExit("a key leaked into a notification or a tag")
                return n.keys
    finally:
        cio.stop()
