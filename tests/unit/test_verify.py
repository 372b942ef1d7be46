"""The verifier against the local Customer.io over real HTTP: every outcome and safety check."""

import time

import pytest
from pytest_httpserver import HTTPServer

from rotation.credentials import Credential, Kind, Region
from rotation.errors import KeyRejected, VerificationInconclusive, WrongWorkspace
from rotation.verify import Accepted, Inconclusive, Rejected, Verifier, build_session


@pytest.fixture
def verifier(cio):
    return Verifier(session=build_session(backoff_factor=0.01), env=cio.env(), timeout=(1, 0.5))


def test_track_key_accepted_with_workspace_and_region(cio, verifier):
    key = cio.new_track_key("1001", "eu")
    assert verifier.probe(key) == Accepted(workspace="1001", region="eu")


def test_legacy_data_center_field_is_read(cio, verifier):
    key = cio.new_track_key("1001", "eu", legacy=True)
    assert verifier.probe(key) == Accepted(workspace="1001", region="eu")


def test_bad_track_key_is_rejected_400_without_retry(cio, verifier):
    bogus = Credential(Kind.TRACK, "0" * 20, Region.US, "1" * 20)
    assert verifier.probe(bogus) == Rejected("unauthorized", 400)
    assert len(cio.log) == 1


def test_app_key_from_other_region_answers_401(cio, verifier):
    key = cio.new_app_key(("7",), region="eu")
    moved = Credential(Kind.APP, key.secret, Region.US)
    assert verifier.probe(moved) == Rejected("unauthorized_or_wrong_region", 401)
    with pytest.raises(KeyRejected, match="other region") as err:
        verifier.verify(moved, None, "", Region.US)
    assert err.value.reason == "unauthorized_or_wrong_region"


def test_429_then_success_honours_retry_after(cio, verifier):
    key = cio.new_track_key("1001")
    cio.fail_next(429, times=2, retry_after="0")
    assert isinstance(verifier.probe(key), Accepted)
    assert [s for _, s in cio.log] == [429, 429, 200]


def test_5xx_until_exhausted_is_inconclusive(cio, verifier):
    key = cio.new_track_key("1001")
    cio.fail_next(503, times=4)
    result = verifier.probe(key)
    assert isinstance(result, Inconclusive) and result.reason == "unavailable"
    with pytest.raises(VerificationInconclusive, match="retries on its own"):
        cio.fail_next(503, times=4)
        verifier.verify(key, None, "", Region.US)


def test_slow_customerio_is_inconclusive(cio):
    impatient = Verifier(session=build_session(attempts=1), env=cio.env(), timeout=(1, 0.2))
    key = cio.new_track_key("1001")
    cio.slow_next(0.6)
    result = impatient.probe(key)
    assert isinstance(result, Inconclusive) and result.reason == "timeout"
    time.sleep(0.6)  # let the local server finish the slow answer before the next test


def test_403_is_reported_as_a_possible_ip_allowlist(cio, verifier):
    key = cio.new_track_key("1001")
    cio.fail_next(403)
    with pytest.raises(VerificationInconclusive, match="IP allowlist"):
        verifier.verify(key, None, "", Region.US)


def test_safety_checks(cio, verifier):
    current = cio.new_track_key("1001")
    with pytest.raises(KeyRejected, match="already in use") as same:
        verifier.verify(current, current, "1001", Region.US)
    assert same.value.reason == "same_as_current"
    other = cio.new_track_key("2002")
    with pytest.raises(WrongWorkspace, match="2002 instead of 1001"):
        verifier.verify(other, current, "1001", Region.US)
    eu = cio.new_track_key("1001", "eu")
    with pytest.raises(KeyRejected) as region:
        verifier.verify(eu, current, "1001", Region.US)
    assert region.value.reason == "wrong_region"
    good = cio.new_track_key("1001")
    assert verifier.verify(good, current, "1001", Region.US).workspace == "1001"


def test_app_keys_must_share_the_account(cio, verifier):
    current = cio.new_app_key(("1", "2"))
    same_account = cio.new_app_key(("2", "1"))
    assert verifier.verify(same_account, current, "1 2", Region.US).workspace == "1 2"
    stranger = cio.new_app_key(("9",))
    with pytest.raises(WrongWorkspace):
        verifier.verify(stranger, current, "1 2", Region.US)


def test_webhook_signing_keys_need_no_network(cio, verifier):
    key = Credential(Kind.WEBHOOK_SIGNING, "s" * 40)
    assert verifier.verify(key, None, "", None).workspace == ""
    assert cio.log == []


def test_a_workspace_configured_on_a_webhook_key_is_not_held_against_it(cio, verifier):
    key = Credential(Kind.WEBHOOK_SIGNING, "s" * 40)
    assert verifier.verify(key, None, "1001", None).workspace == ""


def test_messages_never_hold_the_key(cio, verifier):
    key = cio.new_track_key("2002")
    current = cio.new_track_key("1001")
    with pytest.raises(KeyRejected) as err:
        verifier.verify(key, current, "1001", Region.US)
    assert key.secret not in str(err.value) and key.site_id not in str(err.value)


@pytest.mark.parametrize(
    "body", ["[]", "null", '"ok"', '{"workspaces": "7"}', '{"workspaces": [7]}']
)
def test_a_200_that_is_not_the_documented_object_is_inconclusive(body):
    """Track and App answers that are not the documented object: no crash, no promotion."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.expect_request("/us/api/v1/accounts/region").respond_with_data(body)
    server.expect_request("/us/v1/workspaces").respond_with_data(body)
    server.start()
    try:
        base = f"http://127.0.0.1:{server.port}/{{region}}"
        odd = Verifier(
            session=build_session(attempts=1),
            env={"CUSTOMERIO_TRACK_URL": base, "CUSTOMERIO_APP_URL": base},
        )
        for key in (
            Credential(Kind.TRACK, "k" * 20, Region.US, "s" * 20),
            Credential(Kind.APP, "k" * 32, Region.US),
        ):
            if key.kind is Kind.TRACK and body.startswith("{"):
                continue  # a Track object without environment_id is judged by the workspace check
            result = odd.probe(key)
            assert isinstance(result, Inconclusive) and result.reason == "bad_response"
    finally:
        server.stop()
