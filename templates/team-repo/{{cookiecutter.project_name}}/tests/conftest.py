from __future__ import annotations
{% if cookiecutter.level|int >= 2 %}
{%- if cookiecutter.platform == "sagemaker" %}
import json
{%- endif %}
import os
import subprocess
import sys
import tarfile
from dataclasses import dataclass
{%- endif %}
from pathlib import Path

import pytest
{% if cookiecutter.level|int >= 2 %}
import {{ cookiecutter.package_name }}
{%- endif %}
from {{ cookiecutter.package_name }}.data import load_dataset
from {{ cookiecutter.package_name }}.model_io import save_model
from {{ cookiecutter.package_name }}.train import TrainingResult, train


@pytest.fixture(scope="session")
def trained() -> TrainingResult:
    """One model trained on the bundled data, shared by the tests."""
    return train(load_dataset())


@pytest.fixture(scope="session")
def model_dir(trained: TrainingResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("model")
    save_model(trained.model, trained.metadata, directory)
    return directory
{%- if cookiecutter.level|int >= 2 %}


def run_module(module: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m <package>.<module> ARGS` in a new interpreter, as a container runs it."""
    source = str(Path({{ cookiecutter.package_name }}.__file__).resolve().parents[1])
    path = os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")]))
    environment = {**os.environ, "PYTHONPATH": path, **env}
    command = [sys.executable, "-m", f"{{ cookiecutter.package_name }}.{module}", *args]
    return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=300)


def pack_model(model_dir: Path, archive: Path) -> Path:
    """A model.tar.gz as SageMaker packs a training job's model folder: its files at the root."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(model_dir.iterdir()):
            tar.add(path, arcname=path.name)
    return archive


@pytest.fixture(scope="session")
def model_archive(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's model packed as a training job's model.tar.gz."""
    return pack_model(model_dir, tmp_path_factory.mktemp("archive") / "model.tar.gz")


@dataclass(frozen=True)
class PipelineRun:
    """The folders of one run of the training pipeline's steps."""

    processing: Path  # the Processing jobs' /opt/ml/processing
    model_dir: Path  # what the Train step wrote (the training job's /opt/ml/model)
    served: Path  # model.tar.gz extracted, as an endpoint's /opt/ml/model


def _step(name: str, result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, f"{name} failed: {result.stderr[-2000:]}"


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> PipelineRun:
    """The training pipeline's steps through their real entry points, in temp folders laid out
    as SageMaker lays out the containers' folders."""
    root = tmp_path_factory.mktemp("pipeline")
    processing = root / "processing"

    def folder(name: str) -> str:
        return str(processing / name)

    _step("data", run_module("data", str(processing / "input" / "train.csv")))
    preprocess = ["--input", folder("input"), "--train", folder("train"), "--test", folder("test")]
    _step("preprocess", run_module("preprocess", *preprocess, "--baseline", folder("baseline")))
{%- if cookiecutter.platform == "sagemaker" %}
    # The Train step: the train output becomes the `train` channel; hyperparameters are strings.
    opt_ml = root / "opt_ml"
    channel = opt_ml / "input" / "data" / "train"
    channel.mkdir(parents=True)
    (channel / "train.csv").write_bytes((processing / "train" / "train.csv").read_bytes())
    config = opt_ml / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps({"C": "0.5", "max_iter": "500"}))
    _step("train", run_module("train", "train", MLOPS_BP_OPT_ML=str(opt_ml)))
    model_dir = opt_ml / "model"
{%- else %}
    model_dir = root / "model"
    train_csv = str(processing / "train" / "train.csv")
    _step("train", run_module("train", "--data", train_csv, "--model-dir", str(model_dir)))
{%- endif %}
    archive = pack_model(model_dir, processing / "model" / "model.tar.gz")
    evaluate = ["--model", folder("model"), "--test", folder("test")]
    _step("evaluate", run_module("evaluate", *evaluate, "--output", folder("evaluation")))
    served = root / "served"
    with tarfile.open(archive) as tar:
        tar.extractall(served, filter="data")
    return PipelineRun(processing, model_dir, served)


@pytest.fixture(scope="session")
def pipeline_model_dir(pipeline: PipelineRun) -> Path:
    return pipeline.served
{%- endif %}
