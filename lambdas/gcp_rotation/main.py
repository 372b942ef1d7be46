"""The one Cloud Function (2nd gen) for every managed Customer.io credential on GCP.

Eventarc delivers the rotation topic's Pub/Sub messages as CloudEvents
(`google.cloud.pubsub.topic.v1.messagePublished`, data `{"message": {...}}`):

- Secret Manager's own events carry `message.attributes` eventType, secretId (the
  secret's full resource name), dataFormat and timestamp:
  `SECRET_ROTATE` on a live secret opens a rotation; `SECRET_VERSION_ADD` on an
  inbox verifies the submission and promotes it. Every other event type, and
  secrets the rotator does not manage, are acknowledged with a logged reason.
- Messages without eventType carry JSON actions (see rotation/conventions.py):
  the daily sweep from Cloud Scheduler; an emergency, a hand-over, a rollback or a
  one-credential reconcile from the CLI; one credential's daily pass, which the sweep
  publishes to the same topic for each credential (rotation/workqueue.py).
- `SECRET_ROTATE` is also each credential's own wake-up: the rotator sets the secret's
  `next_rotation_time` to the next moment it owes a notice or a probe
  (rotation/stores/gcp.py), and the 90-day calendar again when none is owed.

Acknowledging means returning; raising makes Pub/Sub redeliver. So a refused key
and a malformed message return (redelivery cannot change them), while an
inconclusive verification or any transient failure raises. A sweep never raises for
its credentials: each is its own message, retried alone.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import functions_framework
from cloudevents.http import CloudEvent

from rotation import conventions as cv
from rotation.clock import Clock, Pace, SystemClock
from rotation.engine import Engine
from rotation.errors import (
    AwaitingOperatorKey,
    KeyInFreeText,
    KeyRejected,
    NotManaged,
    RetireRefused,
    RollbackRefused,
    VerificationInconclusive,
)
from rotation.logs import quiet_sdk_loggers
from rotation.notify import FanOut, Notifier, WebhookNotifier, chat_webhook_url
from rotation.notify_gcp import PubSubNotifier, StructuredLogNotifier
from rotation.origin import gcp_origin
from rotation.policy import ENV_NAMES, rotation_config_drift
from rotation.state import Mode, Phase
from rotation.stores.gcp import GcpSecretStore, build_client
from rotation.stores.gcp_quota import paced_reads
from rotation.verify import Verifier
from rotation.workqueue import Budget, WorkQueue, unit
from rotation.workqueue_gcp import PubSubWorkQueue

log = logging.getLogger("cio.rotator")
log.setLevel(logging.INFO)
quiet_sdk_loggers()

EVENT_ROTATE = "SECRET_ROTATE"
EVENT_VERSION_ADD = "SECRET_VERSION_ADD"


# What the stack must set on this function: the calendar (Policy.from_env would quietly fall
# back to its defaults), the notifications topic (without it nobody is ever notified), and
# what fans the sweep out and bounds each event in time.
# The local stack refuses to run the function without them (localcloud/gcp_stack.py).
REQUIRED_ENV: tuple[str, ...] = (
    *ENV_NAMES.values(),
    cv.ENV_PUBSUB_TOPIC,
    cv.ENV_STACK,
    cv.ENV_ROTATION_TOPIC,
    cv.ENV_FUNCTION_TIMEOUT,
    cv.ENV_PROBE_RATE,
    cv.ENV_GCP_READ_RATE,
)


@dataclass(frozen=True)
class Runtime:
    """What a warm instance keeps between events: the engine, its store, the work queue
    the sweep hands each credential to (None: the sweep works through the list itself),
    and the function's timeout (its deadline is measured from each event's start)."""

    engine: Engine
    store: GcpSecretStore
    managed: tuple[str, ...] = ()
    work: WorkQueue | None = None
    timeout_seconds: float = 0.0  # 0: unlimited

    def budget(self) -> Budget:
        if not self.timeout_seconds:
            return Budget.unlimited()
        clock = self.engine.clock
        pace = clock if hasattr(clock, "monotonic") else SystemClock()
        started = pace.monotonic()
        return Budget(lambda: self.timeout_seconds - (pace.monotonic() - started))


def build_runtime(
    env: Mapping[str, str] | None = None,
    clock: Clock | None = None,
    verifier: Verifier | None = None,
    client: Any | None = None,
    notifier: Notifier | None = None,
    work_session: Any | None = None,
) -> Runtime:
    """Wire the engine from the function's environment (tests pass client, clock, verifier)."""
    env = os.environ if env is None else env
    clock = clock or SystemClock()
    # Metadata reads wait at this instance's share of the project's quota (gcp_quota).
    pace = cast(Pace, clock) if hasattr(clock, "monotonic") else None
    store = GcpSecretStore(
        paced_reads(client if client is not None else build_client(), env, pace),
        clock,
        stack=env.get(cv.ENV_STACK) or None,  # acts on its own stack's secrets only
    )
    if notifier is None:
        notifiers: list[Notifier] = [StructuredLogNotifier()]
        if env.get(cv.ENV_PUBSUB_TOPIC):
            notifiers.append(PubSubNotifier(env[cv.ENV_PUBSUB_TOPIC]))
        url = chat_webhook_url(env)
        if url:
            notifiers.append(WebhookNotifier(url))
        notifier = FanOut(notifiers)
    engine = Engine.from_env(
        env,
        store=store,
        notifier=notifier,
        clock=clock,
        via="pubsub",
        verifier=verifier,
        origin=gcp_origin(env),
    )
    managed = tuple(s.strip() for s in env.get(cv.ENV_MANAGED_SECRETS, "").split(",") if s.strip())
    work: WorkQueue | None = None
    if env.get(cv.ENV_ROTATION_TOPIC):
        work = PubSubWorkQueue(env[cv.ENV_ROTATION_TOPIC], session=work_session)
    timeout = float(env.get(cv.ENV_FUNCTION_TIMEOUT) or 0)
    return Runtime(engine=engine, store=store, managed=managed, work=work, timeout_seconds=timeout)


