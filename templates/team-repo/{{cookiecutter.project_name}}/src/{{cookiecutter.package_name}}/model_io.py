"""Saving and loading a trained model with the metadata serving needs.

The model is saved with skops (model.skops), which rebuilds only the types it is told to trust
instead of running whatever a pickle says: skops' own defaults (scikit-learn's estimators, numpy
and scipy basics) and TRUSTED_TYPES, the classes of the pipeline train.build_model makes. The
loader never asks the file which types to trust. With an expected sha256 (recorded when the model
was registered), a file that differs is refused before anything in it is read as a model.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import skops.io
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from skops.io.exceptions import UntrustedTypesFoundException

MODEL_FILE = "model.skops"
METADATA_FILE = "metadata.json"
# The classes of the model train.build_model makes (tests/test_train.py keeps them in step).
TRUSTED_TYPES: tuple[type, ...] = (Pipeline, StandardScaler, LogisticRegression)
# Characters of a digest shown in messages.
SHORT_DIGEST = 12


class ModelNotFoundError(FileNotFoundError):
    """No trained model in the model directory (train one first)."""


class ModelIntegrityError(ValueError):
    """The model file is not the one expected: another digest, or types nobody trusted."""


@dataclass(frozen=True)
class LoadedModel:
    model: Pipeline
    metadata: dict[str, Any]

    @property
    def n_features(self) -> int:
        return len(self.metadata["feature_names"])


def file_sha256(path: Path) -> str:
    """The sha256 of a file as hex, read in chunks (a model archive may be large)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_model(model: Pipeline, metadata: dict[str, Any], directory: Path) -> None:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    skops.io.dump(model, directory / MODEL_FILE)
    text = json.dumps(metadata, indent=2, sort_keys=True) + "\n"
    (directory / METADATA_FILE).write_text(text, encoding="utf-8")


def load_model(directory: Path, expected_sha256: str | None = None) -> LoadedModel:
    """The model of `directory`; with `expected_sha256`, only if model.skops has that digest."""
    directory = Path(directory)
    path = directory / MODEL_FILE
    if not path.is_file():
        raise ModelNotFoundError(f"no {MODEL_FILE} in {directory}")
    # One read: the bytes whose digest is checked are the bytes that are deserialised.
    data = path.read_bytes()
    if expected_sha256 is not None:
        actual = hashlib.sha256(data).hexdigest()
        expected = expected_sha256.strip().lower()
        if actual != expected:
            raise ModelIntegrityError(
                f"{path}: sha256 {actual[:SHORT_DIGEST]}... differs from the expected "
                f"{expected[:SHORT_DIGEST]}...; refusing to load it"
            )
    try:
        model = skops.io.loads(data, trusted=list(TRUSTED_TYPES))
    except UntrustedTypesFoundException as exc:
        untrusted = str(exc).splitlines()[0]  # skops adds notes on further lines
        raise ModelIntegrityError(f"{path}: refusing to load it. {untrusted}") from None
    metadata = json.loads((directory / METADATA_FILE).read_text(encoding="utf-8"))
    return LoadedModel(model, metadata)
