"""The level catalog: which capability is switched on at which maturity level, and with which
default settings. It is the only place that knows what a level number means; components read
the resolved features and settings and never look at the level themselves.

Levels follow Microsoft's MLOps maturity model.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CAPABILITIES",
    "FEATURES",
    "FIELD_FEATURE",
    "LEVELS",
    "LEVEL_DEFAULTS",
    "REALTIME_ENDPOINT_FEATURE",
    "Feature",
    "LevelInfo",
    "feature_level",
    "features_at",
    "level_defaults",
    "level_numbers",
    "level_range",
]

CAPABILITIES = ("storage", "registry", "training", "serving", "monitoring", "iam")


@dataclass(frozen=True)
class LevelInfo:
    number: int
    title: str
    summary: str


@dataclass(frozen=True)
class Feature:
    name: str
    level: int
    capability: str
    description: str


LEVELS: tuple[LevelInfo, ...] = (
    LevelInfo(0, "No MLOps", "Experimentation: encrypted data lake and a managed notebook."),
    LevelInfo(1, "DevOps, no MLOps", "Containerised model, CI with OIDC, a serving endpoint, logs and alarms."),
    LevelInfo(2, "Automated training", "Training pipeline on a schedule, model registry, artifact store."),
    LevelInfo(
        3, "Automated model deployment", "Staging and prod, blue/green with rollback, A/B variants, deploy on approval."
    ),
    LevelInfo(
        4, "Full automated operations", "Data capture, drift monitoring, automatic retraining, autoscaling, dashboard."
    ),
)

FEATURES: tuple[Feature, ...] = (
    Feature("kms_key", 0, "storage", "KMS key (rotation on) for every encrypted resource"),
    Feature("data_bucket", 0, "storage", "Data bucket: versioned, SSE-KMS, public access blocked, TLS only"),
    Feature("notebook", 0, "training", "Managed notebook, stops itself when idle"),
    Feature("data_scientist_role", 0, "iam", "Data-scientist role scoped to the bucket and key"),
    Feature("container_registry", 1, "registry", "Container registry: scan on push, immutable tags, lifecycle"),
    Feature("ci_oidc_role", 1, "iam", "GitHub Actions OIDC deploy role pinned to the repo"),
    Feature("endpoint", 1, "serving", "Serving endpoint for the application's model image"),
    Feature("endpoint_logs", 1, "monitoring", "Encrypted log group with retention"),
    Feature("endpoint_alarms", 1, "monitoring", "Alarms on 5xx errors and latency to an SNS topic"),
    Feature("artifacts_bucket", 2, "storage", "Artifacts bucket with the same guarantees as the data bucket"),
    Feature("model_registry", 2, "training", "Model package group (manual approval)"),
    Feature("training_pipeline", 2, "training", "Training pipeline: process, train, evaluate, condition, register"),
    Feature("training_schedule", 2, "training", "Scheduled pipeline runs"),
    Feature("training_role", 2, "iam", "Least-privilege training execution role"),
    Feature("pipeline_failure_alerts", 2, "monitoring", "Failed pipeline runs notify the alarm topic"),
    Feature("multi_environment", 3, "serving", "Staging and prod environments"),
    Feature("blue_green", 3, "serving", "Blue/green endpoint updates with automatic rollback on alarms"),
    Feature("ab_variants", 3, "serving", "Champion/challenger variants, each serving its own approved package"),
    Feature("deploy_on_approval", 3, "serving", "Model approval dispatches the repo's deploy workflow"),
    Feature("data_capture", 4, "serving", "Endpoint data capture to the artifacts bucket"),
    Feature("model_monitor", 4, "monitoring", "Data-quality monitoring schedule"),
    Feature("drift_retraining", 4, "monitoring", "Drift alarm starts the training pipeline"),
    Feature("autoscaling", 4, "serving", "Autoscaling of real-time endpoints"),
    Feature("dashboard", 4, "monitoring", "Dashboard: invocations, latency, errors, drift"),
)

# Settings that only mean something with a feature: a blueprint whose value differs from the
# default below the feature's level is an error naming the level it needs.
FIELD_FEATURE: dict[str, str] = {
    "registry": "container_registry",
    "serving.serverless_memory_mb": "endpoint",
    "serving.serverless_max_concurrency": "endpoint",
    "serving.image_tag": "endpoint",
    "monitoring.log_retention_days": "endpoint_logs",
    "monitoring.latency_threshold_ms": "endpoint_alarms",
    "monitoring.error_5xx_threshold": "endpoint_alarms",
    "monitoring.alarm_email": "endpoint_alarms",
    "training": "training_pipeline",
    "serving.instance_type": "multi_environment",
    "serving.instance_count": "multi_environment",
    "serving.variants": "ab_variants",
    "serving.min_capacity": "autoscaling",
    "serving.max_capacity": "autoscaling",
    "serving.target_invocations_per_instance": "autoscaling",
    "serving.data_capture_percent": "data_capture",
    "monitoring.drift_threshold": "model_monitor",
    "monitoring.monitor_schedule": "model_monitor",
}
# Real-time endpoint instances come with staging and prod (prod keeps one warm).
REALTIME_ENDPOINT_FEATURE = "multi_environment"

_DEV = {"name": "dev", "endpoint": "serverless", "requires_approval": False}
# Staging scales to zero between deploys; prod keeps one small real-time instance warm.
_STAGING = {"name": "staging", "endpoint": "serverless", "requires_approval": False}
_PROD = {"name": "prod", "endpoint": "realtime", "requires_approval": True}

# Defaults that depend on the level; everything else defaults in the models.
LEVEL_DEFAULTS: dict[int, dict[str, Any]] = {
    0: {"environments": [_DEV]},
    1: {"environments": [_DEV]},
    2: {"environments": [_DEV]},
    3: {"environments": [_DEV, _STAGING, _PROD]},
    4: {"environments": [_DEV, _STAGING, _PROD]},
}


def level_numbers() -> tuple[int, ...]:
    """The level numbers the catalog defines, lowest first."""
    return tuple(info.number for info in LEVELS)


def level_range() -> str:
    """The levels as users read them in help and errors: `0-4`."""
    numbers = level_numbers()
    return f"{numbers[0]}-{numbers[-1]}"


def feature_level(name: str) -> int:
    """The level that switches feature `name` on."""
    for feature in FEATURES:
        if feature.name == name:
            return feature.level
    raise KeyError(name)


def features_at(level: int) -> frozenset[str]:
    """Names of the features switched on at `level` (each level includes those below)."""
    return frozenset(f.name for f in FEATURES if f.level <= level)


def level_defaults(level: int) -> dict[str, Any]:
    """A deep copy of the level-dependent defaults, safe to merge into user data."""
    return copy.deepcopy(LEVEL_DEFAULTS[level])
