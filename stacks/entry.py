"""Turn Pulumi stack config into a Blueprint and run the program (used by every Pulumi.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi

from mlops_bp.blueprints import MlopsBpError, blueprint_from_data, load_blueprint

from .program import build

__all__ = ["blueprint_data_from_config", "run_from_config"]

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
    deploy_tags = {
        tag: value
        for tag, value in (
            ("mlops-bp:git-sha", config.get("gitSha")),
            ("mlops-bp:model-version", config.get("modelVersion")),
        )
        if value
    }
    build(blueprint, environment, deploy_tags)
