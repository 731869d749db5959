"""The Kubernetes objects of a captured graph as plain manifests (for review, `kubectl diff`,
and the schema and policy scanners the tests run)."""

from __future__ import annotations

from typing import Any

import yaml

from ..graph import ResourceGraph

__all__ = ["manifests", "manifests_yaml"]

# Resources of the kubernetes provider that are not Kubernetes objects.
_NOT_OBJECTS = ("kubernetes:helm.sh/", "kubernetes:yaml/", "kubernetes:kustomize/")


def _integral(value: Any) -> Any:
    """The capture sees every number as a float; manifests want 3, not 3.0."""
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def manifests(graph: ResourceGraph) -> list[dict[str, Any]]:
    """Every Kubernetes object the graph declares, in the graph's order (by URN)."""
    found = []
    for res in graph.custom:
        if not res.type.startswith("kubernetes:") or res.type.startswith(_NOT_OBJECTS):
            continue
        obj = _integral(res.inputs)
        found.append({"apiVersion": obj.pop("apiVersion"), "kind": obj.pop("kind"), **obj})
    return found


def manifests_yaml(graph: ResourceGraph) -> str:
    """All objects as one multi-document YAML stream."""
    return yaml.safe_dump_all(manifests(graph), sort_keys=False, default_flow_style=False)
