"""The captured resource graph: what a Pulumi program registers, as plain data.

Plan, diff, cost and the policy tests all read this one structure. It imports no Pulumi, so
readers of a saved graph (`mlops-bp plan --json`) stay light.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["CapturedResource", "ResourceGraph"]


@dataclass(frozen=True)
class CapturedResource:
    type: str
    name: str
    urn: str
    parent: str
    inputs: dict[str, Any]
    custom: bool
    protect: bool = False
    provider: str = ""
    capability: str = ""
    delete_before_replace: bool = False
    replace_on_changes: tuple[str, ...] = ()
    ignore_changes: tuple[str, ...] = ()

    @property
    def is_component(self) -> bool:
        return not self.custom and not self.type.startswith("pulumi:providers:")

    @property
    def is_provider(self) -> bool:
        return self.type.startswith("pulumi:providers:")


@dataclass
class ResourceGraph:
    """Every resource one program run registered (sorted by URN) and the stack's outputs.

    Output values are what the program computed under the plan's mocks: names derived from the
    blueprint are real, ids and ARNs the provider would assign are the mocks' stand-ins
    (account 123456789012, `-mock` names)."""

    project: str
    stack: str
    resources: list[CapturedResource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    def __iter__(self) -> Iterator[CapturedResource]:
        return iter(self.resources)

    def __len__(self) -> int:
        return len(self.resources)

    @property
    def custom(self) -> list[CapturedResource]:
        """Resources a provider manages (no components, no providers)."""
        return [r for r in self.resources if r.custom and not r.is_provider]

    def by_urn(self) -> dict[str, CapturedResource]:
        return {r.urn: r for r in self.resources}

    def of_type(self, type_: str) -> list[CapturedResource]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name_contains: str = "") -> CapturedResource:
        """The single resource of `type_` whose name contains `name_contains`."""
        found = [r for r in self.of_type(type_) if name_contains in r.name]
        if len(found) != 1:
            raise LookupError(f"expected one {type_} named *{name_contains}*, found {[r.name for r in found]}")
        return found[0]

    def types(self) -> set[str]:
        return {r.type for r in self.custom}

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "stack": self.stack,
            "resources": [asdict(r) for r in self.resources],
            "outputs": self.outputs,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, default=str)
