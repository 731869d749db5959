"""Loading, saving and describing blueprints (`mlops-bp.yaml`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError

from .constants import BLUEPRINT_FILENAME, SCHEMA_FILENAME
from .errors import BlueprintError, UserError, format_validation_error
from .models import PATTERN_HINTS, Blueprint, data_at_level
from .userfiles import load_user_yaml

__all__ = [
    "BLUEPRINT_FILENAME",
    "SCHEMA_FILENAME",
    "apply_overrides",
    "blueprint_from_data",
    "dump_blueprint",
    "json_schema",
    "load_blueprint",
    "save_blueprint",
]


def blueprint_from_data(data: Any, source: str | None = None) -> Blueprint:
    """Validate plain data (from YAML, flags or Pulumi config) into a resolved Blueprint."""
    if not isinstance(data, dict):
        where = f"{source}: " if source else ""
        raise BlueprintError(f"{where}expected a mapping of blueprint keys, got {type(data).__name__}")
    try:
        return Blueprint.model_validate(data)
    except ValidationError as exc:
        raise BlueprintError(format_validation_error(exc, source, PATTERN_HINTS, _allowed_keys)) from None


def _allowed_keys(loc: tuple) -> list[str]:
    """The keys of the model at `loc` of a blueprint (none where it is not a model)."""
    model: Any = Blueprint
    for part in loc:
        field = model.model_fields.get(part) if isinstance(part, str) and hasattr(model, "model_fields") else None
        if field is None:
            return []
        model = next((a for a in (field.annotation, *get_args(field.annotation)) if isinstance(a, type)), None)
        if model is None or not issubclass(model, BaseModel):
            return []
    return list(model.model_fields)


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any] | None) -> dict[str, Any]:
    """Blueprint data with `overrides` (flags, stack config) on top; None means not given. A
    level override moves the data to that level as `Blueprint.with_level` does."""
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    if "level" in given:
        data = data_at_level(data, given.pop("level"))
    return {**data, **given}


def load_blueprint(path: str | Path, overrides: dict[str, Any] | None = None) -> Blueprint:
    """Read `mlops-bp.yaml`; `overrides` (e.g. CLI flags) win over the file."""
    path = Path(path)
    try:
        data = load_user_yaml(path, "config")
    except UserError as exc:
        raise BlueprintError(str(exc)) from None
    if data is None:
        data = {}
    if isinstance(data, dict):
        data = apply_overrides(data, overrides)
    return blueprint_from_data(data, str(path))


def dump_blueprint(blueprint: Blueprint, schema_ref: str | None = SCHEMA_FILENAME) -> str:
    """The resolved blueprint as YAML, stable (same blueprint -> same bytes)."""
    header = f"# yaml-language-server: $schema={schema_ref}\n" if schema_ref else ""
    body = yaml.safe_dump(blueprint.model_dump(mode="json"), sort_keys=False, default_flow_style=False)
    return header + body


def save_blueprint(blueprint: Blueprint, path: str | Path, schema_ref: str | None = SCHEMA_FILENAME) -> None:
    Path(path).write_text(dump_blueprint(blueprint, schema_ref), encoding="utf-8")


def json_schema() -> str:
    """The JSON schema of `mlops-bp.yaml`, generated from the models."""
    schema = Blueprint.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "mlops-bp blueprint"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
