"""Notice delivery: the outbox in the state, claimed in one write and sent at most once.

A transition queues its notices in the same compare-and-swap write that decides
it. Delivery then claims every queued entry in one write (a lease, so a sender
that died is replaced after `SEND_LEASE`), sends them, and removes them in one
more write. Two invocations racing for the same entries: only one claim write
succeeds, so each notice is sent once; a crash between sending and removing
can repeat a notice after the lease, never lose one, and its id lets receivers
drop the repeat.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from rotation.state import RotationState, format_time, parse_time

SEND_LEASE = timedelta(minutes=5)


def claimable(st: RotationState, now: datetime) -> tuple[str, ...]:
    """The queued entries this invocation may claim: none while a fresh claim is held."""
    if not st.outbox:
        return ()
    if st.sending:
        held, _, at = st.sending.rpartition("@")
        claimed_at = parse_time(at)
        still_queued = any(e in st.outbox for e in held.split())
        if still_queued and claimed_at is not None and now < claimed_at + SEND_LEASE:
            return ()
    return st.outbox


def claimed(st: RotationState, entries: tuple[str, ...], now: datetime) -> RotationState | None:
    """Claim `entries` for sending (one write for all of them)."""
    if not entries:
        return None
    return replace(st, sending=f"{' '.join(entries)}@{format_time(now)}")


def sent(st: RotationState, entries: tuple[str, ...]) -> RotationState | None:
    """Remove the delivered entries (one write); later ones queued meanwhile stay."""
    done = set(entries) & set(st.outbox)
    if not done:
        return None
    held = st.sending.rpartition("@")[0].split() if st.sending else []
    return replace(
        st,
        outbox=tuple(e for e in st.outbox if e not in done),
        sending="" if set(held) <= done else st.sending,
    )
