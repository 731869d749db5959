{%- set container_mode = cookiecutter.platform == "sagemaker" and cookiecutter.level|int >= 2 -%}
{%- set registry_mode = cookiecutter.platform == "kubernetes" and cookiecutter.level|int >= 2 -%}
"""Training: fit the classifier and save it with the metadata serving needs.

`python -m {{ cookiecutter.package_name }}.train [--data CSV] [--model-dir DIR]`
(`make train`) fits on a stratified split of the bundled data (or of a CSV, see data.py),
evaluates the held-out part, prints the metrics as `name=value` lines and saves the model only
if it passes the quality gate.
{%- if container_mode %}

`{{ cookiecutter.project_name }}-train train` is how SageMaker starts the training
image (the pipeline's Train step). It follows SageMaker's training-job contract (container.py):
it fits on every row of the `train` channel with the job's hyperparameters and writes the model
to the model folder, or the reason of a failure to the failure file. The Preprocess step made
the split; the pipeline's Evaluate and CheckMetric steps are the quality gate.
{%- elif registry_mode %}

`{{ cookiecutter.project_name }}-train train` is how the training Job starts the training image
(its environment comes from the stack): it fits on the dataset at TRAINING_DATA_URI (the data
bucket's datasets/train.csv, where `dvc push` puts it), evaluates the held-out part, logs the run
to MLflow (MLFLOW_TRACKING_URI) and registers a version of MODEL_NAME only if it passes the
quality gate, with the sha256 of its model file and its metrics as tags. A version serves only
once approved: `{{ cookiecutter.project_name }}-train approve VERSION` checks the version's recorded
metrics against the same gate and points the alias `champion` at it; the next deploy rolls the
model server onto it.
{%- endif %}
"""

from __future__ import annotations

import argparse
{%- if registry_mode %}
import json
{%- endif %}
{%- if container_mode %}
import math
{%- endif %}
{%- if registry_mode %}
import os
{%- endif %}
import sys
{%- if registry_mode %}
import tempfile
{%- endif %}
{%- if container_mode %}
from collections.abc import Callable
{%- endif %}
from dataclasses import asdict, dataclass
from pathlib import Path
{%- if container_mode %}
from typing import Any
{%- endif %}

from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
{% if registry_mode %}
from .config import (
    CHAMPION_ALIAS,
    METRIC_NAME,
    METRIC_THRESHOLD,
    model_dir,
    registered_model_name,
)
from .container import one_line
{%- else %}
from .config import METRIC_NAME, METRIC_THRESHOLD, model_dir
{%- endif %}
{%- if container_mode %}
from .container import TrainingContainer
from .data import Dataset, load_csv, load_csv_dir, load_dataset, split
{%- else %}
from .data import Dataset, load_csv, load_dataset, split
{%- endif %}
from .evaluate import QualityGateError, check_threshold, evaluate
from .features import baseline, build_preprocessor
{%- if registry_mode %}
from .model_io import (
    METRICS_TAG,
    MODEL_FILE,
    SHA256_TAG,
    MlflowRegistry,
    RegistryError,
    file_sha256,
    save_model,
)
{%- else %}
from .model_io import save_model
{%- endif %}

{%- if container_mode %}

# How a training job's hyperparameters (strings) are read: type, requirement, check.
HYPERPARAMETER_RULES: dict[str, tuple[type, str, Callable[[Any], bool]]] = {
    "max_iter": (int, "an integer of at least 1", lambda value: value >= 1),
    "C": (float, "a finite number above 0", lambda value: math.isfinite(value) and value > 0),
}
{%- endif %}


@dataclass(frozen=True)
class Hyperparameters:
    """The hyperparameters of the LogisticRegression."""

    max_iter: int = 1000
    C: float = 1.0  # inverse regularization strength
{%- if container_mode %}

    @classmethod
    def from_strings(cls, values: dict[str, str]) -> Hyperparameters:
        """From a training job's hyperparameters (strings); missing ones keep their default."""
        unknown = sorted(set(values) - set(HYPERPARAMETER_RULES))
        if unknown:
            known = ", ".join(sorted(HYPERPARAMETER_RULES))
            raise ValueError(f"unknown hyperparameters {', '.join(unknown)}; known: {known}")
        return cls(**{name: _parse(name, text) for name, text in values.items()})
{%- endif %}


