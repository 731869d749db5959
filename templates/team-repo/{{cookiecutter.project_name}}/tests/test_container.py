{%- set container_mode = cookiecutter.platform == "sagemaker" -%}
from __future__ import annotations

import json
from pathlib import Path

import pytest
{% if container_mode %}
from {{ cookiecutter.package_name }} import train as train_module
{%- endif %}
from {{ cookiecutter.package_name }}.container import TrainingContainer
{%- if container_mode %}
from {{ cookiecutter.package_name }}.data import load_dataset, save_csv
from {{ cookiecutter.package_name }}.evaluate import QualityGateError
from {{ cookiecutter.package_name }}.model_io import load_model
from {{ cookiecutter.package_name }}.train import Hyperparameters
{%- endif %}


def _config(root: Path, hyperparameters: object) -> None:
    config = root / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))


def test_the_root_is_opt_ml_unless_the_environment_says_otherwise(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("MLOPS_BP_OPT_ML", raising=False)
    assert TrainingContainer.from_environment().root == Path("/opt/ml")
    monkeypatch.setenv("MLOPS_BP_OPT_ML", str(tmp_path))
    container = TrainingContainer.from_environment()
    assert container.channel("train") == tmp_path / "input" / "data" / "train"
    assert container.model_dir == tmp_path / "model"
    assert container.failure_file == tmp_path / "output" / "failure"


def test_hyperparameters_are_strings_and_optional(tmp_path) -> None:
    container = TrainingContainer(tmp_path)
    assert container.hyperparameters() == {}
    _config(tmp_path, {"C": "0.5"})
    assert container.hyperparameters() == {"C": "0.5"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"C": 0.5}', "must be strings"),
        ('["C", "0.5"]', "JSON object"),
        ("{C: 0.5", "not valid JSON"),
    ],
)
def test_malformed_hyperparameters_are_refused(tmp_path, text, message) -> None:
    _config(tmp_path, {})
    (tmp_path / "input" / "config" / "hyperparameters.json").write_text(text)
    with pytest.raises(ValueError, match=message):
        TrainingContainer(tmp_path).hyperparameters()
{%- if container_mode %}


def test_hyperparameters_are_parsed_from_strings() -> None:
    assert Hyperparameters.from_strings({}) == Hyperparameters()
    parsed = Hyperparameters.from_strings({"max_iter": "200", "C": "0.25"})
    assert parsed == Hyperparameters(max_iter=200, C=0.25)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"epochs": "3"}, "unknown hyperparameters epochs"),
        ({"max_iter": "1.5"}, "max_iter must be an integer of at least 1, got '1.5'"),
        ({"max_iter": "0"}, "max_iter must be an integer of at least 1, got '0'"),
        ({"C": "zero"}, "C must be a finite number above 0, got 'zero'"),
        ({"C": "0"}, "C must be a finite number above 0"),
        ({"C": "-1"}, "C must be a finite number above 0"),
        ({"C": "nan"}, "C must be a finite number above 0"),
        ({"C": "inf"}, "C must be a finite number above 0"),
    ],
)
def test_bad_hyperparameters_are_refused(values, message) -> None:
    with pytest.raises(ValueError, match=message):
        Hyperparameters.from_strings(values)


@pytest.fixture
def opt_ml(tmp_path, monkeypatch) -> Path:
    """A training job's /opt/ml with the bundled data in the `train` channel."""
    save_csv(load_dataset(), tmp_path / "input" / "data" / "train" / "train.csv")
    monkeypatch.setenv("MLOPS_BP_OPT_ML", str(tmp_path))
    return tmp_path


def _never_called(metrics) -> None:
    raise QualityGateError("the training job must not apply the quality gate")


def test_training_job_fits_every_row_with_its_hyperparameters(opt_ml, monkeypatch) -> None:
    monkeypatch.setattr(train_module, "check_threshold", _never_called)
    _config(opt_ml, {"C": "0.5", "max_iter": "300"})
    assert train_module.main(["train"]) == 0
    loaded = load_model(opt_ml / "model")
    metadata = loaded.metadata
    assert metadata["hyperparameters"] == {"C": 0.5, "max_iter": 300}
    assert metadata["training_rows"] == 569
    assert metadata["baseline"]["mean"] == pytest.approx(load_dataset().features.mean(axis=0))
    assert loaded.model.named_steps["classify"].C == 0.5
    assert not (opt_ml / "output" / "failure").exists()


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("no channel", "no such directory"),
        ("bad hyperparameter", "unknown hyperparameters"),
        ("bad data", "header row"),
    ],
)
def test_a_failed_training_job_writes_the_reason(opt_ml, capsys, setup, message) -> None:
    channel = opt_ml / "input" / "data" / "train"
    if setup == "no channel":
        (channel / "train.csv").unlink()
        channel.rmdir()
    elif setup == "bad hyperparameter":
        _config(opt_ml, {"penalty": "l1"})
    else:
        (channel / "extra.csv").write_text("a,b\n1,2\n")
    assert train_module.main(["train"]) == 1
    reason = (opt_ml / "output" / "failure").read_text()
    assert message in reason and "\n" not in reason
    assert message in capsys.readouterr().err
    assert not (opt_ml / "model").exists()


def test_the_train_command_takes_no_options(opt_ml) -> None:
    with pytest.raises(SystemExit) as exit_info:
        train_module.main(["train", "--model-dir", str(opt_ml / "elsewhere")])
    assert exit_info.value.code == 2
{%- endif %}
