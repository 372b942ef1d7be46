"""The credential documents applications read, as typed values that never print a key.

The shapes are the ones the rotator writes to the live secret:
track `{site_id, api_key, region}`, app `{app_api_key, region}`,
webhook signing `{signing_key}`, private `{private_key, region}` (an `sk_` key,
Customer.io's server keys since 2026-10-30). A document holding a `retired`
field is a retirement tombstone: reading it raises `CredentialRetired`.
Parsing is tolerant of nothing: a document
that does not have the expected fields is refused with a message that names
the field, never the value.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cio_consumer.errors import CredentialRetired, CredentialUnavailable

TRACK_HOSTS = {"us": "https://track.customer.io", "eu": "https://track-eu.customer.io"}
APP_HOSTS = {"us": "https://api.customer.io", "eu": "https://api-eu.customer.io"}


def fingerprint(secret: str) -> str:
    """First 8 hex of SHA-256: how logs and audit records refer to a key."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:8]


@dataclass(frozen=True)
class TrackCredentials:
    """A Track API key pair (HTTP Basic: user = site id, password = key)."""

    site_id: str
    api_key: str = field(repr=False)
    region: str

    def __repr__(self) -> str:
        return f"TrackCredentials(region={self.region}, key fp {self.fingerprint})"

    __str__ = __repr__

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.api_key)

    @property
    def basic_auth(self) -> tuple[str, str]:
        return (self.site_id, self.api_key)

    @property
    def host(self) -> str:
        return TRACK_HOSTS[self.region]


@dataclass(frozen=True)
class AppCredentials:
    """An App API key (`Authorization: Bearer <key>`)."""

    app_api_key: str = field(repr=False)
    region: str

    def __repr__(self) -> str:
        return f"AppCredentials(region={self.region}, key fp {self.fingerprint})"

    __str__ = __repr__

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.app_api_key)

    @property
    def bearer(self) -> str:
        return f"Bearer {self.app_api_key}"

    @property
    def host(self) -> str:
        return APP_HOSTS[self.region]


@dataclass(frozen=True)
class PrivateCredentials:
    """A private (`sk_`) key: `Authorization: Bearer <key>` on every Customer.io API."""

    private_key: str = field(repr=False)
    region: str

    def __repr__(self) -> str:
        return f"PrivateCredentials(region={self.region}, key fp {self.fingerprint})"

    __str__ = __repr__

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.private_key)

    @property
    def bearer(self) -> str:
        return f"Bearer {self.private_key}"

    @property
    def host(self) -> str:
        return APP_HOSTS[self.region]


@dataclass(frozen=True)
class WebhookKeys:
    """The signing keys a reporting-webhook receiver accepts.

    `previous` is the key that was current before the last promotion; it is
    accepted only until `previous_valid_until` (the end of the rotator's grace
    period). Without a deadline the previous key is never accepted: failing
    closed costs a delayed delivery (Customer.io retries), failing open would
    accept a key that may have leaked.
    """

    current: str = field(repr=False)
    previous: str | None = field(default=None, repr=False)
    previous_valid_until: datetime | None = None

    def __repr__(self) -> str:
        prev = fingerprint(self.previous) if self.previous else None
        return (
            f"WebhookKeys(current fp {fingerprint(self.current)}, previous fp {prev}, "
            f"previous_valid_until={self.previous_valid_until})"
        )

    __str__ = __repr__

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.current)

    def accepted(self, now: datetime) -> list[tuple[str, str]]:
        """(`"current"` | `"previous"`, key) pairs a delivery may be signed with at `now`."""
        keys = [("current", self.current)]
        if (
            self.previous
            and self.previous != self.current
            and self.previous_valid_until is not None
            and now < self.previous_valid_until
        ):
            keys.append(("previous", self.previous))
        return keys


def _document(raw: bytes | str, kind: str, fields: tuple[str, ...]) -> dict[str, str]:
    try:
        doc: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise CredentialUnavailable(
            f"the {kind} secret is not a JSON document: it should be "
            f"{{{', '.join(repr(f) for f in fields)}}}."
        ) from None
    if not isinstance(doc, dict):
        raise CredentialUnavailable(f"the {kind} secret must be a JSON object.")
    if "retired" in doc:
        raise CredentialRetired(
            f"the {kind} credential has been retired by the operators: switch this "
            "application to the credential that replaced it (ask them which), then stop "
            "reading this secret."
        )
    for name in fields:
        value = doc.get(name)
        if not isinstance(value, str) or not value:
            raise CredentialUnavailable(
                f"the {kind} secret has no usable field {name!r}: is this the right secret, "
                "and has its first key been submitted?"
            )
    return {name: doc[name] for name in fields}


def _region(value: str, kind: str) -> str:
    if value not in TRACK_HOSTS:
        raise CredentialUnavailable(f"the {kind} secret names region {value!r}; expected us or eu.")
    return value


def parse_track(raw: bytes | str) -> TrackCredentials:
    doc = _document(raw, "track", ("site_id", "api_key", "region"))
    return TrackCredentials(doc["site_id"], doc["api_key"], _region(doc["region"], "track"))


def parse_app(raw: bytes | str) -> AppCredentials:
    doc = _document(raw, "app", ("app_api_key", "region"))
    return AppCredentials(doc["app_api_key"], _region(doc["region"], "app"))


def parse_signing_key(raw: bytes | str) -> str:
    return _document(raw, "webhook_signing", ("signing_key",))["signing_key"]


PRIVATE_KEY_PREFIX = "sk_"
PUBLIC_KEY_PREFIX = "pk_"


def parse_private(raw: bytes | str) -> PrivateCredentials:
    doc = _document(raw, "private", ("private_key", "region"))
    key = doc["private_key"]
    if key.startswith(PUBLIC_KEY_PREFIX):
        raise CredentialUnavailable(
            "the private secret holds a public key (pk_...), which is meant to ship inside "
            "browser and mobile apps and cannot act as a server key: store an sk_ private key."
        )
    if not key.startswith(PRIVATE_KEY_PREFIX) or key != key.strip():
        raise CredentialUnavailable(
            "the private secret's field 'private_key' is not an sk_ key: paste the private "
            "key exactly as the dashboard showed it."
        )
    return PrivateCredentials(key, _region(doc["region"], "private"))
