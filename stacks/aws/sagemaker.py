"""The SageMaker platform: all six capabilities on AWS managed services."""

from __future__ import annotations

from typing import Any

import pulumi

from mlops_bp.blueprints import Blueprint, Environment

from ..context import StackContext
from . import policies
from .iam import ServiceRole, ServiceRoleArgs
from .platform import Foundation, build_foundation
from .training import ExperimentNotebook, ExperimentNotebookArgs

__all__ = ["build_sagemaker"]

SAGEMAKER = "sagemaker.amazonaws.com"


def _data_scientist_role(f: Foundation) -> ServiceRole:
    ctx = f.ctx
    statements = [
        *policies.bucket_read_write([b.arn for b in f.buckets]),
        *policies.kms_use(f.key.arn),
        *policies.logs_write(f.arn("logs", "log-group:/aws/sagemaker/")),
        {
            "Sid": "StopOwnNotebookWhenIdle",
            "Effect": "Allow",
            "Action": ["sagemaker:StopNotebookInstance", "sagemaker:DescribeNotebookInstance"],
            "Resource": f.arn("sagemaker", f"notebook-instance/{ctx.name('notebook')}"),
        },
    ]
    if f.registry is not None:
        statements += policies.ecr_pull(f.registry.arn)
    return ServiceRole(
        ctx.name("data-scientist"),
        ServiceRoleArgs(service=SAGEMAKER, description=f"Notebook role of {ctx.prefix}", statements=statements),
        f.opts,
    )


def build_sagemaker(blueprint: Blueprint, env: Environment, ctx: StackContext, opts: pulumi.ResourceOptions) -> dict[str, Any]:
    features = blueprint.features
    foundation = build_foundation(blueprint, env, ctx, opts)
    outputs: dict[str, Any] = {
        "kms_key_arn": foundation.key.arn,
        "data_bucket": foundation.data_bucket.bucket_name,
    }
    network = blueprint.network
    if "notebook" in features:
        role = _data_scientist_role(foundation)
        notebook = ExperimentNotebook(
            ctx.name("notebook"),
            ExperimentNotebookArgs(
                notebook_name=ctx.name("notebook"),
                instance_type=blueprint.notebook.instance_type,
                volume_size_gb=blueprint.notebook.volume_size_gb,
                idle_minutes=blueprint.notebook.idle_minutes,
                role_arn=role.arn,
                kms_key_arn=foundation.key.arn,
                subnet_id=network.subnet_ids[0] if network else None,
                security_group_ids=tuple(network.security_group_ids) if network else (),
            ),
            opts,
        )
        outputs["notebook_name"] = notebook.instance.name
    if foundation.artifacts_bucket is not None:
        outputs["artifacts_bucket"] = foundation.artifacts_bucket.bucket_name
    if foundation.registry is not None:
        outputs["repository_url"] = foundation.registry.repository_url
    if foundation.ci_identity is not None:
        outputs["ci_role_arn"] = foundation.ci_identity.role_arn
    return outputs
