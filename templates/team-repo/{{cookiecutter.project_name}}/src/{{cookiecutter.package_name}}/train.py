"""Training entry point: load data, fit, evaluate against the quality gate, save.

Runs locally (`make train`) and as a {% if cookiecutter.platform == "sagemaker" %}SageMaker training job{% else %}Kubernetes Job{% endif %}: the model goes to the model
directory (SageMaker's /opt/ml/model contract) and metrics are printed as `name=value` lines,
which training-job metric definitions parse.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from .config import METRIC_NAME, METRIC_THRESHOLD, model_dir
from .data import Dataset, load_csv, load_dataset, split
from .evaluate import QualityGateError, check_threshold, evaluate
from .features import baseline, build_preprocessor
from .model_io import save_model


@dataclass(frozen=True)
class TrainingResult:
    model: Pipeline
    metrics: dict[str, float]
    metadata: dict


def build_model() -> Pipeline:
    return Pipeline(
        [("scale", build_preprocessor()), ("classify", LogisticRegression(max_iter=1000))]
    )


def train(dataset: Dataset) -> TrainingResult:
    """Fit on a stratified split and evaluate on the held-out part."""
    parts = split(dataset)
    model = build_model().fit(parts.train.features, parts.train.target)
    metrics = evaluate(model, parts.test)
    metadata = {
        "feature_names": list(dataset.feature_names),
        "baseline": baseline(parts.train.features),
        "metrics": metrics,
        "quality_gate": {"metric": METRIC_NAME, "threshold": METRIC_THRESHOLD},
    }
    return TrainingResult(model, metrics, metadata)


def _training_data(data: Path | None) -> Dataset:
    channel = os.environ.get("SM_CHANNEL_TRAIN")
    if data is None and channel:
        data = Path(channel) / "train.csv"
    return load_csv(data) if data is not None else load_dataset()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # SageMaker starts training containers with the argument `train`.
    parser.add_argument("command", nargs="?", choices=["train"], help=argparse.SUPPRESS)
    parser.add_argument("--model-dir", type=Path, default=None, help="default: MODEL_DIR")
    parser.add_argument("--data", type=Path, default=None, help="CSV (default: bundled data)")
    args = parser.parse_args(argv)
    result = train(_training_data(args.data))
    for name, value in sorted(result.metrics.items()):
        print(f"{name}={value:.4f}")
    try:
        check_threshold(result.metrics)
    except QualityGateError as exc:
        print(f"quality gate failed: {exc}; the model is not saved", file=sys.stderr)
        return 1
    target = args.model_dir or model_dir()
    save_model(result.model, result.metadata, target)
    output = os.environ.get("SM_OUTPUT_DATA_DIR")
    if output:  # the pipeline's evaluation step reads this report
        report = json.dumps({"metrics": result.metrics}, sort_keys=True)
        Path(output, "evaluation.json").write_text(report + "\n", encoding="utf-8")
    print(f"model saved to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
