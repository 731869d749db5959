from __future__ import annotations
{% if cookiecutter.platform == "kubernetes" %}
import json

import numpy as np
{% endif %}
from {{ cookiecutter.package_name }}.data import load_dataset
{%- if cookiecutter.platform == "kubernetes" %}
from {{ cookiecutter.package_name }}.monitoring import DataCapture, ModelMonitor
{%- else %}
from {{ cookiecutter.package_name }}.monitoring import ModelMonitor
{%- endif %}
from {{ cookiecutter.package_name }}.serve import create_app


def _monitor(trained) -> ModelMonitor:
    return ModelMonitor.from_metadata(trained.metadata)


def test_training_like_traffic_does_not_drift(trained) -> None:
    monitor = _monitor(trained)
    features = load_dataset().features
    monitor.observe(features, [0.5] * len(features), 0.01)
    assert monitor.drift_share() < 0.1
    assert not monitor.drifting()


def test_shifted_traffic_drifts(trained) -> None:
    monitor = _monitor(trained)
    features = load_dataset().features * 3.0
    monitor.observe(features, [0.5] * len(features), 0.01)
    assert monitor.drift_share() > monitor.drift_threshold
    assert monitor.drifting()


def test_metrics_endpoint_counts_invocations_and_errors(model_dir) -> None:
    client = create_app(model_dir).test_client()
    rows = [[float(v) for v in row] for row in load_dataset().features[:40]]
    assert client.post("/invocations", json={"instances": rows}).status_code == 200
    assert client.post("/invocations", json={"instances": [[1.0]]}).status_code == 400
    text = client.get("/metrics").get_data(as_text=True)
    assert "model_invocations_total 2" in text
    assert "model_errors_total 1" in text
    assert "model_rows_total 40" in text
    assert 'model_latency_seconds_bucket{le="+Inf"} 1' in text
    drift = next(line for line in text.splitlines() if line.startswith("model_drift_share "))
    assert 0.0 <= float(drift.split()[1]) <= 1.0
{%- if cookiecutter.platform == "kubernetes" %}


class _FakeS3:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put_object(self, Bucket: str, Key: str, Body: bytes) -> None:  # noqa: N803 - boto3's names
        self.objects[f"{Bucket}/{Key}"] = Body


def _capture(**options) -> tuple[DataCapture, _FakeS3]:
    s3 = _FakeS3()
    uri = "s3://bucket/datacapture/dev/"
    capture = DataCapture(uri, 100, "7", client=s3, flush_seconds=3600, **options)
    return capture, s3


def test_captured_requests_are_written_in_batches_by_hour() -> None:
    capture, s3 = _capture()
    rows = np.asarray(load_dataset().features[:3])
    capture.offer(rows, [1, 0, 1], [0.9, 0.1, 0.8])
    capture.offer(rows[:1], [1], [0.9])
    assert s3.objects == {}  # nothing is written on the request path
    assert capture.flush() == 2
    [(key, body)] = s3.objects.items()
    assert key.startswith("bucket/datacapture/dev/") and key.endswith(".jsonl")
    assert key.removeprefix("bucket/datacapture/dev/").count("/") == 4  # yyyy/mm/dd/hh/
    first, second = (json.loads(line) for line in body.decode().splitlines())
    assert first["model_version"] == "7" and first["features"] == rows.tolist()
    assert first["predictions"] == [1, 0, 1] and len(second["features"]) == 1
    assert capture.flush() == 0
    capture.close()


def test_a_full_buffer_drops_new_requests_instead_of_waiting() -> None:
    capture, s3 = _capture(max_buffered_rows=4)
    rows = np.asarray(load_dataset().features[:3])
    capture.offer(rows, [1, 0, 1], [0.9, 0.1, 0.8])
    capture.offer(rows, [1, 0, 1], [0.9, 0.1, 0.8])
    assert capture.dropped == 1
    assert capture.flush() == 1
    capture.close()
{%- endif %}
