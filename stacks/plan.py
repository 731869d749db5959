"""The offline plan: the real program of a blueprint environment, captured under mocks."""

from __future__ import annotations

from mlops_bp.blueprints import Blueprint

from .aws.sagemaker import GITHUB_TOKEN_CONFIG
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
        # A plan deploys nothing: secrets that `pulumi up` reads from stack config are stood
        # in for by a note saying where the real value comes from.
        config={GITHUB_TOKEN_CONFIG: f"<secret: pulumi config set --secret {GITHUB_TOKEN_CONFIG}>"},
        secret_keys=(GITHUB_TOKEN_CONFIG,),
    )
