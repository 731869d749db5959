from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import skops.io
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from {{ cookiecutter.package_name }} import train as train_module
from {{ cookiecutter.package_name }}.config import METRIC_NAME, METRIC_THRESHOLD
from {{ cookiecutter.package_name }}.data import load_dataset, save_csv, split
from {{ cookiecutter.package_name }}.evaluate import QualityGateError, check_threshold
from {{ cookiecutter.package_name }}.model_io import (
    MODEL_FILE,
    TRUSTED_TYPES,
    ModelIntegrityError,
    ModelNotFoundError,
    file_sha256,
    load_model,
    save_model,
)


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
    with pytest.raises(ModelNotFoundError, match="model.skops"):
        load_model(tmp_path)


def test_the_trusted_types_are_those_of_the_model_training_builds() -> None:
    model = train_module.build_model()
    assert set(TRUSTED_TYPES) == {type(model), *(type(step) for _, step in model.steps)}


def test_a_model_with_its_recorded_digest_loads(trained, model_dir) -> None:
    digest = hashlib.sha256((model_dir / MODEL_FILE).read_bytes()).hexdigest()
    loaded = load_model(model_dir, expected_sha256=digest.upper())
    test = split(load_dataset()).test
    expected = trained.model.predict(test.features)
    np.testing.assert_array_equal(loaded.model.predict(test.features), expected)


def test_file_sha256_reads_in_chunks_what_hashlib_computes(tmp_path) -> None:
    path = tmp_path / "blob"
    path.write_bytes(bytes(range(256)) * 9000)  # over one read's chunk
    assert file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()


class Tripwire:
    """A step whose restoration leaves a mark: loading it would run code of the file's choice."""

    marker: Path | None = None

    def __init__(self) -> None:
        self.armed = True

    def __setstate__(self, state: dict) -> None:
        Tripwire.marker.write_text("restored")


@pytest.fixture
def tripwire_model(tmp_path, trained) -> Path:
    """A model folder whose model.skops holds a Tripwire step."""
    Tripwire.marker = tmp_path / "tripwire-ran"
    directory = tmp_path / "tripwire"
    model = Pipeline([("scale", StandardScaler()), ("classify", Tripwire())])
    save_model(model, trained.metadata, directory)
    return directory


def test_a_type_outside_the_allowlist_is_refused(tripwire_model) -> None:
    with pytest.raises(ModelIntegrityError, match=r"Untrusted types found in the file: .*Tripwire"):
        load_model(tripwire_model)
    assert not Tripwire.marker.exists()
    # Trusted, the same file does run the step's code: the refusal above is what stopped it.
    skops.io.load(tripwire_model / MODEL_FILE, trusted=[Tripwire])
    assert Tripwire.marker.exists()


def _never_deserialise(*args, **kwargs):
    raise AssertionError("a model file was deserialised before its digest was checked")


def test_a_file_with_another_digest_is_refused_before_it_is_read(
    model_dir, tripwire_model, tmp_path, monkeypatch
) -> None:
    recorded = file_sha256(model_dir / MODEL_FILE)
    tampered = tmp_path / "tampered"
    shutil.copytree(model_dir, tampered)
    shutil.copyfile(tripwire_model / MODEL_FILE, tampered / MODEL_FILE)  # the file swapped
    monkeypatch.setattr(skops.io, "load", _never_deserialise)
    monkeypatch.setattr(skops.io, "loads", _never_deserialise)
    with pytest.raises(ModelIntegrityError) as refused:
        load_model(tampered, expected_sha256=recorded)
    actual = file_sha256(tampered / MODEL_FILE)
    assert f"sha256 {actual[:12]}" in str(refused.value)
    assert f"expected {recorded[:12]}" in str(refused.value)
    assert not Tripwire.marker.exists()


def test_one_changed_byte_is_refused(model_dir, tmp_path) -> None:
    recorded = file_sha256(model_dir / MODEL_FILE)
    tampered = tmp_path / "tampered"
    shutil.copytree(model_dir, tampered)
    data = bytearray((tampered / MODEL_FILE).read_bytes())
    data[-1] ^= 1
    (tampered / MODEL_FILE).write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="refusing to load"):
        load_model(tampered, expected_sha256=recorded)


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


def test_the_training_job_takes_its_settings_from_the_environment_only(tmp_path) -> None:
    with pytest.raises(SystemExit) as exc:
        train_module.main(["train", "--model-dir", str(tmp_path / "model")])
    assert exc.value.code == 2
    with pytest.raises(SystemExit):
        train_module.main(["approve"])  # which version?


def test_the_training_job_needs_a_tracking_server(monkeypatch, capsys) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert train_module.main(["train"]) == 1
    assert capsys.readouterr().err.startswith("train: MLFLOW_TRACKING_URI must be an http(s) URL")


def test_an_approval_that_cannot_reach_mlflow_is_one_line(monkeypatch, capsys) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # nothing listens there
    assert train_module.main(["approve", "1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("approve: GET http://127.0.0.1:9/") and "Traceback" not in err
{%- endif %}


def test_entry_point_refuses_to_save_below_the_gate(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(train_module, "check_threshold", _always_fails)
    assert train_module.main(["--model-dir", str(tmp_path / "model")]) == 1
    assert not (tmp_path / "model").exists()


def _always_fails(metrics) -> None:
    raise QualityGateError("forced by the test")
