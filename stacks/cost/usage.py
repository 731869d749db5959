"""The usage profile: the load a cost estimate assumes (Infracost's usage file, for mlops-bp).

Defaults describe a small team; settings that the blueprint already states (training
instance type and count, how often the pipeline runs) default from the blueprint. A usage
YAML overrides any of them, e.g.:

    inference: {requests_per_month: 2000000, duration_ms: 120}
    training: {runs_per_month: 30, training_hours_per_run: 0.5}

`mlops-bp schema --usage` prints the file's JSON schema (generated from these models).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlops_bp.blueprints import Blueprint, UserError, format_validation_error
from mlops_bp.blueprints.userfiles import load_user_yaml

__all__ = ["UsageProfile", "load_usage", "runs_per_month", "usage_for", "usage_schema"]

HOURS_PER_MONTH = 730
DAYS_PER_MONTH = HOURS_PER_MONTH / 24
INSTANCE_PATTERN = r"^ml\.[a-z0-9]+\.[a-z0-9]+$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class NotebookUsage(_Strict):
    hours_per_month: float = Field(40, ge=0, le=744, description="Hours the notebook runs (it stops itself when idle).")


class StorageUsage(_Strict):
    gb_per_bucket: float = Field(20, ge=0, description="GB stored in each bucket, noncurrent versions included.")
    write_requests_per_bucket: float = Field(10_000, ge=0, description="PUT/COPY/POST/LIST requests a month.")
    read_requests_per_bucket: float = Field(100_000, ge=0, description="GET requests a month.")


class RegistryUsage(_Strict):
    gb_stored: float = Field(5, ge=0, description="GB of images kept in each repository.")


class KmsUsage(_Strict):
    requests_per_month: float = Field(100_000, ge=0, description="Encrypt/decrypt requests per key.")


class TrainingUsage(_Strict):
    runs_per_month: float = Field(ge=0, description="Pipeline runs a month (default: from training.schedule).")
    training_hours_per_run: float = Field(1, ge=0)
    processing_hours_per_run: float = Field(0.5, ge=0, description="Preprocessing and evaluation jobs.")
    instance_type: str = Field(pattern=INSTANCE_PATTERN, description="Default: the blueprint's training.instance_type.")
    instance_count: int = Field(ge=1, le=64, description="Default: the blueprint's training.instance_count.")


class InferenceUsage(_Strict):
    requests_per_month: float = Field(100_000, ge=0, description="Requests to each endpoint, split by variant weight.")
    duration_ms: float = Field(200, ge=0, description="Average model latency (serverless compute time).")
    payload_kb: float = Field(10, ge=0, description="Average request and response size.")


class MonitoringUsage(_Strict):
    minutes_per_run: float = Field(10, ge=0, description="Billed minutes of each model-monitor job run.")


class LogsUsage(_Strict):
    ingested_gb_per_group: float = Field(1, ge=0)
    stored_gb_per_group: float = Field(2, ge=0)


class NotificationsUsage(_Strict):
    publishes_per_month: float = Field(100, ge=0)
    emails_per_month: float = Field(100, ge=0)


class EventsUsage(_Strict):
    api_destination_invocations_per_month: float = Field(30, ge=0, description="E.g. deploy dispatches.")
    custom_events_per_month: float = Field(1_000, ge=0)


class SecretsUsage(_Strict):
    api_calls_per_month: float = Field(10_000, ge=0)


class FunctionsUsage(_Strict):
    invocations_per_month: float = Field(1_000, ge=0)
    duration_ms: float = Field(500, ge=0)
    memory_gb: float = Field(0.125, gt=0, le=10)


class UsageProfile(_Strict):
    """The monthly load an estimate's "at usage" column assumes, per environment."""

    notebook: NotebookUsage = Field(default_factory=NotebookUsage)
    storage: StorageUsage = Field(default_factory=StorageUsage)
    registry: RegistryUsage = Field(default_factory=RegistryUsage)
    kms: KmsUsage = Field(default_factory=KmsUsage)
    training: TrainingUsage
    inference: InferenceUsage = Field(default_factory=InferenceUsage)
    monitoring: MonitoringUsage = Field(default_factory=MonitoringUsage)
    logs: LogsUsage = Field(default_factory=LogsUsage)
    notifications: NotificationsUsage = Field(default_factory=NotificationsUsage)
    events: EventsUsage = Field(default_factory=EventsUsage)
    secrets: SecretsUsage = Field(default_factory=SecretsUsage)
    functions: FunctionsUsage = Field(default_factory=FunctionsUsage)


