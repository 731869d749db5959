"""The training data: scikit-learn's bundled breast-cancer dataset (no download), or a CSV
file with the same columns and the target last (a SageMaker channel, a DVC-tracked file)."""

from __future__ import annotations

import csv
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

from .config import RANDOM_STATE, TEST_SIZE

TARGET = "target"


@dataclass(frozen=True)
class Dataset:
    features: np.ndarray
    target: np.ndarray
    feature_names: tuple[str, ...]


@dataclass(frozen=True)
class Split:
    train: Dataset
    test: Dataset


def load_dataset() -> Dataset:
    """The bundled dataset: 569 rows, 30 numeric features, binary target."""
    bunch = load_breast_cancer()
    return Dataset(bunch.data, bunch.target, tuple(str(n) for n in bunch.feature_names))


def load_csv(path: Path) -> Dataset:
    """A CSV with a header row, feature columns first and the `target` column last."""
    with Path(path).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if len(rows) < 2 or rows[0][-1] != TARGET:
        raise ValueError(f"{path}: expected a header row ending with '{TARGET}' and data rows")
    table = np.asarray(rows[1:], dtype=float)
    return Dataset(table[:, :-1], table[:, -1].astype(int), tuple(rows[0][:-1]))


def save_csv(dataset: Dataset, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*dataset.feature_names, TARGET])
        for row, label in zip(dataset.features, dataset.target, strict=True):
            writer.writerow([*(repr(float(v)) for v in row), int(label)])


def split(dataset: Dataset, test_size: float = TEST_SIZE) -> Split:
    """A stratified, reproducible train/test split."""
    x_train, x_test, y_train, y_test = train_test_split(
        dataset.features,
        dataset.target,
        test_size=test_size,
        random_state=RANDOM_STATE,
        stratify=dataset.target,
    )
    names = dataset.feature_names
    return Split(Dataset(x_train, y_train, names), Dataset(x_test, y_test, names))


def main(argv: list[str] | None = None) -> int:
    """`python -m {{ cookiecutter.package_name }}.data PATH`: write the bundled dataset as CSV."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m {{ cookiecutter.package_name }}.data PATH.csv", file=sys.stderr)
        return 2
    save_csv(load_dataset(), Path(args[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
