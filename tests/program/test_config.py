"""Stack config: a pure function of a dict; every error names its key and its fix."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from infra.config import (
    KNOWN_KEYS,
    AwsSettings,
    Cloud,
    ConfigError,
    CredentialSpec,
    GcpSettings,
    Schedule,
    StackConfig,
    foreign_consumers,
    parse_config,
)
from rotation.credentials import Kind, Region
from rotation.policy import Policy
from tests.program.harness import sample_raw_config

WEBHOOK = "https://hooks.example.com/services/T000/B000/very-secret-token"


def errors_of(raw: dict[str, Any], secret_keys: frozenset[str] = frozenset()) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(raw, secret_keys)
    return [str(p) for p in info.value.problems]


def test_valid_config_with_defaults() -> None:
    config = parse_config(sample_raw_config(3))
    assert config.clouds == {Cloud.AWS, Cloud.GCP}
    assert config.name_prefix == "cio"
    assert config.schedule == Schedule(90, 14, 3, 3, 24, 15, 4)
    assert config.schedule.rotation_period_seconds == 7_776_000
    assert config.log_retention_days == 365
    assert not config.chat_webhook_configured
    assert [c.kind for c in config.credentials] == [Kind.TRACK, Kind.APP, Kind.WEBHOOK_SIGNING]
    assert config.credentials[0] == CredentialSpec("cred-000", Kind.TRACK, Region.US, "112233")
    assert config.credentials[2].region is None
    assert config.aws == AwsSettings(
        ("arn:aws:iam::123456789012:role/platform-oncall",),
        (
            "arn:aws:iam::123456789012:role/app-backend",
            "arn:aws:iam::123456789012:user/legacy-batch",
        ),
    )
    assert isinstance(config.gcp, GcpSettings)
    assert config.gcp.project == "test-project"


def test_single_cloud_needs_only_its_settings() -> None:
    raw = sample_raw_config(2, clouds=("aws",))
    for key in ("gcp_project", "gcp_region", "gcp_operator_members", "gcp_consumer_members"):
        del raw[key]
    config = parse_config(raw)
    assert config.clouds == {Cloud.AWS} and config.gcp is None


def test_values_as_pulumi_hands_them_over() -> None:
    raw = sample_raw_config(1, ("aws",))
    raw.update(clouds="aws", rotation_days="60", lead_days=10, log_retention_days="90")
    raw["credentials"][0]["workspace_id"] = 998877
    config = parse_config(raw)
    assert config.clouds == {Cloud.AWS}
    assert config.schedule.rotation_days == 60
    assert config.log_retention_days == 90
    assert config.credentials[0].workspace_id == "998877"


def test_schedule_agrees_with_the_rotation_engine() -> None:
    """Whatever the program accepts, the rotator's Policy (fed by env vars) accepts too."""
    for days, lead, escalate in [(90, 14, 3), (30, 29, 29), (1, 0, 0), (45, 10, 0)]:
        raw = {**sample_raw_config(1), "rotation_days": days, "lead_days": lead}
        raw["escalate_days"] = escalate
        schedule = parse_config(raw).schedule
        Policy(
            rotation_days=schedule.rotation_days,
            lead_days=schedule.lead_days,
            escalate_days=schedule.escalate_days,
            reminder_days=schedule.reminder_days,
            grace_hours=schedule.grace_hours,
            emergency_grace_minutes=schedule.emergency_grace_minutes,
            emergency_deadline_hours=schedule.emergency_deadline_hours,
        )


def test_webhook_must_be_a_pulumi_secret_and_is_never_echoed() -> None:
    raw = {**sample_raw_config(1), "chat_webhook_url": WEBHOOK}
    assert parse_config(raw, frozenset({"chat_webhook_url"})).chat_webhook_configured
    [message] = errors_of(raw)
    assert "cio-rotation:chat_webhook_url: is stored in plain text" in message
    assert "pulumi config set --secret chat_webhook_url" in message
    assert "very-secret-token" not in message
    [message] = errors_of({**raw, "chat_webhook_url": "http://x/very-secret-token"})
    assert "must be an https:// URL (value not shown)" in message
    assert "very-secret-token" not in message
    assert "very-secret-token" not in repr(parse_config(raw, frozenset({"chat_webhook_url"})))


