"""Time as a dependency, so the drill and the tests can move it by days in a second."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class Pace(Protocol):
    """Fine-grained time to wait on: what a rate limiter (and a fake's latency) spends."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC).replace(microsecond=0)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class SimulatedClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = (start or datetime(2026, 1, 1, 9, 0, tzinfo=UTC)).replace(microsecond=0)

    def now(self) -> datetime:
        return self._now.replace(microsecond=0)

    def monotonic(self) -> float:
        return self._now.timestamp()

    def sleep(self, seconds: float) -> None:
        """Waiting is advancing: latency and rate limits cost simulated time only."""
        self._now += timedelta(seconds=seconds)

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now
