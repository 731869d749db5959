"""The blueprint spec: pydantic models, the level catalog and mlops-bp.yaml I/O.

Pure data and validation: this package imports neither pulumi nor typer. Names load lazily
(PEP 562), so that `from mlops_bp.blueprints import UserError` on the CLI's startup path does
not build the pydantic models.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# public name -> submodule that defines it
_EXPORTS = {
    "CAPABILITIES": "catalog",
    "FEATURES": "catalog",
    "LEVELS": "catalog",
    "Feature": "catalog",
    "LevelInfo": "catalog",
    "features_at": "catalog",
    "BLUEPRINT_FILENAME": "constants",
    "SCHEMA_FILENAME": "constants",
    "SPEC_VERSION": "constants",
    "ENDPOINT_SMALLEST_INSTANCE": "instances",
    "has_local_nvme": "instances",
    "EndpointMode": "enums",
    "MaturityLevel": "enums",
    "Platform": "enums",
    "BlueprintError": "errors",
    "MlopsBpError": "errors",
    "UserError": "errors",
    "format_validation_error": "errors",
    "blueprint_from_data": "io",
    "dump_blueprint": "io",
    "json_schema": "io",
    "load_blueprint": "io",
    "save_blueprint": "io",
    "ClusterSettings": "kubernetes",
    "KubernetesServing": "kubernetes",
    "KubernetesSettings": "kubernetes",
    "Blueprint": "models",
    "Environment": "models",
    "MonitoringSettings": "models",
    "NetworkSettings": "models",
    "NotebookSettings": "models",
    "RegistrySettings": "models",
    "ServingSettings": "models",
    "StorageSettings": "models",
    "TrainingSettings": "models",
    "Variant": "models",
}

__all__ = [
    "BLUEPRINT_FILENAME",
    "Blueprint",
    "BlueprintError",
    "CAPABILITIES",
    "ClusterSettings",
    "EndpointMode",
    "ENDPOINT_SMALLEST_INSTANCE",
    "Environment",
    "FEATURES",
    "Feature",
    "KubernetesServing",
    "KubernetesSettings",
    "LEVELS",
    "LevelInfo",
    "MaturityLevel",
    "MlopsBpError",
    "MonitoringSettings",
    "NetworkSettings",
    "NotebookSettings",
    "Platform",
    "RegistrySettings",
    "SCHEMA_FILENAME",
    "SPEC_VERSION",
    "ServingSettings",
    "StorageSettings",
    "TrainingSettings",
    "UserError",
    "Variant",
    "blueprint_from_data",
    "dump_blueprint",
    "features_at",
    "format_validation_error",
    "has_local_nvme",
    "json_schema",
    "load_blueprint",
    "save_blueprint",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from .catalog import CAPABILITIES, FEATURES, LEVELS, Feature, LevelInfo, features_at
    from .constants import BLUEPRINT_FILENAME, SCHEMA_FILENAME, SPEC_VERSION
    from .enums import EndpointMode, MaturityLevel, Platform
    from .errors import BlueprintError, MlopsBpError, UserError, format_validation_error
    from .instances import ENDPOINT_SMALLEST_INSTANCE, has_local_nvme
    from .io import blueprint_from_data, dump_blueprint, json_schema, load_blueprint, save_blueprint
    from .kubernetes import ClusterSettings, KubernetesServing, KubernetesSettings
    from .models import (
        Blueprint,
        Environment,
        MonitoringSettings,
        NetworkSettings,
        NotebookSettings,
        RegistrySettings,
        ServingSettings,
        StorageSettings,
        TrainingSettings,
        Variant,
    )