def _set(raw: dict[str, Any], path: str, value: Any) -> None:
    """Set `a.b[1].c`-style paths; a value of `...` deletes the key."""
    keys: list[Any] = []
    for part in path.replace("]", "").split("."):
        name, _, index = part.partition("[")
        keys.append(name)
        if index:
            keys.append(int(index))
    target: Any = raw
    for key in keys[:-1]:
        target = target[key]
    if value is ...:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value


# (path to change, new value or ... to delete, the key the error names, words of the
# problem, words of the fix). One case per message parse_config can produce.
CASES: list[tuple[str, Any, str, str, str]] = [
    ("clouds", ..., "clouds", 'expected a list with "aws", "gcp" or both', "clouds[0]"),
    ("clouds", [], "clouds", "got []", "pulumi config set --path 'clouds[0]' aws"),
    ("clouds", ["aws", "azure"], "clouds[1]", "'azure' is not \"aws\" or \"gcp\"", "clouds[0]"),
    ("clouds", ["aws", "aws", "gcp"], "clouds[1]", "'aws' is listed twice", "remove"),
    ("name_prefix", "Cio_", "name_prefix", "is not a valid prefix", "pulumi config set name_prefix cio"),
    ("credentials", ..., "credentials", "non-empty list of credentials", "credentials[0].name"),
    ("credentials", {"name": "x"}, "credentials", "non-empty list", "pulumi config set --path"),
    ("credentials[1]", "cred-001", "credentials[1]", "expected an object", "credentials[1].name"),
    ("credentials[0].name", "Marketing Track", "credentials[0].name", "is not a valid name", "credentials[0].name"),
    ("credentials[0].name", ..., "credentials[0].name", "None is not a valid name", "marketing-track"),
    ("credentials[0].name", "billing-inbox", "credentials[0].name", "reserved for submission inboxes", "billing-key"),
    ("credentials[1].name", "cred-000", "credentials[1].name", "already used by credentials[0]", "<new-name>"),
    ("credentials[0].kind", "tracking", "credentials[0].kind", "is not a credential kind (track, app, webhook_signing, private)", "credentials[0].kind' track"),
    ("credentials[0].region", "ap", "credentials[0].region", 'is not "us" or "eu"', "credentials[0].region' us"),
    ("credentials[1].region", ..., "credentials[1].region", "required for app keys", "credentials[1].region' us"),
    ("credentials[2].region", "us", "credentials[2].region", "webhook signing keys have no API region", "pulumi config rm --path 'credentials[2].region'"),
    ("credentials[0].workspace_id", "Work Space", "credentials[0].workspace_id", "is not a workspace id", "or remove it"),
    ("credentials[0].workspace", "1", "credentials[0].workspace", "unknown field (did you mean 'workspace_id'?)", "pulumi config rm --path 'credentials[0].workspace'"),
    ("rotation_days", 120, "rotation_days", "120 is outside the allowed range 1..90 (the security baseline)", "pulumi config set rotation_days 90"),
    ("rotation_days", 0, "rotation_days", "outside the allowed range 1..90", "rotation_days 90"),
    ("rotation_days", "ninety", "rotation_days", "expected a whole number, got 'ninety'", "rotation_days 90"),
    ("rotation_days", True, "rotation_days", "expected a whole number, got True", "rotation_days 90"),
    ("lead_days", 90, "lead_days", "90 is outside the allowed range 0..89", "pulumi config set lead_days 14"),
    ("escalate_days", 20, "escalate_days", "must not exceed lead_days (14)", "pulumi config set escalate_days 3"),
    ("reminder_days", 0, "reminder_days", "outside the allowed range 1..30", "reminder_days 3"),
    ("grace_hours", -1, "grace_hours", "outside the allowed range 0..336", "grace_hours 24"),
    ("emergency_grace_minutes", 5000, "emergency_grace_minutes", "outside the allowed range 0..1440", "emergency_grace_minutes 15"),
    ("emergency_deadline_hours", 0, "emergency_deadline_hours", "outside the allowed range 1..72", "emergency_deadline_hours 4"),
    ("drain_quiet_minutes", 2000, "drain_quiet_minutes", "outside the allowed range 0..1440", "drain_quiet_minutes 15"),
    ("drain_quiet_minutes", "soon", "drain_quiet_minutes", "expected a whole number, got 'soon'", "drain_quiet_minutes 15"),
    ("operator_emails", ..., "operator_emails", "is required: a list of e-mail addresses", "operator_emails[0]' oncall@example.com"),
    ("operator_emails", {"a": 1}, "operator_emails", "expected a list of e-mail addresses", "operator_emails[0]"),
    ("operator_emails", ["oncall@example.com", "not-an-email"], "operator_emails[1]", "'not-an-email' is not one of e-mail addresses", "operator_emails[1]"),
    ("operator_emails", ["a@example.com", "a@example.com"], "operator_emails[1]", "'a@example.com' is listed twice", "remove `operator_emails[1]`"),
    ("log_retention_days", 100, "log_retention_days", "100 is not a CloudWatch Logs retention", "log_retention_days 365"),
    ("aws_operator_principals", ..., "aws_operator_principals", "is required: a list of IAM principal ARNs", "aws_operator_principals[0]"),
    ("aws_operator_principals", ["arn:aws:iam::12345:role/x"], "aws_operator_principals[0]", "is not one of IAM principal ARNs", "arn:aws:iam::123456789012:role/platform-oncall"),
    ("aws_consumer_principals", ["arn:aws:iam::123456789012:root"], "aws_consumer_principals[0]", "IAM role or user ARNs (same account)", "aws_consumer_principals[0]"),
    ("gcp_project", ..., "gcp_project", "None is not a GCP project id (required when clouds has gcp)", "pulumi config set gcp_project my-project-id"),
    ("gcp_project", "P", "gcp_project", "'P' is not a GCP project id", "gcp_project my-project-id"),
    ("gcp_region", "Europe", "gcp_region", "is not a GCP region", "pulumi config set gcp_region europe-west1"),
    ("gcp_operator_members", ..., "gcp_operator_members", "is required: a list of IAM members", "group:platform-oncall@example.com"),
    ("gcp_operator_members", ["alice@example.com"], "gcp_operator_members[0]", "is not one of IAM members (user:, group: or serviceAccount:)", "gcp_operator_members[0]"),
    ("gcp_consumer_members", ["domain:example.com"], "gcp_consumer_members[0]", "is not one of IAM members", "gcp_consumer_members[0]"),
    ("rotaton_days", 30, "rotaton_days", "is not a setting of this project. Did you mean 'rotation_days'?", "pulumi config rm rotaton_days"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "value", "key", "problem", "fix"), CASES)
