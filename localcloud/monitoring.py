"""Cloud Logging and Cloud Monitoring's e-mail channel, as far as this machine can be faithful.

The Cloud Function writes one JSON line per notice on stdout; `CloudLogging` turns each
line into the entry Cloud Run would store (resource, severity, jsonPayload, labels).
`LocalMonitoring` evaluates the stack's declared log-match alert policies against those
entries (rotation/notify_gcp.py: the same `NoticePolicy` the program declares): the
filter, the label extractors, the rate limit per combination of extracted labels, the
daily cap per policy, and the documentation with its `${log.extracted_label.KEY}`
variables. The e-mail's text is that Markdown rendered by a CommonMark renderer and
read back as text, which is what a person sees.

What only a real deploy can prove: that Monitoring expands these variables in the
subject and documentation of an e-mail the way its documentation says, keeps 1,000
characters of each extracted label, and counts its limits as modelled here.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from markdown_it import MarkdownIt

from rotation.notify_gcp import NoticePolicy

DAILY_CAP = 20  # notifications a day per log-based alerting policy (Monitoring's limit)
_TERM = re.compile(
    r"^(?P<neg>NOT )?(?P<path>[A-Za-z_][\w.]*)"
    r'(?:(?P<op>=|>=)(?P<value>"[^"]*"|\w+)|(?P<exists>:\*))$'
)
_SEVERITIES = ("DEFAULT", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", "ALERT")
_EXTRACT = re.compile(r"^EXTRACT\((?P<path>[\w.]+)\)$")
_VARIABLE = re.compile(r"\$\{log\.extracted_label\.(?P<key>\w+)\}")


def _lookup(entry: dict[str, Any], path: str) -> Any:
    value: Any = entry
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def matches(filter_text: str, entry: dict[str, Any]) -> bool:
    """The Logging query language, the part our policies use: terms joined by AND, each
    `path="value"`, `path:*` (present), `NOT path:*` or `severity>=LEVEL`. Anything else
    is refused rather than guessed."""
    for term in filter_text.split(" AND "):
        found = _TERM.match(term.strip())
        if found is None:
            raise ValueError(f"the local Monitoring cannot evaluate {term!r}")
        value = _lookup(entry, found["path"])
        if found["exists"]:
            ok = value is not None
        elif found["op"] == ">=":
            level = found["value"].strip('"')
            ok = str(value) in _SEVERITIES and _SEVERITIES.index(str(value)) >= _SEVERITIES.index(
                level
            )
        else:
            ok = value == found["value"].strip('"')
        if bool(found["neg"]) == ok:
            return False
    return True


def extract(extractor: str, entry: dict[str, Any]) -> str:
    found = _EXTRACT.match(extractor)
    if found is None:
        raise ValueError(f"the local Monitoring cannot evaluate {extractor!r}")
    value = _lookup(entry, found["path"])
    return "" if value is None else str(value)


def rendered_text(markdown_text: str) -> str:
    """What a person reads of Markdown documentation: rendered, then as text."""
    page = MarkdownIt("commonmark").render(markdown_text)
    page = page.replace("<br />\n", "\n").replace("</p>\n", "\n\n")
    return html.unescape(re.sub(r"<[^>]+>", "", page)).strip("\n")


@dataclass(frozen=True)
class Mail:
    policy: str
    to: tuple[str, ...]
    subject: str
    text: str  # what a person reads: the documentation rendered
    labels: dict[str, str]
    markdown: str = ""  # the documentation as Monitoring expands it, before rendering


@dataclass
class LocalMonitoring:
    """Alert policies with log-match conditions, and the e-mails they send."""

    now: Callable[[], datetime]
    channels: tuple[str, ...] = ("operators@example.com",)
    policies: list[NoticePolicy] = field(default_factory=list)
    sent: list[Mail] = field(default_factory=list)
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (policy, why)
    _last: dict[tuple[str, tuple[tuple[str, str], ...]], datetime] = field(default_factory=dict)
    _daily: dict[tuple[str, str], int] = field(default_factory=dict)

    def add_policy(self, policy: NoticePolicy) -> None:
        self.policies.append(policy)

    def receive(self, entry: dict[str, Any]) -> None:
        for policy in self.policies:
            if matches(policy.filter, entry):
                self._alert(policy, entry)

    def _alert(self, policy: NoticePolicy, entry: dict[str, Any]) -> None:
        labels = {k: extract(v, entry) for k, v in policy.label_extractors.items()}
        now = self.now()
        rule = (policy.display_name, tuple(sorted(labels.items())))
        period = timedelta(seconds=int(policy.rate_limit_period.rstrip("s")))
        last = self._last.get(rule)
        if last is not None and now - last < period:
            self.dropped.append((policy.display_name, "rate limit"))
            return
        day = (policy.display_name, now.strftime("%Y-%m-%d"))
        if self._daily.get(day, 0) >= DAILY_CAP:
            self.dropped.append((policy.display_name, "daily cap"))
            return
        self._last[rule] = now
        self._daily[day] = self._daily.get(day, 0) + 1

        def expand(template: str) -> str:
            return _VARIABLE.sub(lambda m: labels.get(m["key"], ""), template)

        self.sent.append(
            Mail(
                policy=policy.display_name,
                to=self.channels,
                subject=expand(policy.subject),
                text=rendered_text(expand(policy.content)),
                labels=labels,
                markdown=expand(policy.content),
            )
        )


@dataclass
class CloudLogging:
    """The function's stdout as Cloud Run stores it: one entry per JSON line."""

    service_name: str
    monitoring: LocalMonitoring
    entries: list[dict[str, Any]] = field(default_factory=list)

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if line.strip():
                self._store(json.loads(line))
        return len(text)

    def flush(self) -> None:
        return None

    def _store(self, payload: dict[str, Any]) -> None:
        payload = dict(payload)
        entry = {
            "resource": {
                "type": "cloud_run_revision",
                "labels": {"service_name": self.service_name},
            },
            "severity": payload.pop("severity", "DEFAULT"),
            "labels": payload.pop("logging.googleapis.com/labels", {}),
            "jsonPayload": payload,
        }
        self.entries.append(entry)
        self.monitoring.receive(entry)
