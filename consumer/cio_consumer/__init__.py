"""Helpers for applications that use Customer.io credentials rotated by cio-rotation.

Nothing here imports the rotation engine or Pulumi. Cloud SDKs and requests are
optional extras, imported only by the parts that need them
(`cio_consumer.erasure` needs `requests`).
"""

from __future__ import annotations

from cio_consumer.credentials import (
    AppCredentials,
    PrivateCredentials,
    TrackCredentials,
    WebhookKeys,
)
from cio_consumer.errors import (
    ConsumerError,
    CredentialRetired,
    CredentialsRejected,
    CredentialStale,
    CredentialUnavailable,
    SaltUnavailable,
    UnsafeIdentifier,
    WebhookRejected,
)
from cio_consumer.identifiers import check_identifier
from cio_consumer.loader import (
    CredentialLoader,
    TtlTooLongWarning,
    app_loader,
    private_loader,
    track_loader,
    webhook_keys_loader,
)
from cio_consumer.logsafe import install_sdk_log_filter
from cio_consumer.sanitize import Sanitizer
from cio_consumer.sources import AwsSecretsManagerSource, GcpSecretManagerSource, SecretSource
from cio_consumer.webhooks import (
    AsgiWebhookVerifier,
    ReplayGuard,
    WebhookGate,
    WebhookVerifier,
    is_valid_webhook,
    sign,
    verify_webhook,
    verify_with_loader,
)

__all__ = [
    "AppCredentials",
    "AsgiWebhookVerifier",
    "AwsSecretsManagerSource",
    "ConsumerError",
    "CredentialLoader",
    "CredentialRetired",
    "CredentialStale",
    "CredentialUnavailable",
    "CredentialsRejected",
    "GcpSecretManagerSource",
    "PrivateCredentials",
    "ReplayGuard",
    "SaltUnavailable",
    "Sanitizer",
    "SecretSource",
    "TrackCredentials",
    "TtlTooLongWarning",
    "UnsafeIdentifier",
    "WebhookGate",
    "WebhookKeys",
    "WebhookRejected",
    "WebhookVerifier",
    "app_loader",
    "check_identifier",
    "install_sdk_log_filter",
    "is_valid_webhook",
    "private_loader",
    "sign",
    "track_loader",
    "verify_webhook",
    "verify_with_loader",
    "webhook_keys_loader",
]
