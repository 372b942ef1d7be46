import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rotation.credentials import Credential, Kind, Region, describe_key, parse_credential
from rotation.errors import MalformedKey

TRACK = {"site_id": "a1b2c3d4e5f6a7b8c9d0", "api_key": "0f9e8d7c6b5a49382716", "region": "us"}


def doc(**changes):
    out = dict(TRACK)
    out.update(changes)
    return json.dumps({k: v for k, v in out.items() if v is not None})


def test_parses_each_kind():
    track = parse_credential(doc(), "track", "us")
    assert track.site_id == TRACK["site_id"] and track.region is Region.US
    app = parse_credential(json.dumps({"app_api_key": "k" * 32, "region": "eu"}), Kind.APP)
    assert app.region is Region.EU
    hook = parse_credential(json.dumps({"signing_key": "s" * 40}), "webhook_signing")
    assert hook.region is None


@pytest.mark.parametrize(
    ("raw", "kind", "message"),
    [
        (doc(api_key=None), "track", "missing field 'api_key'"),
        (json.dumps({**TRACK, "extra": "x"}), "track", "unexpected field 'extra'"),
        (doc(api_key=12345678), "track", "field 'api_key' must be a string"),
        (doc(api_key=" 0f9e8d7c6b5a49382716"), "track", "leading or trailing whitespace"),
        (doc(region="ap"), "track", "region must be 'us' or 'eu'"),
        (doc(api_key="short"), "track", "is 5 characters"),
        (doc(api_key="0f9e8d7c 6b5a4938"), "track", "spaces or non-printable"),
        (doc(api_key=""), "track", "is empty"),
        ("[1, 2]", "track", "must be a JSON object"),
        ("{not json", "track", "not valid JSON (line 1, column 2)"),
        (b"\xff\xfe{}", "track", "not UTF-8"),
        ("{}" + " " * 9000, "track", "at most 8192 are accepted"),
        (doc(), "sms", "unknown credential kind 'sms'"),
    ],
)
def test_rejections_name_the_field_and_never_echo_the_key(raw, kind, message):
    with pytest.raises(MalformedKey) as err:
        parse_credential(raw, kind)
    assert message in str(err.value)
    assert TRACK["api_key"] not in str(err.value)


def test_region_must_match_configuration():
    with pytest.raises(MalformedKey, match="configured for 'eu'"):
        parse_credential(doc(), "track", "eu")


def test_repr_and_str_never_show_the_key():
    cred = parse_credential(doc(), "track")
    assert TRACK["api_key"] not in repr(cred) and TRACK["api_key"] not in str(cred)
    assert cred.label.startswith("…2716 (fp ")
    assert describe_key("abc") == "(short key)"


keys = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=8, max_size=64)


@given(site=keys, key=keys, region=st.sampled_from(["us", "eu"]))
def test_round_trip(site, key, region):
    cred = Credential(Kind.TRACK, key, Region(region), site)
    assert parse_credential(cred.to_json(), "track", region) == cred
