"""The Kubernetes loop, seam by seam, on a generated level-4 repo and its captured graph.

MLflow (a real tracking server from PyPI, started with the MLflow Deployment's own command, its
artifacts in S3 on a moto server) -> the training Job's container (the dataset where `dvc push`
puts it) registers a version -> the approval sets the alias -> the model server's init container
loads the approved version, its digest checked -> the server serves and captures traffic to S3 ->
the drift CronJob's container reads the captured window against the served version's baseline
and creates the training Job from the CronJob's template -> that Job registers the next version,
which serves nothing until approved. Every name, command, path and variable comes from the graph
and the repo (tests/loop/cluster.py runs the pods).
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

import boto3
import pytest

from mlops_bp.templates.render import render_tree

from ..conftest import make_blueprint
from ..graphs import graph
from .cluster import FakeKubernetesApi, LocalPod, console_script, env_of, objects, pod_of, stop_group
from .harness import split_s3
from .web import free_port as _free_port
from .web import request as _request
from .web import wait_for_http

REGION = "us-east-1"  # the blueprint's region: the graph's ARNs and URLs name it
STACK = graph(4, "dev", "kubernetes", deployed=True)
MODEL = "fraud-detect"


@pytest.fixture(scope="module")
def aws(moto_server, tmp_path_factory):
    """An S3 client and the environment of every process, both on the moto server; the stack's
    buckets created (names from the graph)."""
    moto_server.reset()
    home = tmp_path_factory.mktemp("home")
    env = {
        "AWS_ENDPOINT_URL": moto_server.url,
        "MLFLOW_S3_ENDPOINT_URL": moto_server.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": str(home / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "HOME": str(home),
    }
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_server.url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    for key in ("data_bucket", "artifacts_bucket"):
        s3.create_bucket(Bucket=STACK.outputs[key])
    return {"s3": s3, "env": env}


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("repo") / MODEL
    render_tree(make_blueprint(4, "kubernetes"), "github", dest)
    return dest


@pytest.fixture(scope="module")
def mlflow(aws, repo, tmp_path_factory) -> str:
    """The MLflow Deployment's own command (backend store on its volume, artifacts proxied to the
    artifacts bucket), on 127.0.0.1 and one worker instead of the pod's address and defaults."""
    deployment = objects(STACK, "Deployment")["mlflow"]
    pod = LocalPod(pod_of(deployment), repo, tmp_path_factory.mktemp("mlflow"))
    port = _free_port()
    command = [
        a if not a.startswith(("--host=", "--port=")) else ("--host=127.0.0.1" if "host" in a else f"--port={port}")
        for a in pod.command("mlflow")
    ]
    # The image's MLflow (2.x) runs no job runner; 3.x would start one in more processes.
    process = pod.start(
        "mlflow", {**aws["env"], "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}, [*command, "--workers=1"]
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/health", process, 120, "MLflow")
        yield url
    finally:
        stop_group(process)


@pytest.fixture(scope="module")
def services(mlflow) -> dict[str, str]:
    """In-cluster URLs the manifests name -> the local servers standing in for them."""
    return {STACK.outputs["tracking_uri"]: mlflow}


def _mlflow(mlflow: str, endpoint: str, **query: str) -> dict:
    url = f"{mlflow}/api/2.0/mlflow/{endpoint}?{urllib.parse.urlencode(query)}"
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


def _pod(name: str, kind: str, repo: Path, workdir: Path, services: dict[str, str]) -> LocalPod:
    return LocalPod(pod_of(objects(STACK, kind)[name]), repo, workdir, objects(STACK, "ConfigMap"), services=services)


@pytest.fixture(scope="module")
def trained(aws, repo, services, tmp_path_factory) -> subprocess.CompletedProcess:
    """The repo's `make data` pushed where the training Job reads it, then the Job's container."""
    pod = _pod("training", "CronJob", repo, tmp_path_factory.mktemp("training"), services)
    dataset = tmp_path_factory.mktemp("data") / "train.csv"
    subprocess.run(
        [sys.executable, "-m", "fraud_detect.data", str(dataset)],
        cwd=repo,
        env=pod.environment("training", {}),
        check=True,
    )
    bucket, key = split_s3(env_of(pod.container("training"))["TRAINING_DATA_URI"])
    aws["s3"].upload_file(str(dataset), bucket, key)  # what `dvc push` does (version-aware remote)
    done = pod.run("training", aws["env"])
    assert done.returncode == 0, pod.log
    return done


def test_the_job_trains_on_the_dataset_dvc_pushes(repo):
    makefile = (repo / "Makefile").read_text()
    path = makefile.split("\ndata:\n", 1)[1].splitlines()[0].split()[-1]
    uri = env_of(pod_of(objects(STACK, "CronJob")["training"])["containers"][0])["TRAINING_DATA_URI"]
    assert uri == f"s3://{STACK.outputs['data_bucket']}/{path}"


def test_training_registers_a_version_with_its_artifacts_in_s3(trained, mlflow, aws):
    assert f"registered {MODEL} version 1" in trained.stdout
    version = _mlflow(mlflow, "model-versions/get", name=MODEL, version="1")["model_version"]
    tags = {t["key"]: t["value"] for t in version["tags"]}
    metrics = json.loads(tags["mlops_bp.metrics"])
    assert metrics["accuracy"] >= 0.8
    run = _mlflow(mlflow, "runs/get", run_id=version["run_id"])["run"]
    assert {m["key"] for m in run["data"]["metrics"]} >= {"accuracy"}
    assert {p["key"] for p in run["data"]["params"]} == {"C", "max_iter"}
    # The artifacts are in the artifacts bucket, where the MLflow Deployment's command sends them.
    bucket = STACK.outputs["artifacts_bucket"]
    keys = [o["Key"] for o in aws["s3"].list_objects_v2(Bucket=bucket, Prefix="mlflow/")["Contents"]]
    [model_key] = [k for k in keys if k.endswith("/model/model.skops")]
    body = aws["s3"].get_object(Bucket=bucket, Key=model_key)["Body"].read()
    import hashlib

    assert tags["mlops_bp.model_sha256"] == hashlib.sha256(body).hexdigest()


def _approve(repo: Path, mlflow: str, aws, version: str) -> subprocess.CompletedProcess:
    """What `make approve VERSION=...` runs, against the tracking server."""
    makefile = (repo / "Makefile").read_text()
    recipe = makefile.split("\napprove:\n", 1)[1].splitlines()[0].strip()
    assert recipe.endswith("-m fraud_detect.train approve $(VERSION)"), recipe
    return subprocess.run(
        [*console_script(repo, "train.Dockerfile"), "approve", version],
        cwd=repo,
        env={**os.environ, **aws["env"], "PYTHONPATH": str(repo / "src"), "MLFLOW_TRACKING_URI": mlflow},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def approved(trained, repo, mlflow, aws) -> str:
    done = _approve(repo, mlflow, aws, "1")
    assert done.returncode == 0, done.stderr
    return _mlflow(mlflow, "registered-models/alias", name=MODEL, alias="champion")["model_version"]["version"]


def test_the_approval_sets_the_alias_and_refuses_what_fails_the_gate(approved, mlflow, repo, aws):
    assert approved == "1"
    source = _mlflow(mlflow, "model-versions/get", name=MODEL, version="1")["model_version"]
    weak = {
        "name": MODEL,
        "source": source["source"],
        "run_id": source["run_id"],
        "tags": [{"key": "mlops_bp.metrics", "value": json.dumps({"accuracy": 0.5})}],
    }
    request = urllib.request.Request(
        f"{mlflow}/api/2.0/mlflow/model-versions/create",
        data=json.dumps(weak).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        weak_version = json.load(response)["model_version"]["version"]
    done = _approve(repo, mlflow, aws, weak_version)
    assert done.returncode == 1 and "below the threshold" in done.stderr and "Traceback" not in done.stderr
    champion = _mlflow(mlflow, "registered-models/alias", name=MODEL, alias="champion")["model_version"]
    assert champion["version"] == "1"


@pytest.fixture(scope="module")
def server_pod(approved, repo, services, tmp_path_factory) -> LocalPod:
    return _pod("model-server", "Deployment", repo, tmp_path_factory.mktemp("server"), services)


def test_the_loader_refuses_a_model_file_that_differs_from_its_registration(server_pod, aws, tmp_path):
    bucket = STACK.outputs["artifacts_bucket"]
    keys = [o["Key"] for o in aws["s3"].list_objects_v2(Bucket=bucket, Prefix="mlflow/")["Contents"]]
    [model_key] = [k for k in keys if k.endswith("/model/model.skops")]
    original = aws["s3"].get_object(Bucket=bucket, Key=model_key)["Body"].read()
    aws["s3"].put_object(Bucket=bucket, Key=model_key, Body=original + b"tampered")
    try:
        [loader] = server_pod.spec["initContainers"]
        elsewhere = LocalPod(server_pod.spec, server_pod.repo, tmp_path, services=server_pod.services)
        done = elsewhere.run(loader["name"], aws["env"])
    finally:
        aws["s3"].put_object(Bucket=bucket, Key=model_key, Body=original)
    assert done.returncode == 1 and "registered with" in done.stderr, done.stderr
    assert not list(elsewhere.volumes["model"].iterdir())  # nothing where the server reads


@pytest.fixture(scope="module")
def endpoint(server_pod, aws):
    """The init container loads the approved version into the shared volume; then the server
    container starts on it (bound to a free port, as the harness of the SageMaker loop does),
    with data capture flushing every second instead of every minute."""
    [loader] = server_pod.spec["initContainers"]
    done = server_pod.run(loader["name"], aws["env"])
    assert done.returncode == 0, server_pod.log
    assert "loaded fraud-detect version 1 (champion)" in done.stdout
    port = _free_port()
    [server] = server_pod.spec["containers"]
    process = server_pod.start(
        server["name"], {**aws["env"], "SAGEMAKER_BIND_TO_PORT": str(port), "DATA_CAPTURE_FLUSH_SECONDS": "1"}
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/ping", process, 60, "the model server")
        yield url
    finally:
        stop_group(process)


def _rows() -> list[list[float]]:
    from sklearn.datasets import load_breast_cancer

    return [[float(v) for v in row] for row in load_breast_cancer().data]


def test_the_server_serves_the_approved_version(endpoint, aws):
    rows = _rows()[:5]
    status, body = _request(f"{endpoint}/invocations", json.dumps({"instances": rows}).encode())
    assert status == 200 and len(json.loads(body)["predictions"]) == 5
    csv_body = "\n".join(",".join(repr(v) for v in row) for row in rows).encode()
    status, body = _request(f"{endpoint}/invocations", csv_body, "text/csv")
    assert status == 200 and len(body.decode().splitlines()) == 5
    _await_capture(aws, [rows, rows])  # so that no later window holds them


def test_a_body_above_the_limit_is_refused_before_it_is_read(endpoint, server_pod):
    limit = int(env_of(server_pod.spec["containers"][0])["MAX_REQUEST_BYTES"])
    host, port = endpoint.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.putrequest("POST", "/invocations")
    connection.putheader("Content-Type", "text/csv")
    connection.putheader("Content-Length", str(100 * limit))
    connection.endheaders()
    assert connection.getresponse().status == 413
    connection.close()


CAPTURE_URI = env_of(pod_of(objects(STACK, "Deployment")["model-server"])["containers"][0])["DATA_CAPTURE_S3_URI"]


def _captured(aws) -> list[dict]:
    bucket, prefix = split_s3(CAPTURE_URI)
    records = []
    for obj in aws["s3"].list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
        body = aws["s3"].get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode()
        records += [json.loads(line) for line in body.splitlines() if line]
    return records


def _clear_capture(aws) -> None:
    """A new window: what was captured before is not in it."""
    bucket, prefix = split_s3(CAPTURE_URI)
    for obj in aws["s3"].list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
        aws["s3"].delete_object(Bucket=bucket, Key=obj["Key"])


def _await_capture(aws, batches: list[list[list[float]]]) -> None:
    """Poll S3 (with a deadline) until a record of every one of these requests is there."""
    wanted = Counter(json.dumps(rows) for rows in batches)
    deadline = time.monotonic() + 30
    while wanted - Counter(json.dumps(r["features"]) for r in _captured(aws)):
        assert time.monotonic() < deadline, "the captured requests did not reach S3"
        time.sleep(0.2)


def _send(endpoint: str, aws, batches: list[list[list[float]]]) -> None:
    """Requests the server answers, then their capture in S3."""
    for rows in batches:
        assert _request(f"{endpoint}/invocations", json.dumps({"instances": rows}).encode())[0] == 200
    _await_capture(aws, batches)


def test_the_server_captures_requests_and_responses(endpoint, aws):
    _clear_capture(aws)
    _send(endpoint, aws, [_rows()[100:103]])
    [record] = _captured(aws)
    assert record["model_version"] == "1" and len(record["features"]) == 3
    assert len(record["predictions"]) == 3 and len(record["probabilities"]) == 3
    bucket, prefix = split_s3(CAPTURE_URI)
    [obj] = aws["s3"].list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
    assert obj["Key"].removeprefix(prefix).count("/") == 4  # yyyy/mm/dd/hh/<batch>.jsonl


@pytest.fixture(scope="module")
def kubernetes_api():
    cronjobs = objects(STACK, "CronJob")
    api = FakeKubernetesApi(cronjobs["training"]["metadata"]["namespace"], cronjobs)
    with api.serving() as url:
        yield api, url


def _drift_check(repo, services, aws, kubernetes_api, workdir: Path) -> str:
    """The drift CronJob's container, with the in-cluster API server and token stood in for."""
    api, url = kubernetes_api
    pod = _pod("drift-check", "CronJob", repo, workdir, services)
    account = workdir / "serviceaccount"
    account.mkdir()
    (account / "token").write_text("drift-check-token\n")
    [check] = pod.spec["containers"]
    done = pod.run(check["name"], {**aws["env"], "KUBERNETES_API": url, "SERVICEACCOUNT_DIR": str(account)})
    assert done.returncode == 0, pod.log
    return done.stdout.strip()


def test_a_few_skewed_requests_decide_nothing(endpoint, aws, repo, services, kubernetes_api, tmp_path):
    _clear_capture(aws)
    skewed = [[v * 3 + 5 for v in row] for row in _rows()[:40]]
    _send(endpoint, aws, [skewed])  # the 40-row request
    message = _drift_check(repo, services, aws, kubernetes_api, tmp_path)
    assert "1 requests, 40 rows of version 1: too little traffic to decide" in message
    assert kubernetes_api[0].created == []


def test_a_clean_window_starts_nothing(endpoint, aws, repo, services, kubernetes_api, tmp_path):
    _clear_capture(aws)
    rows = _rows()
    _send(endpoint, aws, [rows[i : i + 5] for i in range(0, 150, 5)])
    message = _drift_check(repo, services, aws, kubernetes_api, tmp_path)
    assert message.startswith("30 requests, 150 rows of version 1: drift ") and "nothing to do" in message
    assert kubernetes_api[0].created == []


@pytest.fixture(scope="module")
def retraining(endpoint, aws, repo, services, kubernetes_api, tmp_path_factory) -> dict:
    _clear_capture(aws)
    drifted = [[v * 3 + 5 for v in row] for row in _rows()[:150]]
    _send(endpoint, aws, [drifted[i : i + 5] for i in range(0, 150, 5)])
    message = _drift_check(repo, services, aws, kubernetes_api, tmp_path_factory.mktemp("drift"))
    assert "> threshold" in message and "started training-drift-" in message, message
    [job] = kubernetes_api[0].created
    return job


def test_a_drifted_window_creates_the_job_of_the_training_cronjob(retraining, kubernetes_api):
    training = objects(STACK, "CronJob")["training"]
    assert retraining["kind"] == "Job" and retraining["spec"] == training["spec"]["jobTemplate"]["spec"]
    assert retraining["metadata"]["labels"]["mlops-bp/trigger"] == "drift"
    assert retraining["metadata"]["ownerReferences"][0]["name"] == "training"
    assert set(kubernetes_api[0].tokens) == {"Bearer drift-check-token"}


def test_retraining_registers_a_version_that_serves_only_once_approved(
    retraining, aws, repo, services, mlflow, tmp_path
):
    job = LocalPod(retraining["spec"]["template"]["spec"], repo, tmp_path, services=services)
    [trainer] = job.spec["containers"]
    done = job.run(trainer["name"], aws["env"])
    assert done.returncode == 0, job.log
    assert f"registered {MODEL} version 3" in done.stdout  # 2 is the weak one the approval refused
    champion = _mlflow(mlflow, "registered-models/alias", name=MODEL, alias="champion")["model_version"]
    assert champion["version"] == "1"
