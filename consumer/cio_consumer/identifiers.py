"""Which person identifiers can be put in a Customer.io request path.

Identifiers travel in the URL path (`/api/v1/customers/{id}/...`). Percent-
encoding protects most characters, but not `.` and `..`: HTTP stacks remove
dot segments, so `/customers/../suppress` reaches another endpoint, or the
identifier is silently dropped. An empty id, one with a `/` or a backslash,
control characters or surrounding whitespace is almost always a bug upstream,
and Customer.io limits identifiers to 150 bytes. All are refused before any
request is made; the message never repeats the identifier (it is personal data).
"""

from __future__ import annotations

import unicodedata

from cio_consumer.errors import UnsafeIdentifier

MAX_IDENTIFIER_BYTES = 150


def unsafe_reason(person_id: object) -> str | None:
    """Why `person_id` cannot be sent, or None when it can."""
    if isinstance(person_id, int) and not isinstance(person_id, bool):
        person_id = str(person_id)
    if not isinstance(person_id, str):
        return "it is not a string"
    if not person_id.strip():
        return "it is empty"
    if person_id in (".", ".."):
        return "it is a dot segment ('.' or '..'), which HTTP rewrites into another path"
    if "/" in person_id or "\\" in person_id:
        return "it contains a slash"
    if person_id != person_id.strip():
        return "it starts or ends with whitespace"
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in person_id):
        return "it contains control or invisible format characters"
    if len(person_id.encode("utf-8", "surrogatepass")) > MAX_IDENTIFIER_BYTES:
        return f"it is longer than {MAX_IDENTIFIER_BYTES} bytes"
    return None


def check_identifier(person_id: object) -> str:
    """`person_id` as a string, or `UnsafeIdentifier` naming the reason (never the value)."""
    reason = unsafe_reason(person_id)
    if reason is not None:
        raise UnsafeIdentifier(
            f"refused to send this person identifier: {reason}. Nothing was sent to "
            "Customer.io; fix the identifier at its source."
        )
    return str(person_id)
