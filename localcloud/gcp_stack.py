"""The GCP resources of the Pulumi program, created locally as the mocks register them.

Secrets go into the Secret Manager emulator through the real client (labels,
annotations, topics, rotation), Pub/Sub topics and subscriptions into a small local
Pub/Sub, Cloud Scheduler jobs into a local scheduler, and the Cloud Function runs
in-process under functions-framework with exactly the environment, timeout and
memory the program declared, reached through its Eventarc trigger's topic. Also
here: what GCP fires by itself (Secret Manager's next_rotation_time, jobs, delivery).
"""

from __future__ import annotations

import base64
import json
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import functions_framework
from flask import Flask
from requests import PreparedRequest, Response, Session
from requests.adapters import BaseAdapter

from localcloud.aws_stack import Answer, LocalDeployError
from localcloud.customerio import FakeCustomerIO
from localcloud.secretmanager_emulator import SecretManagerEmulator
from localcloud.timers import Due, Stopwatch, unix_cron_next
from rotation.clock import SimulatedClock
from rotation.notify_gcp import StructuredLogNotifier
from rotation.runbook import Notification
from rotation.verify import Verifier, build_session

TOPIC_TYPE = "gcp:pubsub/topic:Topic"
# Pub/Sub's retry of an Eventarc trigger's unacknowledged message (Eventarc documentation:
# exponential backoff between 10 and 600 seconds, for up to 24 hours).
RETRY_MIN = timedelta(seconds=10)
RETRY_MAX = timedelta(seconds=600)
RETENTION = timedelta(hours=24)
SOURCE = "lambdas/gcp_rotation/main.py"

_app: Flask | None = None


def function_app() -> tuple[Flask, ModuleType]:
    """The function as functions-framework serves it (loaded once: it registers routes)."""
    global _app
    if _app is None:
        _app = functions_framework.create_app(  # type: ignore[no-untyped-call]
            target="handle_event", source=SOURCE, signature_type="cloudevent"
        )
    return _app, sys.modules["main"]


def pubsub_message(attributes: dict[str, str], data: bytes | dict[str, Any]) -> dict[str, Any]:
    raw = json.dumps(data).encode() if isinstance(data, dict) else data
    return {
        "attributes": attributes,
        "data": base64.b64encode(raw).decode("ascii"),
        "messageId": uuid.uuid4().hex[:16],
        "publishTime": "2026-03-02T09:00:00.000Z",
    }


def binary_cloud_event(
    message: dict[str, Any], topic: str, subscription: str
) -> tuple[dict[str, str], bytes]:
    """What Eventarc POSTs for a Pub/Sub message: ce-* headers, the envelope as body."""
    headers = {
        "ce-specversion": "1.0",
        "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
        "ce-source": f"//pubsub.googleapis.com/{topic}",
        "ce-id": message.get("messageId", uuid.uuid4().hex),
        "Content-Type": "application/json",
    }
    body = json.dumps({"message": message, "subscription": subscription}).encode()
    return headers, body


class RecordingNotifier:
    """The function's notifier: records every notice and, given a `log`, writes it as the
    function does, as a structured log line (Cloud Logging, then Monitoring's e-mail); can
    be told to fail the next sends."""

    def __init__(self, log: StructuredLogNotifier | None = None) -> None:
        self.sent: list[Notification] = []
        self.fail_next = 0
        self.log = log

    def send(self, notification: Notification) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("notification channel unavailable")
        self.sent.append(notification)
        if self.log is not None:
            self.log.send(notification)


def _duration(text: str) -> timedelta:
    return timedelta(seconds=float(str(text).rstrip("s")))


def _timestamp(text: str) -> datetime:
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))


@dataclass
class DeclaredCloudFunction:
    """The Cloud Function as the program declared it (memory is recorded, not enforced)."""

    name: str
    env: dict[str, str]
    timeout: int
    memory: str
    trigger_topic: str  # full topic name its Eventarc trigger listens on


@dataclass
class Job:
    """A Cloud Scheduler job with a Pub/Sub target."""

    name: str
    schedule: str
    time_zone: str
    topic: str
    data: bytes
    last: datetime
    paused: bool = False  # `gcloud scheduler jobs pause`: it fires no more until resumed


