"""The webhook endpoint from the stack config reaches the runbook the operator reads."""

from __future__ import annotations

import json
from datetime import timedelta

from rotation import conventions as cv

ENDPOINT = "https://hooks.example.com/customerio/reporting"


def test_opening_notice_names_the_webhook_by_its_endpoint(aws, clock):
    arn = aws.provision("hooks", "webhook_signing")
    aws.sm.tag_resource(SecretId=arn, Tags=[{"Key": cv.TAG_WEBHOOK_ENDPOINT, "Value": ENDPOINT}])
    aws.submit("hooks", json.dumps({"signing_key": "3" * 40}))
    clock.advance(timedelta(days=76))
    aws.sweep()
    opened = [n for n in aws.notifications() if "/opened/" in n["notification_id"]]
    assert len(opened) == 1
    body = opened[0]["body"]
    assert ENDPOINT in body
    assert "Data & Integrations > Integrations > Reporting Webhooks" in body
