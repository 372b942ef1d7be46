"""The edge where a submitted credential document is decoded: bounded, strict, quiet.

A submission arrives as bytes someone typed, pasted or piped. Before any field is
looked at, this module makes sure decoding it cannot go wrong in a way that
crashes (a document nested thousands deep is a RecursionError in `json`, a
5,000-digit number a ValueError) or silently changes its meaning (a duplicate
key: the last one would win). Every refusal names the part of the submission
that is wrong and the fix, with an example document of the expected kind, and
never echoes what was typed: the bytes may be a key pasted into the wrong place.

Both the CLI (before anything is written) and the rotator (through
`credentials.parse_credential`) decode with `load_document`, so the same input
gets the same answer on the operator's terminal and in the rotator's notice.

Free text a person gives beside a key (a reason, a key's name, who they are) is
the other way a key leaks: `refuse_keys_in_text` refuses text holding any known
key, its base64, or any KEY_PIECE-character piece of either, before the text is
written, published or audited. Where the keys are out of reach (the operator's CLI may
not read live keys), `key_shaped` refuses what looks like one instead, so that a reason
is checked before it travels anywhere (a Pub/Sub message, a Lambda payload).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from rotation.errors import KeyInFreeText, KeyShapedText, MalformedKey

MAX_BYTES = 8 * 1024
# A credential is a flat object; a little nesting is allowed so that a nested value
# gets the precise "field 'x' must be a string" answer instead of this one.
MAX_DEPTH = 4
# Customer.io keys are strings; no number in a credential needs more digits than this.
MAX_NUMBER_CHARS = 32

WHERE = "the submission"
# A run of this many characters of a key (or of its base64) in free text counts as the key:
# short enough to catch a partial paste, long enough (about 60 bits of a random key) that
# ordinary words never match.
KEY_PIECE = 12

_BOMS = (
    (b"\xef\xbb\xbf", "starts with a UTF-8 byte-order mark"),
    (b"\xff\xfe", "is not UTF-8 text: it starts with a UTF-16 byte-order mark"),
    (b"\xfe\xff", "is not UTF-8 text: it starts with a UTF-16 byte-order mark"),
)


class MalformedSubmission(MalformedKey):
    """A submission refused at decoding. `problem` is a stable code; `fix` says what to do."""

    def __init__(self, message: str, *, problem: str, fix: str, field: str = WHERE) -> None:
        super().__init__(f"{message} {fix}")
        self.problem = problem
        self.fix = fix
        self.field = field


def example(fields: Sequence[str]) -> str:
    """A document of the expected shape, with placeholders in place of values."""
    doc = {name: ("us" if name == "region" else f"<{name}>") for name in fields}
    return json.dumps(doc)


def load_document(
    raw: bytes | str, kind: str, fields: Sequence[str], *, limit: int = MAX_BYTES
) -> dict[str, Any]:
    """The submission as a JSON object, or MalformedSubmission naming what to fix."""
    shape = f"write the {kind} credential as one JSON object: {example(fields)}"
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)
    if len(data) > limit:
        raise MalformedSubmission(
            f"{WHERE} is {len(data)} bytes or more; at most {limit} are accepted.",
            problem="too_large",
            fix=f"Paste only the JSON document: {example(fields)}.",
        )
    for bom, what in _BOMS:
        if data.startswith(bom):
            raise MalformedSubmission(
                f"{WHERE} {what}.",
                problem="byte_order_mark",
                fix="Save it as UTF-8 without a byte-order mark (most editors: "
                '"UTF-8" rather than "UTF-8 with BOM"), then submit again.',
            )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise MalformedSubmission(
            f"{WHERE} is not UTF-8 text (byte {err.start + 1} cannot be decoded).",
            problem="encoding",
            fix=f"Save or pipe it as UTF-8 plain text; {shape}.",
        ) from None
    if not text.strip():
        raise MalformedSubmission(
            f"{WHERE} is empty.",
            problem="empty",
            fix=f"Pipe the JSON document on stdin ({shape}), or run without --stdin "
            "to be prompted for each field.",
        )
    _check_depth(text, fields)
    try:
        doc = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_int=_bounded_int,
            parse_float=_bounded_float,
        )
    except MalformedSubmission:
        raise
    except json.JSONDecodeError as err:
        stripped = text.strip()
        if _looks_like_bare_key(stripped):
            raise MalformedSubmission(
                f"{WHERE} looks like a key on its own, not a JSON document.",
                problem="bare_key",
                fix=f"Put it in the document: {example(fields)} (or run without --stdin to "
                "be prompted for each field).",
            ) from None
        # The position is safe to show; the text itself is not.
        raise MalformedSubmission(
            f"{WHERE} is not valid JSON (line {err.lineno}, column {err.colno}).",
            problem="not_json",
            fix=f"Check quotes and commas; {shape}.",
        ) from None
    except (RecursionError, ValueError):
        # The pre-scan and the hooks should make these unreachable; refuse, never crash.
        raise MalformedSubmission(
            f"{WHERE} could not be decoded safely.",
            problem="not_json",
            fix=f"{shape[0].upper()}{shape[1:]}.",
        ) from None
    if isinstance(doc, str):
        raise MalformedSubmission(
            f"{WHERE} is a bare JSON string, not a document.",
            problem="bare_key",
            fix=f"Put the key in its field: {example(fields)}.",
        )
    if not isinstance(doc, dict):
        raise MalformedSubmission(
            f"{WHERE} must be a JSON object, not a {_json_type(doc)}.",
            problem="not_object",
            fix=f"{shape[0].upper()}{shape[1:]}.",
        )
    return doc


def _check_depth(text: str, fields: Sequence[str]) -> None:
    """Refuse deep nesting before `json` recurses into it (linear scan, strings skipped)."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise MalformedSubmission(
                    f"{WHERE} is nested more than {MAX_DEPTH} levels deep.",
                    problem="too_deep",
                    fix=f"A credential is one flat object of strings: {example(fields)}.",
                )
        elif char in "]}":
            depth = max(depth - 1, 0)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise MalformedSubmission(
                f"field {key!r} appears more than once in {WHERE}.",
                problem="duplicate_field",
                fix=f"Keep one {key!r} (the value you mean), then submit again.",
                field=key,
            )
        seen[key] = value
    return seen


