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
{%- if cookiecutter.level|int >= 4 %}
# monitoring.drift_threshold: the share of features whose live mean left the training baseline.
DRIFT_THRESHOLD = {{ cookiecutter.drift_threshold }}
{%- endif %}


def model_dir() -> Path:
    """Where the model is saved and loaded: MODEL_DIR, SM_MODEL_DIR (SageMaker), /opt/ml/model."""
    return Path(os.environ.get("MODEL_DIR") or os.environ.get("SM_MODEL_DIR") or "/opt/ml/model")
