"""Every moment a notice promises, kept by the stack's own timers: the scenarios both clouds
run (tests/aws/test_wakeups_aws.py, tests/gcp/test_wakeups_gcp.py).

The test plays the people only (an operator submits a key, deletes the old one in the
dashboard; on-call declares an emergency) and lets simulated time pass with the local
stack's `advance`: what the program declared fires (AWS: the credential's one-time
EventBridge Scheduler schedule into the work queue, drained into the Lambda; GCP: the
secret's `next_rotation_time`, Pub/Sub to the function). Nothing here sweeps or runs
`check`, and once the rotation is open the daily sweep is paused in the cloud (as a
person could), so every notice below came from a credential's own wake-up.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import boto3

from localcloud.aws_harness import REGION, AwsHarness
from localcloud.gcp_harness import GcpHarness
from rotation.credentials import Credential
from rotation.runbook import Notification
from rotation.state import Phase, RotationState

MAX_LAG = timedelta(minutes=5)
CLOSE_LAG = timedelta(minutes=20)
SWEEP = "cio-rotation-sweep"  # the program's daily schedule / job (prefix "cio")
WAKEUPS = "cio-rotation-wakeups"  # the program's schedule group of wake-ups


@dataclass
class Sent:
    """A notice as the operators received it, with the simulated time it went out."""

    at: datetime
    notification: Notification


class Timestamped:
    """Wraps the function's notifier: records when (simulated) each notice was sent."""

    def __init__(self, inner: Any, clock: Any, sent: list[Sent]) -> None:
        self.inner, self.clock, self.sent = inner, clock, sent

    def send(self, notification: Notification) -> None:
        self.inner.send(notification)
        self.sent.append(Sent(self.clock.now(), notification))


@dataclass
class Cloud:
    """What the scenarios need of a cloud: its harness, the people's acts, a pause switch."""

    harness: Any  # AwsHarness | GcpHarness
    provision: Callable[[str], None]
    submit: Callable[[str, Credential], None]
    emergency: Callable[[str, str], None]
    retire: Callable[[str, str], None]
    pause_sweep: Callable[[], None]
    cio: Any
    clock: Any
    notices: list[Sent] = field(default_factory=list)

    def watch(self) -> None:
        """Timestamp what the (possibly new, after a deploy) warm instance sends."""
        engine = self.harness.rt.engine
        if not isinstance(engine.notifier, Timestamped):
            engine.notifier = Timestamped(engine.notifier, self.clock, self.notices)

    def advance(self, delta: timedelta) -> None:
        self.harness.advance(delta)

    def state(self, name: str) -> RotationState:
        st: RotationState = self.harness.state(name)
        return st

    def sent(self, name: str) -> list[tuple[datetime, str]]:
        return [
            (s.at, s.notification.notice) for s in self.notices if s.notification.credential == name
        ]

    def when(self, name: str, notice: str) -> datetime:
        times = [at for at, n in self.sent(name) if n.split(".")[0] == notice]
        assert times, f"{notice} was never sent for {name}: {self.sent(name)}"
        return times[0]


def aws_cloud(aws: AwsHarness, cio: Any, clock: Any) -> Cloud:
    def provision(name: str) -> None:
        aws.provision(name, "track", "us", workspace="1001")
        cloud.watch()

    def emergency(name: str, reason: str) -> None:
        aws.invoke({"action": "emergency", "secret_id": aws.secrets[name], "reason": reason})

    def retire(name: str, reason: str) -> None:
        aws.invoke({"action": "retire", "secret_id": aws.secrets[name], "reason": reason})

    cloud = Cloud(
        harness=aws,
        provision=provision,
        submit=lambda name, cred: (aws.submit(name, cred), None)[1],
        emergency=emergency,
        retire=retire,
        pause_sweep=lambda: pause_aws_schedule(SWEEP),
        cio=cio,
        clock=clock,
    )
    return cloud


def pause_aws_schedule(name: str, group: str = "default", state: str = "DISABLED") -> None:
    """UpdateSchedule with State DISABLED (or ENABLED again), the rest as it is (what the
    console does)."""
    scheduler = boto3.client("scheduler", region_name=REGION)
    got = scheduler.get_schedule(Name=name, GroupName=group)
    keep = ("ScheduleExpression", "ScheduleExpressionTimezone", "FlexibleTimeWindow", "Target")
    scheduler.update_schedule(
        Name=name, GroupName=group, State=state, **{k: got[k] for k in keep if k in got}
    )


