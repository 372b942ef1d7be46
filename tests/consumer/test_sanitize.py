import copy
import hashlib
import hmac
import json
from typing import Any

import pytest
from cio_consumer import AwsSecretsManagerSource, SaltUnavailable, Sanitizer
from cio_consumer.sanitize import (
    DEFAULT_DIRECT_IDENTIFIERS,
    DEFAULT_HASH_ONLY,
    DEFAULT_NEVER_SEND,
    field_name,
)
from hypothesis import given
from hypothesis import strategies as st

SALT = b"0123456789abcdef-test-salt"
sanitizer = Sanitizer(SALT)  # the defaults: what the guide asks for, or stricter

# Both versions of the guide, as the issue lists them.
GUIDE_NEVER_SEND = {
    "password",
    "ssn",
    "social_security_number",
    "social_security",
    "credit_card",
    "card_number",
    "cvv",
    "iban",
    "tax_id",
    "bank_account",
    "routing_number",
    "password_hash",
}
GUIDE_HASH = {
    "phone",
    "phone_number",
    "ip_address",
    "ip",
    "address",
    "street_address",
    "date_of_birth",
}


def spellings(name: str) -> st.SearchStrategy[str]:
    """`phone_number` as code in the wild spells it: phoneNumber, Phone-Number, PHONE NUMBER..."""
    words = name.split("_")
    camel = words[0] + "".join(w.capitalize() for w in words[1:])
    joined = st.sampled_from(["_", "-", " ", "."]).map(lambda sep: sep.join(words))
    cased = joined.flatmap(
        lambda text: st.tuples(*[st.sampled_from([c.lower(), c.upper()]) for c in text]).map(
            "".join
        )
    )
    return st.one_of(st.just(name), st.just(camel), st.just(camel[0].upper() + camel[1:]), cased)


