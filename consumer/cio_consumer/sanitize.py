"""Strip or pseudonymise personal data before it is sent to Customer.io.

A `Sanitizer` walks nested dicts, lists and tuples and returns a new structure:

- fields named in `never_send` are dropped, at any depth;
- fields named in `hash_only` are dropped too, and their value is written under
  `<field>_hash` (the suffix is configurable; `hash_suffix=""` keeps the field
  name) as `HMAC-SHA256(salt, value)` in hex. A keyed hash, not a bare
  SHA-256: an e-mail address or a phone number hashed without a secret is
  reversed by hashing every plausible value. The salt lives in the secret
  store, next to the Customer.io keys, and the same salt gives the same
  pseudonym in every service, so events still join up.

The defaults are the union of both versions of the security guide this project
grew from ("Customer.io security basics"), so they are at least as strict as
either. `email` is kept by default: Customer.io needs a real address to deliver
e-mail.

Field names match whatever their spelling: `phoneNumber`, `Phone-Number`,
`PHONE_NUMBER` and `phone number` are all `phone_number` (see `field_name`).
When a name is in both sets, never-send wins. The input is never modified.

`anonymize_for_analytics` goes further, for data bound for analytics rather
than for messaging: every direct identifier is dropped (e-mail and names too),
and the person's id becomes a keyed pseudonym, so aggregates still count people.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from cio_consumer.errors import ConsumerError, SaltUnavailable
from cio_consumer.sources import SecretSource

MIN_SALT_BYTES = 16
DEFAULT_HASH_SUFFIX = "_hash"
# Never sent, in any form: both versions of the guide, together.
DEFAULT_NEVER_SEND = frozenset(
    {
        "password",
        "password_hash",
        "ssn",
        "social_security",
        "social_security_number",
        "credit_card",
        "card_number",
        "cvv",
        "iban",
        "tax_id",
        "bank_account",
        "routing_number",
    }
)
# Sent only as a keyed pseudonym under `<field>_hash`.
DEFAULT_HASH_ONLY = frozenset(
    {
        "phone",
        "phone_number",
        "ip",
        "ip_address",
        "address",
        "street_address",
        "date_of_birth",
    }
)
# What identifies a person directly, beyond the two sets above: dropped for analytics.
DEFAULT_DIRECT_IDENTIFIERS = frozenset(
    {
        "email",
        "email_address",
        "name",
        "first_name",
        "last_name",
        "full_name",
        "display_name",
        "username",
        "user_name",
        "mobile",
        "postal_address",
        "zip",
        "postcode",
        "postal_code",
        "device_id",
        "birthday",
        "dob",
    }
)
# The person's own id: replaced by a pseudonym in analytics output.
DEFAULT_PERSON_ID_FIELDS = frozenset({"id", "user_id", "customer_id", "person_id", "cio_id"})
ANALYTICS_PSEUDONYM_FIELD = "user_hash"

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEPARATORS = re.compile(r"[^0-9a-z]+")


def field_name(name: object) -> str:
    """The canonical spelling of a field name: snake case, case-folded, separators unified.

    `phoneNumber`, `Phone-Number`, `PHONE_NUMBER`, ` phone.number ` all become
    `phone_number`, so a field cannot slip through by being spelled differently.
    """
    text = _CAMEL.sub("_", str(name)).casefold()
    return _SEPARATORS.sub("_", text).strip("_")


def _forms(name: object) -> tuple[str, str]:
    """`field_name`, and the same without the camel-case split (`addresS` is `address`)."""
    return field_name(name), _SEPARATORS.sub("_", str(name).casefold()).strip("_")


def _names(names: Iterable[str]) -> frozenset[str]:
    return frozenset(form for n in names for form in _forms(n))


def _listed(key: object, names: frozenset[str]) -> bool:
    return any(form in names for form in _forms(key))


class Sanitizer:
    """Removes never-send fields and keyed-hashes hash-only fields, at any depth."""

    def __init__(
        self,
        salt: bytes,
        *,
        never_send: Iterable[str] = DEFAULT_NEVER_SEND,
        hash_only: Iterable[str] = DEFAULT_HASH_ONLY,
        hash_suffix: str = DEFAULT_HASH_SUFFIX,
    ) -> None:
        if len(salt) < MIN_SALT_BYTES:
            raise SaltUnavailable(
                f"the hashing salt is {len(salt)} bytes; use at least {MIN_SALT_BYTES} random "
                "bytes from the secret store (e.g. `openssl rand -hex 32`)."
            )
        self._salt = bytes(salt)
        self.never_send = _names(never_send)
        self.hash_only = _names(hash_only) - self.never_send
        self.hash_suffix = hash_suffix

    def __repr__(self) -> str:
        return (
            f"Sanitizer(never_send={sorted(self.never_send)}, hash_only={sorted(self.hash_only)}, "
            f"hash_suffix={self.hash_suffix!r})"
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

    def hashed_name(self, key: Any) -> Any:
        """Where the pseudonym of field `key` is written (`phone` -> `phone_hash`)."""
        return f"{key}{self.hash_suffix}" if self.hash_suffix else key

    def sanitize(self, data: Any) -> Any:
        """A sanitised copy of `data` (mappings, lists, tuples and scalars).

        An absent value (None or "") of a hash-only field stays None under the
        hashed name: a pseudonym of "nothing" would be the same for everyone.
        A pseudonym overrides an input field that already had its name.
        """
        if isinstance(data, Mapping):
            kept: dict[Any, Any] = {}
            hashed: dict[Any, Any] = {}
            for key, value in data.items():
                if _listed(key, self.never_send):
                    continue
                if _listed(key, self.hash_only):
                    absent = value is None or value == ""
                    hashed[self.hashed_name(key)] = None if absent else self.pseudonym(value)
                else:
                    kept[key] = self.sanitize(value)
            return {**kept, **hashed}
        if isinstance(data, list):
            return [self.sanitize(item) for item in data]
        if isinstance(data, tuple):
            return tuple(self.sanitize(item) for item in data)
        return data

    def anonymize_for_analytics(
        self,
        data: Mapping[Any, Any],
        *,
        direct_identifiers: Iterable[str] = DEFAULT_DIRECT_IDENTIFIERS,
        person_id_fields: Iterable[str] = DEFAULT_PERSON_ID_FIELDS,
    ) -> dict[Any, Any]:
        """A copy for analytics: no direct identifier left, aggregates kept.

        Drops, at any depth, never-send and hash-only fields (no pseudonym either:
        a hashed phone number still singles a person out) and `direct_identifiers`
        (e-mail, names, ...). The person's id (the first of `person_id_fields`
        present at the top level) becomes `user_hash`, a keyed pseudonym, so
        distinct people can still be counted; any other id field is dropped.
        Everything else (plan, country, counts, timestamps) is kept.
        """
        drop = self.never_send | self.hash_only | _names(direct_identifiers)
        id_fields = _names(person_id_fields)
        person: Any = None
        for key, value in data.items():
            if _listed(key, id_fields) and value not in (None, ""):
                person = value
                break
        out = _drop(data, drop | id_fields)
        assert isinstance(out, dict)
        out.pop(ANALYTICS_PSEUDONYM_FIELD, None)
        if person is not None:
            out[ANALYTICS_PSEUDONYM_FIELD] = self.pseudonym(str(person))
        return out


def _drop(data: Any, names: frozenset[str]) -> Any:
    if isinstance(data, Mapping):
        return {k: _drop(v, names) for k, v in data.items() if not _listed(k, names)}
    if isinstance(data, list):
        return [_drop(item, names) for item in data]
    if isinstance(data, tuple):
        return tuple(_drop(item, names) for item in data)
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