@dataclass(frozen=True)
class TrainingResult:
    model: Pipeline
    metrics: dict[str, float]
    metadata: dict
{%- if container_mode %}


def _parse(name: str, text: str) -> Any:
    kind, requirement, valid = HYPERPARAMETER_RULES[name]
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not valid(value):
        raise ValueError(f"hyperparameter {name} must be {requirement}, got {text!r}")
    return value
{%- endif %}


def build_model(hyperparameters: Hyperparameters | None = None) -> Pipeline:
    hyperparameters = hyperparameters or Hyperparameters()
    classifier = LogisticRegression(max_iter=hyperparameters.max_iter, C=hyperparameters.C)
    return Pipeline([("scale", build_preprocessor()), ("classify", classifier)])


def _metadata(train_part: Dataset, hyperparameters: Hyperparameters) -> dict:
    return {
        "feature_names": list(train_part.feature_names),
        "baseline": baseline(train_part.features),
        "hyperparameters": asdict(hyperparameters),
        "training_rows": len(train_part.target),
    }


def train(dataset: Dataset, hyperparameters: Hyperparameters | None = None) -> TrainingResult:
    """Fit on a stratified split and evaluate on the held-out part."""
    hyperparameters = hyperparameters or Hyperparameters()
    parts = split(dataset)
    model = build_model(hyperparameters).fit(parts.train.features, parts.train.target)
    metrics = evaluate(model, parts.test)
    metadata = {
        **_metadata(parts.train, hyperparameters),
        "metrics": metrics,
        "quality_gate": {"metric": METRIC_NAME, "threshold": METRIC_THRESHOLD},
    }
    return TrainingResult(model, metrics, metadata)


def train_locally(data: Path | None, target: Path) -> int:
    """`make train`: split, evaluate, and save only a model that passes the quality gate."""
    try:
        result = train(load_csv(data) if data is not None else load_dataset())
    except (ValueError, OSError) as exc:
        print(f"train: {exc}", file=sys.stderr)
        return 1
    for name, value in sorted(result.metrics.items()):
        print(f"{name}={value:.4f}")
    try:
        check_threshold(result.metrics)
    except QualityGateError as exc:
        print(f"quality gate failed: {exc}; the model is not saved", file=sys.stderr)
        return 1
    save_model(result.model, result.metadata, target)
    print(f"model saved to {target}")
    return 0
{%- if container_mode %}


def train_in_container(container: TrainingContainer) -> int:
    """The pipeline's Train step: every row of the `train` channel, no quality gate."""
    try:
        hyperparameters = Hyperparameters.from_strings(container.hyperparameters())
        dataset = load_csv_dir(container.channel("train"))
        model = build_model(hyperparameters).fit(dataset.features, dataset.target)
        save_model(model, _metadata(dataset, hyperparameters), container.model_dir)
    except Exception as exc:  # whatever it is, SageMaker shows the failure file's reason
        return container.fail(exc)
    print(f"trained on {len(dataset.target)} rows; model saved to {container.model_dir}")
    return 0
{%- endif %}
{%- if registry_mode %}


def _failed(step: str, exc: Exception) -> int:
    """Bad input, an MLflow refusal or a failed gate: one line on stderr, exit code 1."""
    print(f"{step}: {one_line(exc)}", file=sys.stderr)
    return 1


def download_dataset(uri: str, directory: Path) -> Path:
    """The object at an s3:// URI, downloaded into `directory` with the Job's IRSA role."""
    import boto3  # only the training Job needs S3; imported here so local runs do without it
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket or not key:
        raise ValueError(f"TRAINING_DATA_URI must be s3://bucket/key, got {uri!r}")
    target = Path(directory) / Path(key).name
    try:
        boto3.client("s3").download_file(bucket, key, str(target))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
            raise ValueError(
                f"{uri} does not exist: version the dataset with DVC and push it "
                "(make data, dvc add datasets/train.csv, dvc push)"
            ) from None
        raise ValueError(f"{uri}: {exc}") from None
    except BotoCoreError as exc:
        raise ValueError(f"{uri}: {exc}") from None
    return target


