"""The AWS foundation every platform shares: key, buckets, registry and the CI identity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from mlops_bp.blueprints import Blueprint, Environment
from mlops_bp.blueprints.constants import secrets_alias

from ..context import StackContext
from . import policies
from .iam import CiDeployIdentity, CiDeployIdentityArgs, github_trust, gitlab_trust
from .registry import ContainerRegistry, ContainerRegistryArgs
from .storage import EncryptionKey, EncryptionKeyArgs, SecureBucket, SecureBucketArgs

__all__ = ["Foundation", "build_foundation"]


@dataclass
class Foundation:
    """What the compute platforms build on. Optional parts are None below their level."""

    ctx: StackContext
    opts: pulumi.ResourceOptions
    account_id: pulumi.Output[str]
    key: EncryptionKey
    data_bucket: SecureBucket
    artifacts_bucket: SecureBucket | None
    registry: ContainerRegistry | None
    ci_identity: CiDeployIdentity | None

    @property
    def buckets(self) -> list[SecureBucket]:
        return [b for b in (self.data_bucket, self.artifacts_bucket) if b is not None]

    def attach_ci_identity(
        self, blueprint: Blueprint, env: Environment, statements: list[dict[str, Any]]
    ) -> CiDeployIdentity | None:
        """The CI deploy role (GitHub Actions or GitLab CI, by OIDC): push images, use the Pulumi
        state, plus `statements` (what the platform's deploy and training workflows need).
        None without a repository to trust."""
        if "ci_oidc_role" not in blueprint.features or self.registry is None:
            return None
        if blueprint.github:
            trust = github_trust(blueprint.github, env.name, env.requires_approval)
        elif blueprint.gitlab:
            trust = gitlab_trust(blueprint.gitlab, blueprint.gitlab_host)
        else:
            return None
        self.ci_identity = CiDeployIdentity(
            self.ctx.name("ci"),
            CiDeployIdentityArgs(
                trust=trust,
                environment=env.name,
                statements=[
                    *policies.ecr_push(self.registry.arn),
                    *policies.state_bucket(blueprint.state_bucket),
                    # A bootstrapped project (it has a state bucket) encrypts secrets with its key.
                    *(
                        policies.secrets_key(self.arn("kms", "key/*"), secrets_alias(blueprint.name))
                        if blueprint.state_bucket
                        else []
                    ),
                    *statements,
                ],
                create_provider=blueprint.oidc_provider_arn is None and env is blueprint.primary_environment,
                existing_provider_arn=blueprint.oidc_provider_arn,
            ),
            self.opts,
        )
        return self.ci_identity

    def arn(self, service: str, resource: str) -> pulumi.Output[str]:
        """An ARN in this stack's account and region, e.g. arn("sagemaker", "endpoint/x-*")."""
        return pulumi.Output.concat(f"arn:aws:{service}:{self.ctx.region}:", self.account_id, f":{resource}")


def _bucket(
    name: str, ctx: StackContext, blueprint: Blueprint, key: EncryptionKey, opts: pulumi.ResourceOptions
) -> SecureBucket:
    return SecureBucket(
        ctx.name(name),
        SecureBucketArgs(
            bucket_prefix=ctx.bucket_prefix(name),
            kms_key_arn=key.arn,
            noncurrent_version_days=blueprint.storage.noncurrent_version_days,
            infrequent_access_days=blueprint.storage.infrequent_access_days,
            force_destroy=blueprint.storage.force_destroy,
        ),
        opts,
    )


def build_foundation(blueprint: Blueprint, ctx: StackContext, opts: pulumi.ResourceOptions) -> Foundation:
    """Key, buckets and registry: the AWS part of every platform. The platform attaches the CI
    identity last (`Foundation.attach_ci_identity`), once it knows what its deploys touch."""
    features = blueprint.features
    account_id = aws.get_caller_identity_output(
        opts=pulumi.InvokeOutputOptions(provider=opts.providers["aws"])
    ).account_id
    key = EncryptionKey(
        ctx.name("kms"), EncryptionKeyArgs(description=f"mlops-bp {ctx.prefix}: data, artifacts, images, logs"), opts
    )
    data_bucket = _bucket("data", ctx, blueprint, key, opts)
    artifacts = _bucket("artifacts", ctx, blueprint, key, opts) if "artifacts_bucket" in features else None
    registry = None
    if "container_registry" in features:
        registry = ContainerRegistry(
            ctx.name("registry"),
            ContainerRegistryArgs(
                repository_name=ctx.prefix,
                kms_key_arn=key.arn,
                keep_last_images=blueprint.registry.keep_last_images,
            ),
            opts,
        )
    return Foundation(ctx, opts, account_id, key, data_bucket, artifacts, registry, None)
