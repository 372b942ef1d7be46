"""`probe`: what the rotator would decide about a key, found out without handing it over.

An operator can check a key from their own machine before submitting it: it is
parsed, sent once to Customer.io's side-effect-free check, and judged by the
very rules the rotator applies (`Credential.same_key_as`, `Verifier.probe`,
`answered_other_region`, `same_workspace`), so the report cannot drift from the
decision. Nothing is written anywhere: no inbox, no state, no audit event. The
report names the key only by its last 4 characters and fingerprint.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from rotation import runbook
from rotation.credentials import Credential, Kind, Region, parse_credential
from rotation.errors import MalformedKey
from rotation.verify import (
    Accepted,
    Inconclusive,
    Rejected,
    Verifier,
    answered_other_region,
    same_workspace,
)

WEBHOOK_UNCHECKABLE = "cannot be checked by API; only a real delivery proves it"


class Verdict(StrEnum):
    PASS = "pass"  # noqa: S105 (a verdict, not a password)
    FAIL = "fail"
    UNKNOWN = "unknown"
    NOT_APPLICABLE = "n/a"


class Decision(StrEnum):
    """What the rotator would do with this key if it were submitted now."""

    ACCEPT = "accept"  # it would become current
    REJECT = "reject"  # refused, with the reason; the current key stays
    INCONCLUSIVE = "inconclusive"  # Customer.io could not tell; the rotator would wait
    MALFORMED = "malformed"  # refused locally, before asking Customer.io


class CheckName(StrEnum):
    WELL_FORMED = "well formed"
    DIFFERS = "differs from current"
    AUTHENTICATES = "authenticates"
    REGION = "region"
    WORKSPACE = "workspace"


@dataclass(frozen=True)
class Check:
    name: CheckName
    verdict: Verdict
    detail: str


@dataclass(frozen=True)
class ProbeReport:
    """The outcome of one probe; every text in it is secret-free."""

    kind: Kind
    key: str  # last 4 characters and fingerprint, "" when the document did not parse
    checks: tuple[Check, ...]
    decision: Decision
    summary: str

    @property
    def accepted(self) -> bool:
        return self.decision is Decision.ACCEPT

    def check(self, name: CheckName) -> Check:
        return next(c for c in self.checks if c.name is name)

    def lines(self) -> list[str]:
        """The report as a person reads it in a terminal."""
        head = f"Key {self.key}" if self.key else "The submitted document"
        out = [f"{head} ({self.kind.value} credential): nothing was written anywhere."]
        width = max(len(c.name.value) for c in self.checks)
        out += [f"  {c.name.value:<{width}}  {c.verdict.value:<7}  {c.detail}" for c in self.checks]
        out.append(f"Decision: {self.decision.value}. {self.summary}")
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "key": self.key,
            "decision": self.decision.value,
            "summary": self.summary,
            "checks": [
                {"name": c.name.value, "verdict": c.verdict.value, "detail": c.detail}
                for c in self.checks
            ],
        }


def probe_key(
    verifier: Verifier,
    candidate_raw: bytes | str,
    kind: Kind,
    region: Region | None,
    current: Credential | None,
    expected_workspace: str,
    *,
    current_fp: str = "",
) -> ProbeReport:
    """Judge a candidate key as the rotator would, without writing anything.

    `region` is the credential's configured region; `current` its current key
    (None at bootstrap); `expected_workspace` what the rotator expects: the
    workspace recorded in the credential's state or, with no current key, the
    configured `workspace_id`. When it is empty and there is a current key, it is
    learnt from the current key the way the rotator learns it (one more call).
    An operator cannot read the live key: `cio-rotate probe` passes the recorded
    `current_fp` instead of `current`, which is all the "differs" check needs.
    At most two calls to Customer.io; none for a malformed or webhook key.
    """
    try:
        candidate = parse_credential(candidate_raw, kind, region)
    except MalformedKey as err:
        return _malformed(kind, str(err))
    label = candidate.label
    differs = _differs(candidate, current, current_fp)
    if kind is Kind.WEBHOOK_SIGNING:
        return _webhook(candidate, differs)
    expected = expected_workspace
    if not expected and current is not None:
        expected = verifier.workspace_of(current) or ""
    result = verifier.probe(candidate)
    checks = [Check(CheckName.WELL_FORMED, Verdict.PASS, "parsed"), differs]
    refusals: list[str] = []
    if differs.verdict is Verdict.FAIL:
        refusals.append(differs.detail)
    if isinstance(result, Accepted):
        seen = result.workspace or "none listed"
        checks.append(Check(CheckName.AUTHENTICATES, Verdict.PASS, f"Customer.io: 200 ({seen})"))
        region_check = _region(kind, result, region)
        workspace_check = _workspace(kind, result, expected, label)
        checks += [region_check, workspace_check]
        refusals += [c.detail for c in (region_check, workspace_check) if c.verdict is Verdict.FAIL]
        if refusals:
            return _report(candidate, checks, Decision.REJECT, refusals[0])
        return _report(
            candidate, checks, Decision.ACCEPT, "Submitted now, it would be made current."
        )
    if isinstance(result, Rejected):
        why = runbook.rejection_text(result.reason, label, status=result.status)
        checks.append(Check(CheckName.AUTHENTICATES, Verdict.FAIL, why))
        checks += _not_reached(kind, "Customer.io rejected the key")
        return _report(candidate, checks, Decision.REJECT, (refusals or [why])[0])
    assert isinstance(result, Inconclusive)
    why = f"Customer.io could not tell ({result.reason}: {result.detail})."
    checks.append(Check(CheckName.AUTHENTICATES, Verdict.UNKNOWN, why))
    checks += _not_reached(kind, "Customer.io gave no answer")
    if refusals:
        # The rotator refuses a key equal to the current one before asking Customer.io.
        return _report(candidate, checks, Decision.REJECT, refusals[0])
    return _report(
        candidate,
        checks,
        Decision.INCONCLUSIVE,
        f"{why} The rotator would keep the current key and not promote this one until "
        "Customer.io answers clearly; probe again later.",
    )


def _differs(candidate: Credential, current: Credential | None, current_fp: str = "") -> Check:
    if current is None and current_fp:
        if candidate.fingerprint == current_fp:
            return Check(
                CheckName.DIFFERS,
                Verdict.FAIL,
                runbook.rejection_text("same_as_current", candidate.label),
            )
        return Check(CheckName.DIFFERS, Verdict.PASS, f"current key is fp {current_fp}")
    if current is None:
        return Check(CheckName.DIFFERS, Verdict.PASS, "no current key (bootstrap)")
    if candidate.same_key_as(current):
        return Check(
            CheckName.DIFFERS,
            Verdict.FAIL,
            runbook.rejection_text("same_as_current", candidate.label),
        )
    return Check(CheckName.DIFFERS, Verdict.PASS, f"current key is {current.label}")


def _region(kind: Kind, result: Accepted, region: Region | None) -> Check:
    other = answered_other_region(kind, result, region)
    if other:
        return Check(
            CheckName.REGION,
            Verdict.FAIL,
            f"the key answers for region {other}, not the configured "
            f"{region.value if region else '?'}: create it in a workspace of the configured region.",
        )
    answered = result.region or (region.value if region else "")
    return Check(CheckName.REGION, Verdict.PASS, f"{answered} (the key answered on that host)")


def _workspace(kind: Kind, result: Accepted, expected: str, label: str) -> Check:
    if not expected:
        return Check(
            CheckName.WORKSPACE,
            Verdict.UNKNOWN,
            "no expected workspace is known, so the rotator would not check it: set the "
            "credential's workspace_id in the stack config.",
        )
    if same_workspace(kind, result, expected):
        return Check(CheckName.WORKSPACE, Verdict.PASS, f"{result.workspace} (expected {expected})")
    if kind is Kind.PRIVATE and set(result.workspace.split()) & set(expected.split()):
        # An account-scoped key may reach some of the expected workspaces but not all.
        return Check(
            CheckName.WORKSPACE,
            Verdict.FAIL,
            f"Key {label} reaches workspace(s) {result.workspace} but not all of {expected}: "
            "a replacement must reach every workspace the current key reaches, or some "
            "application loses access. Create the key with access to all of them.",
        )
    detail = f"{result.workspace or 'unknown'} instead of {expected}"
    return Check(
        CheckName.WORKSPACE,
        Verdict.FAIL,
        runbook.rejection_text("wrong_workspace", label, detail=detail),
    )


def _not_reached(kind: Kind, why: str) -> list[Check]:
    region_note = f"{why}: not known"
    if kind in (Kind.APP, Kind.PRIVATE):
        region_note += " (a 401 can also mean the key belongs to the other region)"
    return [
        Check(CheckName.REGION, Verdict.UNKNOWN, region_note),
        Check(CheckName.WORKSPACE, Verdict.UNKNOWN, f"{why}: not known"),
    ]


def _webhook(candidate: Credential, differs: Check) -> ProbeReport:
    checks = [
        Check(CheckName.WELL_FORMED, Verdict.PASS, "parsed"),
        differs,
        Check(CheckName.AUTHENTICATES, Verdict.UNKNOWN, WEBHOOK_UNCHECKABLE),
        Check(CheckName.REGION, Verdict.NOT_APPLICABLE, "webhook signing keys have no region"),
        Check(CheckName.WORKSPACE, Verdict.NOT_APPLICABLE, "webhook signing keys name none"),
    ]
    if differs.verdict is Verdict.FAIL:
        return _report(candidate, checks, Decision.REJECT, differs.detail)
    return _report(
        candidate,
        checks,
        Decision.ACCEPT,
        "The rotator would accept it (well formed, not the current key), but a signing key "
        f"{WEBHOOK_UNCHECKABLE}.",
    )


def _malformed(kind: Kind, why: str) -> ProbeReport:
    not_checked = "not checked: the document is not well formed"
    checks = (
        Check(CheckName.WELL_FORMED, Verdict.FAIL, why),
        Check(CheckName.DIFFERS, Verdict.UNKNOWN, not_checked),
        Check(CheckName.AUTHENTICATES, Verdict.UNKNOWN, not_checked),
        Check(CheckName.REGION, Verdict.UNKNOWN, not_checked),
        Check(CheckName.WORKSPACE, Verdict.UNKNOWN, not_checked),
    )
    return ProbeReport(
        kind=kind,
        key="",
        checks=checks,
        decision=Decision.MALFORMED,
        summary=f"Refused before asking Customer.io: {why}",
    )


def _report(
    candidate: Credential, checks: list[Check], decision: Decision, summary: str
) -> ProbeReport:
    return ProbeReport(
        kind=candidate.kind,
        key=candidate.label,
        checks=tuple(checks),
        decision=decision,
        summary=summary,
    )
