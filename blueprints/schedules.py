"""The blueprint's schedules are AWS expressions (`cron(m h dom mon dow year)`, `rate(N unit)`,
UTC). Kubernetes CronJobs and CI schedulers want five-field cron: `five_field_cron` turns one into
the other, exactly, or says why it cannot. Pure: the Blueprint checks with it when it validates,
so a schedule a platform cannot run is refused by `plan`, `init`, `cost` and `pulumi up` alike.
"""

from __future__ import annotations

import re

__all__ = ["five_field_cron", "five_field_cron_error"]

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
# AWS numbers weekdays 1-7 from Sunday, cron 0-6: shift every number that is not a step.
_WEEKDAY_NUMBER = re.compile(r"(?<![/\d])([1-7])(?!\d)")
_WEEKDAY_NAME = re.compile(r"SUN|MON|TUE|WED|THU|FRI|SAT", re.IGNORECASE)
_WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


def _rate(count: int, unit: str) -> str:
    if count < 1:
        raise ValueError(f"rate must be at least 1 {unit}")
    if unit.startswith("minute"):
        if count == 1:
            return "* * * * *"
        if 60 % count:
            raise ValueError(f"rate({count} minutes) has no cron equivalent; use a divisor of 60")
        return f"*/{count} * * * *"
    if unit.startswith("hour"):
        if count == 1:
            return "0 * * * *"
        if 24 % count:
            raise ValueError(f"rate({count} hours) has no cron equivalent; use a divisor of 24")
        return f"0 */{count} * * *"
    if count == 1:
        return "0 0 * * *"
    raise ValueError(f"rate({count} days) has no cron equivalent; use cron(...) instead")


def five_field_cron(expression: str) -> str:
    """Five-field cron (UTC, as AWS schedules are) with exactly the runs of an AWS expression;
    ValueError saying why when there is none."""
    rate = _RATE.match(expression)
    if rate:
        return _rate(int(rate.group(1)), rate.group(2))
    cron = _CRON.match(expression)
    if not cron:
        raise ValueError(f"must be cron(m h dom mon dow year) or rate(N minutes|hours|days), got {expression!r}")
    parts = cron.group(1).split()
    if len(parts) != 6:
        raise ValueError(f"cron(...) needs six fields (m h dom mon dow year), got {len(parts)}")
    minute, hour, day, month, weekday, year = parts
    if year not in {"*", "?"}:
        raise ValueError(f"five-field cron cannot restrict the year (got {year!r})")
    for value in (day, weekday):
        if any(mark in value for mark in ("L", "W", "#")):
            raise ValueError(f"L, W and # have no five-field cron equivalent (got {value!r})")
    day = "*" if day == "?" else day
    if weekday == "?":
        weekday = "*"
    else:
        weekday = _WEEKDAY_NUMBER.sub(lambda m: str(int(m.group(1)) - 1), weekday)
        weekday = _WEEKDAY_NAME.sub(lambda m: str(_WEEKDAYS.index(m.group(0).upper())), weekday)
    return " ".join((minute, hour, day, month, weekday))


def five_field_cron_error(expression: str) -> str | None:
    """Why `expression` has no five-field cron equivalent, or None."""
    try:
        five_field_cron(expression)
    except ValueError as exc:
        return str(exc)
    return None
