"""What an unreadable drain source is told as: words a person acts on, not a class name."""

from __future__ import annotations

import json

import pytest
import requests
from botocore.exceptions import ClientError, NoCredentialsError
from google.auth.exceptions import DefaultCredentialsError

from rotation.errors import reason_of


def _http_error(status: int, body: dict[str, object] | str) -> requests.HTTPError:
    response = requests.Response()
    response.status_code = status
    response._content = (body if isinstance(body, str) else json.dumps(body)).encode()
    return requests.HTTPError(response=response)


@pytest.mark.parametrize(
    ("err", "said"),
    [
        (
            ClientError({"Error": {"Code": "AccessDeniedException"}}, "LookupEvents"),
            "AccessDeniedException",
        ),
        (NoCredentialsError(), "no AWS credentials here"),
        (
            DefaultCredentialsError("Could not automatically determine credentials."),
            "no Google credentials here (Application Default Credentials)",
        ),
        (
            _http_error(403, {"error": {"code": 403, "status": "PERMISSION_DENIED"}}),
            "HTTP 403 PERMISSION_DENIED",
        ),
        (_http_error(502, "<html>bad gateway</html>"), "HTTP 502"),
        (requests.ConnectionError("refused"), "could not connect"),
        (NotImplementedError("LookupEvents"), "this endpoint does not offer it"),
        (KeyError("x"), "KeyError"),
    ],
)
def test_reason_of(err: Exception, said: str) -> None:
    assert reason_of(err) == said