def test_every_error_names_its_key_and_fix(
    path: str, value: Any, key: str, problem: str, fix: str
) -> None:
    raw = copy.deepcopy(sample_raw_config(3))
    _set(raw, path, value)
    messages = errors_of(raw)
    matching = [m for m in messages if m.startswith(f"cio-rotation:{key}: ")]
    assert matching, messages
    assert any(problem in m for m in matching), matching
    assert any("Fix: " in m and fix in m.split("Fix: ", 1)[1] for m in matching), matching


def test_lead_must_fit_inside_the_rotation_period() -> None:
    raw = {**sample_raw_config(1), "rotation_days": 30, "lead_days": 30}
    [message] = errors_of(raw)
    assert message.startswith("cio-rotation:lead_days: 30 must be less than rotation_days (30)")
    assert message.endswith("Fix: `pulumi config set lead_days 14`")


def test_all_problems_are_reported_at_once() -> None:
    raw = {**sample_raw_config(2, ("aws",)), "rotation_days": 365, "clouds": ["aws", "azure"]}
    raw["credentials"][0]["kind"] = "sms"
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    keys = {p.key for p in info.value.problems}
    assert keys == {"rotation_days", "clouds[1]", "credentials[0].kind"}
    assert str(info.value).startswith("The stack config has 3 problem(s):")


