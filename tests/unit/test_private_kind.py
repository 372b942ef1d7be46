"""The private (`sk_`) kind: strict parsing, public keys refused for every kind, and the
inferred probe against the local Customer.io over real HTTP, overridable per stack."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer

from rotation import conventions as cv
from rotation.credentials import FIELDS, Credential, Kind, Region, parse_credential
from rotation.errors import KeyRejected, MalformedKey, VerificationInconclusive, WrongWorkspace
from rotation.verify import Accepted, Inconclusive, Rejected, Verifier, build_session

SK = "sk_" + "0f9e8d7c6b5a4938" * 2
PK = "pk_" + "a1b2c3d4e5f6a7b8" * 2
TRACK_DOC = {"site_id": "a1b2c3d4e5f6a7b8c9d0", "api_key": "0f9e8d7c6b5a49382716", "region": "us"}
GOOD = {
    Kind.TRACK: TRACK_DOC,
    Kind.APP: {"app_api_key": "k" * 32, "region": "us"},
    Kind.WEBHOOK_SIGNING: {"signing_key": "s" * 40},
    Kind.PRIVATE: {"private_key": SK, "region": "us"},
}
INSTEAD = {
    Kind.TRACK: "Create a Tracking API key pair (Site ID + API key)",
    Kind.APP: "Create an App API key",
    Kind.WEBHOOK_SIGNING: "Use the webhook's signing key instead",
    Kind.PRIVATE: "Create a private key (it starts with sk_)",
}


def private(**changes):
    out = {"private_key": SK, "region": "us", **changes}
    return json.dumps({k: v for k, v in out.items() if v is not None})


def refused(raw, kind="private", region=None):
    with pytest.raises(MalformedKey) as err:
        parse_credential(raw, kind, region)
    text = str(err.value)
    assert SK not in text and PK not in text
    return text


# -- parsing -------------------------------------------------------------------------------


def test_a_private_key_parses_and_round_trips():
    cred = parse_credential(private(region="eu"), "private", "eu")
    assert cred == Credential(Kind.PRIVATE, SK, Region.EU)
    assert json.loads(cred.to_json()) == {"private_key": SK, "region": "eu"}
    assert parse_credential(cred.to_json(), Kind.PRIVATE) == cred
    assert SK not in repr(cred) and cred.label.startswith("…" + SK[-4:])


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (private(private_key="ak_" + SK[3:]), "field 'private_key' does not start with sk_"),
        (private(private_key="SK_" + SK[3:]), "does not start with sk_"),
        (private(private_key=SK[3:]), "does not start with sk_"),
        (private(private_key=" " + SK), "field 'private_key' has leading or trailing whitespace"),
        (private(private_key=SK + "\n"), "leading or trailing whitespace"),
        (private(private_key=SK[:10] + " " + SK[10:]), "spaces or non-printable"),
        (private(private_key=SK[:10] + "\u200b" + SK[10:]), "spaces or non-printable"),
        (private(private_key="sk_1"), "field 'private_key' is 4 characters"),
        (private(private_key="sk_" + "x" * 600), "is 603 characters"),
        ("{}" + " " * 9000, "at most 8192 are accepted"),
        (b'{"private_key": "sk_\xff\xfeabcdef", "region": "us"}', "not UTF-8"),
        (private(private_key=None), "missing field 'private_key'"),
        (private(region=None), "missing field 'region'"),
        (private(app_api_key="k" * 32), "unexpected field 'app_api_key'"),
        (private(private_key=12345678), "field 'private_key' must be a string"),
        (private(region="ap"), "region must be 'us' or 'eu'"),
    ],
)
def test_bad_private_documents_name_the_field_and_the_fix(raw, message):
    assert message in refused(raw)


def test_the_region_must_match_the_configured_one():
    assert "configured for 'eu'" in refused(private(), region="eu")


def test_a_private_key_needs_its_own_kind():
    """An sk_ key is not an App API key's shape, and a track document is not a private one."""
    assert "missing field 'private_key'" in refused(json.dumps(TRACK_DOC))
    assert "missing field 'app_api_key'" in refused(private(), kind="app")


