"""The rotator's side of item 7: the chat webhook URL comes from SSM, not its environment."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from infra import naming
from rotation import conventions as cv
from rotation.notify import chat_webhook_url

URL = "https://hooks.example.com/services/T000/B000/ssm-held-token"
PARAMETER = naming.aws_chat_parameter_name("cio")


@mock_aws
def test_the_url_is_read_from_the_secure_string_the_stack_names() -> None:
    ssm = boto3.client("ssm", region_name="us-east-1")
    key = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
    ssm.put_parameter(Name=PARAMETER, Value=URL, Type="SecureString", KeyId=key)
    calls: list[str] = []
    ssm.meta.events.register("before-call.ssm.*", lambda model, **_: calls.append(model.name))
    env = {cv.ENV_CHAT_WEBHOOK_PARAMETER: PARAMETER}
    assert chat_webhook_url(env, ssm) == URL
    assert calls == ["GetParameter"]  # one call, at cold start


def test_no_parameter_falls_back_to_the_mounted_variable() -> None:
    """GCP mounts its Secret Manager secret as the variable; no chat channel gives None."""
    assert chat_webhook_url({cv.ENV_CHAT_WEBHOOK_URL: URL}) == URL
    assert chat_webhook_url({}) is None


@mock_aws
def test_an_unreadable_parameter_is_named_without_any_value() -> None:
    ssm = boto3.client("ssm", region_name="us-east-1")
    with pytest.raises(RuntimeError) as info:
        chat_webhook_url({cv.ENV_CHAT_WEBHOOK_PARAMETER: PARAMETER}, ssm)
    assert str(info.value) == (
        f"cannot read the chat webhook parameter {PARAMETER}: ParameterNotFound"
    )