def test_dataclasses_refuse_inconsistent_values() -> None:
    with pytest.raises(ValueError, match="region is required"):
        CredentialSpec("x", Kind.WEBHOOK_SIGNING, Region.US)
    with pytest.raises(ValueError, match="invalid credential name"):
        CredentialSpec("a-inbox", Kind.APP, Region.US)
    with pytest.raises(ValueError, match="between 1 and 90"):
        Schedule(rotation_days=91)
    with pytest.raises(ValueError, match="escalate_days must be between 0 and lead_days"):
        Schedule(lead_days=2, escalate_days=3)
    spec = CredentialSpec("x", Kind.APP, Region.US)
    with pytest.raises(ValueError, match="aws settings"):
        StackConfig(frozenset({Cloud.AWS}), (spec,), ("a@example.com",))
    with pytest.raises(ValueError, match="unique"):
        StackConfig(
            frozenset({Cloud.AWS}),
            (spec, spec),
            ("a@example.com",),
            aws=AwsSettings(("arn:aws:iam::123456789012:root",)),
        )


def test_the_example_stack_file_is_a_valid_config() -> None:
    """Pulumi.example.yaml is documentation that must keep working."""
    import yaml

    from infra.bundle import REPO_ROOT
    from infra.config import PROJECT

    document = yaml.safe_load((REPO_ROOT / "Pulumi.example.yaml").read_text())
    prefix = f"{PROJECT}:"
    raw = {k[len(prefix) :]: v for k, v in document["config"].items() if k.startswith(prefix)}
    config = parse_config(raw)
    assert config.clouds == {Cloud.AWS, Cloud.GCP}
    assert [c.kind for c in config.credentials] == list(Kind)
    # Issue 20: copying it does not double every rotation: each credential on one cloud.
    assert all(c.cloud is not None for c in config.credentials)
    assert set(raw) <= set(KNOWN_KEYS)


def test_deploy_settings_default_to_what_a_new_account_accepts() -> None:
    """Items 1 and 13: no reserved concurrency, a 30-day recovery window, GCP cap of 3."""
    config = parse_config(sample_raw_config(1))
    assert config.aws is not None and config.gcp is not None
    assert config.aws.reserved_concurrency is None
    assert config.aws.secret_recovery_days == 30
    assert config.gcp.max_instances == 3


def test_deploy_settings_are_validated() -> None:
    raw = {
        **sample_raw_config(1),
        "aws_reserved_concurrency": "4",
        "aws_secret_recovery_days": 0,
        "gcp_max_instances": 10,
    }
    config = parse_config(raw)
    assert config.aws is not None and config.gcp is not None
    assert config.aws.reserved_concurrency == 4
    assert config.aws.secret_recovery_days == 0
    assert config.gcp.max_instances == 10
    bad = {
        **sample_raw_config(1),
        "aws_reserved_concurrency": 0,
        "aws_secret_recovery_days": 3,
        "gcp_max_instances": "many",
    }
    errors = errors_of(bad)
    assert len(errors) == 3
    assert any(
        e.startswith("cio-rotation:aws_reserved_concurrency: 0 is not allowed") for e in errors
    )
    assert any("aws_secret_recovery_days: 3 is not allowed: 0 (delete at once" in e for e in errors)
    assert any("gcp_max_instances: 'many' is not allowed" in e for e in errors)


def test_consumers_of_several_accounts_are_refused_with_the_fix() -> None:
    """Item 8: the policy is attached in the deploying account only."""
    raw = sample_raw_config(1)
    raw["aws_consumer_principals"] = [
        "arn:aws:iam::123456789012:role/app",
        "arn:aws:iam::999999999999:role/app",
    ]
    [error] = errors_of(raw)
    assert "aws_consumer_principals: names principals of 2 accounts" in error
    assert "README: cross-account consumers" in error


