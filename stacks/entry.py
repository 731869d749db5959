"""Turn Pulumi stack config into a Blueprint and run the program (used by every Pulumi.yaml)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pulumi

from mlops_bp.blueprints import Blueprint, MlopsBpError, UserError, blueprint_from_data, load_blueprint
from mlops_bp.blueprints.constants import IMAGE_TAG, MODEL_PACKAGE_ARN, SHA256_HEX

from .context import DEPLOY_TOKENS, Deployment
from .program import build

__all__ = [
    "MODEL_PACKAGE_ARN",
    "blueprint_data_from_config",
    "deployment_from_config",
    "dispatch_token",
    "run_from_config",
]

BASELINE_URI = re.compile(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[A-Za-z0-9!_.*'()/-]*)?")

# The blueprint's top-level keys as stack config (`pulumi config set mlops-bp:<key>`); a test
# keeps them in step with the Blueprint's fields.
_SCALAR_KEYS = ("name", "platform", "region", "github", "gitlab", "gitlab_host", "oidc_provider_arn", "state_bucket")
_OBJECT_KEYS = (
    "environments",
    "tags",
    "network",
    "storage",
    "registry",
    "notebook",
    "training",
    "serving",
    "monitoring",
    "kubernetes",
    "rules",
)


def blueprint_data_from_config(config: pulumi.Config) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key in _SCALAR_KEYS:
        value = config.get(key)
        if value is not None:
            data[key] = value
    level = config.get_int("level")
    if level is not None:
        data["level"] = level
    for key in _OBJECT_KEYS:
        value = config.get_object(key)
        if value is not None:
            data[key] = value
    return data


def run_from_config(config: pulumi.Config, stack: str) -> None:
    """Build the stack; a bad blueprint stops `pulumi up` with one clear line, no traceback."""
    try:
        _run(config, stack)
    except MlopsBpError as exc:
        raise pulumi.RunError(f"mlops-bp: {exc}") from None


def _run(config: pulumi.Config, stack: str) -> None:
    overrides = blueprint_data_from_config(config)
    path = config.get("config")
    if path:
        blueprint = load_blueprint(Path(path), overrides=overrides)
    else:
        blueprint = blueprint_from_data(overrides, "stack config")
    environment = config.get("environment") or (stack if any(e.name == stack for e in blueprint.environments) else None)
    build(blueprint, environment, deployment_from_config(config, blueprint))


def _checked(config: pulumi.Config, key: str, pattern: re.Pattern[str], what: str) -> str | None:
    value = config.get(key) or None
    if value is not None and not pattern.fullmatch(value):
        raise UserError(f"mlops-bp:{key}: not {what} (got {value[:200]!r})")
    return value


def deployment_from_config(config: pulumi.Config, blueprint: Blueprint) -> Deployment:
    """What the deploy workflow pinned in stack config, each value checked: it may come from an
    event payload, so it is untrusted input."""
    image_tag = _checked(config, "imageTag", IMAGE_TAG, "an image tag")
    if image_tag == "latest":
        raise UserError("mlops-bp:imageTag: must be a commit's tag, not 'latest'")
    variant_packages = config.get_object("variantModelPackages") or {}
    if not isinstance(variant_packages, dict):
        raise UserError("mlops-bp:variantModelPackages: must be an object {variant: model package ARN}")
    variants = {v.name for v in blueprint.serving.variants}
    for variant, arn in variant_packages.items():
        if variant not in variants:
            raise UserError(
                f"mlops-bp:variantModelPackages: {str(variant)[:64]!r} is not a serving variant "
                f"(one of {', '.join(sorted(variants))})"
            )
        if not isinstance(arn, str) or not MODEL_PACKAGE_ARN.fullmatch(arn):
            raise UserError(f"mlops-bp:variantModelPackages.{variant}: not a SageMaker model package ARN")
    package = _checked(config, "modelPackageArn", MODEL_PACKAGE_ARN, "a SageMaker model package ARN")
    return Deployment(
        git_sha=config.get("gitSha"),
        dispatch_token=dispatch_token(config, blueprint),
        model_version=config.get("modelVersion"),
        model_package_arn=package,
        image_tag=image_tag,
        variant_packages=tuple(sorted(variant_packages.items())),
        baseline_uri=_checked(config, "baselineUri", BASELINE_URI, "an S3 URI (s3://bucket/prefix)"),
        model_digests=_model_digests(config, [package, *variant_packages.values()]),
    )


def dispatch_token(config: pulumi.Config, blueprint: Blueprint) -> pulumi.Output[str] | None:
    """The secret token of the blueprint's CI system that a model approval starts deploys with."""
    ci = "github" if blueprint.github else "gitlab" if blueprint.gitlab else None
    return config.get_secret(DEPLOY_TOKENS[ci][0]) if ci else None


def _model_digests(config: pulumi.Config, served: list[str | None]) -> tuple[tuple[str, str], ...]:
    """`mlops-bp:modelDigests` {package ARN: sha256 of its model file}, which the deploy workflow
    reads from each package's registration record: every served package needs one."""
    digests = config.get_object("modelDigests") or {}
    if not isinstance(digests, dict):
        raise UserError("mlops-bp:modelDigests: must be an object {model package ARN: sha256}")
    for arn, digest in digests.items():
        if not MODEL_PACKAGE_ARN.fullmatch(str(arn)) or not isinstance(digest, str) or not SHA256_HEX.fullmatch(digest):
            raise UserError(f"mlops-bp:modelDigests: {str(arn)[:200]!r}: not a package ARN with a sha256 hex digest")
    for arn in served:
        if arn is not None and arn not in digests:
            raise UserError(
                f"mlops-bp:modelDigests: no recorded digest for {arn}: deploys pin it with infra/deploy_config.py"
            )
    return tuple(sorted(digests.items()))
