"""The free-text check (issue 21): a key, its base64, or a 12-character piece of either,
in any text a person gives, is refused naming the field and never the text."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rotation import intake
from rotation.credentials import Kind
from rotation.engine import key_material
from rotation.errors import KeyInFreeText

# Fixed per run (test ids hold them: every pytest-xdist worker must collect the same ids),
# yet derived, so no key-like literal sits in the repository.
KEY = hashlib.sha256(b"free-text: current key").hexdigest()[:24]
OTHER = hashlib.sha256(b"free-text: other key").hexdigest()[:24]


@pytest.mark.parametrize(
    "text",
    [
        KEY,
        f"leaked in CI: {KEY}!",
        KEY[7:19],
        f"prefix{KEY[:12]}suffix",
        KEY.upper()[3:15],
        base64.b64encode(KEY.encode()).decode(),
        base64.b64encode(b"api_key=" + KEY.encode()).decode(),
        base64.urlsafe_b64encode(b"k:" + KEY.encode()).decode()[4:20],
        f'{{"api_key": "{KEY}"}}',
    ],
)
def test_a_key_or_a_piece_of_one_is_refused(text: str) -> None:
    with pytest.raises(KeyInFreeText) as err:
        intake.refuse_keys_in_text({"--reason": "ok", "--note": text}, [OTHER, KEY])
    assert err.value.field == "--note"
    assert text not in str(err.value) and KEY[:8] not in str(err.value)
    assert "--note contains a Customer.io key" in str(err.value)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "key seen in a CI log",
        f"the key ending {KEY[-4:]} (fingerprint 1a2b3c4d) leaked",
        KEY[:11],  # shorter than a piece
        "x" * 500,
    ],
)
def test_words_and_short_references_pass(text: str) -> None:
    intake.refuse_keys_in_text({"--reason": text}, [KEY, ""])


def test_a_short_key_counts_whole() -> None:
    with pytest.raises(KeyInFreeText):
        intake.refuse_keys_in_text({"--reason": "it was abcd1234 I think"}, ["abcd1234"])


@given(st.text(min_size=12, max_size=64), st.integers(0, 40), st.text(max_size=20))
def test_any_piece_of_any_key_is_found(key: str, start: int, around: str) -> None:
    start = start % (len(key) - 11)
    text = around + key[start : start + 12] + around
    with pytest.raises(KeyInFreeText):
        intake.refuse_keys_in_text({"--reason": text}, [key])


def test_key_material_reads_the_secret_field_of_each_kind() -> None:
    doc = b'{"site_id":"abcdefgh12","api_key":"' + KEY.encode() + b'","region":"us"}'
    assert key_material(doc, Kind.TRACK) == [KEY]
    assert key_material(b'{"signing_key":"' + KEY.encode() + b'"}', Kind.WEBHOOK_SIGNING) == [KEY]
    assert key_material(KEY.encode(), Kind.APP) == [KEY]  # not JSON: the text itself
    assert key_material(b'{"retired":true,"retired_at":"x"}', Kind.APP) == ["x"]


# -- the shape check, where the keys cannot be read (the operator's CLI) -----------------


@given(st.binary(min_size=10, max_size=32))
def test_a_hex_key_or_any_encoding_of_it_is_key_shaped(raw: bytes) -> None:
    key = raw.hex()
    if key.isdigit():  # all digits: a ticket number, not a key (and 1 in 10^8 keys)
        return
    assert intake.key_shaped(f"leaked: {key}")
    assert intake.key_shaped(key.upper())
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        assert intake.key_shaped("saw " + encode(key.encode()).decode() + " in CI")
        assert intake.key_shaped(encode(b'{"api_key": "' + key.encode() + b'"}').decode())


@pytest.mark.parametrize(
    "text",
    [
        "sk_" + "a1" * 16,
        "pk_live" + "Zx" * 8,
        "the key deadbeefcafe1 is out",
        "piece 3f2a9c1b7e4d",
    ],
)
def test_prefixed_keys_and_hex_pieces_are_key_shaped(text: str) -> None:
    assert intake.key_shaped(text)
    with pytest.raises(KeyInFreeText) as info:
        intake.refuse_key_shaped_text({"--reason": text})
    assert "--reason contains a Customer.io key" in str(info.value)
    assert text not in str(info.value)


@pytest.mark.parametrize(
    "text",
    [
        "key in a screenshot",
        "key ending f3a9 seen in a CI log",
        "INC-202612071530: pasted in #general",
        "see 123e4567-e89b-12d3-a456-426614174000",
        "internationalization contractors offboarded",
        "account 123456789012 compromised",
        "rotate after the Q4 audit, per security@example.com",
        "",
    ],
)
def test_ordinary_reasons_are_not_key_shaped(text: str) -> None:
    assert not intake.key_shaped(text)
    intake.refuse_key_shaped_text({"--reason": text})
