from __future__ import annotations

import json

import numpy as np
import pytest

from {{ cookiecutter.package_name }} import train as train_module
from {{ cookiecutter.package_name }}.config import METRIC_NAME, METRIC_THRESHOLD
from {{ cookiecutter.package_name }}.data import load_dataset, split
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


def test_entry_point_saves_the_model_and_reports_metrics(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("SM_OUTPUT_DATA_DIR", str(tmp_path))
    assert train_module.main(["train", "--model-dir", str(tmp_path / "model")]) == 0
    assert (tmp_path / "model" / "model.joblib").is_file()
    assert f"{METRIC_NAME}=" in capsys.readouterr().out
    report = json.loads((tmp_path / "evaluation.json").read_text())
    assert report["metrics"][METRIC_NAME] >= METRIC_THRESHOLD


def test_entry_point_refuses_to_save_below_the_gate(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(train_module, "check_threshold", _always_fails)
    assert train_module.main(["--model-dir", str(tmp_path / "model")]) == 1
    assert not (tmp_path / "model").exists()


def _always_fails(metrics) -> None:
    raise QualityGateError("forced by the test")
