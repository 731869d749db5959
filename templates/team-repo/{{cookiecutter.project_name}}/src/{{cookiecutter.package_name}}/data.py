"""The training data: scikit-learn's bundled breast-cancer dataset (no download), or CSV files
with a header row, the feature columns first and the `target` column (0 or 1) last: a DVC-tracked
file{% if cookiecutter.level|int >= 2 %}, or the files of a SageMaker channel or processing input{% endif %}."""

from __future__ import annotations

import csv
import io
import os
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
    """One CSV file; a ValueError says what is wrong with it."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = [row for row in csv.reader(handle) if row]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"{path}: not a UTF-8 CSV file ({exc})") from None
    if len(rows) < 2 or len(rows[0]) < 2 or rows[0][-1] != TARGET:
        raise ValueError(
            f"{path}: expected a header row of feature names ending with '{TARGET}', then data rows"
        )
    header = rows[0]
    for i, row in enumerate(rows[1:], start=1):
        if len(row) != len(header):
            raise ValueError(
                f"{path}: data row {i} has {len(row)} fields, the header {len(header)}"
            )
    try:
        table = np.asarray(rows[1:], dtype=float)
    except ValueError as exc:
        raise ValueError(f"{path}: every value must be a number ({exc})") from None
    if not np.isfinite(table).all():
        raise ValueError(f"{path}: every value must be a finite number")
    if not np.isin(table[:, -1], (0, 1)).all():
        raise ValueError(f"{path}: the {TARGET} must be 0 or 1")
    return Dataset(table[:, :-1], table[:, -1].astype(int), tuple(header[:-1]))
{%- if cookiecutter.level|int >= 2 %}


def data_files(directory: Path) -> list[Path]:
    """Every regular file under `directory`, recursively, in sorted order."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ValueError(f"{directory}: no such directory")
    files = sorted(p for p in directory.rglob("*") if p.is_file() and not p.is_symlink())
    if not files:
        raise ValueError(f"{directory}: no data files")
    return files


def load_csv_dir(directory: Path) -> Dataset:
    """Every file under `directory` (see data_files), each a CSV as load_csv reads it and all with
    the same header, as one dataset in file order."""
    files = data_files(directory)
    parts = [load_csv(path) for path in files]
    for path, part in zip(files[1:], parts[1:], strict=True):
        if part.feature_names != parts[0].feature_names:
            raise ValueError(f"{path}: its header differs from that of {files[0]}")
    return Dataset(
        np.concatenate([part.features for part in parts]),
        np.concatenate([part.target for part in parts]),
        parts[0].feature_names,
    )
{%- endif %}


def csv_text(dataset: Dataset) -> str:
    """The dataset as CSV: the header row, then the features and the target of each row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*dataset.feature_names, TARGET])
    for row, label in zip(dataset.features, dataset.target, strict=True):
        writer.writerow([*(repr(float(v)) for v in row), int(label)])
    return buffer.getvalue()


def save_csv(dataset: Dataset, path: Path) -> None:
    write_text_atomically(Path(path), csv_text(dataset))


def write_text_atomically(path: Path, text: str) -> None:
    """Write through a temporary file renamed into place, so no reader sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_text(text, encoding="utf-8", newline="")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


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
    """Write the bundled dataset to the CSV file named by the only argument."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(f"usage: python -m {__package__}.data PATH.csv", file=sys.stderr)
        return 2
    save_csv(load_dataset(), Path(args[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
