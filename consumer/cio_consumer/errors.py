"""Errors of the consumer helpers. Messages say what to do and never contain a key."""

from __future__ import annotations


class ConsumerError(Exception):
    """Base class of every error raised by `cio_consumer`."""


class CredentialUnavailable(ConsumerError):
    """The credential could not be read from the secret store (and no cached copy exists)."""


class CredentialRetired(CredentialUnavailable):
    """The credential was retired by the operators: switch this application to its successor.

    Raised, and never answered from the cache, when the secret is scheduled for
    deletion (AWS), its latest version is disabled or destroyed (GCP), or the
    live document is a retirement tombstone (`{"retired": ...}`).
    """


class CredentialStale(CredentialUnavailable):
    """The store has been unreadable for longer than the loader's `max_stale`."""


class UnsafeIdentifier(ConsumerError, ValueError):
    """A person identifier that cannot be put in a request path safely (refused before sending)."""


class WebhookRejected(ConsumerError):
    """A reporting-webhook delivery failed verification.

    `reason` is a stable code (`missing_header`, `bad_timestamp`, `stale_timestamp`,
    `bad_signature`) safe to log and to count in metrics.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class CredentialsRejected(ConsumerError):
    """Customer.io refused the current credentials even after a reload from the secret store."""


class SaltUnavailable(ConsumerError):
    """The sanitiser's hashing salt is missing or too short."""
