"""What a person is told: numbered, ordered instructions for each kind, mode and step.

The most important screen of the project, so it is pure text built from the
state: easy to test, identical on both clouds, and never holding a key (it only
sees names, creation days, last-4 labels and fingerprints).

A key is pointed at by what the Customer.io dashboard shows of it: the name it
was given (fixed when its rotation opened, `RotationState.key_name`), the day it
was created and, where the dashboard lists the key itself, its last 4
characters. The fingerprint is only a cross-reference to `cio-rotate status`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from rotation import conventions as cv
from rotation.credentials import Kind
from rotation.drain import parse_holder
from rotation.notices import Notice, parse
from rotation.origin import Origin
from rotation.policy import (
    REVOKE_PROBE_MAX,
    REVOKE_PROBE_WINDOW,
    Policy,
    delete_due,
    drains,
    grace_until,
    opens_at,
)
from rotation.state import (
    Mode,
    Phase,
    RotationState,
    format_time,
    key_name_stem,
    suggested_key_name,
)


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
    # webhook_signing only: the endpoint URL the reporting webhook posts to, which is how
    # the dashboard lists webhooks (stack config); empty when not configured.
    webhook_endpoint: str = ""
    # The cloud, stack and account/region or project the notice comes from (rotation/origin.py).
    origin: Origin = field(default_factory=Origin)


def command(ctx: Context, verb: str, tail: str = "") -> str:
    """An operator command for this credential, runnable as printed on a machine that knows
    several stacks and both clouds: it always names the cloud and the stack."""
    parts = [ctx.cli, verb, ctx.name, tail, ctx.origin.flags()]
    return " ".join(p for p in parts if p)


# -- per-kind facts ------------------------------------------------------------

API_CREDENTIALS = (
    "Customer.io > Account Settings > API Credentials (newer accounts: Settings > "
    "Workspace Settings > API and Webhook Credentials)"
)
REPORTING_WEBHOOKS = "Customer.io > Data & Integrations > Integrations > Reporting Webhooks"


@dataclass(frozen=True)
class KindText:
    """How one credential kind looks to a person in the Customer.io dashboard."""

    title: str  # "App API key"
    page: str  # where its keys are made (webhooks: completed with the endpoint)
    create: str  # the creation step, before the name is given
    paste: str  # what `submit` asks for
    checks: str  # what the rotator verifies before promoting it
    shows_key: bool  # the dashboard shows the key itself, so its last 4 characters help
    shown_once: bool  # the key is shown only at creation
    named: bool  # the dashboard lets a person name the key


# Keyed by the kind's value so a kind added to `Kind` without texts fails the coverage
# test (tests/unit/test_runbook.py) instead of a notice at 3 a.m.
KINDS: dict[str, KindText] = {
    "track": KindText(
        title="Track API key (Site ID + API key)",
        page=f"{API_CREDENTIALS}, tab Tracking API Keys",
        create="Create a new Tracking API key (a new Site ID and API key pair)",
        paste="the new Site ID and API key",
        checks="it must authenticate with Customer.io, belong to the same workspace and region, "
        "and differ from the current key",
        shows_key=True,
        shown_once=False,
        named=True,
    ),
    "app": KindText(
        title="App API key",
        page=f"{API_CREDENTIALS}, tab App API Keys",
        create="Create a new App API key in the same workspace",
        paste="the new App API key",
        checks="it must authenticate with Customer.io in the configured region, see the same "
        "account, and differ from the current key",
        shows_key=False,
        shown_once=True,
        named=True,
    ),
    "private": KindText(
        title="private API key (sk_)",
        page=API_CREDENTIALS,
        create="Create a new private API key (it starts with sk_) for this server integration",
        paste="the new private key (it starts with sk_)",
        checks="it must authenticate with Customer.io in the configured region and differ from "
        "the current key",
        shows_key=False,
        shown_once=True,
        named=True,
    ),
    "webhook_signing": KindText(
        title="reporting-webhook signing key",
        page=REPORTING_WEBHOOKS,
        create="On that webhook's page, replace its signing key with a new one and copy it",
        paste="the new signing key",
        checks="it must be well formed and differ from the current key",
        shows_key=True,
        shown_once=False,
        named=False,
    ),
}


def kind_text(kind: Kind | str) -> KindText:
    """The texts of a kind; KeyError for a kind nobody wrote texts for."""
    return KINDS[str(kind)]


def page(kind: Kind | str, webhook_endpoint: str = "") -> str:
    """The dashboard page where a person finds this kind's keys."""
    if str(kind) == "webhook_signing":
        hook = (
            f"the webhook that posts to {webhook_endpoint}"
            if webhook_endpoint
            else "the webhook that posts to your receiver"
        )
        return f"{REPORTING_WEBHOOKS}, then {hook}"
    return kind_text(kind).page


# Kept for callers that want (page, creation step) by kind (rotation/operator).
DASHBOARD: dict[str, tuple[str, str]] = {k: (page(k), t.create) for k, t in KINDS.items()}


# -- small words ---------------------------------------------------------------


