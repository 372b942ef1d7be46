"""Keep the cloud SDKs from writing key material into the application's logs.

At DEBUG, botocore logs the body of every response, so `GetSecretValue` puts
the key in the log; with `GOOGLE_SDK_PYTHON_LOGGING_SCOPE` set, the Google
client logs Secret Manager payloads (base64 key documents) through a handler
of its own that no level set on `google.cloud` reaches. Setting levels cannot
fix either: the application owns the levels, and Google's scope logger sets
its own.

So a filter sits on every SDK logger instead: records below WARNING from those
namespaces are dropped, whatever the levels, handlers or scope. A logging
filter only sees records created on the logger it is attached to, not on its
children, so it is attached to every existing logger of those namespaces and,
through a hook on the logging manager, to every one created afterwards.
`install_sdk_log_filter()` is idempotent; the loader and the sources call it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any

SDK_LOGGERS = (
    "botocore",
    "boto3",
    "s3transfer",
    "urllib3",
    "requests",
    "google",
    "grpc",
    "customerio",
)


class SdkDebugFilter(logging.Filter):
    """Drops SDK records below WARNING (they may carry request and response bodies)."""

    def __init__(self, namespaces: Iterable[str]) -> None:
        super().__init__()
        self.namespaces = tuple(namespaces)
        self.withheld = 0  # records dropped, for tests and metrics

    def covers(self, name: str) -> bool:
        return any(name == ns or name.startswith(ns + ".") for ns in self.namespaces)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        self.withheld += 1
        return False


_lock = threading.Lock()
_filter: SdkDebugFilter | None = None


def install_sdk_log_filter(namespaces: Iterable[str] = SDK_LOGGERS) -> SdkDebugFilter:
    """Attach the filter to every logger of `namespaces`, now and later. Idempotent."""
    global _filter
    with _lock:
        if _filter is None:
            _filter = SdkDebugFilter(namespaces)
            _hook_manager(_filter)
        else:
            extra = tuple(ns for ns in namespaces if ns not in _filter.namespaces)
            _filter.namespaces += extra
        for name in [*_filter.namespaces, *list(logging.Logger.manager.loggerDict)]:
            if _filter.covers(name):
                _attach(logging.getLogger(name), _filter)
        return _filter


def _attach(logger: logging.Logger, sdk_filter: SdkDebugFilter) -> None:
    if sdk_filter not in logger.filters:
        logger.addFilter(sdk_filter)


def _hook_manager(sdk_filter: SdkDebugFilter) -> None:
    """Loggers created from now on under an SDK namespace get the filter too."""
    manager: Any = logging.Logger.manager
    original = manager.getLogger

    def get_logger(name: str) -> logging.Logger:
        logger: logging.Logger = original(name)
        if sdk_filter.covers(name):
            _attach(logger, sdk_filter)
        return logger

    manager.getLogger = get_logger
