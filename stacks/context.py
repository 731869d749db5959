"""Naming and tagging shared by every component of one stack (one blueprint environment)."""

from __future__ import annotations

from dataclasses import dataclass, field

from mlops_bp.blueprints import Blueprint, Environment

__all__ = ["StackContext"]


@dataclass(frozen=True)
class StackContext:
    """Who the resources belong to: project, environment, region and their tags."""

    project: str
    environment: str
    region: str
    tags: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_blueprint(
        cls, blueprint: Blueprint, environment: Environment, deploy_tags: dict[str, str] | None = None
    ) -> StackContext:
        """`deploy_tags` (git sha, model version) come from the deploying CI run, for traceability."""
        tags = {
            **blueprint.tags,
            **(deploy_tags or {}),
            "mlops-bp:project": blueprint.name,
            "mlops-bp:environment": environment.name,
            "mlops-bp:level": str(int(blueprint.level)),
            "managed-by": "mlops-bp",
        }
        return cls(project=blueprint.name, environment=environment.name, region=blueprint.region, tags=tags)

    @property
    def prefix(self) -> str:
        """`<project>-<environment>`: the stem of every logical and physical name."""
        return f"{self.project}-{self.environment}"

    def name(self, role: str) -> str:
        return f"{self.prefix}-{role}"

    def bucket_prefix(self, role: str) -> str:
        """S3 allows 37 characters of prefix; Pulumi appends a unique suffix."""
        return f"{self.prefix}-{role}-"[:37]
