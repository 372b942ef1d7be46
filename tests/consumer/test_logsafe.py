"""No key in an application's debug log: botocore at DEBUG, and Google's own logging scope.

Each test turns every switch an application might: the root logger and every SDK
logger at DEBUG, and `GOOGLE_SDK_PYTHON_LOGGING_SCOPE=google.cloud.secretmanager_v1`
(Google's scope logger then writes structured records with request and response
bodies to stderr through its own handler). Everything written, by any handler,
with every attribute of every record, is scanned for the key: in clear, and
inside any base64 token. A control run with the filter disabled shows the scan
does find the key when the SDKs are left alone.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import re
import secrets

import pytest
from cio_consumer import AwsSecretsManagerSource, GcpSecretManagerSource, app_loader, logsafe
from google.api_core import client_logging

from rotation import logs as rotation_logs
from tests.consumer.stores import aws_secret, gcp_secret

SCOPE = "google.cloud.secretmanager_v1"
DEBUG_LOGGERS = (
    "botocore",
    "boto3",
    "urllib3",
    "requests",
    "google",
    "google.cloud",
    SCOPE,
    "google.api_core",
    "google.auth",
)


class EveryAttribute(logging.Formatter):
    """Writes the message and every attribute of the record (extras included)."""

    def format(self, record: logging.LogRecord) -> str:
        return record.getMessage() + " " + repr(vars(record))


@pytest.fixture
def debug_everything(monkeypatch, capsys):
    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(EveryAttribute())
    touched = [logging.getLogger(n) for n in (*DEBUG_LOGGERS, "")]
    saved = [(lg, lg.level, lg.propagate, list(lg.handlers)) for lg in touched]
    root.addHandler(handler)
    for lg in touched:
        lg.setLevel(logging.DEBUG)
    monkeypatch.setenv("GOOGLE_SDK_PYTHON_LOGGING_SCOPE", SCOPE)
    monkeypatch.setattr(client_logging, "_LOGGING_INITIALIZED", False)
    # Google configures its scope logger only if nobody did: leave it unconfigured.
    logging.getLogger(SCOPE).setLevel(logging.NOTSET)
    logging.getLogger("google").setLevel(logging.NOTSET)

    def output() -> str:
        captured = capsys.readouterr()
        return str(stream.getvalue() + captured.out + captured.err)

    yield output
    root.removeHandler(handler)
    for lg, level, propagate, handlers in saved:
        lg.setLevel(level)
        lg.propagate = propagate
        for h in list(lg.handlers):
            if h not in handlers:
                lg.removeHandler(h)


def leaks(text: str, key: str) -> bool:
    """The key in clear, or inside any base64 (standard or URL-safe) token of the text."""
    if key in text:
        return True
    for token in re.findall(r"[A-Za-z0-9+/_=-]{16,}", text):
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            for pad in ("", "=", "=="):
                try:
                    if key.encode() in decode(token.rstrip("=") + pad):
                        return True
                except (binascii.Error, ValueError):
                    continue
    return False


def _app_doc() -> tuple[str, dict[str, str]]:
    key = "app-" + secrets.token_hex(16)
    return key, {"app_api_key": key, "region": "us"}


def _aws_key(aws) -> tuple[str, AwsSecretsManagerSource]:
    key, doc = _app_doc()
    return key, aws_secret(aws, doc)[1]


def _gcp_key(emulator) -> tuple[str, GcpSecretManagerSource]:
    key, doc = _app_doc()
    return key, gcp_secret(emulator, doc)[1]  # its client is built after the scope variable is set


@pytest.fixture
def consumer_filter_alone(monkeypatch):
    """The entry points' filter lets everything through: the consumer library's is on its own."""
    monkeypatch.setattr(rotation_logs.SdkDebugFilter, "filter", lambda self, record: True)
    logsafe.install_sdk_log_filter()  # as building a source does; before the test's own setup


def test_no_key_in_debug_logs_on_aws(aws, consumer_filter_alone, debug_everything):
    key, source = _aws_key(aws)
    before = logsafe.install_sdk_log_filter().withheld
    assert app_loader(source).get().app_api_key == key
    text = debug_everything()
    assert not leaks(text, key)
    assert logsafe.install_sdk_log_filter().withheld > before  # botocore did try


def test_no_key_in_debug_logs_on_gcp_with_the_google_logging_scope(
    emulator, consumer_filter_alone, debug_everything
):
    key, source = _gcp_key(emulator)
    assert app_loader(source).get().app_api_key == key
    scope = logging.getLogger(SCOPE)
    assert scope.handlers, "Google did not set up its scope logger: the test proves nothing"
    assert not leaks(debug_everything(), key)


def test_control_without_the_filter_the_sdks_do_log_the_key(
    aws, emulator, debug_everything, monkeypatch
):
    monkeypatch.setattr(logsafe.SdkDebugFilter, "filter", lambda self, record: True)
    monkeypatch.setattr(rotation_logs.SdkDebugFilter, "filter", lambda self, record: True)
    aws_key, aws_source = _aws_key(aws)
    gcp_key, gcp_source = _gcp_key(emulator)
    app_loader(aws_source).get()
    app_loader(gcp_source).get()
    text = debug_everything()
    assert leaks(text, aws_key)
    assert leaks(text, gcp_key)


def test_entry_points_filter_covers_loggers_created_later(aws, debug_everything, monkeypatch):
    """rotation.logs.quiet_sdk_loggers(), as the Lambda, the function and the CLI call it."""
    monkeypatch.setattr(logsafe.SdkDebugFilter, "filter", lambda self, record: True)
    rotation_logs.quiet_sdk_loggers()
    for name in DEBUG_LOGGERS:  # the host lowers every level again afterwards
        logging.getLogger(name).setLevel(logging.DEBUG)
    late = logging.getLogger(f"botocore.late_{secrets.token_hex(3)}")
    late.debug("response body: secret-in-a-late-logger")
    key, source = _aws_key(aws)
    source.fetch()
    text = debug_everything()
    assert "secret-in-a-late-logger" not in text
    assert not leaks(text, key)
    assert rotation_logs.SDK_FILTER in late.filters


def test_entry_points_filter_holds_with_the_google_logging_scope(
    emulator, debug_everything, monkeypatch
):
    """The Cloud Function and the CLI read and write Secret Manager with the Google client."""
    monkeypatch.setattr(logsafe.SdkDebugFilter, "filter", lambda self, record: True)
    rotation_logs.quiet_sdk_loggers()
    for name in DEBUG_LOGGERS:
        if name != SCOPE:  # left for Google to configure, as the variable asks
            logging.getLogger(name).setLevel(logging.DEBUG)
    key, source = _gcp_key(emulator)
    source.fetch()
    assert logging.getLogger(SCOPE).handlers
    assert not leaks(debug_everything(), key)


def test_warnings_from_the_sdks_still_reach_the_application(debug_everything):
    logsafe.install_sdk_log_filter()
    logging.getLogger("urllib3.connectionpool").warning("Retrying after connection broken")
    assert "Retrying after connection broken" in debug_everything()