def gcp_cloud(gcp: GcpHarness, cio: Any, clock: Any) -> Cloud:
    def provision(name: str) -> None:
        gcp.provision(name, "track", "us", workspace="1001")
        cloud.watch()

    def emergency(name: str, reason: str) -> None:
        gcp.emergency(name, reason)

    def retire(name: str, reason: str) -> None:
        gcp.action({"action": "retire", "secret_id": gcp.secrets[name], "reason": reason})
        gcp.pump()

    def pause_sweep() -> None:
        assert gcp.stack.gcp is not None
        gcp.stack.gcp.pause_job(SWEEP)

    cloud = Cloud(
        harness=gcp,
        provision=provision,
        submit=lambda name, cred: (gcp.submit(name, cred), None)[1],
        emergency=emergency,
        retire=retire,
        pause_sweep=pause_sweep,
        cio=cio,
        clock=clock,
    )
    return cloud


class AwsUnits:
    """What the work queue's mapping hands the function: batches, and units per credential."""

    def __init__(self, aws: AwsHarness) -> None:
        self.batches = 0
        self.per_credential: Counter[str] = Counter()
        real = aws.runtime.functions["cio-rotator"]

        def recording(event: dict[str, Any], context: Any) -> Any:
            if isinstance(event.get("Records"), list):
                self.batches += 1
                for record in event["Records"]:
                    secret = str(json.loads(record["body"]).get("secret_id", ""))
                    if ":secret:" in secret:  # an ARN: its name, without the random suffix
                        secret = secret.split(":secret:")[-1][:-7]
                    self.per_credential[secret] += 1
            return real(event, context)

        aws.runtime.register("cio-rotator", recording)

    def of(self, name: str) -> int:
        return self.per_credential[f"cio/{name}"]


def provision_idle(harness: AwsHarness | GcpHarness, cio: Any, names: list[str]) -> dict[str, Any]:
    """`names` in one `pulumi up`, each bootstrapped with its own key (returned by name)."""
    harness.provision_many(
        [{"name": n, "kind": "track", "region": "us", "workspace_id": "1001"} for n in names]
    )
    keys = {}
    for name in names:
        keys[name] = cio.new_track_key("1001")
        harness.submit(name, keys[name])
    return keys


def skip_days_aws(aws: AwsHarness, delta: timedelta) -> None:
    """Let time pass with the daily sweep paused (nothing else is due), then resume it."""
    pause_aws_schedule(SWEEP)
    aws.advance(delta)
    pause_aws_schedule(SWEEP, state="ENABLED")


class GcpUnits:
    """Deliveries to the function, per credential the message names."""

    def __init__(self, gcp: GcpHarness) -> None:
        self.per_credential: Counter[str] = Counter()
        local = gcp.stack.gcp
        assert local is not None
        real = local.deliver

        def recording(message: dict[str, Any], structured: bool = False) -> int:
            try:
                doc = json.loads(base64.b64decode(message.get("data") or b"e30="))
            except ValueError:
                doc = {}
            if isinstance(doc, dict) and doc.get("secret_id"):
                self.per_credential[str(doc["secret_id"])] += 1
            return int(real(message, structured))

        local.deliver = recording  # type: ignore[method-assign]


def skip_days_gcp(gcp: GcpHarness, delta: timedelta) -> None:
    """Let time pass with the daily job paused (nothing else is due), then resume it."""
    local = gcp.stack.gcp
    assert local is not None
    local.pause_job(SWEEP)
    gcp.advance(delta)
    local.pause_job(SWEEP, paused=False)


def lag(cloud: Cloud, name: str, notice: str, promised: datetime) -> timedelta:
    """How late the notice came after the moment it was promised for (never early)."""
    at = cloud.when(name, notice)
    assert at >= promised, f"{notice} came early: {at} < {promised}"
    return at - promised


def lag_after_deleting(cloud: Cloud, name: str, key: Credential, notice: str) -> timedelta:
    """The operator deletes `key` in the dashboard; how late `notice` came after that."""
    deleted_at = cloud.clock.now()
    cloud.cio.delete_key(key)
    cloud.advance(timedelta(hours=1))
    return lag(cloud, name, notice, deleted_at)