def _bounded_int(text: str) -> int:
    _check_number(text)
    return int(text)


def _bounded_float(text: str) -> float:
    _check_number(text)
    return float(text)


def _check_number(text: str) -> None:
    if len(text) > MAX_NUMBER_CHARS:
        raise MalformedSubmission(
            f"{WHERE} holds a number of {len(text)} characters (at most {MAX_NUMBER_CHARS}).",
            problem="number_too_long",
            fix='Customer.io keys and Site IDs are strings: put them in quotes ("...").',
        )


def _looks_like_bare_key(text: str) -> bool:
    """One token of printable characters, no JSON punctuation: a key pasted on its own."""
    return (
        bool(text)
        and text[0] not in "{[\"'"
        and not any(c.isspace() for c in text)
        and text.isprintable()
        and ":" not in text
    )


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


def _encodings(key: str) -> list[str]:
    """The key as typed, and its base64 (standard and URL-safe) at each byte alignment,
    keeping only the characters that depend on the key's bytes alone."""
    data = key.encode("utf-8")
    forms = [key]
    for offset in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\0" * offset + data).decode("ascii")
            # The first group mixes the padding bytes in; the last may hold '=' padding.
            forms.append(text[4 if offset else 0 : -4 if len(text) > 8 else None])
    return forms


def key_pieces(keys: Iterable[str]) -> frozenset[str]:
    """Every KEY_PIECE-character window of each key and of its base64, casefolded."""
    pieces: set[str] = set()
    for key in keys:
        for form in _encodings(key):
            folded = form.casefold()
            if len(folded) < KEY_PIECE:
                if form == key:  # a short key (8 characters at least) counts whole
                    pieces.add(folded)
                continue
            pieces.update(folded[i : i + KEY_PIECE] for i in range(len(folded) - KEY_PIECE + 1))
    return frozenset(pieces)


def holds_key(text: str, pieces: frozenset[str]) -> bool:
    """Whether `text` contains any of `pieces` (see key_pieces)."""
    folded = text.casefold()
    if any(folded[i : i + KEY_PIECE] in pieces for i in range(len(folded) - KEY_PIECE + 1)):
        return True
    return any(piece in folded for piece in pieces if len(piece) < KEY_PIECE)


def refuse_keys_in_text(fields: dict[str, str], keys: Iterable[str]) -> None:
    """KeyInFreeText naming the first field (e.g. "--reason") whose text holds a key, its
    base64, or a KEY_PIECE-character piece of either; the message never holds the text."""
    pieces = key_pieces(k for k in keys if k)
    if not pieces:
        return
    for field, text in fields.items():
        if text and holds_key(text, pieces):
            raise KeyInFreeText(field)


# What a Customer.io key looks like in text, for checks that cannot see the keys themselves
# (docs/CUSTOMERIO.md): Track and App keys and Site IDs are hex, private and public keys
# start `sk_` / `pk_`. A run of KEY_PIECE hex characters with a letter in it is a piece of
# one; runs of digits alone (ticket numbers, timestamps, account ids) are left alone.
_HEX_RUN = re.compile(rf"[0-9a-fA-F]{{{KEY_PIECE},}}")
_PREFIXED_KEY = re.compile(r"(?<![A-Za-z0-9])[sp]k_[A-Za-z0-9]{8,}")
# Base64 (standard or URL-safe) long enough to carry KEY_PIECE characters.
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{16,}")


def _plainly_key_shaped(text: str) -> bool:
    if _PREFIXED_KEY.search(text):
        return True
    return any(not run.isdigit() for run in _HEX_RUN.findall(text))


def key_shaped(text: str) -> bool:
    """Whether `text` holds something shaped like a Customer.io key, or its base64 (at any
    alignment: a key mid-document encodes to a run that starts anywhere)."""
    if _plainly_key_shaped(text):
        return True
    for run in _BASE64_RUN.findall(text):
        standard = run.replace("-", "+").replace("_", "/")
        for start in range(4):
            chunk = standard[start:]
            chunk = chunk[: len(chunk) - len(chunk) % 4]
            try:
                decoded = base64.b64decode(chunk, validate=True)
            except (binascii.Error, ValueError):
                continue
            if _plainly_key_shaped(decoded.decode("latin-1")):
                return True
    return False


def refuse_key_shaped_text(fields: dict[str, str]) -> None:
    """KeyShapedText naming the first field whose text is key_shaped; never the text."""
    for field, text in fields.items():
        if text and key_shaped(text):
            raise KeyShapedText(field)
