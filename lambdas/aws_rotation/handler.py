"""The one rotation Lambda for every managed Customer.io credential.

Secrets Manager calls it with {"Step", "SecretId", "ClientRequestToken"} and the
four steps stay as plain as AWS's rotation template: createSecret copies the
verified inbox submission into AWSPENDING, setSecret has nothing to do
(Customer.io has no API to create keys), testSecret verifies the pending key,
finishSecret verifies again and moves AWSCURRENT. Every step checks before it
acts, so a repeated event is harmless.

It also takes {"action": ...} events (see rotation/conventions.py): the daily
sweep, an emergency, an operator's hand-over, and a one-credential reconcile; and
batches of the work queue (SQS), one credential per message: the sweep's fan-out and
the credentials' own wake-ups (rotation/workqueue.py, rotation/stores/aws_wakeups.py).

Two doors: operators may invoke only the `operator` alias (their IAM grant names its ARN
alone), and through it the function takes operator actions only (cv.OPERATOR_ACTIONS),
never a rotation Step, a queue batch or a sweep. Unqualified, it is reached only by the
stack's own principals (Secrets Manager for the stack's secrets, the event source mapping,
the scheduler's role, the rotator itself), none of which carries a person's request.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3

from rotation import audit
from rotation import conventions as cv
from rotation.clock import Clock, SystemClock
from rotation.engine import Engine
from rotation.errors import (
    AwaitingOperatorKey,
    EntryRefused,
    KeyInFreeText,
    KeyRejected,
    NativeRotationEarly,
    NotManaged,
    RetireRefused,
    RollbackRefused,
    VerificationInconclusive,
)
from rotation.logs import quiet_sdk_loggers
from rotation.notify import FanOut, Notifier, SnsNotifier, WebhookNotifier, chat_webhook_url
from rotation.origin import aws_origin
from rotation.policy import ENV_NAMES
from rotation.state import Mode, Phase, summary
from rotation.stores.aws import AwsSecretsStore
from rotation.stores.aws_wakeups import ScheduledWakeUps
from rotation.verify import Verifier
from rotation.workqueue import Budget, SqsWorkQueue, WorkQueue, unit

log = logging.getLogger("cio.rotator")
log.setLevel(logging.INFO)
quiet_sdk_loggers()


# What the stack must set on this function: the calendar (Policy.from_env would quietly fall
# back to its defaults), the operators' topic (without it nobody is ever notified), and the
# clocks and queue that keep each credential's promises.
# The local stack refuses to run the function without them (localcloud/aws_stack.py).
REQUIRED_ENV: tuple[str, ...] = (
    *ENV_NAMES.values(),
    cv.ENV_SNS_TOPIC_ARN,
    cv.ENV_STACK,
    # Each credential's wake-up (without them no promised moment is kept) and the sweep's
    # fan-out (without it one invocation works through every credential), and this
    # instance's share of Customer.io's rate limit.
    cv.ENV_WAKE_GROUP,
    cv.ENV_WAKE_TARGET_ARN,
    cv.ENV_WAKE_ROLE_ARN,
    cv.ENV_WORK_QUEUE_URL,
    cv.ENV_PROBE_RATE,
)


@dataclass(frozen=True)
class Runtime:
    """What a warm instance keeps between events: the engine, its store, and the work
    queue the sweep hands each credential to (None: the sweep works through the list)."""

    engine: Engine
    store: AwsSecretsStore
    work: WorkQueue | None = None


def build_runtime(
    env: Mapping[str, str] | None = None,
    clock: Clock | None = None,
    verifier: Verifier | None = None,
) -> Runtime:
    """Wire the engine from the Lambda's environment (tests pass their own clock)."""
    env = os.environ if env is None else env
    clock = clock or SystemClock()
    wakeups = ScheduledWakeUps.from_env(env, boto3.client("scheduler"), clock)
    store = AwsSecretsStore(
        boto3.client("secretsmanager"),
        wakeups=wakeups,
        stack=env.get(cv.ENV_STACK) or None,  # acts on its own stack's secrets only
    )
    work: WorkQueue | None = None
    if env.get(cv.ENV_WORK_QUEUE_URL):
        work = SqsWorkQueue(boto3.client("sqs"), env[cv.ENV_WORK_QUEUE_URL])
    notifiers: list[Notifier] = []
    if env.get(cv.ENV_SNS_TOPIC_ARN):
        notifiers.append(SnsNotifier(env[cv.ENV_SNS_TOPIC_ARN], boto3.client("sns")))
    url = chat_webhook_url(env)
    if url:
        notifiers.append(WebhookNotifier(url))
    engine = Engine.from_env(
        env,
        store=store,
        notifier=FanOut(notifiers),
        clock=clock,
        via="secretsmanager",
        verifier=verifier,
        origin=aws_origin(env),
    )
    return Runtime(engine=engine, store=store, work=work)