@dataclass
class LocalGcp:
    """One GCP project: the emulator, local Pub/Sub and Cloud Scheduler, the function."""

    clock: SimulatedClock
    cio: FakeCustomerIO
    emulator: SecretManagerEmulator
    project: str
    client: Any
    topics: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # name -> messages
    subscriptions: dict[str, str] = field(default_factory=dict)  # name -> topic
    jobs: dict[str, Job] = field(default_factory=dict)
    function: DeclaredCloudFunction | None = None
    secret_env: dict[str, str] = field(default_factory=dict)  # mounted secret env, by key
    # Where the function finds the local Cloud Monitoring and Cloud Logging (the drain's
    # evidence); without them it reads Google's, with credentials this machine lacks.
    services: dict[str, str] = field(default_factory=dict)
    notifier: RecordingNotifier = field(default_factory=RecordingNotifier)
    rt: Any = None
    cursor: int = 0  # how far Eventarc has read the published messages
    nacked: list[dict[str, Any]] = field(default_factory=list)
    # Pub/Sub's retry of what the function did not acknowledge, on the simulated clock:
    # message id -> (next attempt, attempts so far, first attempt).
    retry_at: dict[str, tuple[datetime, int, datetime]] = field(default_factory=dict)
    invocations: int = 0
    longest: float = 0.0  # the longest delivery, in seconds (simulated and real)
    statuses: list[tuple[str, int]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def bind(self, fn: DeclaredCloudFunction) -> None:
        """Refuse an environment missing what the function reads, then serve it."""
        from lambdas.gcp_rotation import main as function_module

        missing = [v for v in function_module.REQUIRED_ENV if not fn.env.get(v)]
        if missing:
            raise LocalDeployError(
                f"the program gives the Cloud Function {fn.name} no {', '.join(missing)}, "
                "which lambdas/gcp_rotation/main.py needs (REQUIRED_ENV): set it in "
                "infra/gcp_component.py (GcpRotation._function)."
            )
        if fn.trigger_topic not in self.topics:
            raise LocalDeployError(
                f"the Cloud Function {fn.name}'s trigger listens on {fn.trigger_topic}, "
                "which the program does not declare."
            )
        self.function = fn
        self.app, self.module = function_app()
        env = self.runtime_env()
        # A new configuration is a new revision: a cold start with the declared environment.
        # The notifications topic's subscribers are the recording notifier.
        self.rt = self.module.build_runtime(
            env=env,
            clock=self.clock,
            verifier=Verifier(
                session=build_session(backoff_factor=0.01), env=env, timeout=(0.5, 0.5)
            ),
            client=self.client,
            notifier=self.notifier,
            work_session=self.pubsub_session(),
        )
        self.module.use_runtime(self.rt)

    def pubsub_session(self) -> Session:
        """What the function's `topics.publish` calls reach: this project's Pub/Sub."""
        session = Session()
        session.mount("https://pubsub.googleapis.com/", _LocalPubSub(self))
        return session

    # -- Eventarc: Pub/Sub messages on the trigger's topic reach the function --------------

    def deliver(self, message: dict[str, Any], structured: bool = False) -> int:
        """One Eventarc delivery to the function; 2xx acknowledges, anything else retries."""
        assert self.function is not None, "deploy the stack first"
        topic = self.function.trigger_topic
        subscription = f"projects/{self.project}/subscriptions/eventarc-{self.function.name}"
        headers, body = binary_cloud_event(message, topic, subscription)
        watch = Stopwatch(self.clock)
        self.invocations += 1
        with self.app.test_client() as client:
            if structured:
                envelope = {
                    "specversion": "1.0",
                    "type": headers["ce-type"],
                    "source": headers["ce-source"],
                    "id": headers["ce-id"],
                    "datacontenttype": "application/json",
                    "data": json.loads(body),
                }
                response = client.post(
                    "/",
                    data=json.dumps(envelope),
                    headers={"Content-Type": "application/cloudevents+json"},
                )
            else:
                response = client.post("/", data=body, headers=headers)
        status = response.status_code
        took = watch.elapsed()
        self.longest = max(self.longest, took)
        if took > self.function.timeout:
            status = 504  # past the declared timeout: Cloud Run would have cut it off
        kind = message.get("attributes", {}).get("eventType", "action")
        self.statuses.append((kind, status))
        if status >= 300:
            self.nacked.append(message)
            self.errors.append(response.get_data(as_text=True))  # what the crash handler shows
            self._backoff(message)
        else:
            self.retry_at.pop(str(message.get("messageId")), None)
        return status

    def _backoff(self, message: dict[str, Any]) -> None:
        """Pub/Sub's exponential backoff for the trigger's subscription (Eventarc: 10 s up
        to 600 s), within its 24-hour retention; after that the message is dropped."""
        now = self.clock.now()
        key = str(message.get("messageId"))
        _, attempts, first = self.retry_at.get(key, (now, 0, now))
        delay = min(RETRY_MIN * (2 ** min(attempts, 10)), RETRY_MAX)
        if now + delay - first > RETENTION:
            self.retry_at.pop(key, None)
            self.nacked.remove(message)
            return
        self.retry_at[key] = (now + delay, attempts + 1, first)

    def pump(self) -> list[tuple[str, int]]:
        """Deliver everything published to the trigger's topic since the last pump."""
        out = []
        topic = self.function.trigger_topic if self.function else ""
        while self.cursor < len(self.emulator.published):
            entry = self.emulator.published[self.cursor]
            self.cursor += 1
            self.topics.setdefault(entry["topic"], []).append(entry["message"])
            if entry["topic"] != topic:
                continue
            message = entry["message"]
            kind = message.get("attributes", {}).get("eventType", "action")
            out.append((kind, self.deliver(message)))
        return out

    def redeliver(self) -> list[int]:
        """Pub/Sub retrying what the function did not acknowledge, now (without waiting
        for its backoff: `advance` retries each at its own time)."""
        pending, self.nacked = self.nacked, []
        return [self.deliver(m) for m in pending]

    def _retry(self, message: dict[str, Any]) -> Callable[[], None]:
        def fire() -> None:
            if message in self.nacked:
                self.nacked.remove(message)
                self.deliver(message)

        return fire

    def runtime_env(self) -> dict[str, str]:
        """The declared environment, mounted secrets, and where the local Customer.io and
        Google services are."""
        assert self.function is not None, "deploy the stack first"
        return {**self.function.env, **self.secret_env, **self.cio.env(), **self.services}

    # -- creators, by Pulumi type -----------------------------------------------------

    def secret(self, _: str, i: dict[str, Any]) -> Answer:
        secret: dict[str, Any] = {
            "replication": {"automatic": {}},
            "labels": dict(i.get("labels") or {}),
            "annotations": dict(i.get("annotations") or {}),
            "topics": [{"name": t["name"]} for t in i.get("topics") or []],
        }
        for topic in secret["topics"]:
            if topic["name"] not in self.topics:
                raise LocalDeployError(f"secret {i['secretId']} names unknown topic {topic}")
        rotation = i.get("rotation")
        if rotation:
            secret["rotation"] = {
                "next_rotation_time": _timestamp(rotation["nextRotationTime"]),
                "rotation_period": _duration(rotation["rotationPeriod"]),
            }
        parent = f"projects/{i.get('project') or self.project}"
        name = self.client.create_secret(
            request={"parent": parent, "secret_id": i["secretId"], "secret": secret}
        ).name
        return name, {**i, "name": name}

    def secret_update(self, rid: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        """Labels are Pulumi's; annotations, aliases and nextRotationTime are ignored changes."""
        if (old.get("labels") or {}) != (new.get("labels") or {}):
            self.client.update_secret(
                request={
                    "secret": {"name": rid, "labels": dict(new.get("labels") or {})},
                    "update_mask": {"paths": ["labels"]},
                }
            )

    def secret_version(self, _: str, i: dict[str, Any]) -> Answer:
        data = i["secretData"]
        if isinstance(data, dict):
            data = data.get("value", "")
        got = self.client.add_secret_version(
            request={"parent": i["secret"], "payload": {"data": str(data).encode()}}
        )
        return got.name, {**i, "name": got.name, "version": got.name.rsplit("/", 1)[-1]}

    def topic(self, _: str, i: dict[str, Any]) -> Answer:
        full = f"projects/{i.get('project') or self.project}/topics/{i['name']}"
        self.topics.setdefault(full, [])
        return full, {**i, "name": i["name"]}

    def subscription(self, _: str, i: dict[str, Any]) -> Answer:
        topic = str(i["topic"])
        full_topic = (
            topic if topic.startswith("projects/") else f"projects/{self.project}/topics/{topic}"
        )
        name = f"projects/{i.get('project') or self.project}/subscriptions/{i['name']}"
        self.subscriptions[name] = full_topic
        return name, {**i, "name": i["name"]}

    def job(self, _: str, i: dict[str, Any]) -> Answer:
        target = i["pubsubTarget"]
        name = (
            f"projects/{i.get('project') or self.project}/locations/{i['region']}/jobs/{i['name']}"
        )
        self.jobs[name] = Job(
            name=name,
            schedule=i["schedule"],
            time_zone=i.get("timeZone") or "Etc/UTC",
            topic=target["topicName"],
            data=base64.b64decode(target.get("data") or ""),
            last=self.clock.now(),
        )
        return name, {**i, "name": i["name"]}

    def job_update(self, rid: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        job = self.jobs[rid]
        job.schedule = new["schedule"]
        job.topic = new["pubsubTarget"]["topicName"]
        job.data = base64.b64decode(new["pubsubTarget"].get("data") or "")

    def function_(self, _: str, i: dict[str, Any]) -> Answer:
        self.bind(self._declared(i))
        name = f"projects/{i.get('project') or self.project}/locations/{i['location']}/functions/{i['name']}"
        return name, {**i, "name": i["name"], "url": f"https://{i['name']}.local"}

    def function_update(self, rid: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        self.bind(self._declared(new))

    def _declared(self, i: dict[str, Any]) -> DeclaredCloudFunction:
        service = i.get("serviceConfig") or {}
        env = {k: str(v) for k, v in (service.get("environmentVariables") or {}).items()}
        self.secret_env = {}
        for mount in service.get("secretEnvironmentVariables") or []:
            project = mount.get("projectId") or self.project
            version = f"projects/{project}/secrets/{mount['secret']}/versions/{mount['version']}"
            payload = self.client.access_secret_version(name=version).payload.data
            self.secret_env[mount["key"]] = bytes(payload).decode()
        trigger = i.get("eventTrigger") or {}
        return DeclaredCloudFunction(
            name=i["name"],
            env=env,
            timeout=int(service.get("timeoutSeconds", 60)),
            memory=str(service.get("availableMemory", "256M")),
            trigger_topic=str(trigger.get("pubsubTopic", "")),
        )

    # -- what GCP fires by itself --------------------------------------------------------

    def due(self, after: datetime) -> list[Due]:
        """Every timer's next moment after `after`: (when, what, fire)."""
        out: list[Due] = []
        for job in self.jobs.values():
            if job.paused:
                continue
            if job.time_zone not in ("Etc/UTC", "UTC"):
                raise LocalDeployError(f"job {job.name}: only UTC jobs are supported locally")
            when = unix_cron_next(job.schedule, max(after, job.last), what=f"job {job.name}")
            out.append((when, f"job {job.name}", self._fire_job(job)))
        for name, secret in self.emulator.secrets.items():
            nxt = secret.rotation.get("nextRotationTime")
            if nxt and secret.rotation.get("rotationPeriod"):
                when = _timestamp(nxt)
                out.append((max(when, after), f"SECRET_ROTATE {name}", self._fire_rotations))
        for message in self.nacked:
            retry = self.retry_at.get(str(message.get("messageId")))
            if retry is not None:
                what = f"redeliver {message.get('messageId')}"
                out.append((max(retry[0], after), what, self._retry(message)))
        return out

    def pause_job(self, name: str, paused: bool = True) -> None:
        """Cloud Scheduler's PauseJob, or ResumeJob (by the job's short or full name)."""
        [job] = [j for j in self.jobs.values() if name in (j.name, j.name.rsplit("/", 1)[-1])]
        job.paused = paused
        if not paused:
            job.last = self.clock.now()  # a resumed job fires at its next time from now

    def _fire_rotations(self) -> None:
        """Secret Manager publishes SECRET_ROTATE and moves the time on by the period."""
        self.emulator.fire_rotations()

    def _fire_job(self, job: Job) -> Callable[[], None]:
        def fire() -> None:
            job.last = self.clock.now()
            self.publish(job.topic, {}, job.data)

        return fire

    def publish(self, topic: str, attributes: dict[str, str], data: bytes) -> None:
        """What a publisher's message looks like once Pub/Sub has it."""
        if topic not in self.topics:
            raise LocalDeployError(f"publish to {topic}, which the program does not declare")
        self.emulator.published.append(
            {
                "topic": topic,
                "message": {
                    "attributes": attributes,
                    "data": base64.b64encode(data).decode("ascii"),
                    "messageId": f"{time.monotonic_ns():x}"[-16:],
                    "publishTime": self.clock.now().strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                },
            }
        )


class _LocalPubSub(BaseAdapter):
    """`topics.publish` over REST, into the project's local Pub/Sub (delivered by `pump`,
    each message on its own, after the publishing event returns)."""

    def __init__(self, gcp: LocalGcp) -> None:
        super().__init__()
        self.gcp = gcp

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> Response:
        path = urlsplit(request.url or "").path
        response = Response()
        response.request = request
        response.headers["Content-Type"] = "application/json"
        if not (path.startswith("/v1/") and path.endswith(":publish")):
            response.status_code = 404
            response._content = b"{}"
            return response
        topic = path[len("/v1/") : -len(":publish")]
        body = json.loads(request.body or b"{}")
        for message in body.get("messages", []):
            data = base64.b64decode(message.get("data") or "")
            self.gcp.publish(topic, dict(message.get("attributes") or {}), data)
        response.status_code = 200
        ids = [str(i) for i, _ in enumerate(body.get("messages", []))]
        response._content = json.dumps({"messageIds": ids}).encode()
        return response

    def close(self) -> None:
        return None


Creator = Callable[[LocalGcp, str, dict[str, Any]], Answer]
Updater = Callable[[LocalGcp, str, dict[str, Any], dict[str, Any]], None]

CREATORS: dict[str, Creator] = {
    "gcp:secretmanager/secret:Secret": LocalGcp.secret,
    "gcp:secretmanager/secretVersion:SecretVersion": LocalGcp.secret_version,
    TOPIC_TYPE: LocalGcp.topic,
    "gcp:pubsub/subscription:Subscription": LocalGcp.subscription,
    "gcp:cloudscheduler/job:Job": LocalGcp.job,
    "gcp:cloudfunctionsv2/function:Function": LocalGcp.function_,
}

UPDATERS: dict[str, Updater] = {
    "gcp:secretmanager/secret:Secret": LocalGcp.secret_update,
    "gcp:cloudscheduler/job:Job": LocalGcp.job_update,
    "gcp:cloudfunctionsv2/function:Function": LocalGcp.function_update,
}

NO_IAM = "no local IAM (the emulator checks no permissions)"

# What the local project cannot hold, and why; the mocks still answer for them so the
# program runs, but nothing is created and the stack lists them as not held.
NOT_HELD: dict[str, str] = {
    "gcp:projects/service:Service": "API enablement: every local API is always on",
    "gcp:projects/serviceIdentity:ServiceIdentity": NO_IAM,
    "gcp:serviceaccount/account:Account": NO_IAM,
    "gcp:projects/iAMCustomRole:IAMCustomRole": NO_IAM,
    "gcp:projects/iAMMember:IAMMember": NO_IAM,
    "gcp:projects/iAMAuditConfig:IAMAuditConfig": "no local Cloud Audit Logs configuration",
    "gcp:pubsub/topicIAMMember:TopicIAMMember": NO_IAM,
    "gcp:secretmanager/secretIamMember:SecretIamMember": NO_IAM,
    "gcp:cloudrunv2/serviceIamMember:ServiceIamMember": NO_IAM,
    "gcp:storage/bucket:Bucket": "no local Cloud Storage (the function runs from this checkout)",
    "gcp:storage/bucketObject:BucketObject": "no local Cloud Storage",
    "gcp:storage/bucketIAMMember:BucketIAMMember": NO_IAM,
    "gcp:artifactregistry/repository:Repository": "no local build: the function runs in-process",
    "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember": NO_IAM,
    "gcp:monitoring/notificationChannel:NotificationChannel": "no local Cloud Monitoring",
    "gcp:monitoring/alertPolicy:AlertPolicy": "no local Cloud Monitoring",
    # pulumiverse-time's Sleep (infra/gcp_component.py): a wait for IAM to propagate.
    "time:index/sleep:Sleep": "a wait for IAM propagation: there is no local IAM to wait for",
}
