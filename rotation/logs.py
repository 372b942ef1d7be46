"""Logging defaults for every entry point.

The cloud SDKs log request parameters at DEBUG, and for PutSecretValue or
AddSecretVersion those parameters are the key itself. However the host sets
the root level, these loggers stay at WARNING.
"""

from __future__ import annotations

import logging

SDK_LOGGERS = (
    "botocore",
    "boto3",
    "urllib3",
    "s3transfer",
    "google.auth",
    "google.api_core",
    "google.cloud",
    "grpc",
)


def quiet_sdk_loggers() -> None:
    for name in SDK_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
