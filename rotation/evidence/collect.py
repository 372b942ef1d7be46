"""Read what the report is built from, through the operator backends: per credential its
configuration and state (metadata only), and per cloud ONE read of the audit trail."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from rotation.evidence.build import build_report, lookback
from rotation.evidence.model import CredentialFacts, Period, Report
from rotation.operator.backend import Backend, OperatorError, Trail
from rotation.operator.config import CredentialRef


def facts_of(ref: CredentialRef, backend: Backend) -> CredentialFacts:
    """Kind, region, workspace and state of one credential; AWS's LastRotatedDate too.
    A credential whose state cannot be read is still reported, with the reason."""
    try:
        snap, details = backend.status_read(ref)  # two store calls, as for `status`
    except OperatorError as err:
        return CredentialFacts(ref.name, ref.cloud, problem=str(err))
    st, config = snap.state, snap.config
    return CredentialFacts(
        name=ref.name,
        cloud=ref.cloud,
        kind=config.kind.value,
        region=config.region.value if config.region else "",
        workspace=config.workspace or st.workspace,
        phase=st.phase.value,
        current_fp=st.current_fp,
        current_since=st.current_since,
        aws_last_rotated=details.native_last_rotated,
    )


def collect(
    refs: Sequence[CredentialRef],
    backend_for: Callable[[CredentialRef], Backend],
    period: Period,
    rotation_days: int,
    *,
    now: datetime,
    source: str,
) -> Report:
    """The evidence report for these credentials (any mix of clouds)."""
    read_since = lookback(period.since, rotation_days)
    facts = [facts_of(ref, backend_for(ref)) for ref in refs]
    by_cloud: dict[str, list[CredentialRef]] = {}
    for ref in refs:
        by_cloud.setdefault(ref.cloud, []).append(ref)
    trails: dict[str, Trail] = {}
    for cloud, group in by_cloud.items():
        try:
            trails[cloud] = backend_for(group[0]).audit_trail(group, read_since, period.until)
        except OperatorError as err:
            trails[cloud] = Trail(problem=str(err))
    return build_report(
        facts,
        trails,
        period,
        rotation_days,
        read_since=read_since,
        generated_at=now,
        source=source,
    )
