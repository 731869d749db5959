"""Turn Pulumi stack config into a Blueprint and run the program (used by every Pulumi.yaml)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pulumi

from mlops_bp.blueprints import MlopsBpError, UserError, blueprint_from_data, load_blueprint

from .context import Deployment
from .program import build

__all__ = ["MODEL_PACKAGE_ARN", "blueprint_data_from_config", "run_from_config"]

MODEL_PACKAGE_ARN = re.compile(r"arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/[A-Za-z0-9-]+/\d+")

_SCALAR_KEYS = ("name", "platform", "region", "github", "oidc_provider_arn")
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
    model_package_arn = config.get("modelPackageArn")
    if model_package_arn and not MODEL_PACKAGE_ARN.fullmatch(model_package_arn):
        raise UserError(f"mlops-bp:modelPackageArn: not a SageMaker model package ARN (got {model_package_arn!r})")
    deployment = Deployment(
        git_sha=config.get("gitSha"),
        model_version=config.get("modelVersion"),
        model_package_arn=model_package_arn or None,
    )
    build(blueprint, environment, deployment)
