"""The loaders need no more than the consumer policy the Pulumi program grants applications.

Runs under moto's IAM enforcement, with the helpers of tests/aws/test_least_privilege.py.
"""

import pytest
from cio_consumer import (
    AwsSecretsManagerSource,
    CredentialUnavailable,
    track_loader,
    webhook_keys_loader,
)

from infra import aws_policies
from localcloud.aws_harness import PREFIX
from rotation.credentials import Credential, Kind
from tests.aws.test_least_privilege import ACCOUNT, REGION, enforced_iam, principal_with

OLD = "old-signing-key-under-policy-01"
NEW = "new-signing-key-under-policy-02"


def test_loaders_work_under_the_consumer_policy_and_never_reach_an_inbox(aws, fake, monkeypatch):
    hooks = aws.provision("hooks", "webhook_signing")
    aws.submit("hooks", Credential(Kind.WEBHOOK_SIGNING, OLD))
    aws.submit("hooks", Credential(Kind.WEBHOOK_SIGNING, NEW))
    track = aws.provision("marketing-track", "track", "us", workspace="111")
    key = fake.new_track_key("111")
    aws.submit("marketing-track", key)
    inbox = aws.tags("marketing-track")["cio-rotation:inbox"]

    scope = aws_policies.AwsScope("aws", REGION, ACCOUNT, PREFIX)
    document = aws_policies.consumer_policy(
        scope, secrets_key_arn=f"arn:aws:kms:{REGION}:{ACCOUNT}:key/unused"
    )
    app = principal_with("application", document)
    sm = app.client("secretsmanager")
    with enforced_iam(monkeypatch):
        keys = webhook_keys_loader(AwsSecretsManagerSource(hooks, client=sm)).get()
        assert (keys.current, keys.previous) == (NEW, OLD)
        assert keys.previous_valid_until is not None
        assert track_loader(AwsSecretsManagerSource(track, client=sm)).get().api_key == key.secret
        with pytest.raises(CredentialUnavailable, match="consumer policy") as refused:
            track_loader(AwsSecretsManagerSource(inbox, client=sm)).get()
        assert "not authorized" in str(refused.value) or "AccessDenied" in str(refused.value)
