"""How the commands show things: progress on stderr, type tokens, plain numbers, values.

Text output stays readable at 80 columns and when piped: nothing here cuts a word or a type
name, numbers never use exponents, and the offline plan's stand-ins for values only AWS knows
(mock account, generated names) are shown as what they stand for.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from .errors import err_console

__all__ = ["Progress", "plain_number", "progress", "short_type", "shown_value", "without_placeholders"]


class Progress(Protocol):
    def update(self, message: str) -> None: ...


class _Silent:
    def update(self, message: str) -> None:
        pass


class _Spinner:
    def __init__(self, status: Any) -> None:
        self._status = status

    def update(self, message: str) -> None:
        self._status.update(message)


@contextmanager
def progress(message: str) -> Iterator[Progress]:
    """A spinner with `message` on stderr while the block runs, only when stderr is a terminal
    (piped or captured output gets no progress lines)."""
    if not err_console.is_terminal:
        yield _Silent()
        return
    with err_console.status(message) as status:
        yield _Spinner(status)


def short_type(token: str) -> str:
    """A Pulumi type token as `pulumi preview` shows it: `aws:s3/bucket:Bucket` -> `aws:s3:Bucket`
    (the module's last part dropped when it only repeats the type name)."""
    parts = token.split(":")
    if len(parts) != 3 or "/" not in parts[1] or not parts[2]:
        return token
    package, module, name = parts
    head, _, member = module.rpartition("/")
    if member != name[:1].lower() + name[1:]:
        return token
    return f"{package}:{head}:{name}"


def plain_number(value: float, digits: int = 4) -> str:
    """`value` with up to `digits` significant digits, thousands separated, never an exponent:
    0.000004345, 10.74, 1,250."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    if abs(value) >= 10 ** (digits - 1):
        return f"{value:,.0f}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    text = f"{value:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


# What the offline plan makes up for values only AWS knows at `pulumi up` (stacks/capture.py's
# PlanMocks): generated bucket names, key ids, the EKS issuer id and the account.
_GENERATED = (
    (re.compile(r"\b([a-z0-9][a-z0-9.-]*?)-mock\b"), r"<name of \1>"),
    (re.compile(r"\b([a-z0-9][a-z0-9.-]*?)-key-id\b"), r"<id of \1>"),
    (re.compile(r"/id/MOCK[A-Z0-9-]*"), "/id/<issuer id>"),
)


def without_placeholders(text: str) -> str:
    """`text` with the offline plan's stand-ins replaced by what they stand for."""
    from mlops_bp.stacks.capture import MOCK_ACCOUNT_ID

    for pattern, replacement in _GENERATED:
        text = pattern.sub(replacement, text)
    return text.replace(MOCK_ACCOUNT_ID, "<account id>")


def _plain(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def shown_value(value: Any) -> str:
    """An input value as diff shows it: strings as they are, the rest as compact JSON; whole
    floats as integers (5000, not 5000.0); the offline plan's stand-ins replaced; a value that
    is not there as (none)."""
    if value is None:
        return "(none)"
    text = value if isinstance(value, str) else json.dumps(_plain(value), sort_keys=True, default=str)
    return without_placeholders(text)
