from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from {{ cookiecutter.package_name }}.data import (
    Dataset,
    load_csv,
    load_dataset,
    save_csv,
    split,
)
from {{ cookiecutter.package_name }}.preprocess import constraints, main, statistics

OUTPUTS = (
    "train/train.csv",
    "test/test.csv",
    "baseline/statistics.json",
    "baseline/constraints.json",
)


def _run(tmp_path: Path) -> int:
    folders = {name: str(tmp_path / name) for name in ("input", "train", "test", "baseline")}
    return main([arg for name, path in folders.items() for arg in (f"--{name}", path)])


def _outputs(tmp_path: Path) -> list[str]:
    return [name for name in OUTPUTS if (tmp_path / name).exists()]


def test_writes_the_split_as_data_split_makes_it(tmp_path) -> None:
    save_csv(load_dataset(), tmp_path / "input" / "train.csv")
    assert _run(tmp_path) == 0
    expected = split(load_dataset())
    train, test = load_csv(tmp_path / "train/train.csv"), load_csv(tmp_path / "test/test.csv")
    np.testing.assert_allclose(train.features, expected.train.features)
    np.testing.assert_array_equal(train.target, expected.train.target)
    np.testing.assert_array_equal(test.target, expected.test.target)
    assert train.feature_names == load_dataset().feature_names


def test_baseline_is_model_monitors_format_for_headerless_columns(tmp_path) -> None:
    save_csv(load_dataset(), tmp_path / "input" / "train.csv")
    assert _run(tmp_path) == 0
    train = split(load_dataset()).train.features
    stats = json.loads((tmp_path / "baseline/statistics.json").read_text())
    assert stats["version"] == 0.0
    assert stats["dataset"] == {"item_count": len(train)}
    assert [f["name"] for f in stats["features"]] == [f"_c{i}" for i in range(30)]
    first = stats["features"][0]
    assert set(first) == {"name", "inferred_type", "numerical_statistics"}
    assert first["inferred_type"] == "Fractional"
    numbers = first["numerical_statistics"]
    assert numbers["common"] == {"num_present": len(train), "num_missing": 0}
    assert set(numbers) == {"common", "mean", "sum", "std_dev", "min", "max"}
    assert numbers["mean"] == pytest.approx(train[:, 0].mean())
    assert numbers["sum"] == pytest.approx(train[:, 0].sum())
    assert numbers["std_dev"] == pytest.approx(train[:, 0].std())
    assert (numbers["min"], numbers["max"]) == (train[:, 0].min(), train[:, 0].max())
    limits = json.loads((tmp_path / "baseline/constraints.json").read_text())
    assert set(limits) == {"version", "features", "monitoring_config"}
    assert limits["features"][0] == {
        "name": "_c0",
        "inferred_type": "Fractional",
        "completeness": 1.0,
        "num_constraints": {"is_non_negative": True},
    }
    assert limits["monitoring_config"]["evaluate_constraints"] == "Enabled"
    assert limits["monitoring_config"]["distribution_constraints"] == {
        "perform_comparison": "Disabled",
        "comparison_threshold": 0.1,
        "comparison_method": "Robust",
    }


def test_is_non_negative_follows_the_minimum() -> None:
    features = np.array([[-1.0, 0.0], [2.0, 3.0]])
    flags = [f["num_constraints"]["is_non_negative"] for f in constraints(features)["features"]]
    assert flags == [False, True]
    assert [f["numerical_statistics"]["min"] for f in statistics(features)["features"]] == [-1, 0]


def test_reads_every_file_under_the_input_recursively_in_sorted_order(tmp_path) -> None:
    dataset = load_dataset()
    save_csv(dataset, tmp_path / "whole" / "input" / "train.csv")
    assert _run(tmp_path / "whole") == 0
    # Three parts whose sorted paths keep the rows' order; names and extensions do not matter.
    for name, rows in (
        ("a.csv", slice(0, 200)),
        ("b/part", slice(200, 400)),
        ("c.txt", slice(400, None)),
    ):
        part = Dataset(dataset.features[rows], dataset.target[rows], dataset.feature_names)
        save_csv(part, tmp_path / "parts" / "input" / name)
    assert _run(tmp_path / "parts") == 0
    for name in OUTPUTS:
        assert (tmp_path / "parts" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes()


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (None, "no such directory"),
        ({}, "no data files"),
        ({"train.csv": b"a,b\n1,0\n"}, "header row"),
        ({"train.csv": b"a,target\n1,0\n1,1\n", "z.csv": b"b,target\n1,0\n"}, "header differs"),
        ({"train.csv": b"a,target\nx,0\n"}, "number"),
        ({"train.csv": b"a,target\n1,0\n2\n"}, "fields"),
        ({"train.csv": b"a,target\nnan,0\n"}, "finite"),
        ({"train.csv": b"a,target\n1,2\n"}, "0 or 1"),
        ({"train.csv": b"a,target\n1,0\n2,0\n3,1\n"}, "least populated class"),
        ({"data.bin": b"\xff\xfe"}, "UTF-8"),
    ],
)
def test_bad_input_fails_with_one_line_and_writes_nothing(tmp_path, capsys, files, message):
    if files is not None:
        (tmp_path / "input" / "empty").mkdir(parents=True)
        for name, data in files.items():
            (tmp_path / "input" / name).write_bytes(data)
    assert _run(tmp_path) == 1
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1 and error.startswith("preprocess: ")
    assert _outputs(tmp_path) == []


def test_an_output_that_cannot_be_written_takes_the_others_back(tmp_path, capsys) -> None:
    save_csv(load_dataset(), tmp_path / "input" / "train.csv")
    (tmp_path / "baseline").write_text("a file where a folder should be")
    assert _run(tmp_path) == 1
    assert capsys.readouterr().err.startswith("preprocess: ")
    assert _outputs(tmp_path) == []
