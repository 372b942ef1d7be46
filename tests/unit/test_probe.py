"""`probe_key` against the local Customer.io: for every kind it says what the rotator would
decide, writes nothing, and shows no key material beyond the last 4 characters."""

import json

import pytest

from localcloud.customerio import FakeCustomerIO
from rotation.credentials import Credential, Kind, Region
from rotation.errors import KeyRejected, VerificationInconclusive
from rotation.operator.probe import (
    WEBHOOK_UNCHECKABLE,
    CheckName,
    Decision,
    ProbeReport,
    Verdict,
    probe_key,
)
from rotation.verify import Verifier, build_session

PK = "pk_" + "a1b2c3d4e5f6a7b8" * 2


@pytest.fixture
def fake(cio):
    cio.reset()
    yield cio
    cio.reset()


@pytest.fixture
def verifier(fake):
    return Verifier(session=build_session(backoff_factor=0.01), env=fake.env(), timeout=(1, 0.5))


def output(report: ProbeReport) -> str:
    return "\n".join(report.lines()) + json.dumps(report.to_json())


def assert_no_key(report: ProbeReport, *creds: Credential) -> None:
    text = output(report)
    for cred in creds:
        for secret in (cred.secret, cred.site_id):
            if secret:
                assert secret not in text
                assert secret[:-4] not in text  # nothing beyond the last 4 characters
    if report.key:
        assert report.key.startswith("…") and report.key in text


def new_key(
    fake: FakeCustomerIO, kind: Kind, workspace: str = "1001", region: str = "us"
) -> Credential:
    if kind is Kind.TRACK:
        return fake.new_track_key(workspace, region)
    if kind is Kind.APP:
        return fake.new_app_key((workspace,), region)
    if kind is Kind.PRIVATE:
        return fake.new_private_key((workspace,), region)
    return Credential(Kind.WEBHOOK_SIGNING, "whsec" + workspace * 8)


def region_of(kind: Kind) -> Region | None:
    return None if kind is Kind.WEBHOOK_SIGNING else Region.US


@pytest.mark.parametrize("kind", list(Kind))
def test_a_good_new_key_would_be_accepted(fake, verifier, kind):
    current = new_key(fake, kind, "1001")
    candidate = new_key(fake, kind, "1001" if kind is not Kind.WEBHOOK_SIGNING else "2002")
    report = probe_key(verifier, candidate.to_json(), kind, region_of(kind), current, "1001")
    assert report.decision is Decision.ACCEPT and report.accepted
    assert report.key == candidate.label
    assert report.check(CheckName.DIFFERS).verdict is Verdict.PASS
    assert_no_key(report, current, candidate)
    assert [c.name for c in report.checks] == list(CheckName)
    if kind is Kind.WEBHOOK_SIGNING:
        assert report.check(CheckName.AUTHENTICATES).detail == WEBHOOK_UNCHECKABLE
        assert WEBHOOK_UNCHECKABLE in report.summary
        assert fake.log == []
    else:
        assert all(c.verdict is Verdict.PASS for c in report.checks)
        assert len(fake.log) == 1  # one call: the expected workspace was given


@pytest.mark.parametrize("kind", list(Kind))
def test_the_same_key_again_would_be_rejected(fake, verifier, kind):
    current = new_key(fake, kind)
    report = probe_key(verifier, current.to_json(), kind, region_of(kind), current, "1001")
    assert report.decision is Decision.REJECT
    assert report.check(CheckName.DIFFERS).verdict is Verdict.FAIL
    assert "already in use" in report.summary
    assert_no_key(report, current)


@pytest.mark.parametrize("kind", list(Kind))
def test_a_public_key_is_refused_without_asking_customerio(fake, verifier, kind):
    good = json.loads(new_key(fake, kind).to_json())
    secret_field = [f for f in good if f != "region"][-1]
    fake.log.clear()
    report = probe_key(
        verifier, json.dumps({**good, secret_field: PK}), kind, region_of(kind), None, ""
    )
    assert report.decision is Decision.MALFORMED and report.key == ""
    assert report.check(CheckName.WELL_FORMED).verdict is Verdict.FAIL
    assert "public key" in report.summary
    assert PK not in output(report) and fake.log == []


@pytest.mark.parametrize("kind", [Kind.TRACK, Kind.APP, Kind.PRIVATE])
def test_wrong_workspace_would_be_rejected(fake, verifier, kind):
    current = new_key(fake, kind, "1001")
    stranger = new_key(fake, kind, "2002")
    report = probe_key(verifier, stranger.to_json(), kind, Region.US, current, "1001")
    assert report.decision is Decision.REJECT
    workspace = report.check(CheckName.WORKSPACE)
    assert workspace.verdict is Verdict.FAIL and "2002 instead of 1001" in workspace.detail
    assert report.check(CheckName.AUTHENTICATES).verdict is Verdict.PASS
    assert_no_key(report, current, stranger)


def test_a_track_key_of_the_other_region_would_be_rejected(fake, verifier):
    eu = fake.new_track_key("1001", "eu")
    declared_us = Credential(Kind.TRACK, eu.secret, Region.US, eu.site_id)
    report = probe_key(verifier, declared_us.to_json(), Kind.TRACK, Region.US, None, "1001")
    assert report.decision is Decision.REJECT
    assert report.check(CheckName.REGION).verdict is Verdict.FAIL
    assert "region eu" in report.summary


