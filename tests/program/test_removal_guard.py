"""Removing a live credential from the config fails first, naming `cio-rotate retire`.

Each scenario deploys a config under the mocks, hands what it exported to the mocked
backend as this stack's previous outputs, then evaluates the next config: the way a
real stack's second `pulumi up` (or preview) sees its first.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pulumi
import pytest

from infra.config import Cloud, ConfigError, StackConfig, parse_config
from infra.program import BuildOptions, build
from infra.removal_guard import (
    READ_STACK_OUTPUTS,
    Deployed,
    deployed_credentials,
    removal_problems,
)
from tests.program.harness import ENDPOINT, Evaluation, evaluate, sample_raw_config
from tests.program.test_main import WEBHOOK, run_main

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
THIS_STACK = "organization/cio-rotation/test"
LIVE_SECRETS = ("aws:secretsmanager/secret:Secret", "gcp:secretmanager/secret:Secret")


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bundles")


def _raw(clouds: tuple[str, ...] = ("aws", "gcp"), drop: str = "", **flags: Any) -> dict[str, Any]:
    """Three credentials (cred-000 track with a workspace, cred-001 app, cred-002 webhook)."""
    raw = sample_raw_config(3, clouds)
    creds = [{**c, **flags.get(c["name"].replace("-", "_"), {})} for c in raw["credentials"]]
    return {**raw, "credentials": [c for c in creds if c["name"] != drop]}


def _render(
    raw: dict[str, Any],
    source_tree: Path,
    bundles: Path,
    previous: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Evaluation:
    config = parse_config(raw)

    def program() -> dict[str, object]:
        options = BuildOptions(repo_root=source_tree, build_dir=bundles, now=NOW)
        return build(config, options).outputs

    backend = {THIS_STACK: previous} if previous is not None else None
    return evaluate(program, previous_outputs=kwargs.pop("previous_outputs", backend), **kwargs)


@pytest.fixture(scope="module")
def deployed(source_tree: Path, bundles: Path) -> Iterator[dict[str, Any]]:
    """What the first deployment of both clouds exported."""
    yield _render(_raw(), source_tree, bundles).outputs


def _refused(raw: dict[str, Any], source_tree: Path, bundles: Path, **kwargs: Any) -> str:
    with pytest.raises(ConfigError) as err:
        _render(raw, source_tree, bundles, **kwargs)
    return str(err.value)


@pytest.mark.parametrize("cloud", ["aws", "gcp"])
@pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])
def test_removing_a_live_credential_names_cio_rotate_retire(
    cloud: str, preview: bool, source_tree: Path, bundles: Path
) -> None:
    first = _render(_raw((cloud,)), source_tree, bundles).outputs
    message = _refused(
        _raw((cloud,), drop="cred-000"), source_tree, bundles, previous=first, preview=preview
    )
    assert message.count("cio-rotation:credentials:") == 1  # cred-001 and cred-002 are kept
    assert f"'cred-000' is deployed on {cloud.upper()} but is no longer in the config" in message
    assert "has not been retired, so its secrets are protected" in message
    assert "`cio-rotate retire cred-000 --reason TEXT`" in message
    # The entry goes back at the end of the list, exactly as it was.
    for field, value in (
        ("name", "cred-000"),
        ("kind", "track"),
        ("region", "us"),
        ("workspace_id", "112233"),
    ):
        assert f"`pulumi config set --path 'credentials[2].{field}' {value}`" in message
    assert "wait until `cio-rotate status` shows it retired" in message
    assert "`pulumi config set --path 'credentials[2].retired' true` and `pulumi up`" in message
    assert message.index("lifts the protection") < message.index("remove the entry")


def test_the_refusal_comes_before_any_resource_is_declared(
    deployed: dict[str, Any], source_tree: Path, bundles: Path
) -> None:
    config = parse_config(_raw(drop="cred-001"))
    refused: list[str] = []

    def program() -> dict[str, object]:
        try:
            build(config, BuildOptions(repo_root=source_tree, build_dir=bundles, now=NOW))
        except ConfigError as err:
            refused.append(str(err))
        return {}

    ev = evaluate(program, previous_outputs={THIS_STACK: deployed})
    assert len(refused) == 1 and "cio-rotate retire cred-001" in refused[0]
    assert ev.resources == []
    assert ev.call_args == [(READ_STACK_OUTPUTS, {"name": THIS_STACK})]


def test_every_removed_credential_is_named_with_its_own_index(
    deployed: dict[str, Any], source_tree: Path, bundles: Path
) -> None:
    raw = _raw()
    raw["credentials"] = raw["credentials"][:1]
    message = _refused(raw, source_tree, bundles, previous=deployed)
    assert "The stack config has 2 problem(s)" in message
    assert "`pulumi config set --path 'credentials[1].name' cred-001`" in message
    assert "`pulumi config set --path 'credentials[2].name' cred-002`" in message
    assert f"`pulumi config set --path 'credentials[2].webhook_endpoint' {ENDPOINT}`" in message
    assert "'cred-001' is deployed on AWS and GCP" in message


def test_the_message_holds_config_fields_only_never_a_value(
    deployed: dict[str, Any], source_tree: Path, bundles: Path
) -> None:
    key = "sk_" + "f" * 40
    previous = json.loads(json.dumps(deployed))
    previous["credentials"]["cred-001"]["current_key"] = key  # what no output should hold
    previous["chat_webhook_url"] = WEBHOOK
    message = _refused(_raw(drop="cred-001"), source_tree, bundles, previous=previous)
    assert key not in message and WEBHOOK not in message
    assert "arn:aws" not in message and "projects/" not in message


def test_dropping_a_cloud_of_a_live_credential_is_refused(
    deployed: dict[str, Any], source_tree: Path, bundles: Path
) -> None:
    message = _refused(_raw(("gcp",)), source_tree, bundles, previous=deployed)
    assert message.count("cio-rotation:clouds: no longer has aws") == 3
    assert "`pulumi config set --path 'clouds[1]' aws`" in message
    assert "`cio-rotate retire cred-002 --reason TEXT`" in message
    assert "`pulumi config set --path 'credentials[2].retired' true`" in message


def test_a_retired_credential_in_the_config_deploys(
    deployed: dict[str, Any], source_tree: Path, bundles: Path
) -> None:
    """`retired: true` on an entry still in the config: the step that lifts protection."""
    raw = _raw(cred_000={"retired": True})
    ev = _render(raw, source_tree, bundles, previous=deployed)
    assert ev.outputs["credentials"]["cred-000"]["retired"] is True
    unprotected = {r.name for r in ev.resources if r.type in LIVE_SECRETS} - {
        n for n, o in ev.options.items() if o.protect
    }
    assert unprotected and all("-cred-000-" in n for n in unprotected)


def test_removing_a_credential_deployed_as_retired_deploys(
    source_tree: Path, bundles: Path
) -> None:
    """Its last deployment lifted the protection: Pulumi may now delete its secrets."""
    lifted = _render(_raw(cred_000={"retired": True}), source_tree, bundles).outputs
    ev = _render(_raw(drop="cred-000"), source_tree, bundles, previous=lifted)
    assert "cred-000" not in ev.outputs["credentials"]
    assert not [r for r in ev.resources if "-cred-000-" in r.name]


def test_a_tombstone_whose_entry_is_gone_is_not_a_removal(source_tree: Path, bundles: Path) -> None:
    """Retired, deleted, entry removed: the last deployment no longer lists it."""
    gone = _render(_raw(drop="cred-000"), source_tree, bundles).outputs
    ev = _render(_raw(drop="cred-000"), source_tree, bundles, previous=gone)
    assert set(ev.outputs["credentials"]) == {"cred-001", "cred-002"}


def test_a_first_deploy_reads_this_stack_once_and_deploys(source_tree: Path, bundles: Path) -> None:
    ev = _render(_raw(), source_tree, bundles, preview=True)
    reads = [args for token, args in ev.call_args if token == READ_STACK_OUTPUTS]
    assert reads == [{"name": THIS_STACK}]
    assert len(ev.outputs["credentials"]) == 3


def test_credentials_of_another_stack_are_not_this_stacks(
    deployed: dict[str, Any], source_tree: Path, bundles: Path
) -> None:
    """Another stack of the project (same account and project) with more credentials."""
    ev = _render(
        _raw(drop="cred-000"),
        source_tree,
        bundles,
        previous_outputs={"organization/cio-rotation/staging": deployed},
    )
    assert "cred-000" not in ev.outputs["credentials"]


def test_an_unreadable_record_warns_and_leaves_protect_as_the_backstop(
    source_tree: Path, bundles: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda msg, *a, **k: warnings.append(msg))
    ev = _render(
        _raw(drop="cred-000"),
        source_tree,
        bundles,
        previous_outputs_error="stack names may not contain slashes",
    )
    assert len(warnings) == 1
    assert THIS_STACK in warnings[0] and "stack names may not contain slashes" in warnings[0]
    assert "`protect` still refuses" in warnings[0] and "cio-rotate retire NAME" in warnings[0]
    live = [r.name for r in ev.resources if r.type in LIVE_SECRETS]
    assert live and all(ev.options[n].protect for n in live)


def test_the_pulumi_cli_sees_a_run_error_without_a_traceback(
    deployed: dict[str, Any], source_tree: Path, tmp_path: Path
) -> None:
    """`__main__.py` turns the refusal into pulumi.RunError: the CLI prints the message only."""
    with pytest.raises(pulumi.RunError) as err:
        run_main(
            _raw(drop="cred-002"),
            [],
            source_tree,
            tmp_path,
            previous_outputs={THIS_STACK: deployed},
        )
    assert "cio-rotation:credentials: 'cred-002' is deployed" in str(err.value)
    assert "cio-rotate retire cred-002 --reason TEXT" in str(err.value)


# -- the pure parts -------------------------------------------------------------------


def _config(*names: str, clouds: tuple[str, ...] = ("aws", "gcp")) -> StackConfig:
    raw = sample_raw_config(3, clouds)
    raw["credentials"] = [c for c in raw["credentials"] if c["name"] in names]
    return parse_config(raw)


def test_outputs_of_an_older_program_without_the_flag_count_as_live() -> None:
    outputs = {"credentials": {"old": {"kind": "app", "aws_secret_arn": "arn:x", "region": "us"}}}
    assert deployed_credentials(outputs) == [
        Deployed("old", frozenset({Cloud.AWS}), False, (("kind", "app"), ("region", "us")))
    ]


@pytest.mark.parametrize(
    "outputs",
    [{}, {"credentials": None}, {"credentials": ["a"]}, {"credentials": {"a": "text"}}],
)
def test_malformed_outputs_are_nothing_deployed(outputs: dict[str, Any]) -> None:
    assert deployed_credentials(outputs) == []


def test_a_credential_deployed_nowhere_is_not_a_removal() -> None:
    deployed = [Deployed("ghost", frozenset(), False)]
    assert removal_problems(_config("cred-000"), deployed) == []


def test_narrowing_a_credentials_cloud_is_refused_with_the_fix(
    deployed: dict[str, Any], source_tree: Path, bundles: Path
) -> None:
    """Issue 20: `cloud: both` -> `cloud: aws` would delete its GCP secrets: refused."""
    raw = _raw(cred_001={"cloud": "aws"})
    message = _refused(raw, source_tree, bundles, previous=deployed)
    assert "credentials[1].cloud" in message and "no longer includes gcp" in message
    assert "pulumi config set --path 'credentials[1].cloud' both" in message
