"""The three Customer.io credential kinds and the JSON shapes applications read.

Parsing is strict on purpose: a value that reaches the live secret is what every
consumer will load, so a stray space or an extra field is refused here, with a
message that names the field and the fix, and never echoes the value.
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


class Region(StrEnum):
    US = "us"
    EU = "eu"


# Field names per kind, in the order the README documents them.
FIELDS: dict[Kind, tuple[str, ...]] = {
    Kind.TRACK: ("site_id", "api_key", "region"),
    Kind.APP: ("app_api_key", "region"),
    Kind.WEBHOOK_SIGNING: ("signing_key",),
}
# The field whose value is the secret proper (what fingerprints are taken of).
SECRET_FIELD: dict[Kind, str] = {
    Kind.TRACK: "api_key",
    Kind.APP: "app_api_key",
    Kind.WEBHOOK_SIGNING: "signing_key",
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
    doc = _load_json(raw, kind)
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