_runtime: Runtime | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point."""
    global _runtime
    if _runtime is None:
        _runtime = build_runtime()
    invoked = str(getattr(context, "invoked_function_arn", "") or "")
    return handle(event, _runtime, _budget(context), invoked_arn=invoked)


def qualifier_of(invoked_function_arn: str) -> str:
    """The alias or version an invocation named (`...:function:NAME:QUALIFIER`); "" when
    it named the function alone."""
    parts = invoked_function_arn.split(":")
    return parts[7] if len(parts) > 7 else ""


def _budget(context: Any) -> Budget:
    """The invocation's remaining time, from the Lambda context (none: unlimited)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return Budget.unlimited()
    return Budget(lambda: remaining() / 1000.0)


def handle(
    event: dict[str, Any], rt: Runtime, budget: Budget | None = None, invoked_arn: str = ""
) -> dict[str, Any]:
    """One invocation, one store session: every credential is read once and carried.

    `invoked_arn` is the ARN the caller invoked (the Lambda context's): through the
    operator alias only operator actions pass (refuse_at_operator_door).
    """
    budget = budget or Budget.unlimited()
    if qualifier_of(invoked_arn) == cv.OPERATOR_ALIAS:
        refuse_at_operator_door(event, rt)
    if isinstance(event.get("Records"), list):
        return work_batch(rt, event["Records"], budget)
    with rt.store.session():
        return _dispatch(event, rt, budget)


def refuse_at_operator_door(event: dict[str, Any], rt: Runtime) -> None:
    """EntryRefused (and an audit event) for anything but an operator action: a rotation
    Step through the alias would let a person drive Secrets Manager's protocol by hand."""
    action = event.get("action")
    if "Step" not in event and "Records" not in event and action in cv.OPERATOR_ACTIONS:
        return
    if "Step" in event:
        what = f"a rotation step ({event.get('Step')!r}): only Secrets Manager sends those"
    elif "Records" in event:
        what = "a work-queue batch: only the queue's event source mapping sends those"
    else:
        what = f"the event {action!r}: not an operator action"
    secret = event.get("SecretId") or event.get("secret_id") or ""
    audit.record(
        "invocation.refused",
        credential=secret.rsplit(":", 1)[-1] if isinstance(secret, str) else "",
        rotation_id="",
        mode="",
        actor="operator",
        outcome="refused",
        at=rt.engine.clock.now(),
        detail=f"operator alias: {what.split(':')[0]}",
        via="lambda:" + cv.OPERATOR_ALIAS,
    )
    raise EntryRefused(
        f"The rotator's {cv.OPERATOR_ALIAS!r} alias takes operator actions only "
        f"({', '.join(sorted(cv.OPERATOR_ACTIONS))}) and refused {what}. Nothing was done. "
        "Use `cio-rotate` (submit, emergency, rollback, retire, check) instead."
    )


def _dispatch(event: dict[str, Any], rt: Runtime, budget: Budget) -> dict[str, Any]:
    if "Step" in event:
        rotation_step(rt, event["Step"], event["SecretId"], event["ClientRequestToken"])
        return {"step": event["Step"], "outcome": "ok"}
    action = event.get("action")
    if action == cv.ACTION_SWEEP:
        ids = event.get("secret_ids")
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            raise ValueError(
                "a sweep names its credentials ('secret_ids': the stack's manifest); "
                "re-run pulumi up if the schedule's input has none"
            )
        return sweep(rt, ids, budget)
    if action == cv.ACTION_EMERGENCY:
        return emergency(rt, event)
    if action == cv.ACTION_SUBMITTED:
        return submitted(rt, _secret_id(event), str(event.get("actor") or "operator"))
    if action == cv.ACTION_ROLLBACK:
        return rollback(rt, _secret_id(event), str(event.get("actor") or "operator"))
    if action == cv.ACTION_RETIRE:
        return retire(rt, event)
    if action == cv.ACTION_RECONCILE:
        arn = _secret_id(event)
        if event.get("daily"):
            daily(rt, arn)
            return _summary(rt, arn, "swept")
        with rt.store.session():
            rt.engine.reconcile(arn, wake=bool(event.get("wake")))
            return _summary(rt, arn, "reconciled")
    raise ValueError(f"unknown event: expected a rotation Step or an action, got {sorted(event)}")


def _secret_id(event: dict[str, Any]) -> str:
    secret_id = event.get("secret_id")
    if not isinstance(secret_id, str) or not secret_id:
        raise ValueError("the event needs a 'secret_id' (the live secret's ARN or name)")
    return secret_id


# -- Secrets Manager's four steps ------------------------------------------------


