"""The offline plan: the real program of a blueprint environment, captured under mocks."""

from __future__ import annotations

from dataclasses import replace

import pulumi

from mlops_bp.blueprints import Blueprint
from mlops_bp.blueprints.constants import model_package_group

from .capture import MOCK_ACCOUNT_ID, PlanMocks, capture
from .context import DEPLOY_TOKENS, Deployment
from .entry import dispatch_token
from .graph import ResourceGraph
from .program import build

__all__ = ["FIRST_DEPLOY_NOTE", "deployed", "plan"]

_DEPLOY_TOKEN_KEYS = tuple(f"mlops-bp:{key}" for key, _ in DEPLOY_TOKENS.values())

# Said wherever a day-one plan shows no serving: the first deploy pins what to serve.
FIRST_DEPLOY_NOTE = (
    "serving, scheduled training and drift retraining are created at the first deploy, which pins "
    "the images CI pushed and (from level 2) the approved model package; `plan --deployed` shows them"
)


def deployed(blueprint: Blueprint, environment: str | None = None) -> Deployment:
    """A deploy of `environment` as the repo's deploy workflow makes it, with placeholder values:
    the shape of the stack once it serves (for `plan --deployed` and cost estimates). The
    package is in the environment's own registry (promoted there, unless it is the primary).
    Nothing real is named."""
    env = blueprint.environment(environment)
    package = (
        f"arn:aws:sagemaker:{blueprint.region}:{env.account or MOCK_ACCOUNT_ID}:model-package/"
        f"{model_package_group(blueprint.name, env.name)}/1"
    )
    return Deployment(
        git_sha="0" * 40,
        model_version="1",
        image_tag="0" * 40,
        model_package_arn=package,
        baseline_uri=f"s3://{blueprint.name}-{env.name}-artifacts-placeholder/promoted/baseline",
        model_digests=((package, "0" * 64),),
    )


def plan(blueprint: Blueprint, environment: str | None = None, deployment: Deployment | None = None) -> ResourceGraph:
    """Every resource `pulumi up` would declare for `blueprint` in `environment`: on a fresh
    account by default, or after a deploy that pinned `deployment`."""
    env = blueprint.environment(environment)

    def program() -> object:
        # What `pulumi up` reads from stack config at the entry, read the same way.
        token = dispatch_token(pulumi.Config("mlops-bp"), blueprint)
        return build(blueprint, env.name, replace(deployment or Deployment(), dispatch_token=token))

    return capture(
        program,
        project=blueprint.name,
        stack=env.name,
        region=blueprint.region,
        mocks=PlanMocks(blueprint.region, env.account or MOCK_ACCOUNT_ID),
        # A plan deploys nothing: secrets that `pulumi up` reads from stack config are stood
        # in for by a note saying where the real value comes from.
        config={key: f"<secret: pulumi config set --secret {key}>" for key in _DEPLOY_TOKEN_KEYS},
        secret_keys=_DEPLOY_TOKEN_KEYS,
    )
