from __future__ import annotations

from pathlib import Path

import pytest

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
