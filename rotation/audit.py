"""One JSON audit event per transition, written to the function's log.

The log is the audit trail (CloudWatch Logs / Cloud Logging keep and index it);
events carry version ids, fingerprints and the keys' dashboard names, never a key.

`actor` is the person (or schedule) a transition is owed to: for anything caused by
a submission (key.verified, key.rejected, key.promoted, rotation.opened by
submission), the operator who submitted, even when a cloud service carried the
submission; that service goes in `via`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime

from rotation.state import format_time

AUDIT_LOGGER = "cio.audit"
log = logging.getLogger(AUDIT_LOGGER)
log.setLevel(logging.INFO)  # the audit trail is kept whatever level the host's root logger has


@dataclass(frozen=True)
class AuditEvent:
    """One line of the audit trail: who did what to which credential, never a key."""

    event: str  # e.g. rotation.opened, key.rejected, key.promoted, revocation.confirmed
    credential: str
    rotation_id: str
    mode: str
    actor: str  # who: the operator who submitted, on-call, "calendar", "rotator"
    outcome: str
    at: str
    versions: dict[str, str] = field(default_factory=dict)
    fingerprints: dict[str, str] = field(default_factory=dict)
    detail: str = ""
    via: str = ""  # the channel that carried the actor's request: secretsmanager, cli, sweep
    names: dict[str, str] = field(default_factory=dict)  # dashboard names: current, previous, new

    def to_json(self) -> str:
        return json.dumps({"audit": True, **asdict(self)}, sort_keys=True)


def record(
    event: str,
    *,
    credential: str,
    rotation_id: str,
    mode: str,
    actor: str,
    outcome: str,
    at: datetime,
    versions: dict[str, str] | None = None,
    fingerprints: dict[str, str] | None = None,
    detail: str = "",
    via: str = "",
    names: dict[str, str] | None = None,
) -> AuditEvent:
    entry = AuditEvent(
        event=event,
        credential=credential,
        rotation_id=rotation_id,
        mode=mode,
        actor=actor,
        outcome=outcome,
        at=format_time(at),
        versions={k: v for k, v in (versions or {}).items() if v},
        fingerprints={k: v for k, v in (fingerprints or {}).items() if v},
        detail=detail,
        via=via if via != actor else "",
        names={k: v for k, v in (names or {}).items() if v},
    )
    log.info(entry.to_json())
    return entry
