"""The one rotation Lambda for every managed Customer.io credential.

Secrets Manager calls it with {"Step", "SecretId", "ClientRequestToken"} and the
four steps stay as plain as AWS's rotation template: createSecret copies the
verified inbox submission into AWSPENDING, setSecret has nothing to do
(Customer.io has no API to create keys), testSecret verifies the pending key,
finishSecret verifies again and moves AWSCURRENT. Every step checks before it
acts, so a repeated event is harmless.

It also takes {"action": ...} events (see rotation/conventions.py): the daily
sweep, an emergency, an operator's hand-over, and a one-credential reconcile.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3

from rotation import conventions as cv
from rotation.clock import Clock, SystemClock
from rotation.engine import Engine
from rotation.errors import (
    AwaitingOperatorKey,
    KeyRejected,
    NotManaged,
    RollbackRefused,
    RotationError,
    VerificationInconclusive,
)
from rotation.logs import quiet_sdk_loggers
from rotation.notify import FanOut, Notifier, SnsNotifier, WebhookNotifier
from rotation.policy import Policy
from rotation.state import Mode, Phase
from rotation.stores.aws import AwsSecretsStore
from rotation.verify import Verifier

log = logging.getLogger("cio.rotator")
log.setLevel(logging.INFO)
quiet_sdk_loggers()


@dataclass(frozen=True)
class Runtime:
    engine: Engine
    store: AwsSecretsStore


def build_runtime(
    env: Mapping[str, str] | None = None,
    clock: Clock | None = None,
    verifier: Verifier | None = None,
) -> Runtime:
    """Wire the engine from the Lambda's environment (tests pass their own clock)."""
    env = os.environ if env is None else env
    store = AwsSecretsStore(boto3.client("secretsmanager"))
    notifiers: list[Notifier] = []
    if env.get(cv.ENV_SNS_TOPIC_ARN):
        notifiers.append(SnsNotifier(env[cv.ENV_SNS_TOPIC_ARN], boto3.client("sns")))
    if env.get(cv.ENV_CHAT_WEBHOOK_URL):
        notifiers.append(WebhookNotifier(env[cv.ENV_CHAT_WEBHOOK_URL]))
    engine = Engine(
        store=store,
        verifier=verifier or Verifier(env=env),
        notifier=FanOut(notifiers),
        clock=clock or SystemClock(),
        policy=Policy.from_env(env),
        cli=env.get(cv.ENV_CLI_NAME, cv.CLI_NAME),
    )
    return Runtime(engine=engine, store=store)


_runtime: Runtime | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point."""
    global _runtime
    if _runtime is None:
        _runtime = build_runtime()
    return handle(event, _runtime)


def handle(event: dict[str, Any], rt: Runtime) -> dict[str, Any]:
    if "Step" in event:
        rotation_step(rt, event["Step"], event["SecretId"], event["ClientRequestToken"])
        return {"step": event["Step"], "outcome": "ok"}
    action = event.get("action")
    if action == cv.ACTION_SWEEP:
        return sweep(rt, list(event.get("secret_ids") or rt.store.managed_secret_ids()))
    if action == cv.ACTION_EMERGENCY:
        return emergency(rt, event)
    if action == cv.ACTION_SUBMITTED:
        return submitted(rt, _secret_id(event), str(event.get("actor") or "operator"))
    if action == cv.ACTION_ROLLBACK:
        return rollback(rt, _secret_id(event), str(event.get("actor") or "operator"))
    if action == cv.ACTION_RECONCILE:
        arn = _secret_id(event)
        return _summary(rt, arn, "reconciled", state_only=rt.engine.reconcile(arn) is not None)
    raise ValueError(f"unknown event: expected a rotation Step or an action, got {sorted(event)}")


def _secret_id(event: dict[str, Any]) -> str:
    secret_id = event.get("secret_id")
    if not isinstance(secret_id, str) or not secret_id:
        raise ValueError("the event needs a 'secret_id' (the live secret's ARN or name)")
    return secret_id


# -- Secrets Manager's four steps ------------------------------------------------


def rotation_step(rt: Runtime, step: str, arn: str, token: str) -> None:
    stages = rt.store.version_stages(arn)
    if token not in stages:
        raise ValueError(f"version {token} of {arn} has no stage for rotation")
    if cv.AWSCURRENT in stages[token]:
        log.info("%s: version %s is already AWSCURRENT", step, token)
        if step == "finishSecret":
            rt.engine.reconcile(arn)
        return
    if cv.AWSPENDING not in stages[token]:
        raise ValueError(f"version {token} of {arn} is not AWSPENDING: that rotation was abandoned")
    steps = {
        "createSecret": create_secret,
        "setSecret": set_secret,
        "testSecret": test_secret,
        "finishSecret": finish_secret,
    }
    if step not in steps:
        raise ValueError(f"unknown rotation step {step!r}")
    steps[step](rt, arn, token)


def create_secret(rt: Runtime, arn: str, token: str) -> None:
    """Copy the verified inbox submission into AWSPENDING; never write a placeholder."""
    if rt.store.read_value(arn, token) is not None:
        log.info("createSecret: version %s already holds the staged key", token)
        return
    try:
        verified, _ = rt.engine.verify_submission(arn, actor="secretsmanager")
    except AwaitingOperatorKey:
        # The native schedule fired with nothing submitted: the key is overdue. Fail honestly.
        rt.engine.deadline_reached(arn)
        raise
    rt.store.stage_pending(arn, token, verified.credential.to_json().encode("utf-8"))
    log.info("createSecret: staged key %s as %s", verified.credential.fingerprint, token)


def set_secret(rt: Runtime, arn: str, token: str) -> None:
    """Customer.io keys are created by a person in the dashboard: nothing to set."""
    log.info("setSecret: nothing to do for %s", token)


def test_secret(rt: Runtime, arn: str, token: str) -> None:
    """Verify the pending key. An empty pending version is AWS's configuration test."""
    raw = rt.store.read_value(arn, token)
    if raw is None:
        log.info("testSecret: no pending value (configuration test): passing")
        return
    _verify_pending(rt, arn, token, raw)