_PER_MONTH = {"minute": HOURS_PER_MONTH * 60, "hour": HOURS_PER_MONTH, "day": DAYS_PER_MONTH}
_DAYS_OF_WEEK = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]


def _count(field: str, size: int, names: list[str] | None = None) -> float:
    """How many values of a cron field (minutes: size 60, hours: 24, ...) match."""
    if field in {"*", "?"}:
        return size
    total = 0.0
    for part in field.split(","):
        base, _, step = part.partition("/")
        if base in {"*", ""}:
            span = size
        elif "-" in base:
            lo, hi = (names.index(x) if names and x in names else int(x) for x in base.split("-", 1))
            span = hi - lo + 1
        else:
            span = 1 if not step else size  # `5/15`: from 5 every 15
        total += span / int(step) if step else span
    return total


def runs_per_month(expression: str) -> float:
    """How often an EventBridge/SageMaker `rate(...)` or `cron(...)` expression fires a month."""
    text = expression.strip()
    rate = re.fullmatch(r"rate\((\d+) (minute|hour|day)s?\)", text)
    if rate:
        return _PER_MONTH[rate.group(2)] / int(rate.group(1))
    cron = re.fullmatch(r"cron\((.+)\)", text)
    fields = cron.group(1).split() if cron else []
    if len(fields) != 6:
        raise ValueError(f"not a cron()/rate() expression: {expression!r}")
    minutes, hours, dom, _month, dow, _year = fields
    per_day = _count(minutes, 60) * _count(hours, 24)
    if dow not in {"*", "?"}:
        days = _count(dow.upper(), 7, _DAYS_OF_WEEK) * DAYS_PER_MONTH / 7
    elif dom not in {"*", "?"}:
        days = _count(dom, 31)
    else:
        days = DAYS_PER_MONTH
    return per_day * days


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def usage_for(blueprint: Blueprint, data: dict[str, Any] | None = None, source: str = "usage") -> UsageProfile:
    """The usage profile of `blueprint`: its defaults, with `data` (a usage file) on top."""
    defaults = {
        "training": {
            "runs_per_month": round(runs_per_month(blueprint.training.schedule), 2),
            "instance_type": blueprint.training.instance_type,
            "instance_count": blueprint.training.instance_count,
        }
    }
    try:
        return UsageProfile.model_validate(_merge(defaults, data or {}))
    except ValidationError as exc:
        raise UserError(format_validation_error(exc, source)) from None


def load_usage(path: str | Path) -> dict[str, Any]:
    """The raw mapping of a usage YAML file (validated against a blueprint by `usage_for`)."""
    path = Path(path)
    data = load_user_yaml(path, "usage")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of usage sections, got {type(data).__name__}")
    return data


def usage_schema() -> str:
    """The JSON schema of a usage file (`mlops-bp cost --usage FILE`): every section optional,
    every value defaulting as in UsageProfile (training's from the blueprint)."""
    import json

    schema = UsageProfile.model_json_schema(mode="validation")
    schema["required"] = []
    for definition in schema.get("$defs", {}).values():
        definition.pop("required", None)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "mlops-bp cost usage file"
    schema["description"] = (
        "The monthly load `mlops-bp cost --usage FILE` assumes per environment, section by section; "
        "unset values keep their defaults (training's default from the blueprint)."
    )
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
