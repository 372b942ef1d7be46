"""Delivering notices on GCP: a Pub/Sub topic, and structured log lines for alert policies.

google-cloud-pubsub is not a dependency: one `topics.publish` REST call through
google-auth's AuthorizedSession is all the rotator needs. Cloud Logging parses a
JSON line on stdout into a structured entry (`severity`, `message`, labels), so a
log-based alert policy can route notices to the operators' channels.
"""

from __future__ import annotations

import base64
import json
import sys
from typing import Any, TextIO

from rotation.runbook import Notification

PUBSUB_ENDPOINT = "https://pubsub.googleapis.com"
SEVERITY = {"info": "INFO", "action": "WARNING", "urgent": "ERROR"}


def _attributes(notification: Notification) -> dict[str, str]:
    return {
        "notification_id": notification.id,
        "credential": notification.credential,
        "rotation_id": notification.rotation_id,
        "notice": notification.notice,
        "urgency": notification.urgency,
    }


class PubSubNotifier:
    """Publishes each notice to the notifications topic; `urgency` is an attribute to filter on."""

    def __init__(
        self, topic: str, session: Any | None = None, endpoint: str = PUBSUB_ENDPOINT
    ) -> None:
        if not topic.startswith("projects/") or "/topics/" not in topic:
            raise ValueError(f"topic must be projects/PROJECT/topics/TOPIC, got {topic!r}")
        self.topic = topic
        self.endpoint = endpoint.rstrip("/")
        self._session = session

    @property
    def session(self) -> Any:
        if self._session is None:
            import google.auth
            from google.auth.transport.requests import AuthorizedSession

            credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/pubsub"])
            self._session = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
        return self._session

    def send(self, notification: Notification) -> None:
        body = json.dumps(
            {"subject": notification.subject, "body": notification.body}, ensure_ascii=False
        ).encode("utf-8")
        message = {
            "data": base64.b64encode(body).decode("ascii"),
            "attributes": _attributes(notification),
        }
        response = self.session.post(
            f"{self.endpoint}/v1/{self.topic}:publish",
            json={"messages": [message]},
            timeout=(3.05, 10),
        )
        if response.status_code >= 300:
            raise RuntimeError(f"Pub/Sub publish answered HTTP {response.status_code}")


class StructuredLogNotifier:
    """One JSON line per notice on stdout, severity by urgency (info/action/urgent)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def send(self, notification: Notification) -> None:
        entry = {
            "severity": SEVERITY.get(notification.urgency, "NOTICE"),
            "message": f"{notification.subject}\n\n{notification.body}",
            "cio_notification": _attributes(notification),
            "logging.googleapis.com/labels": {
                "credential": notification.credential,
                "notice": notification.notice,
            },
        }
        stream = self.stream or sys.stdout
        stream.write(json.dumps(entry, ensure_ascii=False) + "\n")
        stream.flush()