def rotation_step(rt: Runtime, step: str, arn: str, token: str) -> None:
    """Check the version's stage, then dispatch; each invocation is one store session."""
    if step == "setSecret":
        set_secret(rt, arn, token)
        return
    if step == "testSecret":
        test_secret(rt, arn, token)
        return
    steps = {"createSecret": create_secret, "finishSecret": finish_secret}
    if step not in steps:
        raise ValueError(f"unknown rotation step {step!r}")
    with rt.store.session():
        snap = rt.store.snapshot(arn)
        if token == snap.current_version:
            log.info("%s: version %s is already AWSCURRENT", step, token)
            if step == "finishSecret":
                rt.engine.reconcile(arn)
            return
        if token != snap.pending_version:
            raise ValueError(
                f"version {token} of {arn} is not AWSPENDING: that rotation was abandoned"
            )
        steps[step](rt, arn, token)


def create_secret(rt: Runtime, arn: str, token: str) -> None:
    """Verify the inbox submission and copy it into AWSPENDING; never write a placeholder.

    Verification happens here, before anything is staged, so the pending version
    only ever holds a key that passed every check in this attempt. A value staged by
    an earlier attempt (a crash before finishSecret) is verified again.
    """
    snap = rt.store.snapshot(arn)
    if snap.state.staged_token == token:
        staged = rt.store.read_value(arn, token)
        if staged is not None:
            _verify_staged(rt, arn, token, staged)
            return
    try:
        verified, submission = rt.engine.verify_submission(arn, actor="secretsmanager")
    except AwaitingOperatorKey:
        staged = rt.store.read_value(arn, token)
        if staged is not None:  # staged, then a crash before the state recorded it
            _verify_staged(rt, arn, token, staged)
            return
        # The native schedule fired with nothing submitted: the key is overdue. Fail honestly.
        try:
            rt.engine.deadline_reached(arn)
        except NativeRotationEarly:
            # Early (the calendar owes nothing yet): leave no unfinished rotation behind, so
            # the next hand-over starts one of Secrets Manager's own, which moves its schedule.
            rt.store.abandon_pending(arn, token)
            raise
        raise
    rt.store.stage_pending(arn, token, verified.credential.to_json().encode("utf-8"))
    rt.engine.staged(arn, token, submission, verified)
    log.info("createSecret: staged key %s as %s", verified.credential.fingerprint, token)


def set_secret(rt: Runtime, arn: str, token: str) -> None:
    """Customer.io keys are created by a person in the dashboard: nothing to set."""
    log.info("setSecret: nothing to do for %s", token)


def test_secret(rt: Runtime, arn: str, token: str) -> None:
    """Nothing left to test: createSecret verified the pending key in this same attempt.

    AWS runs the steps of one attempt in order and starts again from createSecret
    after any failure, so a pending value reaches finishSecret only through a
    createSecret that verified it. An empty pending version is AWS's configuration
    test, which passes quietly too.
    """
    log.info("testSecret: %s was verified by createSecret in this attempt", token)


def finish_secret(rt: Runtime, arn: str, token: str) -> None:
    """Move AWSCURRENT to the verified pending version (compare-and-swap) and record it."""
    rt.engine.promote_staged(arn, token)
    log.info("finishSecret: %s is AWSCURRENT", token)


def _verify_staged(rt: Runtime, arn: str, token: str, raw: bytes) -> None:
    try:
        verified = rt.engine.verify_value(arn, raw)
    except KeyRejected:
        # A pending version is immutable: drop it so the next submission can start afresh.
        rt.store.abandon_pending(arn, token)
        raise
    rt.engine.staged(arn, token, None, verified)


# -- actions ---------------------------------------------------------------------


