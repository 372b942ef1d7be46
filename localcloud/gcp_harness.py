"""A GCP project on this machine: the Secret Manager emulator, the Cloud Function under
functions-framework, Pub/Sub delivery as Eventarc does it, and a fake Customer.io.

Secrets are created the way the Pulumi program creates them (labels, the inbox
annotation, the rotation topic on both secrets, a 90-day rotation); the function
is reached only through CloudEvents carrying real Pub/Sub message envelopes.
"""

from __future__ import annotations

import base64
import json
import sys
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import functions_framework
from flask import Flask
from google.api_core import exceptions as gexc
from requests import PreparedRequest, Response
from requests.adapters import BaseAdapter
from werkzeug import Request as WerkzeugRequest
from werkzeug.test import Client as WerkzeugClient

from localcloud.customerio import FakeCustomerIO
from localcloud.local_stack import STACK
from localcloud.monitoring import CloudLogging, LocalMonitoring
from localcloud.secretmanager_emulator import SecretManagerEmulator
from rotation import conventions as cv
from rotation.clock import SimulatedClock
from rotation.credentials import Credential
from rotation.notify_gcp import StructuredLogNotifier, notice_policy
from rotation.policy import Policy
from rotation.runbook import Notification
from rotation.stores.gcp import build_client
from rotation.verify import RETRY_STATUSES, Verifier, build_session

PROJECT = "cio-test"
TOPIC = f"projects/{PROJECT}/topics/cio-rotation"
SUBSCRIPTION = f"projects/{PROJECT}/subscriptions/eventarc-cio-rotator"
SOURCE = "lambdas/gcp_rotation/main.py"
FUNCTION_NAME = "cio-rotator"  # naming.rotator_function_name of the default prefix
WHERE = f"GCP stack {STACK}, project {PROJECT}"  # as infra/gcp_component.py names it

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


