"""Delivering notices on GCP: one structured log entry per notice, which a log-based alert
policy of the stack turns into an e-mail to the operators, and a Pub/Sub topic.

Cloud Logging parses a JSON line on stdout into a structured entry (`severity`,
`message`, `jsonPayload`). Each notice is one entry holding its whole text (so Cloud
Logging keeps what people were told) and, under NOTICE_FIELD, the same text as Markdown
split into PARTS label-sized parts. The stack declares one alert policy per credential
(`notice_policy`): a log-match condition on these entries whose label extractors pull the
parts out and whose documentation puts them back together, so the e-mail Cloud Monitoring
sends carries the full notice. The notice's id is an extracted label too: Monitoring treats
each combination of extracted values as its own rule for the notification rate limit, so
every notice is sent (limits: docs/GCP.md).

google-cloud-pubsub is not a dependency: one `topics.publish` REST call through
google-auth's AuthorizedSession is all the rotator needs.
"""

from __future__ import annotations

import base64
import json
import re
import sys
from dataclasses import dataclass
from typing import Any, Protocol

from rotation.runbook import Notification

PUBSUB_ENDPOINT = "https://pubsub.googleapis.com"
SEVERITY = {"info": "INFO", "action": "WARNING", "urgent": "ERROR"}

NOTICE_FIELD = "cio_notification"  # the jsonPayload field a notice's entry carries
PARTS = 8  # label extractors for the text (plus id and subject: 10 labels in all)
PART_CHARS = 1000  # within the 1,024 characters Cloud Logging keeps of a label value
TEXT_LIMIT = PARTS * PART_CHARS  # and under the 8,192 characters of a policy's documentation


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


# -- Markdown, as Cloud Monitoring renders a policy's documentation in e-mails -----------

# ASCII punctuation CommonMark lets a backslash escape, minus what is never markup in the
# middle of a line of our texts. Escaping makes what a person wrote (a reason with `[bold]`,
# `*`, `#`, `<b>`) show as written instead of being read as Markdown or HTML.
_ESCAPE = re.compile(r"([\\`*_\[\]{}<>#+!|~:&=-])")
# The commands notices print, in backticks: kept as code spans (monospace, copyable).
_COMMAND = re.compile(r"`((?:cio-rotate|pulumi) [^`\n]*)`")


def markdown(text: str) -> str:
    """Plain notice text as Markdown that renders back to the same words and line breaks.

    Lines of a paragraph end in a hard break (a backslash: trailing spaces do not survive
    every mail client), blank lines separate paragraphs, punctuation Markdown or HTML
    would read is escaped (so numbered steps are text, not a renumbered list), and the
    printed commands stay code spans.
    """
    paragraphs: list[list[str]] = [[]]
    for line in text.split("\n"):
        if line.strip():
            paragraphs[-1].append(_line(line))
        elif paragraphs[-1]:
            paragraphs.append([])
    return "\n\n".join("\\\n".join(p) for p in paragraphs if p)


def _line(line: str) -> str:
    pieces: list[str] = []
    last = 0
    for found in _COMMAND.finditer(line):
        pieces.append(_ESCAPE.sub(r"\\\1", line[last : found.start()]))
        pieces.append(f"`{found.group(1)}`")
        last = found.end()
    pieces.append(_ESCAPE.sub(r"\\\1", line[last:]))
    rendered = "".join(pieces)
    rendered = re.sub(r"^(\d+)([.)])", r"\1\\\2", rendered)  # "1." is text, not a list
    indent = len(rendered) - len(rendered.lstrip(" \t"))
    lead = "".join(f"&#{ord(c)};" for c in rendered[:indent])
    return lead + rendered[indent:]  # leading blanks kept, never a code block


def parts(text: str) -> list[str]:
    """`text` cut into PARTS pieces of at most PART_CHARS (the last ones empty)."""
    cut = [text[i : i + PART_CHARS] for i in range(0, min(len(text), TEXT_LIMIT), PART_CHARS)]
    return cut + [""] * (PARTS - len(cut))


