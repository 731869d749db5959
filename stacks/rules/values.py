"""Reading resource inputs the way the checks need them.

Inputs are plain JSON data in a captured graph, and read-only `Mapping`/`Sequence` proxies in a
Pulumi policy pack (which raise when a check touches a value unknown during preview). These
helpers accept both, so a check never tests for `dict` or `list`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

__all__ = [
    "as_list",
    "get",
    "is_kms_key",
    "json_document",
    "statements",
]

_KMS_KEY = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/.+")


def as_list(value: Any) -> list[Any]:
    """A JSON value that may be one item or a list of them (IAM's Action, Resource...), as a list."""
    if value is None:
        return []
    if isinstance(value, str | Mapping) or not isinstance(value, Sequence):
        return [value]
    return list(value)


def get(value: Any, *path: str | int, default: Any = None) -> Any:
    """`value[path[0]][path[1]]...`, or `default` where the path does not exist."""
    for key in path:
        if isinstance(value, Mapping):
            found = isinstance(key, str) and key in value
        else:
            found = (
                isinstance(key, int) and isinstance(value, Sequence) and not isinstance(value, str) and key < len(value)
            )
        if not found:
            return default
        value = value[key]
    return value


def is_kms_key(value: Any) -> bool:
    """The ARN of a customer-managed KMS key (or of its alias)."""
    return isinstance(value, str) and _KMS_KEY.match(value) is not None


def json_document(value: Any) -> Mapping[str, Any] | None:
    """A JSON document held in a string input (an IAM policy, a pipeline definition), or already
    parsed; None if there is none or it is not a JSON object (the provider would reject it)."""
    if isinstance(value, Mapping):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        document = json.loads(value)
    except ValueError:
        return None
    return document if isinstance(document, Mapping) else None


def statements(value: Any) -> Iterator[Mapping[str, Any]]:
    """The statements of a policy document input."""
    document = json_document(value)
    if document is not None:
        yield from (s for s in as_list(document.get("Statement")) if isinstance(s, Mapping))
