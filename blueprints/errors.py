"""The one error hierarchy of mlops-bp (pure Python, so every layer can raise it)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from difflib import get_close_matches
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pydantic loads only when a blueprint is validated, not at CLI startup
    from pydantic import ValidationError

__all__ = ["MlopsBpError", "UserError", "BlueprintError", "format_validation_error"]


class MlopsBpError(Exception):
    """Base class of every error mlops-bp raises on purpose."""

    exit_code = 1


class UserError(MlopsBpError):
    """Something the user can fix (bad flag, bad file, existing directory...); exit code 2."""

    exit_code = 2


class BlueprintError(UserError):
    """A blueprint (flags or mlops-bp.yaml) that does not validate."""


def _loc(loc: tuple) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item.startswith(("function-", "function_")) or item in {"str-enum", "int-enum"}:
            continue  # validator wrappers pydantic puts in the path; not a field name
        else:
            parts.append(("." if parts else "") + item)
    return "".join(parts)


def _short(value: object, limit: int = 80) -> str:
    """A value as shown in an error: its repr, cut so a huge input never floods the line."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 15]}... ({len(text)} chars)"


def format_validation_error(
    exc: ValidationError,
    source: str | None = None,
    hints: dict[str, str] | None = None,
    allowed_keys: Callable[[tuple], Iterable[str]] | None = None,
) -> str:
    """One line naming the first bad field, what is allowed, and what was given.

    `hints` maps a field name to a human description used instead of a raw regex;
    `allowed_keys(loc)` lists the keys allowed beside an unknown one (for "did you mean").
    """
    first = exc.errors(include_url=False)[0]
    loc = tuple(first["loc"])
    field = _loc(loc)
    msg = first["msg"].removeprefix("Value error, ")
    names = [part for part in loc if isinstance(part, str)]
    if first["type"] == "string_pattern_mismatch" and hints and names and names[-1] in hints:
        msg = hints[names[-1]]
    elif first["type"] == "extra_forbidden":
        close = get_close_matches(str(loc[-1]), list(allowed_keys(loc[:-1])), n=1) if allowed_keys else []
        msg = f"unknown key; did you mean {close[0]}?" if close else "unknown key"
        msg += " (`mlops-bp schema` lists the allowed keys)"
    elif first["type"] == "missing":
        msg = "is required"
    given = first.get("input")
    shown = (
        ""
        if first["type"] in {"missing", "extra_forbidden"} or isinstance(given, dict) or _short(given) in msg
        else f" (got {_short(given)})"
    )
    more = len(exc.errors()) - 1
    extra = f" [+{more} more]" if more > 0 else ""
    where = f"{source}: " if source else ""
    if not loc:  # whole-model checks name their field in the message
        return f"{where}{msg}{extra}"
    return f"{where}{field}: {msg}{shown}{extra}"
