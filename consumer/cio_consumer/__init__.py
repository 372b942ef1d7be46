"""Helpers for applications that use Customer.io credentials rotated by cio-rotation.

Nothing here imports the rotation engine or Pulumi. Cloud SDKs and requests are
optional extras, imported only by the parts that need them
(`cio_consumer.erasure` needs `requests`).
"""

from __future__ import annotations

from cio_consumer.credentials import AppCredentials, TrackCredentials, WebhookKeys
from cio_consumer.errors import (
    ConsumerError,
    CredentialsRejected,
    CredentialUnavailable,
    SaltUnavailable,
    WebhookRejected,
)
from cio_consumer.loader import (
    CredentialLoader,
    TtlTooLongWarning,
    app_loader,
    track_loader,
    webhook_keys_loader,
)
from cio_consumer.sanitize import Sanitizer
from cio_consumer.sources import AwsSecretsManagerSource, GcpSecretManagerSource, SecretSource
from cio_consumer.webhooks import (
    WebhookVerifier,
    is_valid_webhook,
    sign,
    verify_webhook,
    verify_with_loader,
)

__all__ = [
    "AppCredentials",
    "AwsSecretsManagerSource",
    "ConsumerError",
    "CredentialLoader",
    "CredentialUnavailable",
    "CredentialsRejected",
    "GcpSecretManagerSource",
    "SaltUnavailable",
    "Sanitizer",
    "SecretSource",
    "TrackCredentials",
    "TtlTooLongWarning",
    "WebhookKeys",
    "WebhookRejected",
    "WebhookVerifier",
    "app_loader",
    "is_valid_webhook",
    "sign",
    "track_loader",
    "verify_webhook",
    "verify_with_loader",
    "webhook_keys_loader",
]
