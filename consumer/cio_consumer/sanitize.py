"""Strip or pseudonymise personal data before it is sent to Customer.io.

A `Sanitizer` walks nested dicts, lists and tuples and returns a new structure:

- fields named in `never_send` are dropped, at any depth;
- fields named in `hash_only` keep their key, and their value is replaced by
  `HMAC-SHA256(salt, value)` in hex. A keyed hash, not a bare SHA-256: an
  e-mail address or a phone number hashed without a secret is reversed by
  hashing every plausible value. The salt lives in the secret store, next to
  the Customer.io keys, and the same salt gives the same pseudonym in every
  service, so events still join up.

Field names are matched case-insensitively (`Email`, `EMAIL` and `email` are
the same field). When a name is in both sets, never-send wins. The input is
never modified.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from typing import Any

from cio_consumer.errors import ConsumerError, SaltUnavailable
from cio_consumer.sources import SecretSource

MIN_SALT_BYTES = 16
DEFAULT_NEVER_SEND = frozenset(
    {"password", "ssn", "social_security_number", "credit_card", "card_number", "cvv", "iban"}
)
DEFAULT_HASH_ONLY = frozenset({"email", "phone", "ip_address"})


def _fold(name: object) -> str:
    return str(name).casefold()


class Sanitizer:
    """Removes never-send fields and keyed-hashes hash-only fields, at any depth."""

    def __init__(
        self,
        salt: bytes,
        *,
        never_send: Iterable[str] = DEFAULT_NEVER_SEND,
        hash_only: Iterable[str] = DEFAULT_HASH_ONLY,
    ) -> None:
        if len(salt) < MIN_SALT_BYTES:
            raise SaltUnavailable(
                f"the hashing salt is {len(salt)} bytes; use at least {MIN_SALT_BYTES} random "
                "bytes from the secret store (e.g. `openssl rand -hex 32`)."
            )
        self._salt = bytes(salt)
        self.never_send = frozenset(_fold(n) for n in never_send)
        self.hash_only = frozenset(_fold(n) for n in hash_only) - self.never_send

    def __repr__(self) -> str:
        return (
            f"Sanitizer(never_send={sorted(self.never_send)}, hash_only={sorted(self.hash_only)})"
        )

    @classmethod
    def from_source(cls, source: SecretSource, **options: Any) -> Sanitizer:
        """Build with the salt held in a secret: `{"salt": "..."}` or the raw payload."""
        try:
            raw = source.fetch().current
        except ConsumerError as err:
            raise SaltUnavailable(f"cannot read the hashing salt: {err}") from None
        return cls(salt_from_payload(raw), **options)

    def pseudonym(self, value: Any) -> str:
        """HMAC-SHA256 of a value under the salt, in hex (what hash-only fields become)."""
        if isinstance(value, bytes):
            data = value
        elif isinstance(value, str):
            data = value.encode("utf-8")
        else:
            # Non-string values hash by their canonical JSON, so 5 and "5" differ.
            data = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()
        return hmac.new(self._salt, data, hashlib.sha256).hexdigest()

    def sanitize(self, data: Any) -> Any:
        """A sanitised copy of `data` (mappings, lists, tuples and scalars)."""
        if isinstance(data, Mapping):
            out: dict[Any, Any] = {}
            for key, value in data.items():
                name = _fold(key)
                if name in self.never_send:
                    continue
                out[key] = self.pseudonym(value) if name in self.hash_only else self.sanitize(value)
            return out
        if isinstance(data, list):
            return [self.sanitize(item) for item in data]
        if isinstance(data, tuple):
            return tuple(self.sanitize(item) for item in data)
        return data


def salt_from_payload(raw: bytes) -> bytes:
    """The salt from a secret payload: a JSON `{"salt": "..."}` document, else the bytes."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return raw
    if isinstance(doc, dict):
        salt = doc.get("salt")
        if not isinstance(salt, str) or not salt:
            raise SaltUnavailable('the salt secret is JSON without a "salt" string field.')
        return salt.encode("utf-8")
    return raw
