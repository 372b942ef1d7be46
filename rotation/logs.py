"""Logging defaults for every entry point.

The cloud SDKs log request parameters and response bodies at DEBUG, and for
PutSecretValue, GetSecretValue, AddSecretVersion or AccessSecretVersion those
are the key itself. Levels alone do not hold: the host may lower them, and
`GOOGLE_SDK_PYTHON_LOGGING_SCOPE` gives a Google logger its own DEBUG level and
handler. So besides pinning the SDK loggers to WARNING, a filter drops their
records below WARNING. A logging filter only sees records created on the logger
it is attached to, so it goes on every existing SDK logger and, through a hook
on the logging manager, on every one created later.

(The consumer library has the same filter in `cio_consumer.logsafe`: the two
packages are installed separately and neither imports the other.)
"""

from __future__ import annotations

import logging
import threading
from typing import Any

SDK_LOGGERS = (
    "botocore",
    "boto3",
    "urllib3",
    "s3transfer",
    "requests",
    "google",
    "grpc",
)


def _covered(name: str) -> bool:
    return any(name == ns or name.startswith(ns + ".") for ns in SDK_LOGGERS)


class SdkDebugFilter(logging.Filter):
    """Drops SDK records below WARNING, whatever level or handler let them through."""

    def __init__(self) -> None:
        super().__init__()
        self.withheld = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        self.withheld += 1
        return False


SDK_FILTER = SdkDebugFilter()
_lock = threading.Lock()
_hooked = False


def _attach(logger: logging.Logger) -> None:
    if SDK_FILTER not in logger.filters:
        logger.addFilter(SDK_FILTER)


def _hook_manager() -> None:
    manager: Any = logging.Logger.manager
    original = manager.getLogger

    def get_logger(name: str) -> logging.Logger:
        logger: logging.Logger = original(name)
        if _covered(name):
            _attach(logger)
        return logger

    manager.getLogger = get_logger


def quiet_sdk_loggers() -> None:
    """Pin the SDK loggers to WARNING and filter out their lower records, now and later."""
    global _hooked
    with _lock:
        if not _hooked:
            _hook_manager()
            _hooked = True
        for name in [*SDK_LOGGERS, *list(logging.Logger.manager.loggerDict)]:
            if _covered(name):
                _attach(logging.getLogger(name))
        for name in SDK_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
