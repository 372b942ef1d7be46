import copy
import hashlib
import hmac
import json
from typing import Any

import pytest
from cio_consumer import AwsSecretsManagerSource, SaltUnavailable, Sanitizer
from hypothesis import given
from hypothesis import strategies as st

SALT = b"0123456789abcdef-test-salt"
NEVER = ("password", "ssn", "card_number")
HASH = ("email", "phone")
sanitizer = Sanitizer(SALT, never_send=NEVER, hash_only=HASH)


def any_case(name: str) -> st.SearchStrategy[str]:
    return st.tuples(*[st.sampled_from([c.lower(), c.upper()]) for c in name]).map("".join)


keys = st.one_of(
    st.sampled_from([*NEVER, *HASH, "name", "plan", "id"]).flatmap(any_case),
    st.text(max_size=8),
)
scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
)
documents = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(keys, children, max_size=5)
        | st.tuples(children, children)
    ),
    max_leaves=40,
)


def walk_keys(data: Any) -> list[str]:
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            found.append(key)
            found.extend(walk_keys(value))
    elif isinstance(data, list | tuple):
        for item in data:
            found.extend(walk_keys(item))
    return found


def walk_hashed(data: Any) -> list[Any]:
    values: list[Any] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if key.casefold() in HASH:
                values.append(value)
            else:
                values.extend(walk_hashed(value))
    elif isinstance(data, list | tuple):
        for item in data:
            values.extend(walk_hashed(item))
    return values


@given(documents)
def test_no_never_send_field_survives_at_any_depth_and_input_is_untouched(doc):
    before = copy.deepcopy(doc)
    out = sanitizer.sanitize(doc)
    assert doc == before
    assert not [k for k in walk_keys(out) if k.casefold() in NEVER]
    for value in walk_hashed(out):
        assert isinstance(value, str) and len(value) == 64
        int(value, 16)


@given(documents)
def test_output_shares_no_mutable_container_with_input(doc):
    out = sanitizer.sanitize(doc)
    inner_in = {id(x) for x in _containers(doc)}
    inner_out = {id(x) for x in _containers(out)}
    assert not inner_in & inner_out


def _containers(data: Any) -> list[Any]:
    found: list[Any] = []
    if isinstance(data, dict):
        found.append(data)
        for value in data.values():
            found.extend(_containers(value))
    elif isinstance(data, list):
        found.append(data)
        for item in data:
            found.extend(_containers(item))
    elif isinstance(data, tuple):
        for item in data:
            found.extend(_containers(item))
    return found


def test_hash_only_is_keyed_not_a_bare_sha256():
    out = sanitizer.sanitize({"Email": "ada@example.com", "plan": "pro"})
    assert out["plan"] == "pro"
    assert out["Email"] != hashlib.sha256(b"ada@example.com").hexdigest()
    assert out["Email"] == hmac.new(SALT, b"ada@example.com", hashlib.sha256).hexdigest()
    other = Sanitizer(b"another-salt-of-16-bytes", never_send=NEVER, hash_only=HASH)
    assert other.sanitize({"email": "ada@example.com"})["email"] != out["Email"]


def test_never_send_wins_over_hash_only_and_nested_lists_are_cleaned():
    s = Sanitizer(SALT, never_send=["email"], hash_only=["email", "phone"])
    doc = {"people": [{"EMAIL": "a@b.c", "Phone": "+441234"}, ("x", {"email": 1})]}
    out = s.sanitize(doc)
    assert out == {"people": [{"Phone": s.pseudonym("+441234")}, ("x", {})]}


def test_short_salt_is_refused():
    with pytest.raises(SaltUnavailable, match="at least 16"):
        Sanitizer(b"short")


def test_salt_is_loaded_from_the_secret_store(aws):
    arn = aws.sm.create_secret(
        Name="customerio/pii-salt", SecretString=json.dumps({"salt": "s" * 32})
    )["ARN"]
    s = Sanitizer.from_source(AwsSecretsManagerSource(arn, client=aws.sm), hash_only=["email"])
    assert (
        s.sanitize({"email": "x"})["email"] == hmac.new(b"s" * 32, b"x", hashlib.sha256).hexdigest()
    )
    assert "s" * 32 not in repr(s)
    with pytest.raises(SaltUnavailable):
        Sanitizer.from_source(AwsSecretsManagerSource("customerio/missing", client=aws.sm))
