"""The blueprint spec: pydantic models, the level catalog and mlops-bp.yaml I/O.

Pure data and validation: this package imports neither pulumi nor typer.
"""

from .catalog import CAPABILITIES, FEATURES, LEVELS, Feature, LevelInfo, features_at
from .errors import BlueprintError, MlopsBpError, UserError, format_validation_error
from .io import (
    BLUEPRINT_FILENAME,
    SCHEMA_FILENAME,
    blueprint_from_data,
    dump_blueprint,
    json_schema,
    load_blueprint,
    save_blueprint,
)
from .kubernetes import ClusterSettings, KubernetesServing, KubernetesSettings
from .models import (
    SPEC_VERSION,
    Blueprint,
    EndpointMode,
    Environment,
    MaturityLevel,
    MonitoringSettings,
    NetworkSettings,
    NotebookSettings,
    Platform,
    RegistrySettings,
    ServingSettings,
    StorageSettings,
    TrainingSettings,
    Variant,
)

__all__ = [
    "BLUEPRINT_FILENAME",
    "CAPABILITIES",
    "FEATURES",
    "LEVELS",
    "SCHEMA_FILENAME",
    "SPEC_VERSION",
    "Blueprint",
    "BlueprintError",
    "ClusterSettings",
    "EndpointMode",
    "Environment",
    "Feature",
    "KubernetesServing",
    "KubernetesSettings",
    "LevelInfo",
    "MaturityLevel",
    "MlopsBpError",
    "MonitoringSettings",
    "NetworkSettings",
    "NotebookSettings",
    "Platform",
    "RegistrySettings",
    "ServingSettings",
    "StorageSettings",
    "TrainingSettings",
    "UserError",
    "Variant",
    "blueprint_from_data",
    "dump_blueprint",
    "features_at",
    "format_validation_error",
    "json_schema",
    "load_blueprint",
    "save_blueprint",
]
