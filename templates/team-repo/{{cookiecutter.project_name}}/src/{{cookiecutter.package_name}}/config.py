"""Settings of the model. Values a platform sets come from the environment."""

from __future__ import annotations

import os
from pathlib import Path

# The quality gate of mlops-bp.yaml (training.metric_name / training.metric_threshold).
METRIC_NAME = "{{ cookiecutter.metric_name }}"
METRIC_THRESHOLD = {{ cookiecutter.metric_threshold }}
RANDOM_STATE = 42
TEST_SIZE = 0.2
SERVING_PORT = 8080
# The expected sha256 of the served model file (set by mlops-bp's stack on SageMaker models).
MODEL_DIGEST_VARIABLE = "MLOPS_BP_MODEL_SHA256"
# Requests above these sizes are refused with 413 (MAX_REQUEST_BYTES, MAX_REQUEST_ROWS).
DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024
DEFAULT_MAX_REQUEST_ROWS = 1000
{%- if cookiecutter.platform == "kubernetes" and cookiecutter.level|int >= 2 %}
# The MLflow registered model (MODEL_NAME, set by the stack) and the alias an approval sets.
DEFAULT_MODEL_NAME = "{{ cookiecutter.project_name }}"
CHAMPION_ALIAS = "champion"
{%- endif %}
{%- if cookiecutter.level|int >= 4 %}
# monitoring.drift_threshold: the share of features whose live mean left the training baseline.
DRIFT_THRESHOLD = {{ cookiecutter.drift_threshold }}
{%- endif %}


def model_dir() -> Path:
    """Where the model is saved and loaded: MODEL_DIR, else /opt/ml/model (SageMaker's path)."""
    return Path(os.environ.get("MODEL_DIR") or "/opt/ml/model")


def expected_model_sha256() -> str | None:
    """The sha256 the model file must have: MLOPS_BP_MODEL_SHA256, which the stack sets on a
    SageMaker model from its package's registration; None (no check) when unset."""
    return os.environ.get(MODEL_DIGEST_VARIABLE) or None


{%- if cookiecutter.platform == "kubernetes" and cookiecutter.level|int >= 2 %}


def registered_model_name(environ: dict[str, str]) -> str:
    """The registered model of the environment's MLflow: MODEL_NAME, else the project name."""
    return environ.get("MODEL_NAME") or DEFAULT_MODEL_NAME
{%- endif %}


def max_request_bytes() -> int:
    return _positive_int("MAX_REQUEST_BYTES", DEFAULT_MAX_REQUEST_BYTES)


def max_request_rows() -> int:
    return _positive_int("MAX_REQUEST_ROWS", DEFAULT_MAX_REQUEST_ROWS)


def _positive_int(variable: str, default: int) -> int:
    text = os.environ.get(variable)
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{variable} must be a positive integer, got {text!r}")
    return value