@pytest.mark.parametrize("kind", [Kind.APP, Kind.PRIVATE])
def test_a_401_is_rejected_and_may_mean_the_other_region(fake, verifier, kind):
    eu = new_key(fake, kind, "1001", "eu")
    declared_us = json.loads(eu.to_json()) | {"region": "us"}
    report = probe_key(verifier, json.dumps(declared_us), kind, Region.US, None, "1001")
    assert report.decision is Decision.REJECT
    assert report.check(CheckName.AUTHENTICATES).verdict is Verdict.FAIL
    region = report.check(CheckName.REGION)
    assert region.verdict is Verdict.UNKNOWN and "other region" in region.detail
    assert_no_key(report, eu)


def test_a_document_for_another_region_is_malformed(fake, verifier):
    eu = fake.new_private_key(("1001",), "eu")
    report = probe_key(verifier, eu.to_json(), Kind.PRIVATE, Region.US, None, "1001")
    assert report.decision is Decision.MALFORMED and "configured for 'us'" in report.summary
    assert fake.log == []


@pytest.mark.parametrize("kind", [Kind.TRACK, Kind.APP, Kind.PRIVATE])
def test_customerio_down_is_inconclusive(fake, verifier, kind):
    candidate = new_key(fake, kind)
    fake.fail_next(503, times=4)
    report = probe_key(verifier, candidate.to_json(), kind, Region.US, None, "1001")
    assert report.decision is Decision.INCONCLUSIVE and not report.accepted
    assert report.check(CheckName.AUTHENTICATES).verdict is Verdict.UNKNOWN
    assert "keep the current key" in report.summary


def test_a_private_key_seeing_several_workspaces(fake, verifier):
    account = fake.new_private_key(("1001", "2002"))
    report = probe_key(verifier, account.to_json(), Kind.PRIVATE, Region.US, None, "2002")
    assert report.accepted and "1001 2002" in report.check(CheckName.WORKSPACE).detail
    current = fake.new_private_key(("1001", "2002", "3003"))
    narrower = probe_key(verifier, account.to_json(), Kind.PRIVATE, Region.US, current, "")
    assert narrower.decision is Decision.REJECT
    detail = narrower.check(CheckName.WORKSPACE).detail
    assert "reaches workspace(s) 1001 2002 but not all of 1001 2002 3003" in detail


def test_the_expected_workspace_is_learnt_from_the_current_key(fake, verifier):
    current = fake.new_track_key("1001")
    stranger = fake.new_track_key("2002")
    report = probe_key(verifier, stranger.to_json(), Kind.TRACK, Region.US, current, "")
    assert report.decision is Decision.REJECT and len(fake.log) == 2
    bootstrap = probe_key(verifier, stranger.to_json(), Kind.TRACK, Region.US, None, "")
    assert bootstrap.accepted
    assert bootstrap.check(CheckName.WORKSPACE).verdict is Verdict.UNKNOWN


def test_the_report_reads_as_lines(fake, verifier):
    candidate = fake.new_private_key(("1001",))
    lines = probe_key(verifier, candidate.to_json(), Kind.PRIVATE, Region.US, None, "1001").lines()
    assert lines[0].startswith(f"Key {candidate.label} (private credential)")
    assert "nothing was written" in lines[0]
    assert lines[-1] == "Decision: accept. Submitted now, it would be made current."
    assert any(line.strip().startswith("authenticates") for line in lines)


def test_probing_only_reads(fake, verifier):
    """No store is even passed in; on the Customer.io side, only the side-effect-free checks."""
    for kind in Kind:
        candidate = new_key(fake, kind, "1001")
        probe_key(verifier, candidate.to_json(), kind, region_of(kind), None, "1001")
    paths = {path.split("/", 2)[2] for path, _ in fake.log}
    assert paths == {"api/v1/accounts/region", "v1/workspaces"}
    assert fake.suppressed == [] and fake.deleted == []


SCENARIOS = ["good", "same", "same_down", "stranger", "down", "bogus", "garbage"]


@pytest.mark.parametrize("kind", [Kind.TRACK, Kind.APP, Kind.PRIVATE, Kind.WEBHOOK_SIGNING])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_probe_decides_what_the_verifier_decides(fake, verifier, kind, scenario):
    """Same rules, same answer: the report and the rotator's own verification agree."""
    current = new_key(fake, kind, "1001")
    candidate = {
        "good": new_key(fake, kind, "1001" if kind is not Kind.WEBHOOK_SIGNING else "3003"),
        "same": current,
        "same_down": current,
        "stranger": new_key(fake, kind, "2002"),
        "down": new_key(fake, kind, "1001"),
        "bogus": Credential(
            kind, {Kind.PRIVATE: "sk_"}.get(kind, "") + "0" * 24, current.region, current.site_id
        ),
        "garbage": new_key(fake, kind, "1001"),
    }[scenario]

    def arrange() -> None:
        if scenario in ("down", "same_down"):
            fake.fail_next(503, times=4)
        if scenario == "garbage":
            fake.fail_next(200)

    arrange()
    report = probe_key(verifier, candidate.to_json(), kind, region_of(kind), current, "1001")
    fake.faults.clear()
    arrange()
    try:
        verifier.verify(candidate, current, "1001", region_of(kind))
        expected = Decision.ACCEPT
    except VerificationInconclusive:
        expected = Decision.INCONCLUSIVE
    except KeyRejected:
        expected = Decision.REJECT
    fake.faults.clear()
    assert report.decision is expected
    assert_no_key(report, current, candidate)
