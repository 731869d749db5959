"""Captured graphs shared by the stack tests (each capture runs the real program under mocks)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from mlops_bp.stacks.graph import ResourceGraph
from mlops_bp.stacks.plan import deployed as deployed_state
from mlops_bp.stacks.plan import plan

from .conftest import make_blueprint

LEVEL_ENVS = [(level, env) for level in range(5) for env in (("dev",) if level < 3 else ("dev", "staging", "prod"))]


@cache
def graph(
    level: int, env: str = "dev", platform: str = "sagemaker", deployed: bool = False, **frozen_overrides: Any
) -> ResourceGraph:
    """The captured graph: on a fresh account, or `deployed` (after a first deploy that pinned
    images, a model package and its baseline, with placeholder values)."""
    blueprint = make_blueprint(level, platform, **{k: json.loads(v) for k, v in frozen_overrides.items()})
    return plan(blueprint, env, deployed_state(blueprint, env) if deployed else None)


def overrides(**values: Any) -> dict[str, str]:
    """Blueprint overrides in a hashable form for `graph(...)`."""
    return {k: json.dumps(v) for k, v in values.items()}


def policy(resource, key: str = "policy") -> dict:
    value = resource.inputs[key]
    return json.loads(value) if isinstance(value, str) else value
