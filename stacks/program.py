"""The Pulumi program: a Blueprint (and one of its environments) becomes resources.

`build` is what `pulumi up` runs (through stacks/__main__.py) and what the offline plan runs
under mocks. Which components exist is decided by the blueprint's catalog features; the
components themselves never look at the level number.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from mlops_bp.blueprints import Blueprint, Platform

from .context import Deployment, StackContext

__all__ = ["build"]


def build(blueprint: Blueprint, environment: str | None = None, deployment: Deployment | None = None) -> dict[str, Any]:
    """Declare every resource of `blueprint` for one environment; return the stack outputs.

    Every AWS resource gets the blueprint's tags (plus project, environment and level) through
    the provider's default tags; the serving resources a deploy changes also carry the
    `deployment`'s git sha and model version.
    """
    env = blueprint.environment(environment)
    ctx = StackContext.from_blueprint(blueprint, env, deployment)
    provider = aws.Provider(
        f"{ctx.prefix}-aws",
        region=ctx.region,
        default_tags={"tags": ctx.tags},
        # One account per environment: credentials of any other account stop `pulumi up`.
        allowed_account_ids=[env.account] if env.account else None,
    )
    opts = pulumi.ResourceOptions(providers={"aws": provider})
    if blueprint.platform is Platform.SAGEMAKER:
        from .aws.sagemaker import build_sagemaker

        outputs = build_sagemaker(blueprint, env, ctx, opts)
    else:
        from .kubernetes.platform import build_kubernetes

        outputs = build_kubernetes(blueprint, env, ctx, opts)
    for key, value in outputs.items():
        pulumi.export(key, value)
    return outputs
