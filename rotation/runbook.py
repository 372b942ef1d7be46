"""What a person is told: numbered, ordered instructions for each kind, mode and step.

The most important screen of the project, so it is pure text built from the
state: easy to test, identical on both clouds, and never holding a key (it only
sees fingerprints and last-4 labels).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from rotation import conventions as cv
from rotation.credentials import Kind
from rotation.policy import Policy, grace_until
from rotation.state import Mode, RotationState, format_time


@dataclass(frozen=True)
class Notification:
    id: str  # stable: rotation id + notice, so receivers can drop duplicates
    credential: str
    rotation_id: str
    notice: str
    urgency: str  # info | action | urgent
    subject: str
    body: str


@dataclass(frozen=True)
class Context:
    """Everything a notice may mention about one credential, all of it secret-free."""

    name: str
    kind: Kind
    region: str
    workspace: str
    state: RotationState
    policy: Policy
    now: datetime
    cli: str = cv.CLI_NAME


DASHBOARD = {
    Kind.TRACK: (
        "Customer.io > Account Settings > API Credentials > Tracking API Keys",
        'Click "Create Tracking API Key"',
    ),
    Kind.APP: (
        "Customer.io > Account Settings > API Credentials > App API Keys",
        'Click "Create App API Key" and choose the same workspace',
    ),
    Kind.WEBHOOK_SIGNING: (
        "Customer.io > Data & Integrations > Reporting Webhooks > this webhook",
        'Click "Regenerate signing key"',
    ),
}
KIND_TITLE = {
    Kind.TRACK: "Track API key (Site ID + API key)",
    Kind.APP: "App API key",
    Kind.WEBHOOK_SIGNING: "reporting-webhook signing key",
}
WHAT_TO_PASTE = {
    Kind.TRACK: "the new Site ID and API key",
    Kind.APP: "the new App API key",
    Kind.WEBHOOK_SIGNING: "the new signing key",
}

_REJECTIONS = {
    "unauthorized": "Customer.io rejected the key{status}. Paste it exactly as the dashboard shows "
    "it (Site ID and API key of the same set), or create a new one.",
    "unauthorized_or_wrong_region": "Customer.io rejected the key{status}: either it is wrong, or "
    "it belongs to a workspace in the other region. Check the workspace's region, then paste the "
    "key exactly as shown (App keys are shown once: if lost, create a new one).",
    "wrong_workspace": "the key belongs to another Customer.io workspace ({detail}). Using it "
    "would send data to the wrong place. Create the key in the workspace of the current key.",
    "wrong_region": "the key answers for region {detail}, not the configured one. Create the "
    "key in a workspace of the configured region.",
    "same_as_current": "this is the key already in use. Create a NEW key in the dashboard and "
    "submit that one.",
    "malformed": "the submission is not a valid credential: {detail}",
}
_INCONCLUSIVE = {
    "forbidden": "Customer.io refused the call (403). If the workspace has an IP allowlist, add "
    "the rotator's egress addresses to it; the key itself may be fine.",
    "rate_limited": "Customer.io is rate limiting (429). The rotator retries on its own.",
    "unavailable": "Customer.io is unavailable ({detail}). The rotator retries on its own.",
    "timeout": "Customer.io did not answer in time. The rotator retries on its own.",
}


def rejection_text(reason: str, label: str, status: int | None = None, detail: str = "") -> str:
    template = _REJECTIONS.get(reason, "Customer.io did not accept the key ({detail}).")
    status_text = f" ({status})" if status else ""
    return f"Key {label} was not accepted: " + template.format(status=status_text, detail=detail)


def inconclusive_text(reason: str, detail: str, label: str) -> str:
    template = _INCONCLUSIVE.get(
        reason, "Customer.io could not be asked ({detail}). The rotator retries on its own."
    )
    return (
        f"Key {label} could not be verified yet: {template.format(detail=detail)} "
        "The current key is unchanged."
    )


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "unknown"


def _old_key(ctx: Context) -> str:
    fp = ctx.state.previous_fp if ctx.state.phase.value == "promoted" else ctx.state.current_fp
    return f"the key with fingerprint {fp}" if fp else "the old key"


def key_name(ctx: Context) -> str:
    """The name to give the new key, so the old one is easy to tell apart later."""
    return f"{ctx.name}-{ctx.now.strftime('%Y%m%d')}"


def steps(ctx: Context) -> list[str]:
    """The numbered runbook for the open rotation of this credential."""
    st = ctx.state
    page, create = DASHBOARD[ctx.kind]
    where = f" (workspace {ctx.workspace}, region {ctx.region})" if ctx.workspace else ""
    if ctx.region and not where:
        where = f" (region {ctx.region})"
    submit = f"{ctx.cli} submit {ctx.name}"
    handover = (
        f"Hand it over: run `{submit}` and paste {WHAT_TO_PASTE[ctx.kind]} when asked "
        "(input is hidden). Never paste a key into chat, a ticket or e-mail."
    )
    checks = "it must authenticate with Customer.io"
    if ctx.kind is Kind.TRACK:
        checks += ", belong to the same workspace and region, and differ from the current key"
    elif ctx.kind is Kind.APP:
        checks += " in the configured region, see the same account, and differ from the current key"
    else:
        checks = "it must be well formed and differ from the current key"
    next_ = (
        f"What happens next: the rotator verifies the key ({checks}). If it passes, it becomes "
        f"current at once and `{submit}` says so. If not, you are told why and the current key "
        "stays in use: fix it and submit again."
    )
    shown_once = (
        " It is shown once: copy it before closing the dialog." if ctx.kind is Kind.APP else ""
    )
    out: list[str] = []
    if st.mode is Mode.BOOTSTRAP:
        out = [
            f"Open {page}{where}. You need Account Admin or the 'Manage API credentials' permission.",
            f'{create}; name it "{ctx.name}".{shown_once}',
            handover,
            next_,
            "There is no old key to delete: you are done when the submit command reports it live.",
        ]
        return out
    grace = grace_until(st.mode, st.revoke_first, st.promoted_at or ctx.now, ctx.policy)
    wait = grace - (st.promoted_at or ctx.now)
    if st.revoke_first:
        out.append(
            f"Contain the leak first: in {page}{where}, DELETE {_old_key(ctx)} now. Applications "
            "using it fail until step 4 is done: that is accepted in this mode."
        )
    else:
        out.append(
            f"Open {page}{where}. You need Account Admin or the 'Manage API credentials' "
            "permission."
        )
    out.append(f'{create}; name it "{key_name(ctx)}".{shown_once}')
    if ctx.kind is Kind.WEBHOOK_SIGNING:
        out.append(
            "Customer.io signs with the new key at once: do the next step within minutes "
            "(failed deliveries are retried, so none are lost)."
        )
    out.append(handover)
    out.append(next_)
    if st.revoke_first:
        out.append(
            "The rotator then confirms the deleted key is refused by Customer.io and closes "
            "the rotation."
        )
    else:
        out.append(
            f"Do NOT delete {_old_key(ctx)} yet: applications keep using it until they load the "
            f"new one. {_duration(wait)} after the promotion you will be told to delete it."
        )
        out.append(
            "Then delete the old key in the same dashboard page, and run "
            f"`{ctx.cli} check {ctx.name}` (or wait for the daily check)."
        )
    out.append(
        'You are done when you receive "rotation closed": Customer.io refuses the old key.'
        if ctx.kind is not Kind.WEBHOOK_SIGNING
        else 'You are done when you receive "rotation closed" after the grace period.'
    )
    return out


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes % (24 * 60) == 0 and minutes:
        return _plural(minutes // (24 * 60), "day")
    if minutes % 60 == 0 and minutes:
        return _plural(minutes // 60, "hour")
    return _plural(minutes, "minute")


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def _numbered(lines: list[str]) -> str:
    return "\n".join(f"{i}. {line}" for i, line in enumerate(lines, 1))


def render(entry: str, ctx: Context) -> Notification:
    """The full text of one queued outbox entry `code[.arg]/rotation-id/seq` (see engine.py)."""
    st = ctx.state
    notice, _, rest = entry.partition("/")
    rid, _, seq = rest.partition("/")
    rid = rid or st.rotation_id or st.last_rotation_id
    nid = f"{rid}/{notice}" + (f"/{seq}" if seq else "")
    code, _, arg = notice.partition(".")
    title = f"{KIND_TITLE[ctx.kind]} '{ctx.name}'"
    emergency = st.mode is Mode.EMERGENCY
    urgency = "urgent" if emergency else "action"
    head = f"Rotation {rid} ({st.mode or 'none'})"
    subject = ""
    body: list[str] = []
    if code in ("opened", "upgraded", "reminder", "escalated", "overdue"):
        lead = {
            "opened": f"A new key is needed for {title}.",
            "upgraded": f"EMERGENCY: the open rotation of {title} is now an emergency.",
            "reminder": f"Reminder {arg}: {title} still waits for its new key.",
            "escalated": f"ESCALATION to on-call: {title} still has no new key.",
            "overdue": f"OVERDUE: the deadline for {title} has passed and no key was submitted.",
        }[code]
        if code in ("escalated", "overdue"):
            urgency = "urgent"
        subject = {
            "opened": "Rotate",
            "upgraded": "EMERGENCY rotate",
            "reminder": "Reminder: rotate",
            "escalated": "ESCALATED: rotate",
            "overdue": "OVERDUE: rotate",
        }[code]
        if emergency and code == "opened":
            subject = "EMERGENCY rotate"
        subject = f"[{urgency}] {subject} {ctx.name} ({ctx.kind.value})"
        body = [head, lead]
        if st.reason:
            body.append(f"Reason: {st.reason}")
        body.append(f"Deadline: {_when(st.deadline)}.")
        if code == "overdue" and ctx.kind is not Kind.WEBHOOK_SIGNING:
            body.append("The current key keeps working; rotate it as soon as you can.")
        body += ["", "Do these steps in order:", _numbered(steps(ctx))]
    elif code == "rejected":
        arg = arg.partition(".")[0]  # rejected.<fingerprint>.<n>
        subject = f"[action] Key for {ctx.name} NOT accepted"
        body = [
            head,
            rejection_text(
                st.rejection,
                f"with fingerprint {arg}",
                status=int(st.rejection_detail) if st.rejection_detail.isdigit() else None,
                detail=st.rejection_detail,
            )
            if st.rejection != "malformed"
            else f"The submission with fingerprint {arg} is not a valid {ctx.kind.value} "
            "credential; submit it again in the documented form.",
            "The current key is unchanged and still works. The rotation stays open.",
            f"Next: create a new key as described (`{ctx.cli} runbook {ctx.name}`) and submit it.",
        ]
    elif code == "inconclusive":
        urgency = "action" if arg == "forbidden" else "info"
        subject = f"[{urgency}] Key for {ctx.name} not verified yet"
        body = [head, inconclusive_text(arg, st.inconclusive, "submitted")]
    elif code == "promoted":
        urgency = "info" if not emergency else "urgent"
        subject = f"[{urgency}] New key for {ctx.name} is live"
        body = [
            head,
            f"The key with fingerprint {st.current_fp} passed verification and is now current.",
            "Applications pick it up when their cache expires.",
        ]
        if st.previous_fp and st.revoke_first:
            body.append(
                f"The rotator now checks that the old key (fingerprint {st.previous_fp}) is refused."
            )
        elif st.previous_fp:
            body.append(
                f"Do NOT delete the old key (fingerprint {st.previous_fp}) yet. At "
                f"{_when(st.grace_until)} you will be told to delete it."
            )
        else:
            body.append("This was the first key: there is no old key to delete.")
    elif code in ("revoke_now", "revoke_reminder", "revoke_escalated"):
        page = DASHBOARD[ctx.kind][0]
        if code == "revoke_escalated":
            urgency = "urgent"
        subject = {
            "revoke_now": f"[{urgency}] Delete the old key of {ctx.name} now",
            "revoke_reminder": f"[{urgency}] Reminder {arg}: the old key of {ctx.name} still works",
            "revoke_escalated": f"[urgent] ESCALATED: old key of {ctx.name} still works",
        }[code]
        first = (
            "The grace period is over"
            if code == "revoke_now"
            else "Customer.io still accepts the old key"
        )
        body = [
            head,
            f"{first}. Delete the old key now:",
            _numbered(
                [
                    f"Open {page}.",
                    f"Delete the key with fingerprint {st.previous_fp} (the one NOT named "
                    f'"{ctx.name}-{(st.promoted_at or ctx.now).strftime("%Y%m%d")}"). '
                    f"Do not touch the new key (fingerprint {st.current_fp}).",
                    f"Run `{ctx.cli} check {ctx.name}`: the rotator confirms Customer.io refuses "
                    "the old key and closes the rotation (the daily check does it otherwise).",
                ]
            ),
        ]
    elif code == "closed":
        urgency = "info"
        subject = f"[info] Rotation of {ctx.name} closed"
        if ctx.kind is Kind.WEBHOOK_SIGNING:
            done = "The grace period is over: consumers stop accepting the old signing key."
        elif st.previous_revoked:
            done = "Customer.io refuses the old key: it is dead."
        else:
            done = "The first key is live."
        nxt = ""
        if st.current_since is not None:
            opens = st.current_since + timedelta(
                days=ctx.policy.rotation_days - ctx.policy.lead_days
            )
            nxt = f" The next scheduled rotation opens on {_when(opens)}."
        body = [f"Rotation {rid} closed.", done + nxt, "Nothing left to do."]
    elif code == "emergency_queued":
        urgency = "urgent"
        subject = f"[urgent] EMERGENCY for {ctx.name}: delete the old key first"
        body = [
            head,
            f"An emergency was declared for {title}" + (f": {st.reason}" if st.reason else "."),
            f"The previous key (fingerprint {st.previous_fp}) is still being retired: delete it "
            f"now in {DASHBOARD[ctx.kind][0]}, then run `{ctx.cli} check {ctx.name}`.",
            "As soon as Customer.io refuses it, a new emergency rotation opens and you will get "
            "its runbook.",
        ]
    elif code == "rolled_back":
        urgency = "urgent"
        subject = f"[urgent] {ctx.name} rolled back to its previous key"
        body = [
            head,
            f"The previous key (fingerprint {st.current_fp}) is current again; the key with "
            f"fingerprint {st.previous_fp} is not used any more.",
            "Do NOT delete the key that is current now. The rotation is open again: create a "
            f"new key and submit it (`{ctx.cli} runbook {ctx.name}`).",
        ]
    elif code == "external_change":
        urgency = "urgent"
        subject = f"[urgent] {ctx.name} was changed outside the rotator"
        body = [
            f"The current version of {ctx.name} changed without the rotator "
            f"(now fingerprint {st.current_fp}).",
            "Operators never write the live secret: find out who did, and rotate if in doubt "
            f"(`{ctx.cli} emergency {ctx.name} --reason ...`).",
        ]
    else:
        raise ValueError(f"unknown notice {notice!r}")
    return Notification(
        id=nid,
        credential=ctx.name,
        rotation_id=rid,
        notice=notice,
        urgency=urgency,
        subject=subject[:100],
        body="\n".join(body) + f"\n\n(notification {nid}, {format_time(ctx.now)})",
    )