def mail_text(notification: Notification) -> str:
    """The Markdown the e-mail carries: the notice whole, or, past TEXT_LIMIT, its start and
    where to read the rest (the same text is whole in Cloud Logging and in `runbook`)."""
    text = markdown(notification.body)
    if len(text) <= TEXT_LIMIT:
        return text
    more = markdown(
        f"\n... (cut: longer than an e-mail of Cloud Monitoring can carry; the whole notice "
        f"{notification.id} is in the function's log)"
    )
    return text[: TEXT_LIMIT - len(more)] + more


# -- the log entry, and the alert policy that mails it --------------------------------


def log_entry(notification: Notification) -> dict[str, Any]:
    """The structured entry of one notice (what Cloud Logging stores as jsonPayload)."""
    body = mail_text(notification)
    notice: dict[str, Any] = {
        **_attributes(notification),
        "subject": notification.subject,
        "text": notification.body,
    }
    notice.update({f"part_{i}": piece for i, piece in enumerate(parts(body))})
    return {
        "severity": SEVERITY.get(notification.urgency, "NOTICE"),
        "message": f"{notification.subject}\n\n{notification.body}",
        NOTICE_FIELD: notice,
        "logging.googleapis.com/labels": {
            "credential": notification.credential,
            "notice": notification.notice,
        },
    }


@dataclass(frozen=True)
class NoticePolicy:
    """The log-match alert policy that e-mails one credential's notices (gcp_component)."""

    display_name: str
    filter: str
    label_extractors: dict[str, str]
    subject: str  # the documentation's subject line (variables expanded by Monitoring)
    content: str  # the documentation, Markdown with `${log.extracted_label.KEY}` variables
    rate_limit_period: str = "300s"  # the shortest Monitoring allows; per notice id (above)
    auto_close: str = "1800s"


def notices_filter(function_name: str) -> str:
    """Every notice entry of the stack's function."""
    return (
        'resource.type="cloud_run_revision" '
        f'AND resource.labels.service_name="{function_name}" '
        f"AND jsonPayload.{NOTICE_FIELD}.notification_id:*"
    )


# How each credential's notice policy is named: the prefix, the credential, the stack.
NOTICE_POLICY_PREFIX = "Customer.io rotation notice: "


def notice_policy(function_name: str, credential: str, where: str) -> NoticePolicy:
    """The alert policy for `credential`'s notices; `where` names the stack and project.

    One policy per credential, so Monitoring's daily cap of notifications per log-based
    policy is one credential's, and an `emergency --all` mails every credential at once.
    """
    extractors = {
        "notice_id": f"EXTRACT(jsonPayload.{NOTICE_FIELD}.notification_id)",
        "subject": f"EXTRACT(jsonPayload.{NOTICE_FIELD}.subject)",
    }
    extractors.update(
        {f"part_{i}": f"EXTRACT(jsonPayload.{NOTICE_FIELD}.part_{i})" for i in range(PARTS)}
    )
    return NoticePolicy(
        display_name=f"{NOTICE_POLICY_PREFIX}{credential} ({where})",
        filter=f'{notices_filter(function_name)} AND jsonPayload.{NOTICE_FIELD}.credential="{credential}"',
        label_extractors=extractors,
        subject="${log.extracted_label.subject}",
        content="".join(f"${{log.extracted_label.part_{i}}}" for i in range(PARTS)),
    )


class LineSink(Protocol):
    """Where log lines go: stdout on Cloud Run, a local Cloud Logging in tests."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


class StructuredLogNotifier:
    """One JSON line per notice on stdout (a Cloud Logging entry), severity by urgency."""

    def __init__(self, stream: LineSink | None = None) -> None:
        self.stream = stream

    def send(self, notification: Notification) -> None:
        stream: LineSink = self.stream or sys.stdout
        stream.write(json.dumps(log_entry(notification), ensure_ascii=False) + "\n")
        stream.flush()