def finish_secret(rt: Runtime, arn: str, token: str) -> None:
    """Verify once more in this attempt, then move AWSCURRENT (compare-and-swap)."""
    raw = rt.store.read_value(arn, token)
    if raw is None:
        raise AwaitingOperatorKey(f"version {token} holds no key: createSecret did not stage one")
    verified = _verify_pending(rt, arn, token, raw)
    rt.engine.promote(arn, verified, pending_version=token, actor="secretsmanager")
    log.info("finishSecret: %s is AWSCURRENT", token)


def _verify_pending(rt: Runtime, arn: str, token: str, raw: bytes) -> Any:
    try:
        return rt.engine.verify_value(arn, raw)
    except KeyRejected:
        # A pending version is immutable: drop it so the next submission can start afresh.
        rt.store.abandon_pending(arn, token)
        raise


# -- actions ---------------------------------------------------------------------


def submitted(rt: Runtime, arn: str, actor: str) -> dict[str, Any]:
    """An operator wrote the inbox: bootstrap, resume the unfinished rotation, or start one."""
    snap = rt.store.snapshot(arn)
    pending_empty = bool(snap.pending_version) and (
        rt.store.read_value(arn, snap.pending_version or "") is None
    )
    if (pending_empty or not snap.pending_version) and rt.store.read_submission(arn) is None:
        return _summary(rt, arn, "waiting", message="Nothing in the inbox to hand over.")
    try:
        if snap.state.phase is Phase.PROMOTED:
            rt.engine.verify_submission(arn, actor=actor)  # refuses: the old key must die first
        if snap.pending_version:
            # AWS refuses a new rotation while one is unfinished: resume its token.
            for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
                rotation_step(rt, step, arn, snap.pending_version)
        elif snap.current_version is None:
            verified, _ = rt.engine.verify_submission(arn, actor=actor)
            rt.engine.promote(arn, verified, pending_version=None, actor=actor)
        else:
            if rt.store.start_rotation(arn) is None:
                if rt.store.snapshot(arn).pending_version is None:
                    return _summary(
                        rt,
                        arn,
                        "waiting",
                        message="Secrets Manager refused to start a "
                        "rotation; try again in a minute.",
                    )
                return submitted(rt, arn, actor)
    except KeyRejected as err:
        return _summary(rt, arn, "rejected", message=str(err), reason=err.reason)
    except VerificationInconclusive as err:
        return _summary(rt, arn, "inconclusive", message=str(err))
    except AwaitingOperatorKey as err:
        return _summary(rt, arn, "waiting", message=str(err))
    return _summary(rt, arn, "submitted")


def emergency(rt: Runtime, event: dict[str, Any]) -> dict[str, Any]:
    arn = _secret_id(event)
    reason = str(event.get("reason") or "")
    if not reason:
        raise ValueError("an emergency needs a 'reason' (it goes into the audit trail)")
    rt.engine.open_rotation(
        arn,
        Mode.EMERGENCY,
        reason=reason,
        actor=str(event.get("actor") or "on-call"),
        revoke_first=bool(event.get("revoke_first", False)),
    )
    return _summary(rt, arn, "emergency")


def rollback(rt: Runtime, arn: str, actor: str) -> dict[str, Any]:
    """The previous key becomes current again, if it still works; refused otherwise."""
    try:
        rt.engine.rollback(arn, actor=actor)
    except RollbackRefused as err:
        return _summary(rt, arn, "refused", message=str(err))
    return _summary(rt, arn, "rolled_back")


def sweep(rt: Runtime, secret_ids: list[str]) -> dict[str, Any]:
    """The daily pass: calendar, reminders, revocation checks, lost submissions."""
    failed: list[str] = []
    for arn in secret_ids:
        try:
            rt.engine.reconcile(arn)
            if rt.store.read_submission(arn) is not None:
                submitted(rt, arn, actor="sweep")
        except NotManaged as err:
            log.warning("sweep: skipping %s: %s", arn, err)
            failed.append(arn)
        except (RotationError, Exception) as err:  # one credential never stops the others
            log.error("sweep: %s failed: %s", arn, type(err).__name__)
            failed.append(arn)
    if failed:
        log.error("sweep: %d of %d credentials failed", len(failed), len(secret_ids))
    return {"swept": len(secret_ids), "failed": failed}


def _summary(rt: Runtime, arn: str, outcome: str, **extra: Any) -> dict[str, Any]:
    state = rt.store.snapshot(arn).state
    return {
        "outcome": outcome,
        "phase": state.phase.value,
        "rotation_id": state.rotation_id or state.last_rotation_id,
        "mode": state.mode.value if state.mode else "",
        "current_fp": state.current_fp,
        "previous_fp": state.previous_fp,
        "grace_until": state.grace_until.isoformat() if state.grace_until else "",
        **{k: v for k, v in extra.items() if k != "state_only"},
    }
