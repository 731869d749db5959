"""Model evaluation and the quality gate: a model below the threshold is not shipped.
{%- if cookiecutter.level|int >= 2 %}

The training pipeline's Evaluate step, a SageMaker Processing job, runs
`python -m {{ cookiecutter.package_name }}.evaluate` with the arguments
`--model DIR --test DIR --output DIR` (or `--evaluation DIR`). It unpacks <model>/model.tar.gz
(packed as a training job packs its model folder), scores the model on the CSV files under
<test> and writes <output>/evaluation.json: `metrics`, whose `metrics.<name>` the pipeline's
condition step compares with the threshold, and `integrity`, the sha256 of the model.tar.gz it was
given (`archive_sha256`) and of the model file inside (`model_sha256`), which the RegisterModel
step records on the model package. It exits 0 whatever the score, and 1 on bad input.
{% endif %}"""

from __future__ import annotations
{% if cookiecutter.level|int >= 2 %}
import argparse
import json
import sys
import tarfile
import tempfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Any
{% endif %}
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score
from sklearn.pipeline import Pipeline

from .config import METRIC_NAME, METRIC_THRESHOLD
{%- if cookiecutter.level|int >= 2 %}
from .container import one_line, report_failure
from .data import Dataset, load_csv_dir, write_text_atomically
from .model_io import MODEL_FILE, LoadedModel, file_sha256, load_model

MODEL_ARCHIVE = "model.tar.gz"
REPORT_FILE = "evaluation.json"
PROCESSING_DIR = Path("/opt/ml/processing")
{%- else %}
from .data import Dataset
{%- endif %}


class QualityGateError(Exception):
    """The trained model scored below the threshold."""


def evaluate(model: Pipeline, dataset: Dataset) -> dict[str, float]:
    predicted = model.predict(dataset.features)
    scores = model.predict_proba(dataset.features)[:, 1]
    y = dataset.target
    return {
        "accuracy": float(accuracy_score(y, predicted)),
        "f1": float(f1_score(y, predicted, zero_division=0)),
        "precision": float(precision_score(y, predicted, zero_division=0)),
        "recall": float(recall_score(y, predicted, zero_division=0)),
        "roc_auc": float(roc_auc_score(y, scores)),
    }


def check_threshold(
    metrics: dict[str, float], name: str = METRIC_NAME, threshold: float = METRIC_THRESHOLD
) -> None:
    if metrics[name] < threshold:
        raise QualityGateError(f"{name} {metrics[name]:.4f} is below the threshold {threshold}")
{%- if cookiecutter.level|int >= 2 %}


def load_model_archive(archive: Path, destination: Path) -> LoadedModel:
    """Load the model of a model.tar.gz: its folders and regular files only (no links, absolute
    paths or `..`), extracted under `destination` with tarfile's data filter."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
            for member in members:
                name = PurePosixPath(member.name)
                if (
                    name.is_absolute()
                    or ".." in name.parts
                    or not (member.isfile() or member.isdir())
                ):
                    raise ValueError(f"{archive}: refusing to extract {member.name!r}")
            tar.extractall(destination, members=members, filter="data")
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise ValueError(f"{archive}: not a readable tar.gz archive ({exc})") from None
    try:
        return load_model(destination)
    except Exception as exc:  # a missing file, untrusted types, or a file skops cannot read
        raise ValueError(f"{archive}: cannot load the model ({one_line(exc)})") from None


def evaluate_archive(model_dir: Path, test_dir: Path) -> dict[str, Any]:
    """The evaluation report of the model packed in <model_dir>/model.tar.gz on the files under
    test_dir: its metrics, and the digests of the archive and of the model file it holds."""
    archive = Path(model_dir) / MODEL_ARCHIVE
    if not archive.is_file():
        raise ValueError(f"{model_dir}: no {MODEL_ARCHIVE}")
    test = load_csv_dir(test_dir)
    with tempfile.TemporaryDirectory() as unpacked:
        loaded = load_model_archive(archive, Path(unpacked))
        integrity = {
            "archive_sha256": file_sha256(archive),
            "model_sha256": file_sha256(Path(unpacked) / MODEL_FILE),
        }
    if list(test.feature_names) != loaded.metadata.get("feature_names"):
        raise ValueError(
            f"{test_dir}: the feature columns differ from those the model was trained on"
        )
    return {"metrics": evaluate(loaded.model, test), "integrity": integrity}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m {{ cookiecutter.package_name }}.evaluate",
        description="The training pipeline's Evaluate step: write evaluation.json.",
    )
    for name, help_text in (("model", "holds model.tar.gz"), ("test", "the test CSV files")):
        parser.add_argument(f"--{name}", type=Path, default=PROCESSING_DIR / name, help=help_text)
    # `--evaluation` too: the pipeline names each folder argument after the folder.
    parser.add_argument(
        "--output",
        "--evaluation",
        type=Path,
        default=PROCESSING_DIR / "evaluation",
        help="for evaluation.json",
    )
    args = parser.parse_args(argv)
    try:
        report = evaluate_archive(args.model, args.test)
        text = json.dumps(report, indent=2, sort_keys=True) + "\n"
        write_text_atomically(args.output / REPORT_FILE, text)
    except (ValueError, OSError) as exc:
        return report_failure("evaluate", exc)
    for name, value in sorted(report["metrics"].items()):
        print(f"{name}={value:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
{%- endif %}
