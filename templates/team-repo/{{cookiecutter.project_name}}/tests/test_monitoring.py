from __future__ import annotations

from {{ cookiecutter.package_name }}.data import load_dataset
from {{ cookiecutter.package_name }}.monitoring import ModelMonitor
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
