"""The blueprint's schedules are AWS expressions (`cron(m h dom mon dow year)`, `rate(N unit)`,
UTC); CronJobs want five-field cron. This turns one into the other or says why it cannot."""

from __future__ import annotations

import re

from mlops_bp.blueprints import UserError

__all__ = ["to_cron"]

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
# AWS numbers weekdays 1-7 from Sunday, cron 0-6: shift every number that is not a step.
_WEEKDAY_NUMBER = re.compile(r"(?<![/\d])([1-7])(?!\d)")


def _rate(field: str, count: int, unit: str) -> str:
    if count < 1:
        raise UserError(f"{field}: rate must be at least 1 {unit}")
    if unit.startswith("minute"):
        if count == 1:
            return "* * * * *"
        if 60 % count:
            raise UserError(f"{field}: rate({count} minutes) has no cron equivalent; use a divisor of 60")
        return f"*/{count} * * * *"
    if unit.startswith("hour"):
        if count == 1:
            return "0 * * * *"
        if 24 % count:
            raise UserError(f"{field}: rate({count} hours) has no cron equivalent; use a divisor of 24")
        return f"0 */{count} * * *"
    if count == 1:
        return "0 0 * * *"
    raise UserError(f"{field}: rate({count} days) has no cron equivalent; use cron(...) instead")


def to_cron(expression: str, field: str) -> str:
    """Five-field cron for a CronJob (in UTC, as AWS schedules are) from an AWS expression."""
    rate = _RATE.match(expression)
    if rate:
        return _rate(field, int(rate.group(1)), rate.group(2))
    cron = _CRON.match(expression)
    if not cron:
        raise UserError(
            f"{field}: must be cron(m h dom mon dow year) or rate(N minutes|hours|days), got {expression!r}"
        )
    parts = cron.group(1).split()
    if len(parts) != 6:
        raise UserError(f"{field}: cron(...) needs six fields (m h dom mon dow year), got {len(parts)}")
    minute, hour, day, month, weekday, year = parts
    if year not in {"*", "?"}:
        raise UserError(f"{field}: a Kubernetes CronJob cannot restrict the year (got {year!r})")
    for value in (day, weekday):
        if any(mark in value for mark in ("L", "W", "#")):
            raise UserError(f"{field}: L, W and # have no Kubernetes cron equivalent (got {value!r})")
    day = "*" if day == "?" else day
    weekday = "*" if weekday == "?" else _WEEKDAY_NUMBER.sub(lambda m: str(int(m.group(1)) - 1), weekday)
    return " ".join((minute, hour, day, month, weekday))
