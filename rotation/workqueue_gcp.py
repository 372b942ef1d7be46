"""The sweep's units on GCP: one Pub/Sub message per credential on the rotation topic.

`topics.publish` over REST through google-auth's AuthorizedSession (as notify_gcp does):
google-cloud-pubsub is not a dependency. Each message is its own delivery to the
function, with its own retry.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

PUBSUB_BATCH = 1000  # topics.publish takes at most 1,000 messages per request


@dataclass
class PubSubWorkQueue:
    """`topics.publish` over REST (as notify_gcp.PubSubNotifier does)."""

    topic: str
    session: Any = None  # default credentials' AuthorizedSession, made on first use
    endpoint: str = "https://pubsub.googleapis.com"

    def _session(self) -> Any:
        if self.session is None:
            import google.auth
            from google.auth.transport.requests import AuthorizedSession

            credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/pubsub"])
            self.session = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
        return self.session

    def hand_out(self, units: Sequence[dict[str, Any]]) -> None:
        for offset in range(0, len(units), PUBSUB_BATCH):
            batch = units[offset : offset + PUBSUB_BATCH]
            messages = [
                {"data": base64.b64encode(json.dumps(u).encode()).decode("ascii")} for u in batch
            ]
            response = self._session().post(
                f"{self.endpoint.rstrip('/')}/v1/{self.topic}:publish",
                json={"messages": messages},
                timeout=(3.05, 10),
            )
            if response.status_code >= 300:
                raise RuntimeError(f"Pub/Sub publish answered HTTP {response.status_code}")
