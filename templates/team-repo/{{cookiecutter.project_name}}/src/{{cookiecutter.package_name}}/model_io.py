"""Saving and loading a trained model with the metadata serving needs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
from sklearn.pipeline import Pipeline

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"


class ModelNotFoundError(FileNotFoundError):
    """No trained model in the model directory (train one first)."""


@dataclass(frozen=True)
class LoadedModel:
    model: Pipeline
    metadata: dict[str, Any]

    @property
    def n_features(self) -> int:
        return len(self.metadata["feature_names"])


def save_model(model: Pipeline, metadata: dict[str, Any], directory: Path) -> None:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, directory / MODEL_FILE)
    text = json.dumps(metadata, indent=2, sort_keys=True) + "\n"
    (directory / METADATA_FILE).write_text(text, encoding="utf-8")


def load_model(directory: Path) -> LoadedModel:
    directory = Path(directory)
    if not (directory / MODEL_FILE).is_file():
        raise ModelNotFoundError(f"no {MODEL_FILE} in {directory}")
    # Only load models this project trained: joblib files can run code when loaded.
    model = joblib.load(directory / MODEL_FILE)
    metadata = json.loads((directory / METADATA_FILE).read_text(encoding="utf-8"))
    return LoadedModel(model, metadata)
