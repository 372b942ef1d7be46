"""The clouds' timers firing as simulated time advances, on the current harnesses.

ONE PLACE, TO BE SWAPPED: until `localcloud/stack.py`'s `LocalStack.advance` (issue 18)
deploys the program into the local cloud and fires its timers generically, this helper
declares what the program declares for wake-ups (a schedule group, the scheduler's role
and the work queue on AWS; the rotation topic as the sweep's work queue on GCP), wires
the harness's rotator to them as the program's environment would, and `advance()`
fires, in time order:

- AWS: every due one-time EventBridge Scheduler schedule in moto (`at(...)`, deleted
  after it fires), its Input sent to the work queue; the daily sweep at 06:00 UTC; the
  work queue drained into the rotator in batches of 10 with the invocation's remaining
  time (a 300 s Lambda), `batchItemFailures` delivered again after the visibility timeout.
- GCP: each secret's `next_rotation_time` (the emulator publishes SECRET_ROTATE and moves
  it on by the period, as Google does); the daily sweep; every published message
  delivered to the function (540 s), a refused one again after Pub/Sub's backoff.

Nothing here calls the rotator's engine: only the events the clouds would deliver.
"""

from __future__ import annotations

import base64
import json
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit

import boto3
from requests import PreparedRequest, Response, Session
from requests.adapters import BaseAdapter

from lambdas.aws_rotation import handler as rotator
from localcloud.aws_harness import REGION, AwsHarness
from localcloud.gcp_harness import TOPIC, GcpHarness, pubsub_message
from rotation import conventions as cv
from rotation.runbook import Notification
from rotation.stores.aws_wakeups import ScheduledWakeUps
from rotation.workqueue import Budget, SqsWorkQueue
from rotation.workqueue_gcp import PubSubWorkQueue

DAILY_SWEEP = time(6, 0)  # infra: the recurring sweep schedule (UTC)
LAMBDA_TIMEOUT = 300.0  # infra.aws_component.LAMBDA_TIMEOUT_SECONDS
FUNCTION_TIMEOUT = 540.0  # infra.gcp_component's function timeout
VISIBILITY = timedelta(minutes=30)  # the work queue's visibility timeout (6 x the Lambda's)
PUBSUB_RETRY = timedelta(minutes=10)  # Pub/Sub's maximum backoff between redeliveries
_AT = re.compile(r"^at\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\)$")


@dataclass
class Sent:
    """A notice as the operators received it, with the simulated time it went out."""

    at: datetime
    notification: Notification


class Timestamped:
    """Wraps the rotator's notifier: records when (simulated) each notice was sent."""

    def __init__(self, inner: Any, clock: Any) -> None:
        self.inner, self.clock = inner, clock
        self.sent: list[Sent] = []

    def send(self, notification: Notification) -> None:
        self.inner.send(notification)
        self.sent.append(Sent(self.clock.now(), notification))


def _next_daily(now: datetime) -> datetime:
    today = now.replace(hour=DAILY_SWEEP.hour, minute=DAILY_SWEEP.minute, second=0, microsecond=0)
    return today if today > now else today + timedelta(days=1)