def test_foreign_consumers_names_each_principal_outside_the_account() -> None:
    principals = (
        "arn:aws:iam::123456789012:role/app",
        "arn:aws:iam::999999999999:role/app",
        "arn:aws-cn:iam::123456789012:user/batch",
    )
    problems = foreign_consumers(principals, "123456789012", "aws")
    assert [p.key for p in problems] == [
        "aws_consumer_principals[1]",
        "aws_consumer_principals[2]",
    ]
    assert foreign_consumers(principals[:1], "123456789012", "aws") == []


def _with_endpoint(value: Any, index: int = 2) -> dict[str, Any]:
    raw = sample_raw_config(3)
    raw["credentials"][index]["webhook_endpoint"] = value
    return raw


def test_webhook_endpoint_is_read_for_a_webhook_signing_key() -> None:
    url = "https://hooks.example.com:8443/customerio/reporting"
    config = parse_config(_with_endpoint(url))
    assert config.credentials[2].webhook_endpoint == url
    assert config.credentials[0].webhook_endpoint is None


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("http://hooks.example.com/cio", "https://"),
        ("https://user:pw@hooks.example.com/cio", "user info"),
        ("https://hooks.example.com/cio?token=abc", "query"),
        ("https://hooks.example.com/cio#x", "fragment"),
        ("https://hooks.example.com/c%20io", "letters, digits"),
        ("https://hooks.example.com/hook/a1B2c3D4e5F6g7H8i9J0k1L2", "looks like a token"),
        ("https://hooks.example.com/" + "a" * 260, "longer than 256"),
        (42, "must be a string"),
    ],
)
def test_webhook_endpoint_refused_without_echoing_it(value: Any, words: str) -> None:
    problems = errors_of(_with_endpoint(value))
    assert len(problems) == 1 and "credentials[2].webhook_endpoint" in problems[0]
    assert words in problems[0]
    if isinstance(value, str):
        assert value not in problems[0]


def test_webhook_endpoint_only_on_a_webhook_signing_key() -> None:
    problems = errors_of(_with_endpoint("https://hooks.example.com/cio", index=0))
    assert len(problems) == 1 and "only a webhook_signing credential" in problems[0]
    with pytest.raises(ValueError, match="only a webhook signing key"):
        CredentialSpec("x", Kind.TRACK, Region.US, webhook_endpoint="https://a.example.com/")
    with pytest.raises(ValueError, match="https"):
        CredentialSpec("x", Kind.WEBHOOK_SIGNING, webhook_endpoint="ftp://a.example.com/")


def test_a_credential_on_a_two_cloud_stack_says_which_cloud() -> None:
    """Issue 20: copying a two-cloud config never silently doubles every rotation."""
    raw = sample_raw_config(2)
    for c in raw["credentials"]:
        del c["cloud"]
    keys = {p.split(":", 2)[1] for p in errors_of(raw)}
    assert keys == {"credentials[0].cloud", "credentials[1].cloud"}
    raw["credentials"][0]["cloud"] = "aws"
    raw["credentials"][1]["cloud"] = "gcp"
    config = parse_config(raw)
    assert [c.cloud for c in config.credentials] == [Cloud.AWS, Cloud.GCP]
    assert [c.name for c in config.on(Cloud.AWS).credentials] == ["cred-000"]
    assert [c.name for c in config.on(Cloud.GCP).credentials] == ["cred-001"]
    raw["credentials"][1]["cloud"] = "both"  # on purpose: one of that name on each cloud
    assert parse_config(raw).on(Cloud.AWS).credentials[1].name == "cred-001"


def test_both_needs_two_clouds_and_a_single_cloud_stack_needs_no_cloud() -> None:
    raw = sample_raw_config(1, ("aws",))
    assert parse_config(raw).credentials[0].cloud is Cloud.AWS
    raw["credentials"][0]["cloud"] = "both"
    [problem] = errors_of(raw)
    assert "credentials[0].cloud" in problem and "not one of aws" in problem