def submitted(rt: Runtime, arn: str, actor: str) -> dict[str, Any]:
    """An operator wrote the inbox: bootstrap, resume the unfinished rotation, or start one."""
    with rt.store.session():
        snap = rt.store.snapshot(arn)
        try:
            if snap.pending_version:
                # AWS refuses a new rotation while one is unfinished: resume its token.
                for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
                    rotation_step(rt, step, arn, snap.pending_version)
            elif snap.current_version is None or snap.state.phase is Phase.PROMOTED:
                # Bootstrap, or a refusal (the old key must die first): no rotation to start.
                rt.engine.handle_submission(arn, actor=actor)
            elif rt.store.read_submission(arn) is None:
                return _summary(rt, arn, "waiting", message="Nothing in the inbox to hand over.")
            else:
                # The operator may not start rotations (RotateSecret needs lambda:Invoke on
                # the unqualified function, which only the stack's principals have): the
                # rotator starts it, and names the version Secrets Manager started.
                started = rt.store.start_rotation(arn)
                if started is not None:
                    return _summary(rt, arn, "submitted", version=started)
                if rt.store.snapshot(arn, fresh=True).pending_version is None:
                    return _summary(
                        rt,
                        arn,
                        "waiting",
                        message="Secrets Manager refused to start a rotation; try again in a "
                        "minute.",
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
    try:
        _, changed = rt.engine.open_rotation(
            arn,
            Mode.EMERGENCY,
            reason=reason,
            actor=str(event.get("actor") or "on-call"),
            revoke_first=bool(event.get("revoke_first", False)),
        )
    except KeyInFreeText as err:  # an answer, never logged with the text
        return _summary(rt, arn, "refused", message=str(err), field=err.field)
    return _summary(rt, arn, "emergency" if changed else cv.OUTCOME_ALREADY_OPEN)


def rollback(rt: Runtime, arn: str, actor: str) -> dict[str, Any]:
    """The previous key becomes current again, if it still works; refused otherwise."""
    try:
        rt.engine.rollback(arn, actor=actor)
    except (RollbackRefused, KeyInFreeText) as err:
        return _summary(rt, arn, "refused", message=str(err))
    return _summary(rt, arn, "rolled_back")


def retire(rt: Runtime, event: dict[str, Any]) -> dict[str, Any]:
    """The end of a credential's life begins; refused (an answer) while a rotation is open."""
    arn = _secret_id(event)
    reason = str(event.get("reason") or "")
    if not reason:
        raise ValueError("a retirement needs a 'reason' (it goes into the audit trail)")
    try:
        rt.engine.retire(arn, reason, actor=str(event.get("actor") or "operator"))
    except (RetireRefused, KeyInFreeText) as err:
        return _summary(rt, arn, "refused", message=str(err))
    return _summary(rt, arn, "retiring")


def sweep(rt: Runtime, secret_ids: list[str], budget: Budget | None = None) -> dict[str, Any]:
    """The daily pass: every credential handed to its own unit of work on the work queue
    (its own invocation, its own retry). The stack always configures the queue; without
    one (a bare local harness) the credentials are worked through here within the
    invocation's time, and those left are reported (`handed_on`) for the next sweep.
    """
    budget = budget or Budget.unlimited()
    if rt.work is not None:
        rt.work.hand_out([unit(arn, daily=True) for arn in secret_ids])
        log.info("sweep: %d credentials handed to the work queue", len(secret_ids))
        return {"swept": 0, "queued": len(secret_ids), "failed": []}
    failed: list[str] = []
    done = 0
    for arn in secret_ids:
        if not budget.allows():
            break
        done += 1
        if not _daily_one(rt, arn):
            failed.append(arn)
    rest = secret_ids[done:]
    if rest:
        log.warning("sweep: out of time after %d credentials; %d left", done, len(rest))
    if failed:
        log.error("sweep: %d of %d credentials failed", len(failed), done)
    return {"swept": done, "failed": failed, "handed_on": rest}


def daily(rt: Runtime, arn: str) -> None:
    """One credential's daily pass (a work-queue message): raises so that it retries alone."""
    with rt.store.session():
        rt.engine.reconcile(arn, liveness=True)
        if rt.engine.submission_waiting(arn):
            submitted(rt, arn, actor="sweep")


def _daily_one(rt: Runtime, arn: str) -> bool:
    try:
        daily(rt, arn)
    except NotManaged as err:
        log.warning("sweep: skipping %s: %s", arn, err)
        return False
    except Exception as err:  # one credential never stops the others
        log.error("sweep: %s failed: %s", arn, type(err).__name__)
        return False
    return True


def work_batch(rt: Runtime, records: list[Any], budget: Budget) -> dict[str, Any]:
    """A batch from the work queue: one credential per message, each its own outcome.

    A message that fails, and every message this invocation has no time left for, is
    reported back (`batchItemFailures`, ReportBatchItemFailures on the event source
    mapping): SQS delivers each of those again on its own, naming its credential, and
    deletes the rest.
    """
    failures: list[dict[str, str]] = []
    for record in records:
        message_id = str(record.get("messageId", ""))
        if not budget.allows():
            failures.append({"itemIdentifier": message_id})  # handed on, not failed
            continue
        try:
            event = json.loads(record.get("body") or "{}")
            if not isinstance(event, dict) or event.get("action") in (None, cv.ACTION_SWEEP):
                # A sweep is the schedule's, never a queued unit: no message may fan out.
                raise ValueError("a work-queue message names one credential's action")
            with rt.store.session():
                _dispatch(event, rt, budget)
        except NotManaged as err:
            log.warning("work: %s dropped: %s", message_id, err)  # redelivery cannot help
        except Exception as err:
            log.error("work: message %s failed: %s", message_id, type(err).__name__)
            failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}


def _summary(rt: Runtime, arn: str, outcome: str, **extra: Any) -> dict[str, Any]:
    with rt.store.session():
        return summary(rt.store.snapshot(arn).state, outcome, **extra)