def train_in_job(environ: dict[str, str]) -> int:
    """The training Job: train, log the run to MLflow, register a version if it passes the gate."""
    name = registered_model_name(environ)
    try:
        registry = MlflowRegistry(environ.get("MLFLOW_TRACKING_URI", ""))
        with tempfile.TemporaryDirectory() as scratch:
            data = download_dataset(environ.get("TRAINING_DATA_URI", ""), Path(scratch))
            result = train(load_csv(data))
            for metric, value in sorted(result.metrics.items()):
                print(f"{metric}={value:.4f}")
            model = Path(scratch) / "model"
            save_model(result.model, result.metadata, model)
            hyperparameters = result.metadata["hyperparameters"]
            run_id, source = registry.log_run(name, hyperparameters, result.metrics, model)
            try:
                check_threshold(result.metrics)
            except QualityGateError as exc:
                print(f"quality gate failed: {exc}; run {run_id} not registered", file=sys.stderr)
                return 1
            tags = {
                SHA256_TAG: file_sha256(model / MODEL_FILE),
                METRICS_TAG: json.dumps(result.metrics, sort_keys=True),
            }
            version = registry.register(name, source, run_id, tags)
    except (ValueError, OSError, RegistryError) as exc:
        return _failed("train", exc)
    print(
        f"registered {name} version {version.version} (run {run_id}); approve it with "
        f"`{{ cookiecutter.project_name }}-train approve {version.version}`"
    )
    return 0


def approve(version: str, alias: str, environ: dict[str, str]) -> int:
    """Point `alias` at a registered version whose recorded metrics pass the quality gate."""
    name = registered_model_name(environ)
    try:
        registry = MlflowRegistry(environ.get("MLFLOW_TRACKING_URI", ""))
        found = registry.version(name, version)
        try:
            metrics = json.loads(found.tags[METRICS_TAG])
        except (KeyError, ValueError):
            raise ValueError(
                f"{name} version {version} has no recorded {METRICS_TAG}: "
                "register models with the training Job"
            ) from None
        check_threshold(metrics)
        if len(found.tags.get(SHA256_TAG, "")) != 64:
            raise ValueError(f"{name} version {version} has no recorded {SHA256_TAG}")
        registry.set_alias(name, alias, found.version)
    except (ValueError, RegistryError, QualityGateError) as exc:
        return _failed("approve", exc)
    print(f"{name} version {version} is now {alias!r}; deploy to roll the model server onto it")
    return 0
{%- endif %}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="{{ cookiecutter.project_name }}-train",
        description=__doc__.splitlines()[0],
    )
{%- if container_mode %}
    parser.add_argument(
        "command", nargs="?", choices=["train"], help="run as a SageMaker training job"
    )
{%- elif registry_mode %}
    parser.add_argument(
        "command",
        nargs="?",
        choices=["train", "approve"],
        help="train: the training Job (MLflow); approve VERSION: the approval",
    )
    parser.add_argument("version", nargs="?", help="approve: the registered version to serve")
    parser.add_argument(
        "--alias",
        default=CHAMPION_ALIAS,
        help=f"approve: the alias to set (default {CHAMPION_ALIAS})",
    )
{%- endif %}
    parser.add_argument("--model-dir", type=Path, help="default: MODEL_DIR, else /opt/ml/model")
    parser.add_argument("--data", type=Path, help="a CSV file (default: the bundled data)")
    args = parser.parse_args(argv)
{%- if container_mode %}
    if args.command == "train":
        if args.model_dir or args.data:
            parser.error("`train` takes no options: SageMaker's contract says where things are")
        return train_in_container(TrainingContainer.from_environment())
{%- endif %}
{%- if registry_mode %}
    if args.command == "train":
        if args.model_dir or args.data or args.version:
            parser.error("`train` takes no options: the Job's environment says where things are")
        return train_in_job(dict(os.environ))
    if args.command == "approve":
        if not args.version:
            parser.error("`approve` needs the VERSION to approve")
        return approve(args.version, args.alias, dict(os.environ))
{%- endif %}
    return train_locally(args.data, args.model_dir or model_dir())


if __name__ == "__main__":
    sys.exit(main())