@dataclass
class AwsTimers:
    aws: AwsHarness
    daily: bool = True
    invocations: int = 0
    longest: float = 0.0  # the longest invocation, simulated seconds
    units: Counter[str] = field(default_factory=Counter)  # work-queue messages per credential
    fired: int = 0  # wake-up schedules fired
    group: str = "cio-rotation-wakeups"
    _swept: datetime | None = None

    def __post_init__(self) -> None:
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.scheduler = boto3.client("scheduler", region_name=REGION)
        self.queue_url = self.sqs.create_queue(QueueName="cio-rotation-work")["QueueUrl"]
        self.queue_arn = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        self.scheduler.create_schedule_group(Name=self.group)
        role = self.aws.iam.create_role(
            RoleName="cio-scheduler",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
        env = {
            cv.ENV_WAKE_GROUP: self.group,
            cv.ENV_WAKE_TARGET_ARN: self.queue_arn,
            cv.ENV_WAKE_ROLE_ARN: role,
        }
        self.aws.rt.store.wakeups = ScheduledWakeUps.from_env(env, self.scheduler, self.aws.clock)
        self.aws.rt = replace(self.aws.rt, work=SqsWorkQueue(self.sqs, self.queue_url))
        self.notices = Timestamped(self.aws.rt.engine.notifier, self.aws.clock)
        self.aws.rt.engine.notifier = self.notices
        self._hidden: dict[str, datetime] = {}  # message id -> visible again at

    # -- what the clouds hold ------------------------------------------------------------

    def schedules(self) -> dict[str, dict[str, Any]]:
        out = {}
        for entry in self.scheduler.list_schedules(GroupName=self.group)["Schedules"]:
            got = self.scheduler.get_schedule(GroupName=self.group, Name=entry["Name"])
            out[entry["Name"]] = got
        return out

    def _due(self, schedule: dict[str, Any]) -> datetime:
        match = _AT.match(schedule["ScheduleExpression"])
        assert match, f"a wake-up is a one-time at() schedule: {schedule['ScheduleExpression']}"
        return datetime.fromisoformat(match.group(1) + "+00:00")

    # -- time --------------------------------------------------------------------------

    def advance(self, delta: timedelta) -> None:
        """Move the clock on by `delta`, firing everything due on the way, in time order."""
        clock = self.aws.clock
        until = clock.now() + delta
        while True:
            self._drain()
            moments = [self._due(s) for s in self.schedules().values()]
            moments += list(self._hidden.values())
            if self.daily:
                moments.append(_next_daily(clock.now()))
            upcoming = min(moments, default=None)
            if upcoming is None or upcoming > until:
                clock.advance(until - clock.now())
                self._drain()
                return
            if upcoming > clock.now():
                clock.advance(upcoming - clock.now())
            self._fire_due()

    def _fire_due(self) -> None:
        now = self.aws.clock.now()
        for name, schedule in sorted(self.schedules().items()):
            if self._due(schedule) <= now:
                target = schedule["Target"]
                assert target["Arn"] == self.queue_arn
                self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=target["Input"])
                if schedule.get("ActionAfterCompletion") == "DELETE":
                    self.scheduler.delete_schedule(GroupName=self.group, Name=name)
                self.fired += 1
        if self.daily and now == _next_daily(now - timedelta(seconds=1)) and self._swept != now:
            # The recurring sweep schedule, whose input is the stack's manifest.
            self._swept = now
            ids = list(self.aws.secrets.values())
            self.aws.invoke({"action": cv.ACTION_SWEEP, "secret_ids": ids})

    def _drain(self) -> None:
        """Lambda's poller: batches of 10 to the rotator, failures visible again later."""
        now = self.aws.clock.now()
        while True:
            got = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=0,
                AttributeNames=["All"],
            ).get("Messages", [])
            ready = [m for m in got if self._hidden.get(m["MessageId"], now) <= now]
            if not ready:
                return
            records = [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m.get("Attributes", {}),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.queue_arn,
                }
                for m in ready
            ]
            for m in ready:
                self.units[json.loads(m["Body"]).get("secret_id", "")] += 1
            result = self._invoke({"Records": records})
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
            for m in ready:
                if m["MessageId"] in failed:
                    self._hidden[m["MessageId"]] = self.aws.clock.now() + VISIBILITY
                else:
                    self._hidden.pop(m["MessageId"], None)
                    self.sqs.delete_message(
                        QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"]
                    )

    def _invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        """One invocation with the Lambda's timeout, measured on the simulated clock."""
        pace = self.aws.clock
        started = pace.monotonic()
        budget = Budget(lambda: LAMBDA_TIMEOUT - (pace.monotonic() - started))
        self.invocations += 1
        result = rotator.handle(event, self.aws.rt, budget)
        self.longest = max(self.longest, pace.monotonic() - started)
        return result


