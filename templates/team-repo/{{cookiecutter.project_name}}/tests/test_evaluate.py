from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.config import METRIC_NAME, METRIC_THRESHOLD
from {{ cookiecutter.package_name }}.data import Dataset, load_dataset, save_csv, split
from {{ cookiecutter.package_name }}.evaluate import main

METRICS = {"accuracy", "f1", "precision", "recall", "roc_auc"}


def _run(tmp_path: Path, model: Path | None = None) -> int:
    """The Evaluate step on <tmp_path>/test, the model archive in `model` or <tmp_path>/model."""
    model = model or tmp_path / "model"
    test, output = tmp_path / "test", tmp_path / "evaluation"
    return main(["--model", str(model), "--test", str(test), "--output", str(output)])


def _report(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "evaluation" / "evaluation.json").read_text())


@pytest.fixture
def test_set(tmp_path) -> Dataset:
    test = split(load_dataset()).test
    save_csv(test, tmp_path / "test" / "test.csv")
    return test


def test_writes_the_metrics_the_pipeline_condition_reads(tmp_path, model_archive, test_set):
    assert _run(tmp_path, model_archive.parent) == 0
    report = _report(tmp_path)
    assert set(report) == {"metrics", "integrity"} and set(report["metrics"]) == METRICS
    assert report["metrics"][METRIC_NAME] >= METRIC_THRESHOLD


def test_records_the_digests_of_the_archive_and_of_its_model_file(
    tmp_path, model_archive, model_dir, test_set
) -> None:
    assert _run(tmp_path, model_archive.parent) == 0
    assert _report(tmp_path)["integrity"] == {
        "archive_sha256": hashlib.sha256(model_archive.read_bytes()).hexdigest(),
        "model_sha256": hashlib.sha256((model_dir / "model.skops").read_bytes()).hexdigest(),
    }


def test_a_weak_model_still_exits_0(tmp_path, model_archive) -> None:
    test = split(load_dataset()).test
    flipped = Dataset(test.features, 1 - test.target, test.feature_names)
    save_csv(flipped, tmp_path / "test" / "test.csv")
    assert _run(tmp_path, model_archive.parent) == 0
    assert _report(tmp_path)["metrics"]["accuracy"] < 0.5


def _archive_with(path: Path, member: tarfile.TarInfo, data: bytes = b"") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        tar.addfile(member, io.BytesIO(data) if member.isfile() else None)


def _member(name: str, kind: bytes = tarfile.REGTYPE, target: str = "") -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.type, member.linkname, member.size = kind, target, 0
    return member


@pytest.mark.parametrize(
    "member",
    [
        pytest.param(_member("/tmp/model.skops"), id="absolute path"),
        pytest.param(_member("../model.skops"), id="parent folder"),
        pytest.param(_member("a/../../model.skops"), id="parent folder inside"),
        pytest.param(_member("model.skops", tarfile.SYMTYPE, "/etc/passwd"), id="symlink"),
        pytest.param(_member("model.skops", tarfile.LNKTYPE, "metadata.json"), id="hard link"),
        pytest.param(_member("fifo", tarfile.FIFOTYPE), id="fifo"),
    ],
)
def test_unsafe_archives_are_refused(tmp_path, test_set, capsys, member) -> None:
    _archive_with(tmp_path / "model" / "model.tar.gz", member)
    assert _run(tmp_path) == 1
    assert "refusing to extract" in capsys.readouterr().err
    assert not (tmp_path / "evaluation").exists()
    assert not (tmp_path / "model.skops").exists()


@pytest.mark.parametrize(
    ("archive", "message"),
    [
        pytest.param(None, "no model.tar.gz", id="missing"),
        pytest.param(b"not a tar file", "not a readable tar.gz", id="not a tar"),
        pytest.param(b"", "not a readable tar.gz", id="empty"),
    ],
)
def test_bad_archives_fail_with_one_line(tmp_path, test_set, capsys, archive, message) -> None:
    (tmp_path / "model").mkdir()
    if archive is not None:
        (tmp_path / "model" / "model.tar.gz").write_bytes(archive)
    assert _run(tmp_path) == 1
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1 and error.startswith("evaluate: ")


def test_an_archive_without_a_model_fails(tmp_path, test_set, capsys) -> None:
    _archive_with(tmp_path / "model" / "model.tar.gz", _member("notes.txt"))
    assert _run(tmp_path) == 1
    assert "cannot load the model" in capsys.readouterr().err


def test_test_data_with_other_features_fails(tmp_path, model_archive, capsys) -> None:
    test = split(load_dataset()).test
    renamed = Dataset(test.features, test.target, tuple(f"x{i}" for i in range(30)))
    save_csv(renamed, tmp_path / "test" / "test.csv")
    assert _run(tmp_path, model_archive.parent) == 1
    assert "feature columns differ" in capsys.readouterr().err


def test_the_output_folder_may_be_named_evaluation(tmp_path, model_archive, test_set) -> None:
    args = ["--model", str(model_archive.parent), "--test", str(tmp_path / "test")]
    assert main([*args, "--evaluation", str(tmp_path / "evaluation")]) == 0
    assert set(_report(tmp_path)["metrics"]) == METRICS
