"""The four Customer.io credential kinds and the JSON shapes applications read.

Parsing is strict on purpose: a value that reaches the live secret is what every
consumer will load, so a stray space or an extra field is refused here, with a
message that names the field and the fix, and never echoes the value.

Since 2026-10-30 Customer.io also issues keys by where the code runs: private
`sk_` keys for servers (the `private` kind) and public `pk_` keys meant to ship
inside browsers and mobile apps. A public key is not a secret, so it is refused
for every kind, with the key to create instead.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from rotation import intake
from rotation.errors import MalformedKey

MAX_PAYLOAD_BYTES = 8 * 1024
MIN_KEY_LENGTH = 8
MAX_KEY_LENGTH = 512


class Kind(StrEnum):
    TRACK = "track"
    APP = "app"
    WEBHOOK_SIGNING = "webhook_signing"
    PRIVATE = "private"


class Region(StrEnum):
    US = "us"
    EU = "eu"


# Field names per kind, in the order the README documents them.
FIELDS: dict[Kind, tuple[str, ...]] = {
    Kind.TRACK: ("site_id", "api_key", "region"),
    Kind.APP: ("app_api_key", "region"),
    Kind.WEBHOOK_SIGNING: ("signing_key",),
    Kind.PRIVATE: ("private_key", "region"),
}
# The field whose value is the secret proper (what fingerprints are taken of).
SECRET_FIELD: dict[Kind, str] = {
    Kind.TRACK: "api_key",
    Kind.APP: "app_api_key",
    Kind.WEBHOOK_SIGNING: "signing_key",
    Kind.PRIVATE: "private_key",
}
# Kinds whose key has a documented prefix; a key without it was copied from the wrong place.
KEY_PREFIX: dict[Kind, str] = {Kind.PRIVATE: "sk_"}
# Customer.io's public keys: meant to be embedded in apps, never a secret to manage.
PUBLIC_KEY_PREFIX = "pk_"
# Kinds whose key is never a private (sk_) key: one pasted there belongs to a `private`
# credential (sent as a Track or App key, Customer.io would only reject it).
NOT_PRIVATE = frozenset({Kind.TRACK, Kind.APP})
# What to do instead when someone submits a public key for a kind (Customer.io's dashboard).
INSTEAD_OF_PUBLIC: dict[Kind, str] = {
    Kind.TRACK: "Create a Tracking API key pair (Site ID + API key) under Account Settings > "
    "API Credentials instead",
    Kind.APP: "Create an App API key under Account Settings > API Credentials instead",
    Kind.WEBHOOK_SIGNING: "Use the webhook's signing key instead: Data & Integrations > "
    "Integrations > Reporting Webhooks, open the webhook and copy its signing key",
    Kind.PRIVATE: "Create a private key (it starts with sk_) under Account Settings > "
    "API Credentials instead",
}


@dataclass(frozen=True)
class Credential:
    """A parsed credential. `repr` never shows the key, so it is safe in tracebacks."""

    kind: Kind
    secret: str
    region: Region | None = None
    site_id: str | None = None

    def __repr__(self) -> str:
        return f"Credential(kind={self.kind.value}, key={describe_key(self.secret)})"

    __str__ = __repr__

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.secret)

    @property
    def label(self) -> str:
        """How people and logs refer to this key: last 4 characters and fingerprint."""
        return describe_key(self.secret)

    def to_json(self) -> str:
        """The exact document applications read from the live secret."""
        doc: dict[str, str] = {}
        if self.kind is Kind.TRACK:
            assert self.site_id is not None and self.region is not None
            doc = {"site_id": self.site_id, "api_key": self.secret, "region": self.region.value}
        elif self.kind is Kind.APP:
            assert self.region is not None
            doc = {"app_api_key": self.secret, "region": self.region.value}
        elif self.kind is Kind.PRIVATE:
            assert self.region is not None
            doc = {"private_key": self.secret, "region": self.region.value}
        else:
            doc = {"signing_key": self.secret}
        return json.dumps(doc, separators=(",", ":"))

    def same_key_as(self, other: Credential | None) -> bool:
        if other is None:
            return False
        return self.secret == other.secret and self.site_id == other.site_id


def fingerprint(secret: str) -> str:
    """First 8 hex of SHA-256: enough to tell keys apart, useless to an attacker."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:8]


def describe_key(secret: str) -> str:
    return f"…{secret[-4:]} (fp {fingerprint(secret)})" if len(secret) >= 4 else "(short key)"


def parse_credential(
    raw: bytes | str, kind: Kind | str, region: Region | str | None = None
) -> Credential:
    """Parse and validate a credential document of `kind`.

    `region`, when given, is the region the secret is configured for; a document
    naming another region is refused (a key from another region would answer 401).
    """
    kind = _kind(kind)
    _refuse_bare_public_key(raw, kind)
    doc = _load_json(raw, kind)
    _refuse_public_keys(doc, kind)
    expected = FIELDS[kind]
    missing = [f for f in expected if f not in doc]
    extra = sorted(set(doc) - set(expected))
    if missing:
        raise MalformedKey(
            f"missing field {missing[0]!r}: {_article(kind)} {kind.value} credential is "
            f"{{{', '.join(repr(f) for f in expected)}}}."
        )
    if extra:
        raise MalformedKey(
            f"unexpected field {extra[0]!r}: {_article(kind)} {kind.value} credential has only "
            f"{', '.join(repr(f) for f in expected)}; remove the others."
        )
    for name in expected:
        _check_string(doc, name)
    secret = doc[SECRET_FIELD[kind]]
    _check_key(SECRET_FIELD[kind], secret)
    _check_prefix(kind, secret)
    _refuse_private_key(kind, secret)
    if kind is Kind.WEBHOOK_SIGNING:
        return Credential(kind=kind, secret=secret)
    doc_region = _region(doc["region"], "field 'region'")
    if region is not None and _region(region, "configured region") is not doc_region:
        raise MalformedKey(
            f"field 'region' is {doc_region.value!r} but this credential is configured for "
            f"{_region(region, 'configured region').value!r}: create the key in the workspace "
            "of the configured region."
        )
    site_id = None
    if kind is Kind.TRACK:
        site_id = doc["site_id"]
        _check_key("site_id", site_id)
    return Credential(kind=kind, secret=secret, region=doc_region, site_id=site_id)


