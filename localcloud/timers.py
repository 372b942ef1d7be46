"""When a cloud timer fires next: EventBridge Scheduler expressions and unix cron.

Pure functions of an expression and a moment, so `LocalStack.advance` can order
every timer of both clouds on one simulated clock. Expression forms, as the
EventBridge Scheduler user guide gives them: `at(yyyy-mm-ddThh:mm:ss)` (one time,
in the schedule's time zone), `rate(value unit)` (minute(s), hour(s), day(s)),
`cron(minutes hours day-of-month month day-of-week year)`. Cloud Scheduler takes
five-field unix cron. Time zones other than UTC are refused, not guessed. Also what
both clouds report to that loop (`Due`) and how long an invocation ran (`Stopwatch`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from croniter import croniter

from rotation.clock import SimulatedClock

UTC_NAMES = frozenset({"UTC", "Etc/UTC", "GMT", "Etc/GMT", ""})
_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNITS = {"minute": "minutes", "hour": "hours", "day": "days"}
_AWS_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


class TimerError(ValueError):
    """An expression the local cloud cannot fire; the message says which and why."""


def _utc(timezone: str, what: str) -> None:
    if timezone not in UTC_NAMES:
        raise TimerError(f"{what}: time zone {timezone!r} is not supported locally; use UTC.")


def _aws_cron_to_unix(fields: str, what: str) -> str:
    """EventBridge's six fields to five unix-cron fields (the year must be '*')."""
    parts = fields.split()
    if len(parts) != 6:
        raise TimerError(f"{what}: cron() takes six fields, got {len(parts)}.")
    minute, hour, dom, month, dow, year = parts
    if year != "*":
        raise TimerError(f"{what}: only '*' years are supported locally, got {year!r}.")
    dom = "*" if dom == "?" else dom
    if dow == "?":
        dow = "*"
    elif dow != "*":
        # EventBridge numbers days 1-7 from Sunday; unix cron 0-6.
        dow = re.sub(r"\d", lambda m: _AWS_DAYS[(int(m.group()) - 1) % 7], dow)
    return f"{minute} {hour} {dom} {month} {dow}"


def unix_cron_next(expression: str, after: datetime, what: str = "cron") -> datetime:
    """The first moment strictly after `after` that five-field unix cron names."""
    if not croniter.is_valid(expression):
        raise TimerError(f"{what}: {expression!r} is not a valid cron expression.")
    nxt: datetime = croniter(expression, after.astimezone(UTC)).get_next(datetime)
    return nxt.astimezone(UTC)


def schedule_next(
    expression: str,
    after: datetime,
    *,
    created: datetime,
    timezone: str = "UTC",
    what: str = "schedule",
) -> datetime | None:
    """When an EventBridge schedule fires next after `after`; None when it never will.

    `created`: when the schedule was created, which anchors a rate() (AWS starts
    counting then) and bounds an at() (a moment already past when the schedule was
    made still fires once, at once, as AWS does).
    """
    _utc(timezone, what)
    expression = expression.strip()
    if m := _AT.match(expression):
        when = datetime.fromisoformat(m.group(1)).replace(tzinfo=UTC)
        when = max(when, created)
        return when if when > after else None
    if m := _RATE.match(expression):
        value, unit = int(m.group(1)), m.group(2)
        if value < 1:
            raise TimerError(f"{what}: rate() needs a positive value.")
        step = timedelta(**{_UNITS.get(unit, unit): value})
        if after < created + step:
            return created + step
        periods = (after - created) // step + 1
        return created + periods * step
    if m := _CRON.match(expression):
        return unix_cron_next(_aws_cron_to_unix(m.group(1), what), after, what)
    raise TimerError(f"{what}: {expression!r} is not an at(), rate() or cron() expression.")


def is_one_time(expression: str) -> bool:
    return bool(_AT.match(expression.strip()))


# One timer's next moment, as each cloud reports it to `LocalStack.advance`: (when, what, fire).
Due = tuple[datetime, str, Callable[[], None]]


class Stopwatch:
    """How long an invocation has run, in real and simulated seconds together: in-process
    code takes real time, and a slow Customer.io spends simulated time (`clock.sleep`)."""

    def __init__(self, clock: SimulatedClock) -> None:
        self.clock = clock
        self.real, self.simulated = time.monotonic(), clock.monotonic()

    def elapsed(self) -> float:
        return (time.monotonic() - self.real) + (self.clock.monotonic() - self.simulated)
