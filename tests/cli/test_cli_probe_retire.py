"""`cio-rotate probe` (every kind, nothing written, no key printed) and `cio-rotate retire`."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta

import pytest

from rotation.credentials import Credential, Kind
from rotation.state import Phase

WRITES = ("PutSecretValue", "UpdateSecretVersionStage", "RotateSecret", "Invoke", "TagResource")


def state(aws, name):
    return aws.rt.store.snapshot(aws.secrets[name]).state


def doc_of(key: Credential) -> str:
    return key.to_json()


def new_key(cli, kind: str, workspace: str = "1001", region: str = "us") -> Credential:
    cio = cli.aws.cio
    key: Credential
    if kind == "track":
        key = cio.new_track_key(workspace, region)
    elif kind == "app":
        key = cio.new_app_key((workspace,), region)
    elif kind == "private":
        key = cio.new_private_key((workspace,), region)
    else:
        key = Credential(Kind.WEBHOOK_SIGNING, "whsec" + secrets.token_hex(16))
    cli.keys.append(key)
    return key


def name_of(kind: str) -> str:
    """The credential named after its kind (stack config names allow no '_')."""
    return kind.replace("_", "-")


def provisioned(cli, aws, kind: str) -> Credential:
    region = "" if kind == "webhook_signing" else "us"
    aws.provision(name_of(kind), kind, region or "us", workspace="" if not region else "1001")
    first = new_key(cli, kind)
    assert aws.submit(name_of(kind), first)["outcome"] == "submitted"
    return first


def probe(cli, name, key, *flags):
    before = len(cli.calls)
    result = cli.run("probe", name, "--stdin", *flags, input=doc_of(key), env=cli.aws.cio.env())
    assert not [c for c in cli.calls[before:] if c in WRITES], cli.calls[before:]
    return result


@pytest.mark.parametrize("kind", ["track", "app", "private", "webhook_signing"])
def test_probe_accepts_a_good_key_for_every_kind_and_writes_nothing(cli, aws, kind):
    current = provisioned(cli, aws, kind)
    before = state(aws, name_of(kind))
    good = new_key(cli, kind)
    result = probe(cli, name_of(kind), good)
    assert result.exit_code == 0, result.output
    assert "nothing was written anywhere" in result.output
    assert f"…{good.secret[-4:]}" in result.output and good.fingerprint in result.output
    assert state(aws, name_of(kind)) == before
    assert aws.current_value(name_of(kind)) == json.loads(current.to_json())
    assert aws.rt.store.read_submission(aws.secrets[name_of(kind)]) is None


@pytest.mark.parametrize("kind", ["track", "app", "private", "webhook_signing"])
def test_probe_refuses_the_current_key_again_by_its_fingerprint(cli, aws, kind):
    current = provisioned(cli, aws, kind)
    result = probe(cli, name_of(kind), current, "--json")
    assert result.exit_code == 3, result.output
    report = json.loads(result.output)
    assert report["decision"] == "reject"
    differs = next(c for c in report["checks"] if c["name"] == "differs from current")
    assert differs["verdict"] == "fail"


@pytest.mark.parametrize("kind", ["track", "app", "private"])
def test_probe_refuses_a_key_of_another_workspace(cli, aws, kind):
    provisioned(cli, aws, kind)
    result = probe(cli, name_of(kind), new_key(cli, kind, workspace="2002"), "--json")
    assert result.exit_code == 3, result.output
    report = json.loads(result.output)
    workspace = next(c for c in report["checks"] if c["name"] == "workspace")
    assert workspace["verdict"] == "fail"


@pytest.mark.parametrize("kind", ["app", "private"])
def test_probe_says_a_key_of_the_other_region_is_not_accepted(cli, aws, kind):
    provisioned(cli, aws, kind)
    eu = new_key(cli, kind, region="eu")
    us_doc = json.loads(eu.to_json()) | {"region": "us"}
    result = cli.run(
        "probe", name_of(kind), "--stdin", input=json.dumps(us_doc), env=cli.aws.cio.env()
    )
    assert result.exit_code == 3, result.output


def test_probe_when_customerio_is_down_is_inconclusive(cli, aws):
    provisioned(cli, aws, "private")
    aws.cio.fail_next(503, times=50)
    result = probe(cli, "private", new_key(cli, "private"))
    assert result.exit_code == 4, result.output
    assert "could not tell" in result.output
    aws.cio.faults.clear()


def test_probe_refuses_a_public_key_locally(cli, aws):
    provisioned(cli, aws, "private")
    public = aws.cio.new_public_key("1001")
    before = len(cli.calls)
    result = cli.run(
        "probe",
        "private",
        "--stdin",
        input=json.dumps({"private_key": public, "region": "us"}),
        env=aws.cio.env(),
    )
    assert result.exit_code == 3, result.output
    assert "public key" in result.output and public not in result.output
    assert not [c for c in cli.calls[before:] if c in WRITES]


# -- retire ----------------------------------------------------------------------------


def test_retire_asks_for_a_reason_and_a_confirmation(cli, aws):
    provisioned(cli, aws, "track")
    assert cli.run("retire", "track").exit_code == 2
    result = cli.run("retire", "track", "--reason", "moved", input="n\n")
    assert result.exit_code == 1 and "Aborted" in result.output
    assert state(aws, "track").phase is Phase.IDLE


def test_retire_then_check_then_retired_in_status(cli, aws):
    first = provisioned(cli, aws, "track")
    result = cli.run("retire", "track", "--reason", "moved to billing-private", "--yes")
    assert result.exit_code == 0, result.output  # the request succeeded; the rest is people's
    assert "is being retired" in result.output
    rows = json.loads(cli.run("status", "--json").output)
    assert rows[0]["phase"] == "retiring" and "switch consumers" in rows[0]["waiting_on"]
    result = cli.run("check", "track")
    assert result.exit_code == 4 and "not confirmed deleted" in result.output
    aws.cio.delete_key(first)
    result = cli.run("check", "track")
    assert result.exit_code == 0, result.output
    assert "retired since" in result.output
    rows = json.loads(cli.run("status", "--json").output)
    assert rows[0]["phase"] == "retired" and "retired: true" in rows[0]["waiting_on"]
    assert "retired" in cli.run("runbook", "track").output


def test_retire_is_refused_locally_while_a_rotation_is_open(cli, aws, clock):
    provisioned(cli, aws, "track")
    clock.advance(timedelta(days=76))
    aws.sweep()
    before = len(cli.calls)
    result = cli.run("retire", "track", "--reason", "moved", "--yes")
    assert result.exit_code == 3 and "open rotation" in result.output
    assert "Invoke" not in cli.calls[before:]
    assert state(aws, "track").phase is Phase.AWAITING_KEY