def _kind(kind: Kind | str) -> Kind:
    try:
        return Kind(kind)
    except ValueError:
        names = ", ".join(k.value for k in Kind)
        raise MalformedKey(f"unknown credential kind {kind!r}: use one of {names}.") from None


def _refuse_bare_public_key(raw: bytes | str, kind: Kind) -> None:
    """A public key pasted on its own (not as JSON) gets the same answer as one in a field."""
    head = raw[:16] if isinstance(raw, bytes) else raw[:16].encode("utf-8", "replace")
    if head.lstrip().lstrip(b'"').startswith(PUBLIC_KEY_PREFIX.encode()):
        raise _public_key_refusal("the submission", kind)


def _refuse_public_keys(doc: dict[str, Any], kind: Kind) -> None:
    """A `pk_` value in any field is a public key: say what it is and what to create instead.

    Checked before the shape of the document, so someone who pasted a public key
    learns that first rather than being told about a missing field.
    """
    for name, value in doc.items():
        if isinstance(value, str) and value.strip().startswith(PUBLIC_KEY_PREFIX):
            # Only a known field name is shown: an unknown one could be anything pasted.
            known = any(name in fields for fields in FIELDS.values())
            raise _public_key_refusal(f"field {name!r}" if known else "a field", kind)


def _public_key_refusal(where: str, kind: Kind) -> MalformedKey:
    return MalformedKey(
        f"{where} holds a public key (it starts with {PUBLIC_KEY_PREFIX}): a public key is meant "
        "to ship inside a browser or mobile app, so it is not a secret to manage here and cannot "
        f"stand in for this {kind.value} credential. {INSTEAD_OF_PUBLIC[kind]}, and submit that."
    )


def _check_prefix(kind: Kind, secret: str) -> None:
    prefix = KEY_PREFIX.get(kind)
    if prefix is not None and not secret.startswith(prefix):
        raise MalformedKey(
            f"field {SECRET_FIELD[kind]!r} does not start with {prefix}: a {kind.value} key is "
            f"the one Customer.io shows starting with {prefix}. Copy it whole from the dashboard; "
            "a Site ID + Tracking API key pair or an App API key is a track or app credential."
        )


def _refuse_private_key(kind: Kind, secret: str) -> None:
    prefix = KEY_PREFIX[Kind.PRIVATE]
    if kind in NOT_PRIVATE and secret.startswith(prefix):
        raise MalformedKey(
            f"field {SECRET_FIELD[kind]!r} holds a private API key (it starts with {prefix}), "
            f"not {_article(kind)} {kind.value} key: Customer.io would refuse it here. Hand it "
            f"to a credential of kind `{Kind.PRIVATE.value}` instead (stack config: "
            f"`kind: {Kind.PRIVATE.value}`), or paste this credential's "
            f"{'Tracking API key' if kind is Kind.TRACK else 'App API key'} from the dashboard."
        )


def _region(value: object, what: str) -> Region:
    try:
        return Region(str(value))
    except ValueError:
        # Never echo the value: it may be a key pasted into the wrong field.
        raise MalformedKey(
            f"{what}: region must be 'us' or 'eu' (the region of the Customer.io workspace): "
            "write the workspace's region there."
        ) from None


def _article(kind: Kind) -> str:
    return "an" if kind.value[0] in "aeiou" else "a"


def _load_json(raw: bytes | str, kind: Kind) -> dict[str, Any]:
    # Decoding is bounded and refused at the edge (size, BOM, encoding, depth, numbers,
    # duplicate fields): rotation/intake.py, shared with the CLI.
    return intake.load_document(raw, kind.value, FIELDS[kind], limit=MAX_PAYLOAD_BYTES)


def _check_string(doc: dict[str, Any], name: str) -> None:
    value = doc[name]
    if not isinstance(value, str):
        raise MalformedKey(
            f"field {name!r} must be a string, got {type(value).__name__}: put the value in "
            'quotes ("...").'
        )
    if value != value.strip():
        raise MalformedKey(
            f"field {name!r} has leading or trailing whitespace: copy the value exactly."
        )
    if not value:
        raise MalformedKey(f"field {name!r} is empty: paste the value from the dashboard.")


def _check_key(name: str, value: str) -> None:
    if not (MIN_KEY_LENGTH <= len(value) <= MAX_KEY_LENGTH):
        raise MalformedKey(
            f"field {name!r} is {len(value)} characters; Customer.io keys are "
            f"{MIN_KEY_LENGTH} to {MAX_KEY_LENGTH}. Copy the whole value from the dashboard."
        )
    if not value.isascii() or not value.isprintable() or any(c.isspace() for c in value):
        raise MalformedKey(
            f"field {name!r} contains spaces or non-printable characters: copy the value exactly."
        )
