"""The drift-check script the CronJob runs: the captured window against the served version's
baseline, a minimum sample, and a training Job from the CronJob's template only above the
threshold (fake MLflow, S3 and Kubernetes APIs; tests/loop/test_kubernetes_loop.py runs it for
real against MLflow and moto)."""

from __future__ import annotations

import io
import json
import sys
import threading
import types
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mlops_bp.stacks.kubernetes.monitoring import drift_check_script

from .loop.cluster import FakeKubernetesApi

NOW = datetime(2026, 11, 29, 10, 30, tzinfo=UTC)
MEAN, STD = [0.0, 10.0], [1.0, 2.0]
CRONJOB = {
    "metadata": {"name": "training", "namespace": "team-dev"},
    "spec": {
        "jobTemplate": {
            "metadata": {"labels": {"app.kubernetes.io/name": "training"}},
            "spec": {"backoffLimit": 2, "template": {"spec": {}}},
        }
    },
}


@pytest.fixture
def script(monkeypatch):
    module = types.ModuleType("drift_check")
    monkeypatch.setitem(sys.modules, "drift_check", module)  # its dataclasses look themselves up
    exec(compile(drift_check_script(), "drift_check.py", "exec"), module.__dict__)
    return module


def _records(rows_per_request: int, requests: int, shift: float = 0.0, version: str = "3") -> list[dict]:
    row = [MEAN[0] + shift * STD[0], MEAN[1] + shift * STD[1]]
    return [{"model_version": version, "features": [row] * rows_per_request} for _ in range(requests)]


def test_too_little_traffic_decides_nothing(script):
    baseline = script.Baseline("3", MEAN, STD)
    skewed = _records(40, 1, shift=5)  # one large skewed request
    assert script.drift_window(skewed, baseline, min_rows=100, min_requests=20).share is None
    many_small = _records(1, 50, shift=5)
    assert script.drift_window(many_small, baseline, min_rows=100, min_requests=20).share is None


def test_the_share_counts_features_beyond_half_a_standard_deviation(script):
    baseline = script.Baseline("3", MEAN, STD)
    assert script.drift_window(_records(5, 30), baseline, 100, 20).share == 0.0
    window = script.drift_window(_records(5, 30, shift=1), baseline, 100, 20)
    assert (window.requests, window.rows, window.share) == (30, 150, 1.0)


def test_only_records_of_the_served_version_and_well_formed_rows_count(script):
    baseline = script.Baseline("3", MEAN, STD)
    records = [
        *_records(5, 30),
        *_records(5, 30, shift=9, version="2"),
        {"model_version": "3", "features": [[1.0], ["x", 1.0], [float("nan"), 1.0]]},
        {"model_version": "3", "features": "not rows"},
    ]
    window = script.drift_window(records, baseline, 100, 20)
    assert (window.requests, window.rows, window.share) == (30, 150, 0.0)


def test_the_window_is_the_last_hours_folders(script):
    assert script.window_prefixes("datacapture/dev/", NOW, 3) == [
        "datacapture/dev/2026/11/29/10/",
        "datacapture/dev/2026/11/29/09/",
        "datacapture/dev/2026/11/29/08/",
    ]


class FakeS3:
    """Objects by key; list and get as the script calls them."""

    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects

    def get_paginator(self, _name):
        fake = self

        class Paginator:
            def paginate(self, Bucket, Prefix):  # noqa: N803 - boto3's names
                return [{"Contents": [{"Key": k} for k in sorted(fake.objects) if k.startswith(Prefix)]}]

        return Paginator()

    def get_object(self, Bucket, Key):  # noqa: N803
        body = io.BytesIO(self.objects[Key])
        body.iter_lines = lambda: iter(body.getvalue().splitlines())
        return {"Body": body}


def _mlflow_server():
    metadata = {"baseline": {"mean": MEAN, "std": STD}}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802
            if self.path.startswith("/api/2.0/mlflow/registered-models/alias?"):
                body = {"model_version": {"version": "3", "source": "mlflow-artifacts:/1/run/artifacts/model"}}
            elif self.path == "/api/2.0/mlflow-artifacts/artifacts/1/run/artifacts/model/metadata.json":
                body = metadata
            else:
                self.send_response(404)
                self.end_headers()
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


def _run(script, tmp_path, records: list[dict]) -> tuple[str, FakeKubernetesApi]:
    lines = "".join(json.dumps(r) + "\n" for r in records).encode()
    s3 = FakeS3({"datacapture/dev/2026/11/29/10/batch.jsonl": lines, "datacapture/dev/2026/11/27/10/old.jsonl": lines})
    mlflow = _mlflow_server()
    threading.Thread(target=mlflow.serve_forever, daemon=True).start()
    (tmp_path / "token").write_text("pod-token\n")
    api = FakeKubernetesApi("team-dev", {"training": CRONJOB})
    try:
        with api.serving() as url:
            env = {
                "CAPTURE_S3_URI": "s3://artifacts/datacapture/dev/",
                "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{mlflow.server_address[1]}",
                "MODEL_NAME": "team",
                "MODEL_ALIAS": "champion",
                "DRIFT_THRESHOLD": "0.2",
                "DRIFT_WINDOW_HOURS": "24",
                "DRIFT_MIN_ROWS": "100",
                "DRIFT_MIN_REQUESTS": "20",
                "NAMESPACE": "team-dev",
                "TRAINING_CRONJOB": "training",
                "KUBERNETES_API": url,
                "SERVICEACCOUNT_DIR": str(tmp_path),
            }
            return script.run(env, s3=s3, now=NOW), api
    finally:
        mlflow.shutdown()
        mlflow.server_close()


def test_a_drifted_window_starts_training_from_the_cronjob_template(script, tmp_path):
    message, api = _run(script, tmp_path, _records(5, 30, shift=2))
    assert message == "30 requests, 150 rows of version 3: drift 1.0000 > threshold 0.2; started training-drift-1"
    assert set(api.tokens) == {"Bearer pod-token"}
    [job] = api.created
    assert job["kind"] == "Job" and job["spec"] == CRONJOB["spec"]["jobTemplate"]["spec"]
    assert job["metadata"]["generateName"] == "training-drift-"
    assert job["metadata"]["labels"] == {"app.kubernetes.io/name": "training", "mlops-bp/trigger": "drift"}
    assert job["metadata"]["ownerReferences"][0]["uid"] == "uid-training"


def test_a_clean_or_small_window_does_nothing(script, tmp_path):
    message, api = _run(script, tmp_path, _records(5, 30))
    assert message == "30 requests, 150 rows of version 3: drift 0.0000 <= threshold 0.2; nothing to do"
    message, api = _run(script, tmp_path, _records(40, 1, shift=5))
    assert message == "1 requests, 40 rows of version 3: too little traffic to decide; nothing to do"
    assert api.created == [] and api.tokens == []