@pytest.mark.parametrize("kind", list(Kind))
def test_every_kind_parses_its_good_document(kind):
    assert parse_credential(json.dumps(GOOD[kind]), kind).kind is kind


@pytest.mark.parametrize(
    ("kind", "field"), [(kind, field) for kind in Kind for field in FIELDS[kind]]
)
def test_a_public_key_is_refused_in_any_field_of_any_kind(kind, field):
    text = refused(json.dumps({**GOOD[kind], field: PK}), kind)
    assert f"field {field!r} holds a public key (it starts with pk_)" in text
    assert "meant to ship inside a browser or mobile app" in text
    assert "not a secret to manage here" in text
    assert INSTEAD[kind] in text


@pytest.mark.parametrize("kind", list(Kind))
def test_a_public_key_is_refused_before_the_shape_is_checked(kind):
    """Pasted into the wrong place or on its own, a pk_ key is named for what it is."""
    for raw in (json.dumps({"key": PK}), PK, json.dumps(PK), f"  {PK}\n", PK.encode()):
        text = refused(raw, kind)
        assert "holds a public key" in text and INSTEAD[kind] in text
    assert "a field holds a public key" in refused(json.dumps({"key": PK}), kind)


def test_a_padded_public_key_is_still_called_a_public_key():
    assert "holds a public key" in refused(private(private_key=" " + PK))


secret_tails = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=60)


@given(tail=secret_tails.filter(lambda t: len(t) >= 5), region=st.sampled_from(["us", "eu"]))
def test_round_trip(tail, region):
    cred = Credential(Kind.PRIVATE, "sk_" + tail, Region(region))
    assert parse_credential(cred.to_json(), "private", region) == cred


# -- verification against the local Customer.io --------------------------------------------


@pytest.fixture
def fake(cio):
    cio.reset()
    yield cio
    cio.reset()


def make_verifier(cio, **env):
    return Verifier(
        session=build_session(backoff_factor=0.01), env={**cio.env(), **env}, timeout=(1, 0.5)
    )


@pytest.fixture
def verifier(fake):
    return make_verifier(fake)


def test_accepted_with_its_workspace_over_bearer_on_the_regional_host(fake, verifier):
    key = fake.new_private_key(("1001",), "eu")
    assert verifier.probe(key) == Accepted(workspace="1001", region="eu")
    assert fake.log == [("/eu/v1/workspaces", 200)]
    current = fake.new_private_key(("1001",), "eu")
    assert verifier.verify(key, current, "1001", Region.EU).workspace == "1001"


def test_default_probe_is_the_inferred_one():
    urls = Verifier(env={})
    assert urls.private_probe_url(Region.US) == "https://api.customer.io/v1/workspaces"
    assert urls.private_probe_url(Region.EU) == "https://api-eu.customer.io/v1/workspaces"


def test_unknown_key_is_rejected_401_without_retry(fake, verifier):
    bogus = Credential(Kind.PRIVATE, "sk_" + "0" * 32, Region.US)
    assert verifier.probe(bogus) == Rejected("unauthorized_or_wrong_region", 401)
    assert len(fake.log) == 1
    with pytest.raises(KeyRejected, match="other region") as err:
        verifier.verify(bogus, None, "1001", Region.US)
    assert err.value.reason == "unauthorized_or_wrong_region"


def test_a_deleted_key_is_refused(fake, verifier):
    key = fake.new_private_key(("1001",))
    fake.delete_key(key)
    assert not fake.is_live(key)
    assert isinstance(verifier.probe(key), Rejected)


def test_wrong_workspace(fake, verifier):
    current = fake.new_private_key(("1001",))
    stranger = fake.new_private_key(("2002",))
    with pytest.raises(WrongWorkspace, match="2002 instead of 1001"):
        verifier.verify(stranger, current, "1001", Region.US)


