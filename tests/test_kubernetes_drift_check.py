"""The drift-check script the CronJob runs, against fake Prometheus and Kubernetes APIs on
127.0.0.1: it starts a training Job from the CronJob's template only above the threshold."""

from __future__ import annotations

import json
import threading
import types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from mlops_bp.stacks.kubernetes.monitoring import drift_check_script

CRONJOB = {
    "metadata": {"name": "training", "namespace": "team-dev", "uid": "cj-uid"},
    "spec": {
        "jobTemplate": {
            "metadata": {"labels": {"app.kubernetes.io/name": "training"}},
            "spec": {"backoffLimit": 2, "template": {"spec": {}}},
        }
    },
}


class FakeApis:
    def __init__(self, drift: list[float], active_jobs: int = 0) -> None:
        self.drift, self.active_jobs = drift, active_jobs
        self.created: list[dict] = []
        self.queries: list[str] = []
        self.auth: list[str] = []

    def handler(self):
        apis = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, body: dict, code: int = 200) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802
                url = urlparse(self.path)
                if url.path == "/api/v1/query":
                    apis.queries.append(parse_qs(url.query)["query"][0])
                    result = [{"metric": {}, "value": [0, str(v)]} for v in apis.drift]
                    return self._send({"status": "success", "data": {"resultType": "vector", "result": result}})
                apis.auth.append(self.headers["Authorization"])
                if url.path == "/apis/batch/v1/namespaces/team-dev/jobs":
                    items = [
                        {"metadata": {"name": f"training-drift-{i}"}, "status": {"active": 1}}
                        for i in range(apis.active_jobs)
                    ]
                    return self._send({"items": items})
                if url.path == "/apis/batch/v1/namespaces/team-dev/cronjobs/training":
                    return self._send(CRONJOB)
                return self._send({"message": "not found"}, 404)

            def do_POST(self):  # noqa: N802
                apis.auth.append(self.headers["Authorization"])
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                apis.created.append(body)
                self._send({**body, "metadata": {**body["metadata"], "name": "training-drift-abcde"}}, 201)

        return Handler


@pytest.fixture
def script():
    module = types.ModuleType("drift_check")
    exec(compile(drift_check_script(), "drift_check.py", "exec"), module.__dict__)
    return module


def _run(script, apis: FakeApis, tmp_path, threshold: str = "0.2") -> str:
    server = ThreadingHTTPServer(("127.0.0.1", 0), apis.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    (tmp_path / "token").write_text("pod-token\n")
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        return script.run(
            {
                "PROMETHEUS_URL": url,
                "DRIFT_QUERY": 'max(model_drift_share{namespace="team-dev"})',
                "DRIFT_THRESHOLD": threshold,
                "NAMESPACE": "team-dev",
                "TRAINING_CRONJOB": "training",
                "KUBERNETES_API": url,
                "SERVICEACCOUNT_DIR": str(tmp_path),
            }
        )
    finally:
        server.shutdown()
        server.server_close()


def test_drift_above_threshold_starts_training_from_the_cronjob_template(script, tmp_path):
    apis = FakeApis(drift=[0.1, 0.35])
    message = _run(script, apis, tmp_path)
    assert message == "drift 0.3500 > threshold 0.2; started training-drift-abcde"
    assert apis.queries == ['max(model_drift_share{namespace="team-dev"})']
    assert apis.auth and set(apis.auth) == {"Bearer pod-token"}
    [job] = apis.created
    assert job["kind"] == "Job" and job["spec"] == CRONJOB["spec"]["jobTemplate"]["spec"]
    assert job["metadata"]["generateName"] == "training-drift-"
    assert job["metadata"]["labels"] == {"app.kubernetes.io/name": "training", "mlops-bp/trigger": "drift"}
    assert job["metadata"]["ownerReferences"][0]["uid"] == "cj-uid"


def test_drift_at_or_below_threshold_does_nothing(script, tmp_path):
    apis = FakeApis(drift=[0.2])
    assert _run(script, apis, tmp_path) == "drift 0.2000 <= threshold 0.2; nothing to do"
    assert apis.created == [] and apis.auth == []


def test_no_metric_yet_does_nothing(script, tmp_path):
    apis = FakeApis(drift=[])
    assert _run(script, apis, tmp_path) == "no drift metric yet; nothing to do"
    assert apis.created == []


def test_running_retraining_is_not_started_twice(script, tmp_path):
    apis = FakeApis(drift=[0.9], active_jobs=1)
    assert "retraining already running (training-drift-0)" in _run(script, apis, tmp_path)
    assert apis.created == []
