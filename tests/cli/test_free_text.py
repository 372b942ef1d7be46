"""Issue 21: no key through a free-text field.

`--reason` (and the other words an operator gives beside a command) is refused when it
holds the credential's current, previous, pending or submitted key, its base64, or a
12-character piece of one: the answer names the field and says nothing of the value,
and nothing is written, published or audited (the state revision, the notifications
and the rotator's log group are unchanged). The operator's CLI cannot read live keys,
so the rotator, which can, makes the check; the CLI checks what it holds (the key it
is handing over).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from localcloud.aws_harness import REGION
from rotation.credentials import Credential
from rotation.stores.aws import AwsSecretsStore
from tests.cli.conftest import LOG_GROUP
from tests.cli.test_cli_aws import NAME, promoted, stdin_doc

EXIT_REJECTED = 3

Reason = Callable[[dict[str, Credential]], str]


def _piece(secret: str, start: int) -> str:
    """A 12-character piece of `secret` from `start`, or from the first place after it where
    the piece holds a letter: the CLI, which cannot read the keys, refuses hex runs with a
    letter and leaves digits alone (ticket numbers, timestamps; rotation/intake.py). A key
    is random hex, so about 1 piece in 280 is digits only; the rotator, which reads the
    keys, refuses those too (tests/unit/test_free_text.py)."""
    for at in range(start, len(secret) - 11):
        piece = secret[at : at + 12]
        if not piece.isdigit():
            return piece
    return secret[start : start + 12]


CORPUS: dict[str, Reason] = {
    "the current key": lambda k: f"leaked: {k['current'].secret}",
    "its base64": lambda k: base64.b64encode(k["current"].secret.encode()).decode(),
    "its url-safe base64, mid-sentence": lambda k: (
        "saw "
        + base64.urlsafe_b64encode(b"key=" + k["current"].secret.encode()).decode()
        + " in a CI log"
    ),
    "a 12-character piece of it": lambda k: f"key starting {_piece(k['current'].secret, 3)} leaked",
    "the same piece in capitals": lambda k: _piece(k["current"].secret, 2).upper(),
    "the previous key": lambda k: k["previous"].secret,
    "the submitted key": lambda k: f"new one is {k['submitted'].secret}",
    "the key as a JSON document": lambda k: json.dumps({"api_key": k["current"].secret}),
}


def _audit_lines() -> int:
    logs = boto3.client("logs", region_name=REGION)
    events = logs.filter_log_events(logGroupName=LOG_GROUP).get("events", [])
    return len(events)


def _scene(cli: Any, aws: Any, clock: Any) -> dict[str, Credential]:
    """A promoted rotation (current + previous) with a further key waiting in the inbox."""
    previous, current = promoted(cli, aws, clock)
    submitted = cli.track("1001")
    AwsSecretsStore(aws.sm).write_submission(aws.secrets[NAME], submitted.to_json().encode("utf-8"))
    return {"current": current, "previous": previous, "submitted": submitted}


def _footprint(aws: Any) -> tuple[str, int, int]:
    snap = AwsSecretsStore(aws.sm).snapshot(aws.secrets[NAME])
    return snap.revision, len(aws.notifications()), _audit_lines()


@pytest.mark.parametrize("case", sorted(CORPUS))
def test_a_key_in_the_reason_is_refused_and_kept_nowhere(
    cli: Any, aws: Any, clock: Any, case: str
) -> None:
    keys = _scene(cli, aws, clock)
    reason = CORPUS[case](keys)
    before = _footprint(aws)
    calls = len(cli.calls)
    result = cli.run("emergency", NAME, "--reason", reason, "--yes")
    assert result.exit_code == EXIT_REJECTED, (case, result.output)
    assert "--reason contains a Customer.io key" in result.output
    assert reason not in result.output
    assert _footprint(aws) == before, f"{case}: something was written or published"
    # Refused on the operator's machine: the text never travelled in a Lambda payload.
    assert "Invoke" not in cli.calls[calls:]
    # Under --json too: one error object, naming the field, without the value.
    result = cli.run("--json", "emergency", NAME, "--reason", reason, "--yes")
    assert result.exit_code == EXIT_REJECTED
    assert reason not in result.output and "--reason" in result.output
    assert _footprint(aws) == before


def test_an_ordinary_reason_still_declares_the_emergency(cli: Any, aws: Any, clock: Any) -> None:
    """Not vacuous: the same scene, words only, goes through (and is recorded)."""
    keys = _scene(cli, aws, clock)
    before = _footprint(aws)
    reason = f"key ending {keys['current'].secret[-4:]} seen in a CI log"
    result = cli.run("emergency", NAME, "--reason", reason, "--yes")
    assert result.exit_code in (0, 7), result.output  # declared, or queued behind the old key
    assert _footprint(aws) != before
    assert aws.state(NAME).reason == reason or aws.state(NAME).follow_up_emergency


@pytest.mark.parametrize(
    "case", ["the current key", "its base64", "a 12-character piece of it", "the submitted key"]
)
def test_a_key_in_a_retirement_reason_is_refused(cli: Any, aws: Any, clock: Any, case: str) -> None:
    """Retiring is allowed only with no rotation open: an idle credential, a key waiting in
    its inbox all the same."""
    from tests.cli.test_cli_aws import bootstrapped

    current = bootstrapped(cli, aws, clock, open_rotation=False)
    submitted = cli.track("1001")
    AwsSecretsStore(aws.sm).write_submission(aws.secrets[NAME], submitted.to_json().encode("utf-8"))
    reason = CORPUS[case]({"current": current, "submitted": submitted})
    before = _footprint(aws)
    result = cli.run("retire", NAME, "--reason", reason, "--yes")
    assert result.exit_code == EXIT_REJECTED, result.output
    assert "--reason contains a Customer.io key" in result.output
    assert _footprint(aws) == before
    assert cli.run("retire", NAME, "--reason", "moved to billing-private", "--yes").exit_code != 3


def test_a_key_name_holding_a_piece_of_the_key_is_refused_before_the_hand_over(
    cli: Any, aws: Any, clock: Any
) -> None:
    from tests.cli.test_cli_aws import bootstrapped

    bootstrapped(cli, aws, clock)
    key = cli.track("1001")
    before = _footprint(aws)
    result = cli.run(
        "submit", NAME, "--stdin", "--key-name", f"ci {key.secret[4:16]}", input=stdin_doc(key)
    )
    assert result.exit_code == EXIT_REJECTED, result.output
    assert "--key-name" in result.output
    assert _footprint(aws) == before
    assert AwsSecretsStore(aws.sm).read_submission(aws.secrets[NAME]) is None


@pytest.mark.parametrize("case", sorted(CORPUS))
def test_a_key_in_the_reason_is_never_published_on_gcp(gcli: Any, case: str) -> None:
    """On GCP the request travels through Pub/Sub, which keeps what it carries: the CLI
    refuses a key-shaped reason before publishing (read back from the local topic)."""
    from tests.cli.test_cli_gcp import NAME as GCP_NAME
    from tests.cli.test_cli_gcp import promoted as gcp_promoted

    previous, current = gcp_promoted(gcli)
    keys = {"current": current, "previous": previous, "submitted": gcli.track("111")}
    reason = CORPUS[case](keys)
    published, state = len(gcli.apis.published), gcli.gcp.state(GCP_NAME)
    result = gcli.run("emergency", GCP_NAME, "--reason", reason, "--yes")
    assert result.exit_code == EXIT_REJECTED, (case, result.output)
    assert "--reason contains a Customer.io key" in result.output
    assert reason not in result.output
    assert len(gcli.apis.published) == published, f"{case}: published to Pub/Sub"
    assert not any(reason in json.dumps(m) for m in gcli.apis.published)
    assert gcli.gcp.state(GCP_NAME) == state
    result = gcli.run("retire", GCP_NAME, "--reason", reason, "--yes")
    assert result.exit_code == EXIT_REJECTED, (case, result.output)
    assert len(gcli.apis.published) == published


def test_an_ordinary_reason_is_published_on_gcp(gcli: Any) -> None:
    """Not vacuous: words, a ticket number and a UUID go through and are recorded."""
    from tests.cli.test_cli_gcp import NAME as GCP_NAME
    from tests.cli.test_cli_gcp import bootstrapped as gcp_bootstrapped

    gcp_bootstrapped(gcli, open_rotation=False)
    reason = "INC-202612071530 (123e4567-e89b-12d3-a456-426614174000): key in a screenshot"
    result = gcli.run("emergency", GCP_NAME, "--reason", reason, "--yes")
    assert result.exit_code == 0, result.output
    assert gcli.apis.published[-1]["reason"] == reason
    assert gcli.gcp.state(GCP_NAME).reason == reason