def test_account_scoped_key_passes_only_if_it_reaches_every_expected_workspace(fake, verifier):
    account = fake.new_private_key(("3003", "1001", "2002"))
    assert verifier.verify(account, None, "1001", Region.US).workspace == "1001 2002 3003"
    with pytest.raises(WrongWorkspace):
        verifier.verify(account, None, "1001 4004", Region.US)
    # Expected learnt from an account-scoped current key: the new key must reach all of it.
    current = fake.new_private_key(("1001", "2002"))
    narrower = fake.new_private_key(("1001",))
    expected = verifier.workspace_of(current)
    assert expected == "1001 2002"
    with pytest.raises(WrongWorkspace, match="1001 instead of 1001 2002"):
        verifier.verify(narrower, current, expected, Region.US)
    assert verifier.verify(account, current, expected, Region.US)


def test_wrong_region(fake, verifier):
    eu = fake.new_private_key(("1001",), "eu")
    # Declared in the configured region but created in the other one: 401 on this host.
    moved = Credential(Kind.PRIVATE, eu.secret, Region.US)
    with pytest.raises(KeyRejected, match="other region"):
        verifier.verify(moved, None, "1001", Region.US)
    # Declared in the other region: refused before any call.
    fake.log.clear()
    with pytest.raises(KeyRejected) as local:
        verifier.verify(eu, None, "1001", Region.US)
    assert local.value.reason == "wrong_region" and fake.log == []
    # A key that answers on every host and names its region in the answer.
    roaming = fake.new_private_key(("1001",), "eu", answers_anywhere=True)
    as_us = Credential(Kind.PRIVATE, roaming.secret, Region.US)
    assert verifier.probe(as_us) == Accepted(workspace="1001", region="eu")
    with pytest.raises(KeyRejected) as answered:
        verifier.verify(as_us, None, "1001", Region.US)
    assert answered.value.reason == "wrong_region" and answered.value.detail == "eu"


def test_the_same_key_again_is_refused_without_a_call(fake, verifier):
    current = fake.new_private_key(("1001",))
    fake.log.clear()
    with pytest.raises(KeyRejected, match="already in use") as err:
        verifier.verify(current, current, "1001", Region.US)
    assert err.value.reason == "same_as_current" and fake.log == []


@pytest.mark.parametrize(("status", "reason"), [(503, "unavailable"), (429, "rate_limited")])
def test_customerio_down_or_rate_limited_until_exhausted_is_inconclusive(
    fake, verifier, status, reason
):
    key = fake.new_private_key(("1001",))
    fake.fail_next(status, times=4, retry_after="0")
    result = verifier.probe(key)
    assert isinstance(result, Inconclusive) and result.reason == reason
    assert [s for _, s in fake.log] == [status] * 4
    fake.fail_next(status, times=4, retry_after="0")
    with pytest.raises(VerificationInconclusive, match="the current key is unchanged"):
        verifier.verify(key, None, "1001", Region.US)


def test_429_then_success_is_accepted(fake, verifier):
    key = fake.new_private_key(("1001",))
    fake.fail_next(429, times=2, retry_after="0")
    assert verifier.probe(key) == Accepted("1001", "us")


@pytest.mark.parametrize(("status", "reason"), [(400, "unexpected"), (403, "forbidden")])
def test_other_refusals_are_inconclusive_not_rejected(fake, verifier, status, reason):
    key = fake.new_private_key(("1001",))
    fake.fail_next(status)
    result = verifier.probe(key)
    assert isinstance(result, Inconclusive) and result.reason == reason


def test_a_200_without_a_workspace_from_the_fake_is_inconclusive(fake, verifier):
    key = fake.new_private_key(("1001",))
    fake.fail_next(200)  # the fake's fault body: {"meta": {"error": "fault"}}
    result = verifier.probe(key)
    assert isinstance(result, Inconclusive) and result.reason == "bad_response"
    fake.fail_next(200)
    with pytest.raises(VerificationInconclusive):
        verifier.verify(key, None, "1001", Region.US)


