from __future__ import annotations

import numpy as np
import pytest

from {{ cookiecutter.package_name }} import train as train_module
from {{ cookiecutter.package_name }}.config import METRIC_NAME, METRIC_THRESHOLD
from {{ cookiecutter.package_name }}.data import load_dataset, save_csv, split
from {{ cookiecutter.package_name }}.evaluate import QualityGateError, check_threshold
from {{ cookiecutter.package_name }}.model_io import ModelNotFoundError, load_model


def test_model_meets_the_quality_gate(trained) -> None:
    assert trained.metrics[METRIC_NAME] >= METRIC_THRESHOLD
    check_threshold(trained.metrics)


def test_quality_gate_rejects_a_weak_model() -> None:
    with pytest.raises(QualityGateError, match="below the threshold"):
        check_threshold({METRIC_NAME: 0.5}, METRIC_NAME, 0.9)


def test_saved_model_predicts_like_the_trained_one(trained, model_dir) -> None:
    loaded = load_model(model_dir)
    test = split(load_dataset()).test
    expected = trained.model.predict(test.features)
    np.testing.assert_array_equal(loaded.model.predict(test.features), expected)
    assert loaded.n_features == 30
    assert len(loaded.metadata["baseline"]["mean"]) == 30


def test_loading_from_an_empty_directory_fails_clearly(tmp_path) -> None:
    with pytest.raises(ModelNotFoundError, match="model.joblib"):
        load_model(tmp_path)


def test_entry_point_saves_the_model_and_reports_metrics(tmp_path, capsys) -> None:
    assert train_module.main(["--model-dir", str(tmp_path / "model")]) == 0
    metadata = load_model(tmp_path / "model").metadata
    assert metadata["metrics"][METRIC_NAME] >= METRIC_THRESHOLD
    assert metadata["hyperparameters"] == {"C": 1.0, "max_iter": 1000}
    assert f"{METRIC_NAME}=" in capsys.readouterr().out


def test_entry_point_trains_on_a_csv_file(tmp_path) -> None:
    save_csv(load_dataset(), tmp_path / "train.csv")
    args = ["--data", str(tmp_path / "train.csv"), "--model-dir", str(tmp_path / "model")]
    assert train_module.main(args) == 0
    assert load_model(tmp_path / "model").metadata["training_rows"] == 455


def test_entry_point_fails_with_one_line_on_bad_data(tmp_path, capsys) -> None:
    (tmp_path / "train.csv").write_text("a,b\n1,2\n")
    args = ["--data", str(tmp_path / "train.csv"), "--model-dir", str(tmp_path / "model")]
    assert train_module.main(args) == 1
    assert capsys.readouterr().err.startswith("train: ")
    assert not (tmp_path / "model").exists()
{%- if cookiecutter.platform == "kubernetes" and cookiecutter.level|int >= 2 %}


def test_the_jobs_train_argument_changes_nothing(tmp_path) -> None:
    assert train_module.main(["train", "--model-dir", str(tmp_path / "model")]) == 0
    assert (tmp_path / "model" / "model.joblib").is_file()
{%- endif %}


def test_entry_point_refuses_to_save_below_the_gate(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(train_module, "check_threshold", _always_fails)
    assert train_module.main(["--model-dir", str(tmp_path / "model")]) == 1
    assert not (tmp_path / "model").exists()


def _always_fails(metrics) -> None:
    raise QualityGateError("forced by the test")
