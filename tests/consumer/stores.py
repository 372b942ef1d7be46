"""What the consumer tests read credentials from: a document in moto's Secrets Manager or in
the local Secret Manager, and a monotonic clock the test moves."""

from __future__ import annotations

import json
import secrets
from typing import Any

from cio_consumer import AwsSecretsManagerSource, GcpSecretManagerSource

from rotation.stores.gcp import build_client


class Ticker:
    """A monotonic clock the test moves (`ticker.now += 61`), or that sleeping moves."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def aws_secret(aws: Any, doc: dict[str, str]) -> tuple[str, AwsSecretsManagerSource]:
    """A new secret holding `doc`: its ARN, and the source an application reads it through."""
    name = f"app/{secrets.token_hex(4)}"
    arn = str(aws.sm.create_secret(Name=name, SecretString=json.dumps(doc))["ARN"])
    return arn, AwsSecretsManagerSource(arn, client=aws.sm)


def gcp_secret(emulator: Any, doc: dict[str, str]) -> tuple[Any, GcpSecretManagerSource]:
    """A new secret whose first version holds `doc`: the client that wrote it, and the source."""
    client = build_client(emulator.endpoint)
    name = client.create_secret(
        request={
            "parent": "projects/apps",
            "secret_id": f"app-{secrets.token_hex(4)}",
            "secret": {"replication": {"automatic": {}}},
        }
    ).name
    client.add_secret_version(
        request={"parent": name, "payload": {"data": json.dumps(doc).encode()}}
    )
    return client, GcpSecretManagerSource(name, client=client)