def test_an_endpoint_that_does_not_exist_is_inconclusive(fake):
    key = fake.new_private_key(("1001",))
    lost = make_verifier(fake, **{cv.ENV_PRIVATE_PROBE_URL: "/v1/no-such-thing"})
    result = lost.probe(key)
    assert result == Inconclusive("unexpected", "HTTP 404")
    assert fake.log == [("/us/v1/no-such-thing", 404)]


@pytest.fixture(scope="module")
def odd_server_once():
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def odd_server(odd_server_once):
    """A server that answers whatever the test says: Customer.io behaving unexpectedly."""
    odd_server_once.clear()
    yield odd_server_once
    odd_server_once.clear()


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, "<html>ok</html>"),
        (200, "null"),
        (200, "[]"),
        (200, "{}"),
        (200, '{"workspaces": []}'),
        (200, '{"workspaces": "1001"}'),
        (200, '{"workspaces": [{"name": "no id"}]}'),
        (200, '{"workspaces": [{"id": true}]}'),
        (200, '{"workspaces": [{"id": ""}]}'),
        (200, '{"workspaces": [1001]}'),
        (204, ""),
        (302, ""),
        (418, "{}"),
    ],
)
def test_unexpected_answers_are_inconclusive_never_accepted(odd_server, status, body):
    odd_server.expect_request("/us/who").respond_with_data(
        body, status=status, content_type="application/json"
    )
    url = f"http://127.0.0.1:{odd_server.port}/{{region}}/who"
    verifier = Verifier(session=build_session(attempts=1), env={cv.ENV_PRIVATE_PROBE_URL: url})
    key = Credential(Kind.PRIVATE, SK, Region.US)
    assert isinstance(verifier.probe(key), Inconclusive)
    with pytest.raises(VerificationInconclusive) as err:
        verifier.verify(key, None, "1001", Region.US)
    assert SK not in str(err.value)


@pytest.mark.parametrize(
    "body",
    [
        '{"workspaces": [{"id": 1001}, {"id": "2002"}]}',
        '{"workspace": {"id": 1001}, "region": "us"}',
        '{"environment_id": 1001, "region": "us"}',
    ],
)
def test_the_answer_shapes_that_name_a_workspace(odd_server, body):
    odd_server.expect_request("/us/who").respond_with_data(body, content_type="application/json")
    url = f"http://127.0.0.1:{odd_server.port}/{{region}}/who"
    verifier = Verifier(session=build_session(attempts=1), env={cv.ENV_PRIVATE_PROBE_URL: url})
    result = verifier.probe(Credential(Kind.PRIVATE, SK, Region.US))
    assert isinstance(result, Accepted) and "1001" in result.workspace.split()


def test_a_stack_can_override_the_endpoint_and_the_auth_scheme(fake, verifier):
    """As if Customer.io documented another check: the default guess fails safe (401),
    the per-stack settings make it work, with no code change."""
    fake.private_path, fake.private_auth = "/v1/keys/self", "basic"
    key = fake.new_private_key(("1001",))
    assert isinstance(verifier.probe(key), Rejected)
    both = {cv.ENV_PRIVATE_PROBE_URL: "/v1/keys/self", cv.ENV_PRIVATE_PROBE_AUTH: "basic"}
    assert make_verifier(fake, **both).probe(key) == Accepted("1001", "us")
    full = f"http://127.0.0.1:{fake.server.port}/{{region}}/v1/keys/self"
    as_url = make_verifier(fake, **{**both, cv.ENV_PRIVATE_PROBE_URL: full})
    assert as_url.verify(key, None, "1001", Region.US).workspace == "1001"
    only_path = make_verifier(fake, **{cv.ENV_PRIVATE_PROBE_URL: "/v1/keys/self"})
    assert isinstance(only_path.probe(key), Rejected)  # still Bearer: the fake wants Basic
    assert fake.log[-1] == ("/us/v1/keys/self", 401)


