"""Delivering notices: Amazon SNS, a Slack-compatible JSON webhook, or both.

Delivery is at-least-once per notice and the engine's outbox makes it once in
practice; every message carries a stable id so a receiver can drop the rare
duplicate left by a crash mid-send.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from rotation import conventions as cv

if TYPE_CHECKING:  # imported where used: the functions' cold start loads neither
    import requests

    from rotation.runbook import Notification

log = logging.getLogger(__name__)


class Notifier(Protocol):
    def send(self, notification: Notification) -> None: ...


class SnsNotifier:
    """Publishes to the operators' topic; `urgency` is an attribute for subscription filters."""

    def __init__(self, topic_arn: str, client: Any) -> None:
        self.topic_arn = topic_arn
        self.client = client

    def send(self, notification: Notification) -> None:
        self.client.publish(
            TopicArn=self.topic_arn,
            Subject=_sns_subject(notification.subject),
            Message=notification.body,
            MessageAttributes={
                "urgency": {"DataType": "String", "StringValue": notification.urgency},
                "credential": {"DataType": "String", "StringValue": notification.credential},
                "notification_id": {"DataType": "String", "StringValue": notification.id},
            },
        )


class WebhookNotifier:
    """POSTs `{"text": ...}` (what Slack and most chat tools accept) plus structured fields."""

    def __init__(self, url: str, session: requests.Session | None = None) -> None:
        import requests

        self.url = url
        self.session = session or requests.Session()

    def send(self, notification: Notification) -> None:
        payload = {
            "text": f"*{chat_escape(notification.subject)}*\n{chat_escape(notification.body)}",
            "notification_id": notification.id,
            "credential": notification.credential,
            "rotation_id": notification.rotation_id,
            "notice": notification.notice,
            "urgency": notification.urgency,
        }
        response = self.session.post(
            self.url,
            data=json.dumps(payload),
            timeout=(3.05, 10),
            headers={"Content-Type": "application/json"},
        )
        if response.status_code >= 300:
            # The URL is a secret of its own (it grants posting): never log it.
            raise RuntimeError(f"chat webhook answered HTTP {response.status_code}")


class FanOut:
    """Sends to every channel; one failing channel does not silence the others."""

    def __init__(self, notifiers: Sequence[Notifier]) -> None:
        self.notifiers = list(notifiers)

    def send(self, notification: Notification) -> None:
        failures: list[str] = []
        for notifier in self.notifiers:
            try:
                notifier.send(notification)
            except Exception as err:
                failures.append(f"{type(notifier).__name__}: {type(err).__name__}")
                log.warning("notification %s not delivered by %s", notification.id, failures[-1])
        if failures and len(failures) == len(self.notifiers):
            raise RuntimeError("no channel delivered notification " + notification.id)


def chat_escape(text: str) -> str:
    """Text as Slack-style chat shows it as written: `&`, `<` and `>` are the characters its
    markup reserves for links and mentions (`<!channel>`), and are escaped as it documents.
    Other markup characters (`*`, `_`, `~`) have no escape in that format: they may style
    what a person wrote, never hide or link it. The e-mail channels show text as it is."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _sns_subject(subject: str) -> str:
    # SNS subjects: ASCII, no line breaks, at most 100 characters.
    ascii_only = subject.encode("ascii", "replace").decode("ascii").replace("\n", " ")
    return ascii_only[:100]


def chat_webhook_url(env: Mapping[str, str], ssm: Any | None = None) -> str | None:
    """The chat webhook URL, or None when no chat channel is configured.

    On AWS the stack keeps the URL (a bearer credential for the channel) in an SSM
    SecureString and puts only its name in ENV_CHAT_WEBHOOK_PARAMETER, so reading the
    function's configuration does not reveal it. GCP mounts its Secret Manager secret
    as ENV_CHAT_WEBHOOK_URL, which local runs also set directly. `ssm` is a boto3 SSM
    client (created when None). Errors name the parameter, never the value.
    """
    parameter = env.get(cv.ENV_CHAT_WEBHOOK_PARAMETER)
    if parameter:
        if ssm is None:
            import boto3  # only on AWS; the GCP bundle never reaches this line

            ssm = boto3.client("ssm")
        try:
            response = ssm.get_parameter(Name=parameter, WithDecryption=True)
        except Exception as err:
            code = getattr(err, "response", {}).get("Error", {}).get("Code", type(err).__name__)
            raise RuntimeError(
                f"cannot read the chat webhook parameter {parameter}: {code}"
            ) from None
        value = str(response["Parameter"]["Value"])
        return value or None
    return env.get(cv.ENV_CHAT_WEBHOOK_URL) or None