class _TopicPublisher(BaseAdapter):
    """`topics.publish` onto the rotation topic: the harness delivers it like any event."""

    def __init__(self, harness: GcpHarness) -> None:
        super().__init__()
        self.harness = harness

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> Response:
        assert urlsplit(request.url or "").path.endswith(f"{TOPIC}:publish")
        body = json.loads(request.body or b"{}")
        for message in body["messages"]:
            doc = json.loads(base64.b64decode(message["data"]))
            self.harness.emulator.published.append(
                {"topic": TOPIC, "message": pubsub_message(message.get("attributes", {}), doc)}
            )
        response = Response()
        response.status_code = 200
        response._content = json.dumps({"messageIds": ["1"] * len(body["messages"])}).encode()
        response.request = request
        return response

    def close(self) -> None:
        return None


@dataclass
class GcpTimers:
    gcp: GcpHarness
    daily: bool = True
    invocations: int = 0
    longest: float = 0.0
    units: Counter[str] = field(default_factory=Counter)  # deliveries per credential
    _swept: datetime | None = None
    _retry: list[tuple[datetime, dict[str, Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        session = Session()
        session.mount("https://", _TopicPublisher(self.gcp))
        self.gcp.rt = replace(
            self.gcp.rt,
            work=PubSubWorkQueue(TOPIC, session=session),
            timeout_seconds=FUNCTION_TIMEOUT,
        )
        self.gcp.module.use_runtime(self.gcp.rt)
        self.notices = Timestamped(self.gcp.rt.engine.notifier, self.gcp.clock)
        self.gcp.rt.engine.notifier = self.notices

    def _rotation_times(self) -> list[datetime]:
        out = []
        for secret in self.gcp.emulator.secrets.values():
            nxt = secret.rotation.get("nextRotationTime")
            if nxt and secret.rotation.get("rotationPeriod"):
                out.append(datetime.fromisoformat(nxt.replace("Z", "+00:00")))
        return out

    def advance(self, delta: timedelta) -> None:
        clock = self.gcp.clock
        until = clock.now() + delta
        while True:
            self._pump()
            moments = self._rotation_times() + [at for at, _ in self._retry]
            if self.daily:
                moments.append(_next_daily(clock.now()))
            upcoming = min(moments, default=None)
            if upcoming is None or upcoming > until:
                clock.advance(until - clock.now())
                self._pump()
                return
            if upcoming > clock.now():
                clock.advance(upcoming - clock.now())
            self._fire_due()

    def _fire_due(self) -> None:
        now = self.gcp.clock.now()
        self.gcp.emulator.fire_rotations()
        due = [m for at, m in self._retry if at <= now]
        self._retry = [(at, m) for at, m in self._retry if at > now]
        for message in due:
            self._deliver(message)
        if self.daily and now == _next_daily(now - timedelta(seconds=1)) and self._swept != now:
            self._swept = now
            ids = list(self.gcp.secrets.values())
            self._deliver(pubsub_message({}, {"action": cv.ACTION_SWEEP, "secret_ids": ids}))

    def _pump(self) -> None:
        published = self.gcp.emulator.published
        while self.gcp.cursor < len(published):
            entry = published[self.gcp.cursor]
            self.gcp.cursor += 1
            if entry["topic"] == TOPIC:
                self._deliver(entry["message"])

    def _deliver(self, message: dict[str, Any]) -> None:
        pace = self.gcp.clock
        started = pace.monotonic()
        self.invocations += 1
        data = json.loads(base64.b64decode(message.get("data") or b"e30="))
        if isinstance(data, dict) and data.get("secret_id"):
            self.units[str(data["secret_id"])] += 1
        status = self.gcp.deliver(message)
        self.longest = max(self.longest, pace.monotonic() - started)
        if status >= 300:
            self.gcp.nacked.remove(message)
            self._retry.append((self.gcp.clock.now() + PUBSUB_RETRY, message))