def binary_cloud_event(message: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    """What Eventarc POSTs for a Pub/Sub message: ce-* headers, the envelope as body."""
    headers = {
        "ce-specversion": "1.0",
        "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
        "ce-source": f"//pubsub.googleapis.com/{TOPIC}",
        "ce-id": message.get("messageId", uuid.uuid4().hex),
        "Content-Type": "application/json",
    }
    body = json.dumps({"message": message, "subscription": SUBSCRIPTION}).encode()
    return headers, body


class RecordingNotifier:
    """The function's notifier: records every notice and writes it, as the function does,
    as a structured log line to `log` (Cloud Logging, then Monitoring's e-mail); can be told
    to fail the next sends."""

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


@dataclass
class GcpHarness:
    cio: FakeCustomerIO
    clock: SimulatedClock
    emulator: SecretManagerEmulator
    policy: Policy = field(default_factory=Policy)
    secrets: dict[str, str] = field(default_factory=dict)
    cursor: int = 0
    nacked: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[tuple[str, int]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.emulator.clock = self.clock.now
        self.client = build_client(self.emulator.endpoint)
        # What reaches a person: the stack's alert policies over the function's log entries.
        self.monitoring = LocalMonitoring(now=self.clock.now)
        self.logging = CloudLogging(FUNCTION_NAME, self.monitoring)
        self.notifier = RecordingNotifier(StructuredLogNotifier(stream=self.logging))
        self.app, self.module = function_app()
        # As the program sets them (infra/gcp_component.py): notices say where they are from.
        env = {**self.cio.env(), cv.ENV_STACK: STACK, "GOOGLE_CLOUD_PROJECT": PROJECT}
        self.rt = self.module.build_runtime(
            env=env,
            clock=self.clock,
            verifier=Verifier(
                session=build_session(backoff_factor=0.01), env=env, timeout=(0.5, 0.5)
            ),
            client=self.client,
            notifier=self.notifier,
        )
        self.rt.engine.policy = self.policy
        self.module.use_runtime(self.rt)

    # -- provisioning, as the Pulumi program does it --------------------------------

    def provision(self, name: str, kind: str, region: str = "us", workspace: str = "") -> str:
        parent = f"projects/{PROJECT}"
        live = f"{parent}/secrets/{name}"
        inbox = self.client.create_secret(
            request={
                "parent": parent,
                "secret_id": f"{name}-inbox",
                "secret": {
                    "replication": {"automatic": {}},
                    "topics": [{"name": TOPIC}],
                    "annotations": {cv.GCP_ANNOTATION_INBOX_OF: live},
                },
            }
        ).name
        labels = {
            cv.GCP_LABEL_MANAGED: "true",
            cv.GCP_LABEL_CREDENTIAL: name,
            cv.GCP_LABEL_KIND: kind,
            cv.GCP_LABEL_STACK: STACK,
        }
        if kind != "webhook_signing":
            labels[cv.GCP_LABEL_REGION] = region
        if workspace:
            labels[cv.GCP_LABEL_WORKSPACE] = workspace
        period = timedelta(days=self.policy.rotation_days)
        self.client.create_secret(
            request={
                "parent": parent,
                "secret_id": name,
                "secret": {
                    "replication": {"automatic": {}},
                    "labels": labels,
                    "annotations": {cv.GCP_ANNOTATION_INBOX: inbox},
                    "topics": [{"name": TOPIC}],
                    "rotation": {
                        "next_rotation_time": self.clock.now() + period,
                        "rotation_period": period,
                    },
                },
            }
        )
        self.secrets[name] = live
        self.monitoring.add_policy(notice_policy(FUNCTION_NAME, name, WHERE))
        self.pump()
        return live

    # -- what operators, Pub/Sub and Secret Manager do ------------------------------------

    def submit(
        self, name: str, credential: Credential | str, actor: str = "", key_name: str = ""
    ) -> list[tuple[str, int]]:
        """Operator hand-over: add a version to the inbox; Pub/Sub delivers the event."""
        raw = credential if isinstance(credential, str) else credential.to_json()
        self.rt.store.write_submission(
            self.secrets[name], raw.encode("utf-8"), actor=actor, key_name=key_name
        )
        return self.pump()

    def deliver(self, message: dict[str, Any], structured: bool = False) -> int:
        """One Eventarc delivery to the function; 2xx acknowledges, anything else retries."""
        headers, body = binary_cloud_event(message)
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
        kind = message.get("attributes", {}).get("eventType", "action")
        self.statuses.append((kind, response.status_code))
        if response.status_code >= 300:
            self.nacked.append(message)
            self.errors.append(response.get_data(as_text=True))  # what the crash handler shows
        return response.status_code

    def pump(self) -> list[tuple[str, int]]:
        """Deliver everything published to the rotation topic since the last pump."""
        out = []
        while self.cursor < len(self.emulator.published):
            entry = self.emulator.published[self.cursor]
            self.cursor += 1
            if entry["topic"] != TOPIC:
                continue
            message = entry["message"]
            out.append((message["attributes"]["eventType"], self.deliver(message)))
        return out

    def redeliver(self) -> list[int]:
        """Pub/Sub retrying what the function did not acknowledge."""
        pending, self.nacked = self.nacked, []
        return [self.deliver(m) for m in pending]

    def action(self, doc: dict[str, Any]) -> int:
        return self.deliver(pubsub_message({}, doc))

    def sweep(self) -> int:
        status = self.action({"action": "sweep", "secret_ids": list(self.secrets.values())})
        self.pump()
        return status

    def emergency(self, name: str, reason: str, revoke_first: bool = False) -> int:
        status = self.action(
            {
                "action": "emergency",
                "secret_id": self.secrets[name],
                "reason": reason,
                "actor": "on-call",
                "revoke_first": revoke_first,
            }
        )
        self.pump()
        return status

    def fire_rotations(self) -> list[tuple[str, int]]:
        self.emulator.fire_rotations()
        return self.pump()

    # -- looking -----------------------------------------------------------------------------

    def current_value(self, name: str) -> dict[str, str] | None:
        """What an application reads: versions/latest of the live secret."""
        try:
            got = self.client.access_secret_version(name=f"{self.secrets[name]}/versions/latest")
        except (gexc.NotFound, gexc.BadRequest):
            return None
        return dict(json.loads(bytes(got.payload.data)))

    def state(self, name: str) -> Any:
        return self.rt.store.snapshot(self.secrets[name]).state

    def notices(self) -> list[str]:
        return [n.notice for n in self.notifier.sent]


class InProcessAdapter(BaseAdapter):
    """A requests adapter that answers in-process (no socket): a WSGI app, or a dispatch function.

    The state-machine tests use it so that thousands of calls through the real
    client, its REST transport and JSON encoding stay fast.
    """

    def __init__(self, app: Any = None, dispatch: Any = None, attempts: int = 1) -> None:
        super().__init__()
        self.client = WerkzeugClient(app) if app is not None else None
        self.dispatch = dispatch
        self.attempts = attempts

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> Response:
        """Answer the request; a 429 or 5xx is retried at once, up to `attempts` in all, as
        `build_session(attempts)` does over TCP (with no wait: the fakes say Retry-After 0)."""
        response = self._send_once(request)
        for _ in range(self.attempts - 1):
            if response.status_code not in RETRY_STATUSES:
                break
            response = self._send_once(request)
        return response

    def _send_once(self, request: PreparedRequest) -> Response:
        url = urlsplit(request.url or "")
        body = request.body or b""
        response = Response()
        if self.dispatch is not None:
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            data = body.encode() if isinstance(body, str) else body
            status, text = self.dispatch(request.method or "GET", url.path, query, data)
            response.status_code = status
            response._content = text.encode("utf-8")
            response.headers["Content-Type"] = "application/json"
        else:
            assert self.client is not None
            answer = self.client.open(
                url.path,
                method=request.method or "GET",
                query_string=url.query,
                data=body,
                headers=dict(request.headers),
            )
            response.status_code = answer.status_code
            response._content = answer.get_data()
            response.headers.update(dict(answer.headers))
        response.url = request.url or ""
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        return None


def in_process_client(emulator: SecretManagerEmulator) -> Any:
    """The real Secret Manager client (REST transport) wired to the emulator without TCP."""
    client = build_client("http://secretmanager.local")
    session = client._transport._session
    session.trust_env = False
    session.mount("http://secretmanager.local", InProcessAdapter(dispatch=emulator.dispatch))
    return client


def in_process_customerio(cio: FakeCustomerIO, attempts: int = 1) -> tuple[Any, dict[str, str]]:
    """A session that reaches the fake Customer.io in-process, and the env pointing at it.

    `attempts`: how many times a 429 or 5xx is tried in all (the rotator's own session
    tries 4 times over TCP), so one injected fault per attempt makes one probe inconclusive.
    """
    session = build_session(attempts=1)
    session.trust_env = False
    session.mount(
        "http://customerio.local",
        InProcessAdapter(
            app=WerkzeugRequest.application(cio.server.application), attempts=attempts
        ),
    )
    base = "http://customerio.local/{region}"
    return session, {cv.ENV_TRACK_URL: base, cv.ENV_APP_URL: base}
