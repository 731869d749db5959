"""Naming and tagging shared by every component of one stack (one blueprint environment)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlops_bp.blueprints import Blueprint, Environment

__all__ = ["DEPLOY_TOKENS", "Deployment", "StackContext"]


# Pulumi secret config (key in the mlops-bp namespace) holding the token that starts the
# repository's deploy pipeline, per CI system, and what that token must be.
DEPLOY_TOKENS = {
    # Creating a workflow dispatch event needs Actions: write (GitHub REST API docs).
    "github": ("githubDispatchToken", "fine-grained GitHub token of the repository with Actions: write"),
    "gitlab": ("gitlabPipelineToken", "GitLab project access token with the api scope"),
}


@dataclass(frozen=True)
class Deployment:
    """What a deploying CI run pins (stack config set by the repo's deploy workflow). Empty on
    a fresh account's first `pulumi up`, which then declares nothing that needs an image or a
    model: serving, scheduled training and retraining appear with the first deploy.

    - `image_tag`: the commit whose images CI pushed (`<repository>:<sha>` serving,
      `<repository>:train-<sha>` training); scheduled and drift-started runs use them.
    - `model_package_arn`: the approved model package every variant serves (level 2 on);
      `variant_packages` names another approved package for some variants (challengers).
    - `baseline_uri`: S3 prefix of the served package's drift-check baseline
      (statistics.json, constraints.json), which data-quality monitoring compares against.
    - `model_digests`: (package ARN, sha256 of its model file) of every served package, as
      recorded at registration; the serving container refuses a model file that differs.
    """

    git_sha: str | None = None
    # The token that lets a model approval start the repo's deploy pipeline (a Pulumi secret
    # Output from stack config `DEPLOY_TOKENS[ci]`), None when the stack config has none.
    dispatch_token: Any = None
    model_version: str | None = None
    model_package_arn: str | None = None
    image_tag: str | None = None
    variant_packages: tuple[tuple[str, str], ...] = ()
    baseline_uri: str | None = None
    model_digests: tuple[tuple[str, str], ...] = ()

    def digest_for(self, package: str) -> str | None:
        """The recorded sha256 of `package`'s model file."""
        return dict(self.model_digests).get(package)

    def package_for(self, variant: str) -> str | None:
        """The model package `variant` serves: its own, else the champion's."""
        return dict(self.variant_packages).get(variant, self.model_package_arn)

    @property
    def tags(self) -> dict[str, str]:
        """Traceability tags of the deployed serving resources."""
        values = {"mlops-bp:git-sha": self.git_sha, "mlops-bp:model-version": self.model_version}
        return {key: value for key, value in values.items() if value}


@dataclass(frozen=True)
class StackContext:
    """Who the resources belong to: project, environment, region, their tags, and what the
    current deploy pins."""

    project: str
    environment: str
    region: str
    tags: dict[str, str] = field(default_factory=dict)
    deployment: Deployment = field(default_factory=Deployment)

    @classmethod
    def from_blueprint(
        cls, blueprint: Blueprint, environment: Environment, deployment: Deployment | None = None
    ) -> StackContext:
        tags = {
            **blueprint.tags,
            "mlops-bp:project": blueprint.name,
            "mlops-bp:environment": environment.name,
            "mlops-bp:level": str(int(blueprint.level)),
            "managed-by": "mlops-bp",
        }
        return cls(
            project=blueprint.name,
            environment=environment.name,
            region=blueprint.region,
            tags=tags,
            deployment=deployment or Deployment(),
        )

    @property
    def prefix(self) -> str:
        """`<project>-<environment>`: the stem of every logical and physical name."""
        return f"{self.project}-{self.environment}"

    def name(self, role: str) -> str:
        return f"{self.prefix}-{role}"

    def bucket_prefix(self, role: str, environment: str | None = None) -> str:
        """S3 allows 37 characters of prefix; Pulumi appends a unique suffix. `environment`
        names another environment's bucket (for a policy that reaches it by prefix)."""
        return f"{self.project}-{environment or self.environment}-{role}-"[:37]