_runtime: Runtime | None = None


def use_runtime(rt: Runtime | None) -> None:
    """Install a runtime (tests); None rebuilds it from the environment on the next event."""
    global _runtime
    _runtime = rt


@functions_framework.cloud_event
def handle_event(cloud_event: CloudEvent) -> None:
    """Cloud Function entry point: one Pub/Sub message, delivered by Eventarc."""
    global _runtime
    if _runtime is None:
        _runtime = build_runtime()
    handle(cloud_event.get_data(), _runtime)


class Malformed(ValueError):
    """A message redelivery cannot fix: acknowledged with a logged reason."""


def decode(data: Any) -> tuple[dict[str, str], bytes]:
    """The Pub/Sub message inside the CloudEvent: (attributes, decoded data)."""
    if isinstance(data, bytes | str):
        try:
            data = json.loads(data)
        except ValueError:
            raise Malformed("the event body is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("message"), dict):
        raise Malformed("the event has no Pub/Sub 'message'")
    message = data["message"]
    attributes = message.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise Malformed("message.attributes is not a map")
    try:
        payload = base64.b64decode(message.get("data") or "", validate=True)
    except (binascii.Error, ValueError):
        raise Malformed("message.data is not base64") from None
    return {str(k): str(v) for k, v in attributes.items()}, payload


def handle(data: Any, rt: Runtime) -> dict[str, Any]:
    """Dispatch one message; returns a summary (for logs and tests), raises to be retried."""
    with rt.store.session():
        return _dispatch(data, rt)


def _dispatch(data: Any, rt: Runtime) -> dict[str, Any]:
    try:
        attributes, payload = decode(data)
        event_type = attributes.get("eventType")
        if event_type:
            return _secret_event(rt, event_type, attributes)
        return _action(rt, payload)
    except Malformed as err:
        log.warning("acknowledged without action: %s", err)
        return {"outcome": "ignored", "reason": str(err)}
    except NotManaged as err:
        # Redelivery cannot make a secret managed: that takes `pulumi up`.
        log.warning("acknowledged without action: %s", err)
        return {"outcome": "ignored", "reason": "not managed"}


def _secret_event(rt: Runtime, event_type: str, attributes: dict[str, str]) -> dict[str, Any]:
    secret_id = attributes.get("secretId", "")
    if not secret_id.startswith("projects/"):
        raise Malformed(f"{event_type} without a secretId resource name")
    if event_type == EVENT_ROTATE:
        # The secret's timer: the credential's own wake-up, or the 90-day calendar. Either
        # way the engine's calendar and follow-ups decide what is due (a rotation opens
        # when the key is old enough), and the timer is set to the next moment again.
        state = rt.engine.reconcile(secret_id, wake=True)
        return {"outcome": "woken", "phase": state.phase.value, "secret": secret_id}
    if event_type == EVENT_VERSION_ADD:
        live = rt.store.live_secret_of(secret_id)
        if live is None:
            # Our own promotions add versions to live secrets on the same topic.
            log.info("%s on %s acknowledged: not a submission inbox", event_type, secret_id)
            return {"outcome": "ignored", "reason": "not an inbox"}
        return process_submission(rt, live, actor="operator")
    log.info("%s on %s acknowledged: nothing to do for this event type", event_type, secret_id)
    return {"outcome": "ignored", "reason": f"event type {event_type}"}


def _action(rt: Runtime, payload: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(payload)
    except ValueError:
        raise Malformed("message without eventType whose data is not JSON") from None
    if not isinstance(doc, dict):
        raise Malformed("the action message must be a JSON object")
    action = doc.get("action")
    if action == cv.ACTION_SWEEP:
        ids = doc.get("secret_ids") or list(rt.managed)
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise Malformed("secret_ids must be a list of resource names")
        return sweep(rt, ids, rt.budget())
    if action == cv.ACTION_EMERGENCY:
        return emergency(rt, doc)
    if action == cv.ACTION_RETIRE:
        return retire(rt, doc)
    if action in (cv.ACTION_SUBMITTED, cv.ACTION_RECONCILE, cv.ACTION_ROLLBACK):
        secret_id = _secret_id(doc)
        actor = str(doc.get("actor") or "operator")
        if action == cv.ACTION_SUBMITTED:
            return process_submission(rt, secret_id, actor=actor)
        if action == cv.ACTION_ROLLBACK:
            return rollback(rt, secret_id, actor)
        if doc.get("daily") is True:
            daily(rt, secret_id)  # raises on failure: this credential's message retries
            return {"outcome": "swept", "secret": secret_id}
        rt.engine.reconcile(secret_id, wake=doc.get("wake") is True)
        return {"outcome": "reconciled", "secret": secret_id}
    raise Malformed(f"unknown action {action!r}")


def _secret_id(doc: dict[str, Any]) -> str:
    secret_id = doc.get("secret_id")
    if not isinstance(secret_id, str) or not secret_id.startswith("projects/"):
        raise Malformed("the action needs a 'secret_id' (the live secret's resource name)")
    return secret_id


def process_submission(rt: Runtime, live: str, actor: str) -> dict[str, Any]:
    """Verify the inbox submission and promote it; a refusal is an answer, not a failure."""
    try:
        state = rt.engine.handle_submission(live, actor=actor)
    except KeyRejected as err:
        log.info("submission for %s refused (%s)", live, err.reason)
        return {"outcome": "rejected", "reason": err.reason, "secret": live}
    except AwaitingOperatorKey:
        log.info("no submission waiting for %s (already processed)", live)
        return {"outcome": "waiting", "secret": live}
    except VerificationInconclusive:
        log.warning("verification for %s inconclusive: Pub/Sub will redeliver", live)
        raise
    return {"outcome": "promoted", "phase": state.phase.value, "secret": live}


def rollback(rt: Runtime, secret_id: str, actor: str) -> dict[str, Any]:
    """The previous key becomes current again (a new, newest version); refusals are answers."""
    try:
        state = rt.engine.rollback(secret_id, actor=actor)
    except (RollbackRefused, KeyInFreeText) as err:
        log.warning("rollback of %s refused: %s", secret_id, err)
        return {"outcome": "refused", "secret": secret_id, "message": str(err)}
    return {"outcome": "rolled_back", "phase": state.phase.value, "secret": secret_id}


def emergency(rt: Runtime, doc: dict[str, Any]) -> dict[str, Any]:
    secret_id = _secret_id(doc)
    reason = doc.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise Malformed("an emergency needs a 'reason' (it goes into the audit trail)")
    try:
        state, changed = rt.engine.open_rotation(
            secret_id,
            Mode.EMERGENCY,
            reason=reason,
            actor=str(doc.get("actor") or "on-call"),
            revoke_first=doc.get("revoke_first") is True,
        )
    except KeyInFreeText as err:  # the message names the field, never the text
        log.warning("emergency for %s refused: %s", secret_id, err)
        return {"outcome": "refused", "secret": secret_id, "message": str(err)}
    outcome = "emergency" if changed else cv.OUTCOME_ALREADY_OPEN
    return {"outcome": outcome, "phase": state.phase.value, "secret": secret_id}


def retire(rt: Runtime, doc: dict[str, Any]) -> dict[str, Any]:
    """The end of a credential's life begins; a refusal (a rotation is open) is an answer."""
    secret_id = _secret_id(doc)
    reason = doc.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise Malformed("a retirement needs a 'reason' (it goes into the audit trail)")
    try:
        state = rt.engine.retire(secret_id, reason, actor=str(doc.get("actor") or "operator"))
    except (RetireRefused, KeyInFreeText) as err:
        log.warning("retirement of %s refused: %s", secret_id, err)
        return {"outcome": "refused", "secret": secret_id, "message": str(err)}
    return {"outcome": "retiring", "phase": state.phase.value, "secret": secret_id}


def report_rotation_drift(rt: Runtime, secret_id: str) -> list[str]:
    """A changed native rotation config (the runtime account may update the secret, for its
    aliases and annotations) is logged at WARNING, which the stack's alert policy sends to
    the operators; the rotator itself never changes it back (Pulumi owns it)."""
    with rt.store.session():
        if rt.store.snapshot(secret_id, quick=True).state.phase in (Phase.RETIRING, Phase.RETIRED):
            return []
        period, next_time, topics = rt.store.rotation_config(secret_id)
    problems = rotation_config_drift(
        period, next_time, topics, rt.engine.clock.now(), rt.engine.policy
    )
    for problem in problems:
        log.warning("sweep: the rotation config of %s changed: %s", secret_id, problem)
    return problems


def sweep(rt: Runtime, secret_ids: list[str], budget: Budget | None = None) -> dict[str, Any]:
    """The daily pass: one message per credential on the rotation topic (each its own
    delivery and retry), or, with no topic configured, worked through here within the
    function's deadline. Never raises for a credential: one failure retries alone."""
    budget = budget or Budget.unlimited()
    if rt.work is not None:
        rt.work.hand_out([unit(secret_id, daily=True) for secret_id in secret_ids])
        log.info("sweep: %d credentials published, one message each", len(secret_ids))
        return {"outcome": "queued", "queued": len(secret_ids)}
    failed: list[str] = []
    skipped: list[str] = []
    done = 0
    for secret_id in secret_ids:
        if not budget.allows():
            break
        done += 1
        try:
            daily(rt, secret_id)
        except NotManaged as err:
            log.warning("sweep: skipping %s: %s", secret_id, err)
            skipped.append(secret_id)
        except Exception as err:  # one credential never stops the others
            log.error("sweep: %s failed: %s", secret_id, type(err).__name__)
            failed.append(secret_id)
    rest = secret_ids[done:]
    if rest:
        log.warning("sweep: out of time after %d credentials; %d left", done, len(rest))
    return {
        "outcome": "swept",
        "swept": done,
        "skipped": skipped,
        "failed": failed,
        "left": rest,
    }


def daily(rt: Runtime, secret_id: str) -> None:
    """One credential's daily pass: calendar, reminders, revocation checks, the live key's
    probe, a submission whose event was lost, and a changed native rotation config.
    Raises so that its message retries."""
    with rt.store.session():
        rt.engine.reconcile(secret_id, liveness=True)
        # Pub/Sub redelivers inbox events until they are handled; the sweep looks at an
        # inbox only while a rotation waits for its key.
        if rt.engine.submission_waiting(secret_id):
            process_submission(rt, secret_id, actor="sweep")
        report_rotation_drift(rt, secret_id)
