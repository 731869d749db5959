"""Feature preparation: scaling inside the model pipeline, and checks of request features."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.preprocessing import StandardScaler


class FeatureError(ValueError):
    """Features a caller sent that the model cannot use; the message says what is wrong."""


def build_preprocessor() -> StandardScaler:
    return StandardScaler()


def to_matrix(rows: Any, n_features: int, *, text: bool = False) -> np.ndarray:
    """Request rows as a float matrix of shape (n, n_features), or a FeatureError. Values are
    JSON numbers (int or float, never a bool, string or null), or with `text` CSV fields parsed
    as floats; every value must be finite."""
    if not isinstance(rows, list) or not rows:
        raise FeatureError("expected a non-empty list of rows")
    matrix = []
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != n_features:
            raise FeatureError(f"row {i}: expected a list of {n_features} numbers")
        try:
            values = [_text_number(v) if text else _json_number(v) for v in row]
        except (TypeError, ValueError):
            raise FeatureError(f"row {i}: every value must be a number") from None
        except OverflowError:
            raise FeatureError(f"row {i}: values must be finite") from None
        if not all(math.isfinite(v) for v in values):
            raise FeatureError(f"row {i}: values must be finite")
        matrix.append(values)
    return np.asarray(matrix, dtype=float)


def _json_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(value)
    return float(value)


def _text_number(value: Any) -> float:
    if not isinstance(value, str):
        raise TypeError(value)
    return float(value)


def baseline(features: np.ndarray) -> dict[str, list[float]]:
    """Per-feature mean and standard deviation of the training data (for drift checks)."""
    return {
        "mean": [float(v) for v in features.mean(axis=0)],
        "std": [float(v) for v in features.std(axis=0)],
    }