def bootstrap_quietly(cloud: Cloud, name: str) -> Credential:
    """A live key, the daily sweep paused, three quiet hours: only the credential's timer."""
    cloud.provision(name)
    key: Credential = cloud.cio.new_track_key("1001")
    cloud.submit(name, key)
    cloud.pause_sweep()
    cloud.advance(timedelta(hours=3))
    return key


def bootstrap_and_open(cloud: Cloud, name: str) -> Credential:
    """A live key; its rotation opens at the daily sweep once it is 76 days old (the calendar)."""
    cloud.provision(name)
    first: Credential = cloud.cio.new_track_key("1001")
    cloud.submit(name, first)
    cloud.advance(timedelta(days=77))
    assert cloud.state(name).phase is Phase.AWAITING_KEY
    cloud.pause_sweep()  # from here on, only the credential's own timer
    return first


def scheduled_rotation(cloud: Cloud, name: str) -> dict[str, timedelta]:
    """Reminders, escalation, the scheduled delete-now and "rotation closed", each kept."""
    old = bootstrap_and_open(cloud, name)
    st = cloud.state(name)
    assert st.opened_at is not None and st.deadline is not None
    lags: dict[str, timedelta] = {}
    cloud.advance(timedelta(days=3, hours=1))
    lags["reminder"] = lag(cloud, name, "reminder", st.opened_at + timedelta(days=3))
    escalate_at = st.deadline - timedelta(days=3)
    cloud.advance(escalate_at - cloud.clock.now() + timedelta(hours=1))
    lags["escalated"] = lag(cloud, name, "escalated", escalate_at)

    new = cloud.cio.new_track_key("1001")
    cloud.submit(name, new)
    promoted = cloud.state(name)
    assert promoted.phase is Phase.PROMOTED and promoted.grace_until is not None
    cloud.advance(timedelta(hours=25))
    lags["revoke_now"] = lag(cloud, name, "revoke_now", promoted.grace_until)

    cloud.advance(timedelta(hours=2))
    lags["closed"] = lag_after_deleting(cloud, name, old, "closed")
    assert cloud.state(name).phase is Phase.IDLE
    return lags


def emergency_rotation(cloud: Cloud, name: str) -> dict[str, timedelta]:
    """On-call's emergency: reminders and the deadline while nobody acts, then the delete-now
    notice 15 minutes after the promotion and "rotation closed" after the deletion."""
    old = bootstrap_quietly(cloud, name)
    cloud.emergency(name, "key leaked in a CI log")
    st = cloud.state(name)
    assert st.phase is Phase.AWAITING_KEY and st.opened_at is not None
    lags: dict[str, timedelta] = {}
    assert st.deadline is not None
    cloud.advance(timedelta(hours=4, minutes=30))
    # The emergency notice goes to on-call itself; then hourly reminders, then overdue.
    lags["reminder"] = lag(cloud, name, "reminder", st.opened_at + timedelta(hours=1))
    lags["overdue"] = lag(cloud, name, "overdue", st.deadline)

    new = cloud.cio.new_track_key("1001")
    cloud.submit(name, new)
    promoted = cloud.state(name)
    assert promoted.promoted_at is not None
    cloud.advance(timedelta(minutes=30))
    lags["revoke_now"] = lag(
        cloud, name, "revoke_now", promoted.promoted_at + timedelta(minutes=15)
    )
    lags["closed"] = lag_after_deleting(cloud, name, old, "closed")
    assert cloud.state(name).phase is Phase.IDLE
    return lags


def retirement(cloud: Cloud, name: str) -> dict[str, timedelta]:
    """`retire`, applications move off the key for a few hours, the key is deleted in the
    dashboard: "retired" follows by the rotator's own probes, with no `check`."""
    key = bootstrap_quietly(cloud, name)
    cloud.retire(name, "moved to a private key")
    assert cloud.state(name).phase is Phase.RETIRING
    cloud.advance(timedelta(hours=5))  # still accepted: probed, backing off, nobody told
    assert cloud.state(name).phase is Phase.RETIRING
    assert [n for _, n in cloud.sent(name) if n.startswith("retire")] == ["retire_opened"]
    lags = {"retired": lag_after_deleting(cloud, name, key, "retired")}
    st = cloud.state(name)
    assert st.phase is Phase.RETIRED and st.retired_at is not None
    return lags


def assert_kept(lags: dict[str, timedelta]) -> None:
    for notice, late in lags.items():
        bound = CLOSE_LAG if notice in ("closed", "retired") else MAX_LAG
        assert late <= bound, f"{notice} came {late} after its moment (bound {bound})"
