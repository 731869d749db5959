"""The training pipeline's Preprocess step, a SageMaker Processing job running
`python -m {{ cookiecutter.package_name }}.preprocess` with the arguments
`--input DIR --train DIR --test DIR --baseline DIR`. It reads every file under <input> (CSV
files with a header row ending in `target`, see data.py), writes the stratified split as
<train>/train.csv and <test>/test.csv, and the data-quality baseline of the training features as
<baseline>/statistics.json and constraints.json in SageMaker Model Monitor's format. On bad
input: one line on stderr, exit code 1, and no output files.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .container import report_failure
from .data import Split, csv_text, load_csv_dir, split, write_text_atomically

PROCESSING_DIR = Path("/opt/ml/processing")
# Model Monitor's analyzer infers every feature of this model as a fractional number.
FEATURE_TYPE = "Fractional"
MONITORING_CONFIG = {
    "evaluate_constraints": "Enabled",
    "emit_metrics": "Enabled",
    "datatype_check_threshold": 1.0,
    "domain_content_threshold": 1.0,
    "distribution_constraints": {
        "perform_comparison": "Disabled",
        "comparison_threshold": 0.1,
        "comparison_method": "Robust",
    },
}


def column_name(index: int) -> str:
    """The analyzer's name for a column of headerless CSV, as the endpoint captures requests."""
    return f"_c{index}"


def statistics(features: np.ndarray) -> dict[str, Any]:
    """statistics.json of Model Monitor's data-quality baseline."""
    count = len(features)
    return {
        "version": 0.0,
        "dataset": {"item_count": count},
        "features": [
            {
                "name": column_name(i),
                "inferred_type": FEATURE_TYPE,
                "numerical_statistics": {
                    "common": {"num_present": count, "num_missing": 0},
                    "mean": float(column.mean()),
                    "sum": float(column.sum()),
                    "std_dev": float(column.std()),
                    "min": float(column.min()),
                    "max": float(column.max()),
                },
            }
            for i, column in enumerate(features.T)
        ],
    }


def constraints(features: np.ndarray) -> dict[str, Any]:
    """constraints.json of Model Monitor's data-quality baseline."""
    return {
        "version": 0.0,
        "features": [
            {
                "name": column_name(i),
                "inferred_type": FEATURE_TYPE,
                "completeness": 1.0,
                "num_constraints": {"is_non_negative": bool(column.min() >= 0)},
            }
            for i, column in enumerate(features.T)
        ],
        "monitoring_config": MONITORING_CONFIG,
    }


def preprocess(input_dir: Path, train_dir: Path, test_dir: Path, baseline_dir: Path) -> Split:
    """Read, split and write; nothing is written unless the input is valid."""
    parts = split(load_csv_dir(input_dir))
    outputs = {
        train_dir / "train.csv": csv_text(parts.train),
        test_dir / "test.csv": csv_text(parts.test),
        baseline_dir / "statistics.json": _json(statistics(parts.train.features)),
        baseline_dir / "constraints.json": _json(constraints(parts.train.features)),
    }
    written: list[Path] = []
    try:
        for path, text in outputs.items():
            write_text_atomically(path, text)
            written.append(path)
    except OSError:
        for path in written:  # all outputs or none
            path.unlink(missing_ok=True)
        raise
    return parts


def _json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m {{ cookiecutter.package_name }}.preprocess",
        description="The training pipeline's Preprocess step: split and baseline the data.",
    )
    for name, help_text in (
        ("input", "the input CSV files"),
        ("train", "for train.csv"),
        ("test", "for test.csv"),
        ("baseline", "for statistics.json and constraints.json"),
    ):
        parser.add_argument(f"--{name}", type=Path, default=PROCESSING_DIR / name, help=help_text)
    args = parser.parse_args(argv)
    try:
        parts = preprocess(args.input, args.train, args.test, args.baseline)
    except (ValueError, OSError) as exc:
        return report_failure("preprocess", exc)
    print(f"train rows={len(parts.train.target)} test rows={len(parts.test.target)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
