"""One JSON audit event per transition, written to the function's log.

The log is the audit trail (CloudWatch Logs / Cloud Logging keep and index it);
events carry version ids and fingerprints, never a key.
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
    event: str  # e.g. rotation.opened, key.rejected, key.promoted, revocation.confirmed
    credential: str
    rotation_id: str
    mode: str
    actor: str
    outcome: str
    at: str
    versions: dict[str, str] = field(default_factory=dict)
    fingerprints: dict[str, str] = field(default_factory=dict)
    detail: str = ""

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
    )
    log.info(entry.to_json())
    return entry
