"""The local Customer.io's private and public keys, asked directly over HTTP: the fake is a
product (the drill and the benches use it), so its behaviour is tested on its own."""

import base64

import pytest
import requests

from localcloud.customerio import FakeCustomerIO


@pytest.fixture
def fake(cio):
    cio.reset()
    yield cio
    cio.reset()


def url(fake: FakeCustomerIO, region: str, path: str) -> str:
    return fake.base_url.replace("{region}", region) + path


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic(user: str, password: str = "") -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def get(fake, region, path, headers):
    return requests.get(url(fake, region, path), headers=headers, timeout=5)


def test_private_keys_answer_with_bearer_on_their_regions_workspaces(fake):
    key = fake.new_private_key(("1001", "2002"), "eu")
    assert key.secret.startswith("sk_") and key.secret in fake.issued
    ok = get(fake, "eu", "/v1/workspaces", bearer(key.secret))
    assert ok.status_code == 200
    assert [w["id"] for w in ok.json()["workspaces"]] == [1001, 2002]
    assert "region" not in ok.json()
    assert get(fake, "us", "/v1/workspaces", bearer(key.secret)).status_code == 401
    assert get(fake, "eu", "/v1/workspaces", basic(key.secret)).status_code == 401


def test_public_keys_cannot_read_data(fake):
    public = fake.new_public_key("1001")
    answer = get(fake, "us", "/v1/workspaces", bearer(public))
    assert answer.status_code == 401 and "public keys" in answer.json()["meta"]["error"]
    fake.private_path = "/v1/keys/self"
    assert get(fake, "us", "/v1/keys/self", bearer(public)).status_code == 401


def test_a_key_that_answers_anywhere_names_its_region(fake):
    key = fake.new_private_key(("1001",), "eu", answers_anywhere=True)
    answer = get(fake, "us", "/v1/workspaces", bearer(key.secret))
    assert answer.status_code == 200 and answer.json()["region"] == "eu"


def test_the_private_scheme_can_move(fake):
    fake.private_path, fake.private_auth = "/v1/keys/self", "basic"
    key = fake.new_private_key(("1001",))
    assert get(fake, "us", "/v1/keys/self", basic(key.secret)).status_code == 200
    assert get(fake, "us", "/v1/keys/self", basic(key.secret, "x")).status_code == 401
    assert get(fake, "us", "/v1/keys/self", bearer(key.secret)).status_code == 401
    assert get(fake, "us", "/v1/workspaces", bearer(key.secret)).status_code == 401
    assert get(fake, "us", "/v1/elsewhere", basic(key.secret)).status_code == 404
    fake.reset()
    assert (fake.private_path, fake.private_auth) == ("/v1/workspaces", "bearer")


def test_app_keys_are_unchanged(fake):
    app = fake.new_app_key(("7",), "us")
    fake.private_path, fake.private_auth = "/v1/keys/self", "basic"
    assert get(fake, "us", "/v1/workspaces", bearer(app.secret)).json() == {
        "workspaces": [{"id": 7, "name": "workspace 7"}]
    }
    assert get(fake, "eu", "/v1/workspaces", bearer(app.secret)).status_code == 401
    assert get(fake, "us", "/v1/keys/self", basic(app.secret)).status_code == 401


def test_a_private_key_works_on_the_track_api_too(fake):
    """One private key works with every Customer.io API (release note of 2026-10-30)."""
    key = fake.new_private_key(("1001",))
    suppress = url(fake, "us", "/api/v1/customers/c-1/suppress")
    assert requests.post(suppress, headers=bearer(key.secret), timeout=5).status_code == 200
    assert fake.suppressed == ["c-1"]
    public = fake.new_public_key("1001")
    assert requests.post(suppress, headers=bearer(public), timeout=5).status_code == 401
    fake.delete_key(key)
    assert not fake.is_live(key)
    assert requests.post(suppress, headers=bearer(key.secret), timeout=5).status_code == 401


def test_faults_apply_to_the_moved_endpoint(fake):
    fake.private_path = "/v1/keys/self"
    key = fake.new_private_key(("1001",))
    fake.fail_next(503)
    assert get(fake, "us", "/v1/keys/self", bearer(key.secret)).status_code == 503
    assert get(fake, "us", "/v1/keys/self", bearer(key.secret)).status_code == 200
    assert fake.log == [("/us/v1/keys/self", 503), ("/us/v1/keys/self", 200)]
