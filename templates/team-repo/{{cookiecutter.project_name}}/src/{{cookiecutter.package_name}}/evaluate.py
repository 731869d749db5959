"""Model evaluation and the quality gate: a model below the threshold is not shipped."""

from __future__ import annotations

from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score
from sklearn.pipeline import Pipeline

from .config import METRIC_NAME, METRIC_THRESHOLD
from .data import Dataset


class QualityGateError(Exception):
    """The trained model scored below the threshold."""


def evaluate(model: Pipeline, dataset: Dataset) -> dict[str, float]:
    predicted = model.predict(dataset.features)
    scores = model.predict_proba(dataset.features)[:, 1]
    y = dataset.target
    return {
        "accuracy": float(accuracy_score(y, predicted)),
        "f1": float(f1_score(y, predicted)),
        "precision": float(precision_score(y, predicted)),
        "recall": float(recall_score(y, predicted)),
        "roc_auc": float(roc_auc_score(y, scores)),
    }


def check_threshold(
    metrics: dict[str, float], name: str = METRIC_NAME, threshold: float = METRIC_THRESHOLD
) -> None:
    if metrics[name] < threshold:
        raise QualityGateError(f"{name} {metrics[name]:.4f} is below the threshold {threshold}")
