"""Pulumi never deletes a live credential's secrets: they are protected until retired.

A protected resource cannot be deleted by Pulumi: the backstop behind the program's own
refusal (tests/program/test_removal_guard.py), which names `cio-rotate retire` first. The
only way to delete one is `cio-rotate retire NAME`, wait for RETIRED, then `retired: true`
in the config (which lifts the protection), `pulumi up`, then remove the entry.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from infra.config import ConfigError, parse_config
from infra.program import BuildOptions, build
from tests.program.harness import Evaluation, evaluate, make_source_tree, sample_raw_config

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
SECRET_TYPES = ("aws:secretsmanager/secret:Secret", "gcp:secretmanager/secret:Secret")


def _raw(retired: object = True) -> dict[str, object]:
    raw = sample_raw_config(3)
    creds = [dict(c) for c in raw["credentials"]]
    creds[0]["retired"] = retired
    return {**raw, "credentials": creds}


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory: pytest.TempPathFactory) -> Evaluation:
    source = make_source_tree(tmp_path_factory.mktemp("src"))
    config = parse_config(_raw())
    build_dir = tmp_path_factory.mktemp("bundles")

    def program() -> dict[str, object]:
        opts = BuildOptions(repo_root=source, build_dir=build_dir, now=NOW)
        return build(config, opts).outputs

    return evaluate(program)


def _secrets_of(ev: Evaluation, credential: str) -> dict[str, bool]:
    return {
        r.name: ev.options[r.name].protect
        for r in ev.resources
        if r.type in SECRET_TYPES and f"-{credential}-" in r.name
    }


def test_every_secret_of_a_live_credential_is_protected(evaluation: Evaluation) -> None:
    for live in ("cred-001", "cred-002"):
        secrets = _secrets_of(evaluation, live)
        aws = [n for n in secrets if n.startswith("aws-")]
        gcp = [n for n in secrets if n.startswith("gcp-")]
        assert sorted(n.rsplit("-", 1)[1] for n in aws) == ["inbox", "live", "state"]
        assert sorted(n.rsplit("-", 1)[1] for n in gcp) == ["inbox", "live"]
        assert all(secrets.values()), secrets


def test_a_retired_credential_is_not_protected_so_pulumi_may_delete_it(
    evaluation: Evaluation,
) -> None:
    secrets = _secrets_of(evaluation, "cred-000")
    assert len(secrets) == 5
    assert not any(secrets.values()), secrets


def test_nothing_but_credential_secrets_is_protected(evaluation: Evaluation) -> None:
    protected = {n for n, o in evaluation.options.items() if o.protect}
    assert protected == {n for r in ("cred-001", "cred-002") for n in _secrets_of(evaluation, r)}


def test_a_config_marking_a_credential_retired_validates() -> None:
    config = parse_config(_raw())
    assert [c.retired for c in config.credentials] == [True, False, False]
    assert parse_config(_raw("true")).credentials[0].retired is True


def test_a_retired_flag_that_is_not_a_boolean_names_cio_rotate_retire() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(_raw("yes"))
    assert "credentials[0].retired" in str(err.value) and "cio-rotate retire" in str(err.value)
