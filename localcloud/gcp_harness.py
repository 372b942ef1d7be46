"""A GCP project on this machine, running the stack the Pulumi program declares.

A thin facade over `localcloud.stack.LocalStack`: `provision` adds a credential to
the stack config and re-deploys the program, so the secrets (labels, annotations,
topics, rotation), the function's environment and its trigger come from infra/.
The function is reached only through CloudEvents carrying real Pub/Sub envelopes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from google.api_core import exceptions as gexc
from requests import PreparedRequest, Response
from requests.adapters import BaseAdapter
from werkzeug import Request as WerkzeugRequest
from werkzeug.test import Client as WerkzeugClient

from localcloud.customerio import FakeCustomerIO
from localcloud.gcp_stack import (
    RecordingNotifier,
    binary_cloud_event,
    function_app,
    pubsub_message,
)
from localcloud.harness import StackHarness
from localcloud.monitoring import CloudLogging, LocalMonitoring
from localcloud.secretmanager_emulator import SecretManagerEmulator
from localcloud.stack import GCP_PROJECT, STACK, LocalStack
from rotation import conventions as cv
from rotation.credentials import Credential
from rotation.notify_gcp import StructuredLogNotifier, notice_policy
from rotation.stores.gcp import build_client
from rotation.verify import RETRY_STATUSES, build_session

PROJECT = GCP_PROJECT
TOPIC = f"projects/{PROJECT}/topics/cio-rotation-events"  # the program's rotation topic
SUBSCRIPTION = f"projects/{PROJECT}/subscriptions/eventarc-cio-rotator"
FUNCTION_NAME = "cio-rotator"  # naming.rotator_function_name of the default prefix
WHERE = f"GCP stack {STACK}, project {PROJECT}"  # as infra/gcp_component.py names it

__all__ = [
    "PROJECT",
    "SUBSCRIPTION",
    "TOPIC",
    "GcpHarness",
    "InProcessAdapter",
    "RecordingNotifier",
    "binary_cloud_event",
    "function_app",
    "in_process_client",
    "in_process_customerio",
    "pubsub_message",
]


@dataclass
class GcpHarness(StackHarness):
    """The stack deploys at the first `provision` (a stack config needs a credential)."""

    CLOUD = "gcp"

    emulator: SecretManagerEmulator = field(kw_only=True)
    services: dict[str, str] = field(default_factory=dict, kw_only=True)  # LocalGcp.services

    def __post_init__(self) -> None:
        self.emulator.clock = self.clock.now
        self.client = build_client(self.emulator.endpoint)
        self.stack = LocalStack(
            clock=self.clock,
            cio=self.cio,
            emulator=self.emulator,
            gcp_client=self.client,
            gcp_services=self.services,
        )
        self.app, self.module = function_app()
        # What reaches a person: the stack's alert policies over the function's log entries.
        self.monitoring = LocalMonitoring(now=self.clock.now)
        self.logging = CloudLogging(FUNCTION_NAME, self.monitoring)

    @property
    def _gcp(self) -> Any:
        if self.stack.gcp is None:
            raise RuntimeError("nothing deployed yet: provision a credential first")
        return self.stack.gcp

    @property
    def rt(self) -> Any:
        """The function's runtime (built from the environment the program declared)."""
        return self._gcp.rt

    @rt.setter
    def rt(self, value: Any) -> None:
        """Replace the function's runtime (tests wiring their own store or verifier)."""
        self._gcp.rt = value
        self.module.use_runtime(value)

    @property
    def notifier(self) -> RecordingNotifier:
        notifier: RecordingNotifier = self._gcp.notifier
        return notifier

    @property
    def cursor(self) -> int:
        return int(self._gcp.cursor)

    @cursor.setter
    def cursor(self, value: int) -> None:
        """Skip messages (a test losing an event): Eventarc reads on from here."""
        self._gcp.cursor = value

    @property
    def nacked(self) -> list[dict[str, Any]]:
        return list(self._gcp.nacked)

    @property
    def statuses(self) -> list[tuple[str, int]]:
        return list(self._gcp.statuses)

    @property
    def errors(self) -> list[str]:
        return list(self._gcp.errors)

    # -- pulumi up ------------------------------------------------------------------------

    def deployed(self, specs: list[dict[str, Any]]) -> None:
        """The function writes each notice to its log, where the credential's alert policy
        (the one infra/gcp_component.py declares) e-mails it."""
        self._gcp.notifier.log = StructuredLogNotifier(stream=self.logging)
        known = {p.display_name for p in self.monitoring.policies}
        for spec in specs:
            policy = notice_policy(FUNCTION_NAME, spec["name"], WHERE)
            if policy.display_name not in known:
                self.monitoring.add_policy(policy)

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
        return int(self._gcp.deliver(message, structured))

    def pump(self) -> list[tuple[str, int]]:
        """Deliver everything published to the rotation topic since the last pump."""
        return list(self._gcp.pump())

    def redeliver(self) -> list[int]:
        """Pub/Sub retrying what the function did not acknowledge."""
        return list(self._gcp.redeliver())

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
