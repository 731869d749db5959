"""The training pipeline end to end: each step's real entry point in a new interpreter, on
folders laid out as SageMaker lays out its containers' folders (the `pipeline` fixture in
conftest.py), then the serving app on the model as an endpoint unpacks it."""

from __future__ import annotations

import json

from {{ cookiecutter.package_name }}.config import METRIC_NAME, METRIC_THRESHOLD
from {{ cookiecutter.package_name }}.data import load_csv
from {{ cookiecutter.package_name }}.model_io import MODEL_FILE, file_sha256, load_model
from {{ cookiecutter.package_name }}.serve import create_app


def test_preprocess_wrote_the_split_and_the_baseline(pipeline) -> None:
    train = load_csv(pipeline.processing / "train" / "train.csv")
    test = load_csv(pipeline.processing / "test" / "test.csv")
    assert (len(train.target), len(test.target)) == (455, 114)
    statistics = json.loads((pipeline.processing / "baseline" / "statistics.json").read_text())
    assert statistics["dataset"]["item_count"] == 455
    assert (pipeline.processing / "baseline" / "constraints.json").is_file()


def test_the_model_was_trained_on_the_train_split(pipeline) -> None:
    metadata = load_model(pipeline.model_dir).metadata
    assert len(metadata["feature_names"]) == 30
{%- if cookiecutter.platform == "sagemaker" %}
    assert metadata["training_rows"] == 455  # every row of the channel: no second split
    assert metadata["hyperparameters"] == {"C": 0.5, "max_iter": 500}
{%- endif %}


def test_the_evaluation_report_has_what_the_condition_step_reads(pipeline) -> None:
    report = json.loads((pipeline.processing / "evaluation" / "evaluation.json").read_text())
    assert set(report["metrics"]) == {"accuracy", "f1", "precision", "recall", "roc_auc"}
    assert report["metrics"][METRIC_NAME] >= METRIC_THRESHOLD


def test_the_served_model_has_the_digest_the_evaluation_recorded(pipeline, monkeypatch) -> None:
    report = json.loads((pipeline.processing / "evaluation" / "evaluation.json").read_text())
    recorded = report["integrity"]["model_sha256"]
    assert file_sha256(pipeline.served / MODEL_FILE) == recorded
    monkeypatch.setenv("MLOPS_BP_MODEL_SHA256", recorded)
    assert create_app(pipeline.served).test_client().get("/ping").status_code == 200


def test_the_endpoint_serves_the_unpacked_model(pipeline) -> None:
    assert sorted(p.name for p in pipeline.served.iterdir()) == ["metadata.json", "model.skops"]
    client = create_app(pipeline.served).test_client()
    assert client.get("/ping").status_code == 200
    rows = load_csv(pipeline.processing / "test" / "test.csv").features[:5].tolist()
    response = client.post("/invocations", json={"instances": rows})
    assert response.status_code == 200
    assert len(response.get_json()["predictions"]) == 5