def _a(word: str) -> str:
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes and minutes % (24 * 60) == 0:
        return _plural(minutes // (24 * 60), "day")
    if minutes and minutes % 60 == 0:
        return _plural(minutes // 60, "hour")
    return _plural(minutes, "minute")


def _hours(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    return _plural(hours, "hour") if hours < 48 else _plural(hours // 24, "day")


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "unknown"


def _numbered(lines: list[str]) -> str:
    return "\n".join(f"{i}. {line}" for i, line in enumerate(lines, 1))


# -- naming keys the way the dashboard shows them ---------------------------------


@dataclass(frozen=True)
class KeyRef:
    """What the dashboard (and status) can show of one key. Never the key."""

    name: str
    since: datetime | None  # the day it went live: it was created on or before that day
    last4: str
    fp: str
    # When its rotation opened, for the key that rotation asked for: it was created between
    # this and `since`. None when not recorded (the day it was created is then unknown).
    created_after: datetime | None = None


def new_key_name(ctx: Context) -> str:
    """The name of the open (or last) rotation's new key: recorded once, never recomputed."""
    st = ctx.state
    if st.key_name:
        return st.key_name
    if st.opened_at is not None:
        current = st.current_name if st.phase is Phase.AWAITING_KEY else ""
        stem = key_name_stem(ctx.name, ctx.origin.cloud)
        return suggested_key_name(stem, st.opened_at, current)
    return ctx.name


def current_key(ctx: Context) -> KeyRef:
    st = ctx.state
    name = st.current_name
    if not name and (st.phase is Phase.PROMOTED or (st.phase is Phase.IDLE and st.key_name)):
        name = new_key_name(ctx)  # promoted before the engine recorded current_name
    return KeyRef(name, st.current_since, st.current_last4, st.current_fp, st.current_opened_at)


def previous_key(ctx: Context) -> KeyRef:
    st = ctx.state
    return KeyRef(
        st.previous_name,
        st.previous_since,
        st.previous_last4,
        st.previous_fp,
        st.previous_opened_at,
    )


def created(key: KeyRef) -> str:
    """What is known of the day a key was created, and no more.

    `created on DAY` when its rotation opened and it went live the same day; `created
    between A and B` when they differ; `created no later than DAY (day not recorded)` when
    only the day it went live is known.
    """
    if key.since is None:
        return ""
    live = key.since.strftime("%Y-%m-%d")
    if key.created_after is not None:
        opened = key.created_after.strftime("%Y-%m-%d")
        return f"created on {live}" if opened == live else f"created between {opened} and {live}"
    return f"created no later than {live} (day not recorded)"


def describe(key: KeyRef, kind: Kind | str, noun: str = "the key") -> str:
    """`the old key "name" (created on DAY, ends in "ab12"; fingerprint 1234abcd)`.

    Only what the dashboard shows (name, creation day, last 4 where the key is listed),
    then the fingerprint as a cross-reference to `status`. Never the key.
    """
    shown = kind_text(kind).shows_key
    facts = [created(key)] if key.since is not None else []
    if key.last4 and shown:
        facts.append(f'ends in "{key.last4}"')
    ref = f"fingerprint {key.fp}" if key.fp else ""
    inner = ", ".join(facts)
    if ref:
        inner = f"{inner}; {ref}" if inner else ref
    label = f'{noun} "{key.name}"' if key.name else noun
    return f"{label} ({inner})" if inner else label


def short(key: KeyRef, kind: Kind | str, noun: str = "the key") -> str:
    """A second mention of a key in the same text: its name, or everything when it has none."""
    return f'{noun} "{key.name}"' if key.name else describe(key, kind, noun)


def how_to_tell(key: KeyRef, kind: Kind | str, keep: str = "") -> str:
    """For a key recorded before names were: how to pick it out in the dashboard."""
    text = kind_text(kind)
    if key.name:
        if text.shows_key:
            return ""
        return (
            f"The dashboard never shows {_a(text.title)} again after creation: it lists it by "
            f'its name "{key.name}" and its creation day only, so pick it by both.'
        )
    keep_text = f' The key to keep is "{keep}".' if keep else ""
    if text.shows_key:
        return (
            "It has no recorded name (it predates the rotator recording names): in the "
            "dashboard, pick it by its creation day and the last 4 characters of the key "
            f"listed there.{keep_text}"
        )
    return (
        "It has no recorded name (it predates the rotator recording names), and the dashboard "
        f"never shows {_a(text.title)} again after creation: pick it by its creation day "
        "(and the name your team gave it then); if more than one key of the workspace "
        f"matches, ask who created them before deleting any.{keep_text}"
    )


def _where(ctx: Context) -> str:
    parts = [f"workspace {ctx.workspace}"] if ctx.workspace else []
    parts += [f"region {ctx.region}"] if ctx.region else []
    return f" ({', '.join(parts)})" if parts else ""


def _page(ctx: Context) -> str:
    return page(ctx.kind, ctx.webhook_endpoint)


# -- the runbook of an open rotation ------------------------------------------------


def steps(ctx: Context) -> list[str]:
    """The numbered runbook for the open rotation (or retirement) of this credential."""
    st = ctx.state
    if st.phase in (Phase.RETIRING, Phase.RETIRED):
        return retire_steps(ctx)
    if ctx.kind is Kind.WEBHOOK_SIGNING:
        return _webhook_steps(ctx)
    return _key_steps(ctx, dead=st.live_outcome == "rejected")


def _handover(ctx: Context) -> list[str]:
    submit = command(ctx, "submit")
    return [
        f"Hand it over: run `{submit}` and paste {kind_text(ctx.kind).paste} when asked "
        "(input is hidden). Never paste a key into chat, a ticket or e-mail.",
        f"What happens next: the rotator verifies the key ({kind_text(ctx.kind).checks}). If it "
        f"passes, it becomes current at once and `{submit}` says so. If not, you are told why "
        f"and {_unchanged(ctx)}: fix it and submit again.",
    ]


def old_key_gone(ctx: Context) -> bool:
    """Whether applications may already be failing: the old key was to be deleted first
    (revoke-first), or Customer.io already refuses the current key."""
    st = ctx.state
    return st.revoke_first or st.live_outcome == "rejected"


def _unchanged(ctx: Context) -> str:
    """What a refused or unverified submission leaves, in words true for this rotation."""
    st = ctx.state
    if st.mode is Mode.BOOTSTRAP:
        return "the secret stays empty"
    if st.live_outcome == "rejected":
        return (
            "nothing is promoted: the current key, which Customer.io already refuses, stays in "
            "the secret, so applications keep failing until a new key passes"
        )
    if st.revoke_first:
        return (
            "nothing is promoted: the secret still holds the old key, which you deleted in "
            "step 1, so applications keep failing until a new key passes"
        )
    return "the current key stays in use"


def _open_page(ctx: Context) -> str:
    return (
        f"Open {_page(ctx)}{_where(ctx)}. You need Account Admin or the 'Manage API "
        "credentials' permission."
    )


def _create(ctx: Context) -> str:
    text = kind_text(ctx.kind)
    once = " It is shown once: copy it before closing the dialog." if text.shown_once else ""
    return f'{text.create}, and name it "{new_key_name(ctx)}".{once}'


def _key_steps(ctx: Context, *, dead: bool) -> list[str]:
    """Track, App and private keys: made and deleted by a person in the dashboard."""
    st = ctx.state
    name = new_key_name(ctx)
    if st.mode is Mode.BOOTSTRAP:
        return [
            _open_page(ctx),
            _create(ctx),
            *_handover(ctx),
            "There is no old key to delete: you are done when the submit command reports it live.",
        ]
    old = current_key(ctx)
    old_noun = "the refused key" if dead else "the old key"
    old_text = describe(old, ctx.kind, old_noun)
    tell = how_to_tell(old, ctx.kind)
    tell = f" {tell}" if tell else ""
    out: list[str] = []
    if dead:
        out.append(
            f"{_open_page(ctx)} Customer.io already refuses {old_text}: applications fail "
            "until the new key is live, so go on at once."
        )
    elif st.revoke_first:
        out.append(
            f"Contain the leak first: in {_page(ctx)}{_where(ctx)}, DELETE {old_text} now.{tell} "
            "Applications using it fail until the new key is live: that is accepted in this mode."
        )
    else:
        out.append(_open_page(ctx))
    out.append(_create(ctx))
    out += _handover(ctx)
    if dead or st.revoke_first:
        out.append(
            "When the new key is live, " + _confirm_and_close(ctx, short(old, ctx.kind, old_noun))
        )
    else:
        wait = grace_until(st.mode, False, st.promoted_at or ctx.now, ctx.policy) - (
            st.promoted_at or ctx.now
        )
        signing = ctx.kind is Kind.WEBHOOK_SIGNING
        waits = drains(ctx.policy, revoke_first=False, signing_key=signing)
        told = _told_to_delete(ctx, f"{_duration(wait).lower()} after the promotion", waits)
        out.append(
            f"Do NOT delete {old_text} yet: applications keep using it until they load the new "
            f"key. {told}{tell}"
        )
        out.append(
            f'Then delete it in the same dashboard page and keep "{name}". {_self_check(ctx)}'
        )
    out.append('You are done when you receive "rotation closed": Customer.io refuses the old key.')
    return out


def _confirm_and_close(ctx: Context, old_text: str) -> str:
    """Who closes a revoke-first rotation, and when: the same words in runbook and submit."""
    return (
        f"the rotator confirms by itself, within {_probe_gap()}, that Customer.io refuses "
        f"{old_text}, and closes the rotation (`{command(ctx, 'check')}` confirms it at once)."
    )


def _probe_gap() -> str:
    """How soon after a deletion the rotator's own probes see it (policy.REVOKE_PROBE_MAX)."""
    return _duration(REVOKE_PROBE_MAX)


def _self_check(ctx: Context) -> str:
    """After the old key's deletion nobody has to do anything: the rotator probes it, every
    REVOKE_PROBE_MAX at most for REVOKE_PROBE_WINDOW after the grace end, then at its daily
    pass (policy.next_due), and the sentence says which applies."""
    tail = f'and tells you "rotation closed" (`{command(ctx, "check")}` confirms it at once).'
    return _confirms_by_itself(
        ctx, delete_due(ctx.state), "for a day after the delete notice", tail
    )


def _confirms_by_itself(ctx: Context, start: datetime | None, unknown: str, tail: str) -> str:
    """The sentence that the rotator confirms a deletion by itself: within REVOKE_PROBE_MAX
    during the day of probes from `start` (`unknown` names that day when `start` is not
    recorded), at its daily pass after it."""
    until = start + REVOKE_PROBE_WINDOW if start is not None else None
    if until is not None and ctx.now >= until:
        return f"The rotator confirms by itself, at its daily pass, that Customer.io refuses it, {tail}"
    when = f"until {_when(until)}" if until is not None else unknown
    return (
        f"The rotator confirms by itself, within {_probe_gap()} ({when}; after that at its "
        f"daily pass), that Customer.io refuses it, {tail}"
    )


def _webhook_steps(ctx: Context) -> list[str]:
    """Signing keys are replaced on the webhook's page: nothing to name, nothing to delete."""
    st = ctx.state
    out = [
        f"Open {_page(ctx)}.",
        f"{kind_text(ctx.kind).create}. Customer.io does not name signing keys: the webhook's "
        "endpoint is how you find it.",
    ]
    if st.mode is not Mode.BOOTSTRAP:
        out.append(
            "From now on Customer.io signs deliveries with the new key, and receivers refuse "
            "them until the next step is done: Customer.io retries them (first after an hour, "
            "holding later deliveries back), so do the next step within minutes."
        )
    out += _handover(ctx)
    if st.mode is Mode.BOOTSTRAP:
        out.append("There is no old key: you are done when the submit command reports it live.")
        return out
    if st.revoke_first:
        out.append(
            "Receivers accept only the new key as soon as it is live: the old signing key is no "
            "longer accepted. There is nothing to delete in the dashboard."
        )
    else:
        wait = grace_until(st.mode, False, st.promoted_at or ctx.now, ctx.policy) - (
            st.promoted_at or ctx.now
        )
        out.append(
            f"Receivers accept both signing keys for {_duration(wait)} after the promotion, then "
            "only the new one. There is nothing to delete in the dashboard: the old signing key "
            "was replaced in step 2."
        )
    out.append('You are done when you receive "rotation closed": the rotator sends it itself.')
    return out


def after_promotion(ctx: Context) -> list[str]:
    """What is left once the new key is current (the promoted notice and `submit` say it)."""
    st = ctx.state
    if not st.previous_fp and not st.previous_version:
        return ["This was the first key: there is no old key to delete. Nothing left to do."]
    if ctx.kind is Kind.WEBHOOK_SIGNING:
        return [
            f"Receivers accept both signing keys until {_when(st.grace_until)}; then the "
            "rotator closes the rotation. There is nothing to delete in the dashboard."
        ]
    old = previous_key(ctx)
    old_text = describe(old, ctx.kind, "the old key")
    tell = how_to_tell(old, ctx.kind, keep=current_key(ctx).name)
    tell = f" {tell}" if tell else ""
    if st.revoke_first:
        return [
            f"Make sure {old_text} is deleted in {_page(ctx)}.{tell} Then "
            + _confirm_and_close(ctx, "it")
        ]
    told = _told_to_delete(ctx, f"at {_when(st.grace_until)}", st.drain_waits)
    return [
        f"Do NOT delete {old_text} yet: applications switch to the new key as their cache "
        f"expires. {told}{tell}",
        f"Then delete it in {_page(ctx)}. {_self_check(ctx)}",
    ]


def _told_to_delete(ctx: Context, latest: str, drain: bool) -> str:
    """When "delete the old key now" comes: with the drain, as soon as nobody uses the old
    key, `latest` at the latest (the grace maximum); on the timer alone, `latest`."""
    if not drain:
        return f"You will be told to delete it {latest}."
    quiet = _duration(timedelta(minutes=ctx.policy.drain_quiet_minutes))
    return (
        f"You will be told to delete it as soon as no application has used it for {quiet} "
        f"(their key-usage reports and the audit trail of reads say so), at the latest {latest}."
    )


def _retire_self_check(ctx: Context) -> str:
    """After the key's deletion nobody has to do anything: the rotator probes the retiring
    key as it probes an old key, from the retire notice on (policy.next_due, RETIRING)."""
    tail = (
        f'then marks {ctx.name} retired and tells you ("retired"); '
        f"`{command(ctx, 'check')}` confirms it at once."
    )
    return _confirms_by_itself(ctx, ctx.state.opened_at, "for a day after this notice", tail)


def retire_steps(ctx: Context) -> list[str]:
    """End of life: consumers first, then the key, then the secrets."""
    key = current_key(ctx)
    key_text = describe(key, ctx.kind, "the current key")
    tell = how_to_tell(key, ctx.kind)
    tell = f" {tell}" if tell else ""
    check = _retire_self_check(ctx)
    if ctx.kind is Kind.WEBHOOK_SIGNING:
        remove = (
            f"Then, in {_page(ctx)}, disable the webhook if nothing should receive its "
            "deliveries any more (its signing key goes with it)."
        )
        check = (
            "Nothing to run: Customer.io offers no check of a signing key, so at "
            f"{_when(ctx.state.grace_until)} (the end of the grace period) the rotator marks "
            f'{ctx.name} retired and tells you ("retired").'
        )
    else:
        remove = (
            f"Then, in {_page(ctx)}{_where(ctx)}, delete {short(key, ctx.kind, 'the key')}.{tell}"
        )
    return [
        f"Switch every application that reads {ctx.name} to its replacement. Until then they "
        f"keep working with {key_text}.",
        remove,
        check,
        f"Only after that: mark {ctx.name} `retired` in the stack config and run `pulumi up`. "
        "Pulumi deletes its secrets only once the credential is marked retired.",
    ]


# -- rejection and inconclusive texts (also used by verify and the CLI) ----------------

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


def inconclusive_text(
    reason: str, detail: str, label: str, unchanged: str = "the current key is unchanged"
) -> str:
    template = _INCONCLUSIVE.get(
        reason, "Customer.io could not be asked ({detail}). The rotator retries on its own."
    )
    return (
        f"Key {label} could not be verified yet: {template.format(detail=detail)} "
        f"Until it is, {unchanged}."
    )


# -- one renderer per notice -----------------------------------------------------------


@dataclass(frozen=True)
class _Text:
    urgency: str
    subject: str
    body: list[str]


Renderer = Callable[[str, str, Context], _Text]  # (arg, rotation id, context)


def _title(ctx: Context) -> str:
    return f"{kind_text(ctx.kind).title} '{ctx.name}'"


def _head(rid: str, ctx: Context) -> str:
    return f"Rotation {rid} ({ctx.state.mode or 'none'})"


def _base_urgency(ctx: Context) -> str:
    return "urgent" if ctx.state.mode is Mode.EMERGENCY else "action"


def deadline_line(ctx: Context) -> str:
    """The deadline, and what happens when it passes with no key submitted."""
    st = ctx.state
    then = (
        "applications keep failing until a new key is submitted"
        if old_key_gone(ctx)
        else "nothing is switched off: the current key keeps working"
    )
    if st.overdue or (st.deadline is not None and ctx.now >= st.deadline):
        return f"Deadline: {_when(st.deadline)}, passed: the rotation is OVERDUE; {then}."
    return (
        f"Deadline: {_when(st.deadline)}. If no new key has passed verification by then, the "
        f"rotation is marked OVERDUE and an urgent notice goes out; {then}."
    )


def _open_family(lead: str, subject: str, urgency: str) -> Renderer:
    """Opening, upgrade, reminders, escalation, overdue: the lead line, then the runbook."""

    def render_open(arg: str, rid: str, ctx: Context) -> _Text:
        st = ctx.state
        level = urgency or _base_urgency(ctx)
        subj = subject
        if subject == "Rotate" and st.mode is Mode.EMERGENCY:
            subj = "EMERGENCY rotate"
        body = [_head(rid, ctx), lead.format(title=_title(ctx), n=arg)]
        if st.reason:
            body.append(f"Reason: {st.reason}")
        body.append(deadline_line(ctx))
        if lead.startswith("OVERDUE") and ctx.kind is not Kind.WEBHOOK_SIGNING:
            body.append("The current key keeps working; rotate it as soon as you can.")
        body += ["", "Do these steps in order:", _numbered(steps(ctx))]
        return _Text(level, f"[{level}] {subj.format(n=arg)} {ctx.name} ({ctx.kind})", body)

    return render_open


def _rejected(arg: str, rid: str, ctx: Context) -> _Text:
    st = ctx.state
    fp = arg.partition(".")[0]  # rejected.<fingerprint>.<n>
    if st.rejection == "malformed":
        why = (
            f"The submission with fingerprint {fp} is not {_a(str(ctx.kind))} credential; "
            "submit it again in the documented form."
        )
    else:
        why = rejection_text(
            st.rejection,
            f"with fingerprint {fp}",
            status=int(st.rejection_detail) if st.rejection_detail.isdigit() else None,
            detail=st.rejection_detail,
        )
    return _Text(
        "action",
        f"[action] Key for {ctx.name} NOT accepted",
        [
            _head(rid, ctx),
            why,
            _unchanged(ctx)[0].upper() + _unchanged(ctx)[1:] + ". The rotation stays open.",
            f"Next: create a new key as described (`{command(ctx, 'runbook')}`) and submit it.",
        ],
    )


def _inconclusive(arg: str, rid: str, ctx: Context) -> _Text:
    urgency = "action" if arg == "forbidden" else "info"
    return _Text(
        urgency,
        f"[{urgency}] Key for {ctx.name} not verified yet",
        [
            _head(rid, ctx),
            inconclusive_text(arg, ctx.state.inconclusive, "submitted", _unchanged(ctx)),
        ],
    )


def _promoted(arg: str, rid: str, ctx: Context) -> _Text:
    urgency = "urgent" if ctx.state.mode is Mode.EMERGENCY else "info"
    new = describe(current_key(ctx), ctx.kind, "The new key")
    return _Text(
        urgency,
        f"[{urgency}] New key for {ctx.name} is live",
        [
            _head(rid, ctx),
            f"{new} passed verification and is now current.",
            "Applications pick it up when their cache expires.",
            *after_promotion(ctx),
        ],
    )


def _delete_old(ctx: Context) -> list[str]:
    old = previous_key(ctx)
    keep = current_key(ctx)
    tell = how_to_tell(old, ctx.kind)
    tell = f" {tell}" if tell else ""
    return [
        f"Open {_page(ctx)}{_where(ctx)}.",
        f"Delete {describe(old, ctx.kind, 'the old key')}.{tell} Keep "
        f"{describe(keep, ctx.kind, 'the new key')}: applications use it now.",
        _self_check(ctx),
    ]


def drain_report(ctx: Context) -> tuple[str, list[str]]:
    """Why the delete notice comes now, after a drain (rotation/drain.py): who was measured,
    and, when the grace maximum ended the wait, every straggler, what breaks for them if the
    key is deleted now, and what the rotator could not confirm. ("", []) without a drain."""
    st = ctx.state
    if not st.drain_waits or st.drain_checked_at is None:
        return "", []
    quiet = _duration(timedelta(minutes=ctx.policy.drain_quiet_minutes))
    processes = "process" if st.drain_on_new == 1 else "processes"
    on_new = f"{st.drain_on_new or 'no'} reporting {processes} on the new key"
    if st.drained_at is not None:
        return (
            f"No application has used the old key for {quiet} ({on_new}), and nobody who read "
            "the secret before the promotion is left without reading it since",
            [],
        )
    lines: list[str] = []
    holders = [parse_holder(h) for h in st.drain_holders]
    if holders:
        named = []
        for h in holders:
            seen = _when(h.last_seen)
            if h.reports:
                service, _, instance = h.who.partition("/")
                named.append(f"{service} on {instance} (reports the old key; last seen {seen})")
            else:
                named.append(f"{h.who} (read the secret before the promotion, not since; {seen})")
        more = f", and {st.drain_more} more" if st.drain_more else ""
        lines.append(
            "Still on the old key: " + "; ".join(named) + more + ". If you delete it now, "
            "their calls to Customer.io fail (401) until they load the new key: restart or "
            "redeploy them first, or accept those failures."
        )
    if st.drain_unconfirmed:
        lines.append(
            f"The rotator could not confirm that nobody uses the old key: {st.drain_unconfirmed}."
        )
    return f"The grace period's maximum is over ({on_new})", lines


def _revoke_family(first: str, subject: str, urgency: str, drain: bool = False) -> Renderer:
    def render_revoke(arg: str, rid: str, ctx: Context) -> _Text:
        level = urgency or _base_urgency(ctx)
        why, stragglers = drain_report(ctx) if drain else ("", [])
        return _Text(
            level,
            f"[{level}] " + subject.format(n=arg, name=ctx.name),
            [
                _head(rid, ctx),
                f"{why or first}. Delete the old key now:",
                *stragglers,
                _numbered(_delete_old(ctx)),
            ],
        )

    return render_revoke


def _closed(arg: str, rid: str, ctx: Context) -> _Text:
    st = ctx.state
    current = describe(current_key(ctx), ctx.kind, "the key")
    if ctx.kind is Kind.WEBHOOK_SIGNING:
        done = "The grace period is over: receivers accept only the new signing key now."
    elif st.previous_revoked:
        done = (
            f"Customer.io refuses {describe(previous_key(ctx), ctx.kind, 'the old key')}: it "
            f"is dead. In use: {current}."
        )
    else:
        done = f"The first key, {current}, is live."
    nxt = ""
    if st.current_since is not None:
        opens = opens_at(st.current_since, ctx.policy)
        nxt = f" The next scheduled rotation opens on {_when(opens)}."
    return _Text(
        "info",
        f"[info] Rotation of {ctx.name} closed",
        [f"Rotation {rid} closed.", done + nxt, "Nothing left to do."],
    )


def _emergency_queued(arg: str, rid: str, ctx: Context) -> _Text:
    st = ctx.state
    old = previous_key(ctx)
    tell = how_to_tell(old, ctx.kind)
    return _Text(
        "urgent",
        f"[urgent] EMERGENCY {ctx.name}: delete old key first",
        [
            _head(rid, ctx),
            f"An emergency was declared for {_title(ctx)}"
            + (f": {st.reason}" if st.reason else "."),
            f"{describe(old, ctx.kind, 'The old key')} is still being retired: delete it now "
            f"in {_page(ctx)}; the rotator sees the deletion within {_probe_gap()}."
            + (f" {tell}" if tell else ""),
            f"Keep {describe(current_key(ctx), ctx.kind, 'the new key')}: applications use it.",
            "As soon as Customer.io refuses it, a new emergency rotation opens and you will get "
            "its runbook.",
        ],
    )


def _rolled_back(arg: str, rid: str, ctx: Context) -> _Text:
    restored_key = current_key(ctx)
    restored = describe(restored_key, ctx.kind, "The previous key")
    dropped = previous_key(ctx)
    same_name = dropped.name and dropped.name == new_key_name(ctx)
    return _Text(
        "urgent",
        f"[urgent] {ctx.name} rolled back to its previous key",
        [
            _head(rid, ctx),
            f"{restored} is current again; {describe(dropped, ctx.kind, 'the new key')} is "
            "not handed to applications any more.",
            f"Do NOT delete {short(restored_key, ctx.kind, 'the previous key')}: applications "
            "use it.",
            *(
                [
                    f'Once applications have reloaded, delete "{dropped.name}" in the dashboard '
                    "so that the name is free for the new key."
                ]
                if same_name
                else []
            ),
            "The rotation is open again: create a new key and submit it "
            f"(`{command(ctx, 'runbook')}`).",
            "",
            _numbered(steps(ctx)),
        ],
    )


def _external_change(arg: str, rid: str, ctx: Context) -> _Text:
    rotate = command(ctx, "emergency", "--reason 'changed outside the rotator'")
    return _Text(
        "urgent",
        f"[urgent] {ctx.name} was changed outside the rotator",
        [
            f"The current version of {ctx.name} changed without the rotator "
            f"(now fingerprint {ctx.state.current_fp}).",
            "Operators never write the live secret: find out who did, and rotate if in doubt "
            f"(`{rotate}`).",
        ],
    )


def _wrong_key_deleted(arg: str, rid: str, ctx: Context) -> _Text:
    restored = current_key(ctx)
    deleted = previous_key(ctx)
    return _Text(
        "urgent",
        f"[urgent] {ctx.name}: new key deleted, old key restored",
        [
            _head(rid, ctx),
            f"Customer.io refuses {describe(deleted, ctx.kind, 'the new key')}: it was deleted in "
            "the dashboard instead of the old one.",
            f"The rotator made {describe(restored, ctx.kind, 'the old key')} current again "
            "(it passed verification when it was promoted, and Customer.io still accepts it). "
            "Applications read a working key again as their cache expires. On-call has been paged.",
            f"Do NOT delete {short(restored, ctx.kind, 'the old key')}: it is the only key that "
            "works.",
            "The rotation is open again. What to do now:",
            _numbered(steps(ctx)),
        ],
    )


def _replace_dead_key(lead: list[str], rid: str, ctx: Context, subject: str) -> _Text:
    return _Text(
        "urgent",
        f"[urgent] EMERGENCY {ctx.name}: {subject}",
        [
            _head(rid, ctx),
            *lead,
            "On-call has been paged. Create a new key now:",
            _numbered(
                _key_steps(ctx, dead=True)
                if ctx.kind is not Kind.WEBHOOK_SIGNING
                else _webhook_steps(ctx)
            ),
        ],
    )


def _both(ctx: Context) -> str:
    keys = [
        describe(key, ctx.kind, noun)
        for key, noun in ((current_key(ctx), "the current key"), (previous_key(ctx), "the old key"))
        if key.name or key.fp
    ]
    return " and ".join(keys) or "the current key and the old key"


def _both_keys_refused(arg: str, rid: str, ctx: Context) -> _Text:
    return _replace_dead_key(
        [
            f"Customer.io refuses both keys of {ctx.name}: {_both(ctx)}. Both were deleted in "
            "the dashboard.",
            f"Applications using {ctx.name} are failing now, and there is no working key to roll "
            "back to.",
        ],
        rid,
        ctx,
        "both keys refused",
    )


def _current_refused(arg: str, rid: str, ctx: Context) -> _Text:
    st = ctx.state
    if st.live_outcome == "rejected":
        return _replace_dead_key(
            [
                f"Customer.io refuses {describe(current_key(ctx), ctx.kind, 'the live key')} of "
                f"{ctx.name}: it was deleted or disabled outside a rotation.",
                f"Applications using {ctx.name} are failing now, and there is no earlier key to "
                "roll back to.",
            ],
            rid,
            ctx,
            "live key refused",
        )
    body = [
        _head(rid, ctx),
        f"Customer.io refuses {describe(previous_key(ctx), ctx.kind, 'the live key')} of "
        f"{ctx.name}: it was deleted or disabled outside a rotation.",
        f"The rotator made {describe(current_key(ctx), ctx.kind, 'the previous key')} current "
        "again (Customer.io still accepts it). Applications read a working key again as their "
        "cache expires. On-call has been paged.",
    ]
    if st.phase is Phase.AWAITING_KEY:
        body += ["A rotation is open to replace it. What to do now:", _numbered(steps(ctx))]
    return _Text("urgent", f"[urgent] {ctx.name}: live key refused, previous key restored", body)


def _liveness_unknown(arg: str, rid: str, ctx: Context) -> _Text:
    st = ctx.state
    reason, _, detail = (st.live_outcome or "unavailable").partition(":")
    cause = _INCONCLUSIVE.get(reason, "Customer.io could not be asked ({detail}).").format(
        detail=detail or reason
    )
    since = st.live_unknown_since
    span = _hours(ctx.now - since) if since is not None else "a while"
    return _Text(
        "action" if reason == "forbidden" else "info",
        f"[{'action' if reason == 'forbidden' else 'info'}] {ctx.name}: live key not checked "
        f"for {span}",
        [
            f"The rotator could not check {describe(current_key(ctx), ctx.kind, 'the live key')} "
            f"of {ctx.name} since {_when(since)} ({span}).",
            f"Cause: {cause}",
            f"Last confirmed working: {_when(st.live_checked_at)}.",
            "Nothing changed: the current key stays in use and the rotator keeps checking it "
            "every day. You are told again if Customer.io refuses it.",
        ],
    )


def _retire_family(lead: str, subject: str) -> Renderer:
    def render_retire(arg: str, rid: str, ctx: Context) -> _Text:
        st = ctx.state
        body = [lead.format(title=_title(ctx), n=arg)]
        if st.reason:
            body.append(f"Reason: {st.reason}")
        body += ["", "Do these steps in order:", _numbered(retire_steps(ctx))]
        return _Text("action", "[action] " + subject.format(n=arg, name=ctx.name), body)

    return render_retire


def _retired(arg: str, rid: str, ctx: Context) -> _Text:
    st = ctx.state
    return _Text(
        "info",
        f"[info] {ctx.name} is retired",
        [
            f"{_title(ctx)} is retired since {_when(st.retired_at)}: Customer.io refuses "
            f"{describe(current_key(ctx), ctx.kind, 'its key')}, and the rotator stops rotating "
            "it."
            if ctx.kind is not Kind.WEBHOOK_SIGNING
            else f"{_title(ctx)} is retired since {_when(st.retired_at)}; the rotator stops "
            "rotating it.",
            f"Last step: mark {ctx.name} `retired` in the stack config and run `pulumi up`: "
            "Pulumi then deletes its secrets.",
        ],
    )


RENDERERS: dict[Notice, Renderer] = {
    Notice.OPENED: _open_family("A new key is needed for {title}.", "Rotate", ""),
    Notice.UPGRADED: _open_family(
        "EMERGENCY: the open rotation of {title} is now an emergency.", "EMERGENCY rotate", ""
    ),
    Notice.UPGRADED_REVOKE: _open_family(
        "EMERGENCY: the open rotation of {title} is now an emergency: the old key is deleted "
        "first.",
        "EMERGENCY rotate",
        "",
    ),
    Notice.REMINDER: _open_family(
        "Reminder {n}: {title} still waits for its new key.", "Reminder: rotate", ""
    ),
    Notice.ESCALATED: _open_family(
        "ESCALATION to on-call: {title} still has no new key.", "ESCALATED: rotate", "urgent"
    ),
    Notice.OVERDUE: _open_family(
        "OVERDUE: the deadline for {title} has passed and no key was submitted.",
        "OVERDUE: rotate",
        "urgent",
    ),
    Notice.REJECTED: _rejected,
    Notice.INCONCLUSIVE: _inconclusive,
    Notice.PROMOTED: _promoted,
    Notice.REVOKE_NOW: _revoke_family(
        "The grace period is over", "Delete the old key of {name} now", "", drain=True
    ),
    Notice.REVOKE_REMINDER: _revoke_family(
        "Customer.io still accepts the old key",
        "Reminder {n}: old key of {name} still works",
        "",
    ),
    Notice.REVOKE_ESCALATED: _revoke_family(
        "Customer.io still accepts the old key",
        "ESCALATED: old key of {name} still works",
        "urgent",
    ),
    Notice.CLOSED: _closed,
    Notice.EMERGENCY_QUEUED: _emergency_queued,
    Notice.ROLLED_BACK: _rolled_back,
    Notice.EXTERNAL_CHANGE: _external_change,
    Notice.WRONG_KEY_DELETED: _wrong_key_deleted,
    Notice.BOTH_KEYS_REFUSED: _both_keys_refused,
    Notice.CURRENT_REFUSED: _current_refused,
    Notice.LIVENESS_UNKNOWN: _liveness_unknown,
    Notice.RETIRE_OPENED: _retire_family(
        "{title} is being retired: its key is to be deleted.", "Retire {name}"
    ),
    Notice.RETIRE_REMINDER: _retire_family(
        "Reminder {n}: {title} is still being retired.", "Reminder {n}: retire {name}"
    ),
    Notice.RETIRED: _retired,
}


# The last line of every notice: where a person new to this finds how to install the CLI,
# log in with the operator role and run a first command.
OPERATOR_GUIDE = (
    "New to this? The operator guide (install cio-rotate, log in, first command): the "
    'cio-rotation repository\'s README, section "Operating rotations".'
)


def render(entry: str, ctx: Context) -> Notification:
    """The full text of one queued outbox entry `code[.arg]/rotation-id/seq` (see notices.py)."""
    st = ctx.state
    parsed = parse(entry)  # ValueError for an unknown notice
    rid = parsed.rotation_id or st.rotation_id or st.last_rotation_id
    nid = f"{rid}/{parsed.code}" + (f"/{parsed.seq}" if parsed.seq else "")
    text = RENDERERS[parsed.notice](parsed.arg, rid, ctx)
    body = [from_line(ctx), "", *text.body] if ctx.origin.cloud else text.body
    return Notification(
        id=nid,
        credential=ctx.name,
        rotation_id=rid,
        notice=parsed.code,
        urgency=text.urgency,
        subject=subject_line(text.subject, ctx.origin, ctx.name),
        body="\n".join(body)
        + f"\n\n(notification {nid}, {format_time(ctx.now)})\n{OPERATOR_GUIDE}",
    )


SUBJECT_MAX = 100  # SNS's limit, and short enough for every mail client's list


def subject_line(text: str, origin: Origin, name: str) -> str:
    """The subject with where it comes from. Past SUBJECT_MAX the notice's own words are
    shortened, never the credential, the cloud, the stack or the account or project."""
    tail = f" | {origin.short()}" if origin.cloud else ""
    room = SUBJECT_MAX - len(tail)
    if len(text) <= room:
        return text + tail
    level, _, words = text.partition("] ")
    head = f"{level}] {name}: " if words else f"{name}: "
    words = words.replace(f" of {name}", "").replace(f" {name}", "") if words else text
    cut = words[: max(room - len(head) - 3, 0)]
    cut = (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip(" ,;:") + "..."
    return (head + cut + tail)[:SUBJECT_MAX]


def from_line(ctx: Context) -> str:
    """The first line of every notice: which credential, on which cloud, stack and account."""
    o = ctx.origin
    place = o.place()
    where = f"Pulumi stack {o.stack or '(unnamed)'}" + (f", {place}" if place else "")
    return f"Credential {ctx.name} on {o.cloud_word} ({where})."
