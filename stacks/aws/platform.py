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
            trust = github_trust(blueprint.github, env.name)
        elif blueprint.gitlab:
            trust = gitlab_trust(blueprint.gitlab, blueprint.gitlab_host, _position(blueprint, env))
        else:
            return None
        project, stack, primary = blueprint.name, env.name, env is blueprint.primary_environment
        # The state bucket and secrets key live where `mlops-bp bootstrap` made them: the
        # primary environment's account (it grants the other accounts' CI roles their stacks).
        state_account = blueprint.primary_environment.account or self.account_id
        secrets_keys = pulumi.Output.concat(f"arn:aws:kms:{self.ctx.region}:", state_account, ":key/*")
        secrets = policies.secrets_key(secrets_keys, secrets_alias(blueprint.name)) if blueprint.state_bucket else []
        self.ci_identity = CiDeployIdentity(
            self.ctx.name("ci"),
            CiDeployIdentityArgs(
                trust=trust,
                environment=env.name,
                statements=[
                    *policies.ecr_push(self.registry.arn),
                    *policies.state_bucket(blueprint.state_bucket, project, stack),
                    # A bootstrapped project (it has a state bucket) encrypts secrets with its key.
                    *secrets,
                    *statements,
                ],
                create_provider=_creates_oidc_provider(blueprint, env),
                existing_provider_arn=blueprint.oidc_provider_arn
                if _provider_account_matches(blueprint, env)
                else None,
                # Change-request previews: this stack's state, read-only (plus the lock a
                # preview takes), and nothing of any environment's resources.
                preview_statements=[
                    *policies.state_bucket(blueprint.state_bucket, project, stack, write=False),
                    *secrets,
                ]
                if primary and blueprint.state_bucket
                else (),
            ),
            self.opts,
        )
        return self.ci_identity

    def arn(self, service: str, resource: str) -> pulumi.Output[str]:
        """An ARN in this stack's account and region, e.g. arn("sagemaker", "endpoint/x-*")."""
        return pulumi.Output.concat(f"arn:aws:{service}:{self.ctx.region}:", self.account_id, f":{resource}")


def _position(blueprint: Blueprint, env: Environment) -> str:
    """Where `env` is in the promotion order: "first", "middle" or "last"."""
    if env is blueprint.primary_environment:
        return "first"
    return "last" if env is blueprint.environments[-1] else "middle"


def _provider_account_matches(blueprint: Blueprint, env: Environment) -> bool:
    """`oidc_provider_arn` names a provider of `env`'s account (always so in one account)."""
    arn = blueprint.oidc_provider_arn
    return arn is not None and (env.account is None or arn.split(":")[4] == env.account)


def _creates_oidc_provider(blueprint: Blueprint, env: Environment) -> bool:
    """An account has one OIDC provider per issuer: the first environment of each account
    creates it, unless the blueprint names an existing one of that account."""
    if _provider_account_matches(blueprint, env):
        return False
    first_of_account = next(e for e in blueprint.environments if e.account == env.account)
    return env is first_of_account


def _bucket(
    name: str,
    ctx: StackContext,
    blueprint: Blueprint,
    key: EncryptionKey,
    opts: pulumi.ResourceOptions,
    readers: tuple[policies.Reader, ...] = (),
) -> SecureBucket:
    return SecureBucket(
        ctx.name(name),
        SecureBucketArgs(
            bucket_prefix=ctx.bucket_prefix(name),
            kms_key_arn=key.arn,
            noncurrent_version_days=blueprint.storage.noncurrent_version_days,
            infrequent_access_days=blueprint.storage.infrequent_access_days,
            force_destroy=blueprint.storage.force_destroy,
            readers=readers,
        ),
        opts,
    )


def build_foundation(
    blueprint: Blueprint,
    ctx: StackContext,
    opts: pulumi.ResourceOptions,
    readers: tuple[policies.Reader, ...] = (),
) -> Foundation:
    """Key, buckets and registry: the AWS part of every platform. The platform attaches the CI
    identity last (`Foundation.attach_ci_identity`), once it knows what its deploys touch.
    `readers`: roles of other accounts that may read the artifacts and images (promotion)."""
    features = blueprint.features
    account = blueprint.environment(ctx.environment).account
    # An environment with its own account names it (the provider refuses any other credentials).
    account_id = (
        pulumi.Output.from_input(account)
        if account
        else aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(provider=opts.providers["aws"])).account_id
    )
    key = EncryptionKey(
        ctx.name("kms"),
        EncryptionKeyArgs(description=f"mlops-bp {ctx.prefix}: data, artifacts, images, logs", readers=readers),
        opts,
    )
    data_bucket = _bucket("data", ctx, blueprint, key, opts)
    artifacts = _bucket("artifacts", ctx, blueprint, key, opts, readers) if "artifacts_bucket" in features else None
    registry = None
    if "container_registry" in features:
        registry = ContainerRegistry(
            ctx.name("registry"),
            ContainerRegistryArgs(
                repository_name=ctx.prefix,
                kms_key_arn=key.arn,
                keep_last_images=blueprint.registry.keep_last_images,
                readers=readers,
            ),
            opts,
        )
    return Foundation(ctx, opts, account_id, key, data_bucket, artifacts, registry, None)
