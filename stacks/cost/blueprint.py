"""Cost of a blueprint: plan each environment offline, price each graph, add them up."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlops_bp.blueprints import LEVELS, Blueprint, BlueprintError, UserError

from .engine import Estimate, estimate
from .usage import usage_for

__all__ = ["LevelEstimate", "compare_levels", "estimate_blueprint"]


def estimate_blueprint(
    blueprint: Blueprint, usage_data: dict[str, Any] | None = None, environment: str | None = None
) -> Estimate:
    """The monthly cost of every environment of `blueprint` (or only `environment`), once it
    serves: the stack after its first deploy (before it, there is no endpoint to pay for)."""
    from ..plan import deployed, plan

    usage = usage_for(blueprint, usage_data)
    envs = [blueprint.environment(environment)] if environment else list(blueprint.environments)
    total = Estimate(region=blueprint.region)
    for env in envs:
        graph = plan(blueprint, env.name, deployed(blueprint, env.name))
        total.extend(estimate(graph, usage, region=blueprint.region, environment=env.name))
    return total


@dataclass(frozen=True)
class LevelEstimate:
    level: int
    estimate: Estimate | None
    error: str = ""


def compare_levels(
    blueprint: Blueprint,
    usage_data: dict[str, Any] | None = None,
    environment: str | None = None,
    on_level: Callable[[int], None] | None = None,
) -> list[LevelEstimate]:
    """The blueprint's cost at each level of the catalog (a level it is not valid at says
    why); `on_level(level)` is called as each one starts (progress)."""
    usage_for(blueprint, usage_data)  # a bad usage file fails once, before any level is planned
    results = []
    for level in (info.number for info in LEVELS):
        if on_level is not None:
            on_level(level)
        try:
            at_level = blueprint.with_level(level)
        except BlueprintError as exc:  # a setting the level does not allow
            results.append(LevelEstimate(level, None, str(exc)))
            continue
        try:
            results.append(LevelEstimate(level, estimate_blueprint(at_level, usage_data, environment)))
        except UserError as exc:  # e.g. --env staging at a level without staging
            results.append(LevelEstimate(level, None, str(exc)))
    return results
