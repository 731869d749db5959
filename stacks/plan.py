"""The offline plan: the real program of a blueprint environment, captured under mocks."""

from __future__ import annotations

from mlops_bp.blueprints import Blueprint

from .capture import capture
from .graph import ResourceGraph
from .program import build

__all__ = ["plan"]


def plan(blueprint: Blueprint, environment: str | None = None) -> ResourceGraph:
    """Every resource `pulumi up` would declare for `blueprint` in `environment`."""
    env = blueprint.environment(environment)
    return capture(
        lambda: build(blueprint, env.name),
        project=blueprint.name,
        stack=env.name,
        region=blueprint.region,
    )
