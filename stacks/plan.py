"""The offline plan: the real program of a blueprint environment, captured under mocks."""

from __future__ import annotations

from mlops_bp.blueprints import Blueprint

from .aws.sagemaker import DEPLOY_TOKENS
from .capture import capture
from .graph import ResourceGraph
from .program import build

__all__ = ["plan"]

_DEPLOY_TOKEN_KEYS = tuple(f"mlops-bp:{key}" for key, _ in DEPLOY_TOKENS.values())


def plan(blueprint: Blueprint, environment: str | None = None) -> ResourceGraph:
    """Every resource `pulumi up` would declare for `blueprint` in `environment`."""
    env = blueprint.environment(environment)
    return capture(
        lambda: build(blueprint, env.name),
        project=blueprint.name,
        stack=env.name,
        region=blueprint.region,
        # A plan deploys nothing: secrets that `pulumi up` reads from stack config are stood
        # in for by a note saying where the real value comes from.
        config={key: f"<secret: pulumi config set --secret {key}>" for key in _DEPLOY_TOKEN_KEYS},
        secret_keys=_DEPLOY_TOKEN_KEYS,
    )