def test_the_auth_scheme_alone_can_be_overridden(fake):
    fake.private_auth = "basic"
    key = fake.new_private_key(("1001",))
    basic = make_verifier(fake, **{cv.ENV_PRIVATE_PROBE_AUTH: " Basic "})
    assert basic.probe(key) == Accepted("1001", "us")
    assert fake.log == [("/us/v1/workspaces", 200)]


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({cv.ENV_PRIVATE_PROBE_AUTH: "digest"}, "CIO_PRIVATE_PROBE_AUTH must be bearer or basic"),
        ({cv.ENV_PRIVATE_PROBE_URL: "http://api.customer.io/v1/workspaces"}, "over https"),
        ({cv.ENV_PRIVATE_PROBE_URL: "https://collector.example.com/{region}"}, "customer.io host"),
        ({cv.ENV_PRIVATE_PROBE_URL: "https://customer.io.example.com/x"}, "customer.io host"),
        ({cv.ENV_PRIVATE_PROBE_URL: "ftp://api.customer.io/x"}, "http(s) URL"),
        ({cv.ENV_PRIVATE_PROBE_URL: "api.customer.io/v1"}, "http(s) URL"),
    ],
)
def test_unsafe_or_unknown_settings_send_nothing_and_are_inconclusive(fake, env, problem):
    key = fake.new_private_key(("1001",))
    result = make_verifier(fake, **env).probe(key)
    assert isinstance(result, Inconclusive) and result.reason == "misconfigured"
    assert problem in result.detail
    assert fake.log == []


def test_a_customerio_host_over_https_is_allowed():
    verifier = Verifier(env={cv.ENV_PRIVATE_PROBE_URL: "https://api-{region}.customer.io/v2/me"})
    assert verifier.private_probe_url(Region.EU) == "https://api-eu.customer.io/v2/me"


def test_app_and_track_keys_are_unaffected_by_the_private_settings(fake):
    fake.private_path, fake.private_auth = "/v1/keys/self", "basic"
    odd = make_verifier(
        fake, **{cv.ENV_PRIVATE_PROBE_URL: "/v1/keys/self", cv.ENV_PRIVATE_PROBE_AUTH: "basic"}
    )
    assert odd.probe(fake.new_app_key(("7",))) == Accepted("7", "us")
    assert odd.probe(fake.new_track_key("1001")) == Accepted("1001", "us")


def test_messages_never_hold_the_key(fake, verifier):
    current = fake.new_private_key(("1001",))
    stranger = fake.new_private_key(("2002",))
    texts = []
    for candidate, expected in ((stranger, "1001"), (current, "1001")):
        with pytest.raises(KeyRejected) as err:
            verifier.verify(candidate, current, expected, Region.US)
        texts.append(str(err.value))
    blob = "\n".join(texts)
    assert current.secret not in blob and stranger.secret not in blob


@pytest.mark.parametrize("kind", [Kind.TRACK, Kind.APP])
def test_a_private_key_is_refused_for_track_and_app_with_the_kind_to_use(kind):
    """Issue 21: an sk_ key pasted into a Track or App credential is refused locally (it
    would only be sent to Customer.io as the wrong kind of key), naming `private`."""
    field = {Kind.TRACK: "api_key", Kind.APP: "app_api_key"}[kind]
    doc = {**GOOD[kind], field: SK}
    with pytest.raises(MalformedKey) as err:
        parse_credential(json.dumps(doc), kind)
    message = str(err.value)
    assert f"field {field!r} holds a private API key (it starts with sk_)" in message
    assert "kind `private`" in message
    assert SK not in message and SK[3:] not in message
    # The same key is accepted where it belongs.
    assert parse_credential(private(), Kind.PRIVATE).secret == SK