SENSITIVE = sorted(DEFAULT_NEVER_SEND | DEFAULT_HASH_ONLY | DEFAULT_DIRECT_IDENTIFIERS)
keys = st.one_of(
    st.sampled_from([*SENSITIVE, "plan", "created_at", "country", "id"]).flatmap(spellings),
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


def walk(data: Any) -> list[tuple[Any, Any]]:
    """Every (key, value) pair at any depth."""
    found: list[tuple[Any, Any]] = []
    if isinstance(data, dict):
        for key, value in data.items():
            found.append((key, value))
            found.extend(walk(value))
    elif isinstance(data, list | tuple):
        for item in data:
            found.extend(walk(item))
    return found


def test_defaults_cover_both_versions_of_the_guide_and_keep_email():
    assert sanitizer.never_send >= GUIDE_NEVER_SEND
    assert sanitizer.hash_only >= GUIDE_HASH
    assert "email" not in sanitizer.never_send | sanitizer.hash_only


def test_the_guides_example_comes_out_as_the_guide_intends():
    user = {
        "email": "ada@example.com",
        "first_name": "Ada",
        "plan": "pro",
        "phone": "+44 20 7946 0000",
        "ssn": "078-05-1120",
        "credit_card": "4111 1111 1111 1111",
        "ip_address": "203.0.113.7",
        "date_of_birth": "1815-12-10",
        "created_at": 1700000000,
    }
    out = sanitizer.sanitize(user)
    assert out == {
        "email": "ada@example.com",
        "first_name": "Ada",
        "plan": "pro",
        "created_at": 1700000000,
        "phone_hash": sanitizer.pseudonym("+44 20 7946 0000"),
        "ip_address_hash": sanitizer.pseudonym("203.0.113.7"),
        "date_of_birth_hash": sanitizer.pseudonym("1815-12-10"),
    }
    text = json.dumps(out)
    for value in ("078-05-1120", "4111", "+44 20", "203.0.113.7", "1815-12-10"):
        assert value not in text

    analytics = sanitizer.anonymize_for_analytics({"id": "user-42", **user})
    assert analytics == {
        "plan": "pro",
        "created_at": 1700000000,
        "user_hash": sanitizer.pseudonym("user-42"),
    }


@pytest.mark.parametrize(
    ("key", "canonical"),
    [
        ("phoneNumber", "phone_number"),
        ("Phone-Number", "phone_number"),
        ("PHONE_NUMBER", "phone_number"),
        (" phone.number ", "phone_number"),
        ("IP Address", "ip_address"),
        ("ipAddress", "ip_address"),
        ("dateOfBirth", "date_of_birth"),
        ("SSN", "ssn"),
        ("creditCard", "credit_card"),
    ],
)
def test_field_names_match_whatever_their_spelling(key, canonical):
    assert field_name(key) == canonical


@given(documents)
def test_sanitize_drops_never_send_and_hashes_hash_only_at_any_depth(doc):
    before = copy.deepcopy(doc)
    out = sanitizer.sanitize(doc)
    assert doc == before
    for key, value in walk(out):
        for name in (field_name(key), field_name(str(key).lower())):
            assert name not in sanitizer.never_send
            assert name not in sanitizer.hash_only
        if isinstance(key, str) and key.endswith("_hash") and field_name(key[:-5]) in GUIDE_HASH:
            assert value is None or (isinstance(value, str) and len(value) == 64)
    # Everything that was hashed is there, under <field>_hash, with the keyed pseudonym.
    if isinstance(doc, dict):
        for key, value in doc.items():
            names = {field_name(key), field_name(str(key).lower())}
            if names & sanitizer.never_send:
                continue
            if names & sanitizer.hash_only:
                if value not in (None, ""):
                    assert out[f"{key}_hash"] == sanitizer.pseudonym(value)
            elif not str(key).endswith("_hash"):
                assert key in out


@given(documents)
def test_output_shares_no_mutable_container_with_input(doc):
    out = sanitizer.sanitize(doc)
    assert not {id(x) for x in _containers(doc)} & {id(x) for x in _containers(out)}


def _containers(data: Any) -> list[Any]:
    found: list[Any] = []
    if isinstance(data, dict | list):
        found.append(data)
    if isinstance(data, dict):
        data = list(data.values())
    if isinstance(data, list | tuple):
        for item in data:
            found.extend(_containers(item))
    return found


MARK = "PII-"
identifier_values = st.text(min_size=1, max_size=10).map(lambda t: MARK + t)
plain_values = st.one_of(st.integers(), st.text(max_size=10).filter(lambda t: MARK not in t))
identifier_keys = st.sampled_from(SENSITIVE).flatmap(spellings)
plain_keys = st.sampled_from(["plan", "country", "created_at", "orders", "score"])
analytics_docs = st.recursive(
    st.dictionaries(plain_keys, plain_values, max_size=3),
    lambda children: st.lists(
        st.one_of(
            st.tuples(identifier_keys, st.one_of(identifier_values, children)),
            st.tuples(
                plain_keys, st.one_of(plain_values, children, st.lists(children, max_size=2))
            ),
        ),
        max_size=6,
    ).map(dict),
    max_leaves=20,
)


def _identifying(data: Any) -> list[Any]:
    """Values stored under a sensitive field anywhere, or carrying the PII mark."""
    return [v for _, v in walk(data) if isinstance(v, str) and MARK in v]


@given(analytics_docs, st.one_of(st.none(), st.text(min_size=1, max_size=8)))
def test_anonymize_for_analytics_leaves_no_direct_identifier(doc, person):
    if person is not None:
        doc = {**doc, "id": person}
    before = copy.deepcopy(doc)
    out = sanitizer.anonymize_for_analytics(doc)
    assert doc == before
    assert not _identifying(out)
    assert "id" not in out
    for key, _ in walk(out):
        assert field_name(key) not in set(SENSITIVE)
        assert field_name(str(key).lower()) not in set(SENSITIVE)
    assert out.get("user_hash") == (sanitizer.pseudonym(person) if person else None)
    # Aggregates stay: every plain top-level field with a plain value is kept as it was.
    for key, value in doc.items():
        if key in {"plan", "country", "created_at", "orders", "score"} and not _identifying(
            {key: value}
        ):
            assert out[key] == _strip(value)


def _strip(value: Any) -> Any:
    return sanitizer.anonymize_for_analytics({"v": value})["v"]


def test_hash_only_is_keyed_not_a_bare_sha256():
    out = sanitizer.sanitize({"Phone": "+441234", "plan": "pro"})
    assert out["plan"] == "pro"
    assert out["Phone_hash"] != hashlib.sha256(b"+441234").hexdigest()
    assert out["Phone_hash"] == hmac.new(SALT, b"+441234", hashlib.sha256).hexdigest()
    other = Sanitizer(b"another-salt-of-16-bytes")
    assert other.sanitize({"phone": "+441234"})["phone_hash"] != out["Phone_hash"]


def test_hash_suffix_is_configurable_and_can_keep_the_field_name():
    s = Sanitizer(SALT, hash_only=["email"], hash_suffix="")
    assert s.sanitize({"email": "a@b.c"}) == {"email": s.pseudonym("a@b.c")}
    s = Sanitizer(SALT, hash_suffix="_sha")
    assert s.sanitize({"ip": "1.2.3.4", "phone": None}) == {
        "ip_sha": s.pseudonym("1.2.3.4"),
        "phone_sha": None,
    }


def test_never_send_wins_over_hash_only_and_nested_lists_are_cleaned():
    s = Sanitizer(SALT, never_send=["email"], hash_only=["email", "phone"])
    doc = {"people": [{"EMAIL": "a@b.c", "Phone": "+441234"}, ("x", {"e-mail": 1, "email": 1})]}
    out = s.sanitize(doc)
    assert out == {"people": [{"Phone_hash": s.pseudonym("+441234")}, ("x", {"e-mail": 1})]}


def test_a_pseudonym_overrides_an_input_field_of_the_same_name():
    out = sanitizer.sanitize({"phone_hash": "unkeyed-sha256", "phone": "+441234"})
    assert out == {"phone_hash": sanitizer.pseudonym("+441234")}


def test_short_salt_is_refused():
    with pytest.raises(SaltUnavailable, match="at least 16"):
        Sanitizer(b"short")


def test_salt_is_loaded_from_the_secret_store(aws):
    arn = aws.sm.create_secret(
        Name="customerio/pii-salt", SecretString=json.dumps({"salt": "s" * 32})
    )["ARN"]
    s = Sanitizer.from_source(AwsSecretsManagerSource(arn, client=aws.sm), hash_only=["email"])
    assert (
        s.sanitize({"email": "x"})["email_hash"]
        == hmac.new(b"s" * 32, b"x", hashlib.sha256).hexdigest()
    )
    assert "s" * 32 not in repr(s)
    with pytest.raises(SaltUnavailable):
        Sanitizer.from_source(AwsSecretsManagerSource("customerio/missing", client=aws.sm))
