"""The period a report covers, from what an operator types: checked once, at the edge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rotation.evidence.model import Period


class BadPeriod(ValueError):
    """A --since/--until the CLI refuses; the message names the option and the fix."""

    def __init__(self, option: str, message: str, fix: str) -> None:
        super().__init__(f"{option}: {message} {fix}")
        self.option = option
        self.fix = fix


def parse_moment(option: str, text: str, *, end_of_day: bool = False) -> datetime:
    """YYYY-MM-DD (UTC; for --until the end of that day) or an ISO 8601 timestamp (a
    timestamp without an offset is UTC)."""
    raw = text.strip()
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00") if raw.endswith("Z") else raw)
    except ValueError:
        raise BadPeriod(
            option,
            f"{text!r} is not a date.",
            f"Give YYYY-MM-DD or an ISO 8601 timestamp, e.g. {option} 2026-01-01 or "
            f"{option} 2026-01-01T00:00:00Z.",
        ) from None
    date_only = len(raw) == 10
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    if date_only and end_of_day:
        value += timedelta(days=1)
    return value


def period_of(since: str, until: str | None, now: datetime) -> Period:
    """[since, until): --until defaults to now; a date for --until includes that day."""
    start = parse_moment("--since", since)
    if start > now:
        raise BadPeriod(
            "--since", "the period starts in the future.", "Give a --since in the past."
        )
    # Without --until, up to now inclusive (the period's end is exclusive).
    end = parse_moment("--until", until, end_of_day=True) if until else now + timedelta(seconds=1)
    if start >= end:
        raise BadPeriod(
            "--since",
            f"the period starts ({start:%Y-%m-%dT%H:%M:%SZ}) at or after it ends "
            f"({end:%Y-%m-%dT%H:%M:%SZ}).",
            "Give a --since earlier than --until (or than now).",
        )
    return Period(start, end)
