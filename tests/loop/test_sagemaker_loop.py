"""The SageMaker loop, seam by seam, on a generated level-4 repo and its captured graphs.

pipeline (preprocess -> train -> evaluate -> condition -> register, run by tests/loop/harness.py
on S3 of a moto server) -> approval -> deploy config (the repo's infra/deploy_config.py against
moto) -> the stack that deploy pins (plan) -> serving (the repo's entry point on the packed
model) -> data capture -> drift post-processor (the script the stack uploads) -> the metric the
drift alarm reads. Every name and path comes from the graphs and the repo.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import posixpath
import socket
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import pytest

from mlops_bp.stacks.context import Deployment
from mlops_bp.stacks.plan import plan
from mlops_bp.templates.render import render_tree

from ..conftest import make_blueprint
from ..graphs import graph
from ..moto_server import stop, wait_until_ready
from .harness import PipelineRun, split_s3

REGION = "us-east-1"  # the blueprint's region: the graphs' ARNs and URLs name it
IMAGE_TAG = "0" * 40  # what tests/graphs.py's deployed state pins (stacks.plan.deployed)


@pytest.fixture(scope="module")
def aws(moto_server):
    """boto3 clients and a subprocess environment, both on the moto server."""
    moto_server.reset()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        "AWS_ENDPOINT_URL": moto_server.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)

    def client(name: str):
        return session.client(name, endpoint_url=moto_server.url)

    return {"env": env, "client": client}


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("repo") / "fraud-detect"
    render_tree(make_blueprint(4), "github", dest)
    return dest


def _definition(level: int) -> dict:
    pipeline = graph(level, "dev", deployed=True).one("aws:sagemaker/pipeline:Pipeline")
    return json.loads(pipeline.inputs["pipelineDefinition"])


def _ensure_bucket(s3, uri: str) -> None:
    bucket, _ = split_s3(uri)
    if bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=bucket)


@pytest.fixture(scope="module")
def runs(aws, repo, tmp_path_factory) -> dict[int, PipelineRun]:
    """The level-2 and level-4 pipelines, run once each on the repo's code and dataset."""
    s3, sagemaker = aws["client"]("s3"), aws["client"]("sagemaker")
    done = {}
    for level in (2, 4):
        definition = _definition(level)
        defaults = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
        _ensure_bucket(s3, defaults["InputDataUri"])
        dataset = tmp_path_factory.mktemp("data") / "train.csv"
        subprocess.run(  # the repo's `make data`
            [sys.executable, "-m", "fraud_detect.data", str(dataset)],
            cwd=repo,
            env={**aws["env"], "PYTHONPATH": str(repo / "src")},
            check=True,
        )
        bucket, key = split_s3(defaults["InputDataUri"])
        s3.upload_file(str(dataset), bucket, key)  # what `dvc push` does (version-aware remote)
        register = definition["Steps"][-1]["Arguments"]["IfSteps"][0]["Arguments"]
        group = register["ModelPackageGroupName"]
        if not sagemaker.list_model_package_groups(NameContains=group)["ModelPackageGroupSummaryList"]:
            sagemaker.create_model_package_group(ModelPackageGroupName=group)  # the stack's ModelRegistry
        first_output = definition["Steps"][0]["Arguments"]["ProcessingOutputConfig"]["Outputs"][0]
        _ensure_bucket(s3, first_output["S3Output"]["S3Uri"]["Std:Join"]["Values"][0]["Std:Join"]["Values"][0])
        run = PipelineRun(
            definition,
            repo,
            tmp_path_factory.mktemp(f"run{level}"),
            s3,
            sagemaker,
            execution_id=f"local-level{level}",
        )
        done[level] = run.run()
    return done


@pytest.mark.parametrize("level", [2, 4])
def test_the_pipeline_trains_evaluates_and_registers(runs, aws, level):
    run = runs[level]
    assert run.failed is None, run.log
    (registered,) = run.registered
    assert registered["ModelApprovalStatus"] == "PendingManualApproval"
    s3 = aws["client"]("s3")
    model_uri = registered["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    bucket, key = split_s3(model_uri)
    assert key.endswith("/output/model.tar.gz") and s3.head_object(Bucket=bucket, Key=key)["ContentLength"] > 0
    baseline = registered["DriftCheckBaselines"]["ModelDataQuality"]
    for part in ("Statistics", "Constraints"):
        bucket, key = split_s3(baseline[part]["S3Uri"])
        document = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        assert len(document["features"]) == 30  # one per feature of the dataset
    report = run.property_files["Evaluate.EvaluationReport"]
    assert report["metrics"]["accuracy"] >= 0.8


def test_the_dataset_is_where_dvc_pushes_it(repo):
    """`make data` writes the file DVC tracks; a version-aware remote at the data bucket's root
    keeps its path; the pipeline's default input is that object."""
    makefile = (repo / "Makefile").read_text()
    data_target = makefile.split("\ndata:\n", 1)[1].splitlines()[0]
    path = data_target.split()[-1]
    _, key = split_s3({p["Name"]: p.get("DefaultValue") for p in _definition(4)["Parameters"]}["InputDataUri"])
    assert key == path
    assert "version_aware true" in makefile and "s3://$$(pulumi stack output data_bucket" in makefile


def _images(aws, repository: str, tags: list[str]) -> None:
    ecr = aws["client"]("ecr")
    with contextlib.suppress(ecr.exceptions.RepositoryAlreadyExistsException):
        ecr.create_repository(repositoryName=repository)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "digest": "sha256:" + "a" * 64,
            "size": 1,
            "mediaType": "application/vnd.docker.container.image.v1+json",
        },
        "layers": [],
    }
    for tag in tags:
        ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag)


def _deploy_config(repo: Path, aws, *args: str, image_tag: str = IMAGE_TAG) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "infra/deploy_config.py", "--stack", "prod", "--image-tag", image_tag, "--print", *args],
        cwd=repo,
        env=aws["env"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def approved(runs, aws, repo) -> dict[str, str]:
    """The level-4 model approved, the commit's images pushed, and the deploy's pinned config."""
    sagemaker = aws["client"]("sagemaker")
    arn = runs[4].registered[0]["ModelPackageArn"]
    repository = graph(4, "dev").one("aws:ecr/repository:Repository").inputs["name"]
    _images(aws, repository, [IMAGE_TAG, f"train-{IMAGE_TAG}"])
    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    done = _deploy_config(repo, aws, "--model-package-arn", arn)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_deploy_pins_the_approved_package_and_its_baseline(approved, runs):
    registered = runs[4].registered[0]
    assert approved["modelPackageArn"] == registered["ModelPackageArn"]
    assert approved["imageTag"] == IMAGE_TAG
    statistics = registered["DriftCheckBaselines"]["ModelDataQuality"]["Statistics"]["S3Uri"]
    assert approved["baselineUri"] == posixpath.dirname(statistics)


def test_the_deploy_refuses_what_it_must_not_serve(approved, runs, aws, repo):
    sagemaker = aws["client"]("sagemaker")
    group = runs[4].registered[0]["ModelPackageGroupName"]
    pending = runs[2].registered[0]["ModelPackageArn"]  # registered, never approved
    done = _deploy_config(repo, aws, "--model-package-arn", pending)
    assert done.returncode == 1 and "not Approved" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    other = sagemaker.create_model_package_group(ModelPackageGroupName="someone-else-models")["ModelPackageGroupArn"]
    foreign = other.replace(":model-package-group/", ":model-package/") + "/1"
    done = _deploy_config(repo, aws, "--model-package-arn", foreign)
    assert done.returncode == 1 and f"not in this project's registry {group}" in done.stderr
    done = _deploy_config(repo, aws, image_tag="f" * 40)  # a commit CI never pushed
    assert done.returncode == 1 and "is not in the registry" in done.stderr


@pytest.fixture(scope="module")
def prod(approved):
    """The prod stack as the deploy's config pins it."""
    deployment = Deployment(
        git_sha=approved["gitSha"],
        model_version=approved["modelVersion"],
        model_package_arn=approved["modelPackageArn"],
        image_tag=approved["imageTag"],
        baseline_uri=approved["baselineUri"],
    )
    return plan(make_blueprint(4), "prod", deployment)


def test_the_deployed_stack_serves_the_package_and_monitors_its_baseline(prod, approved):
    model = prod.one("aws:sagemaker/model:Model")
    assert model.inputs["primaryContainer"]["modelPackageName"] == approved["modelPackageArn"]
    job = prod.one("aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition").inputs
    statistics = job["dataQualityBaselineConfig"]["statisticsResource"]["s3Uri"]
    assert statistics == f"{approved['baselineUri']}/statistics.json"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _request(url: str, body: bytes | None = None, content_type: str = "application/json") -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type} if body is not None else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture(scope="module")
def endpoint(runs, aws, repo, tmp_path_factory):
    """The serving image's entry point on the registered model, as SageMaker starts it: the
    archive extracted to /opt/ml/model, the argument `serve`."""
    registered = runs[4].registered[0]
    bucket, key = split_s3(registered["InferenceSpecification"]["Containers"][0]["ModelDataUrl"])
    root = tmp_path_factory.mktemp("endpoint")
    archive = root / "model.tar.gz"
    aws["client"]("s3").download_file(bucket, key, str(archive))
    model_dir = root / "opt/ml/model"
    model_dir.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        tar.extractall(model_dir, filter="data")
    port = _free_port()
    harness = PipelineRun(_definition(4), repo, root, None)
    process = subprocess.Popen(
        [*harness.console_script("Dockerfile"), "serve"],
        cwd=repo,
        env={
            **aws["env"],
            "PYTHONPATH": str(repo / "src"),
            "MODEL_DIR": str(model_dir),
            "SAGEMAKER_BIND_TO_PORT": str(port),
            "HOME": str(root),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(
            lambda: _request(f"{url}/ping")[0] == 200,
            process,
            60,
            lambda: f"the serving app did not become ready: {process.stdout.read().decode()[-2000:]}",
        )
        yield url
    finally:
        stop(process)


def _test_rows(run: PipelineRun) -> list[list[float]]:
    test_csv = next(run.workdir.rglob("processing/test/*.csv"))
    lines = test_csv.read_text().splitlines()[1:]
    return [[float(v) for v in line.split(",")[:-1]] for line in lines]


def test_the_endpoint_serves_the_registered_model(endpoint, runs):
    rows = _test_rows(runs[4])[:5]
    status, body = _request(f"{endpoint}/invocations", json.dumps({"instances": rows}).encode())
    assert status == 200 and len(json.loads(body)["predictions"]) == 5
    csv_body = "\n".join(",".join(repr(v) for v in row) for row in rows).encode()
    status, body = _request(f"{endpoint}/invocations", csv_body, "text/csv")
    assert status == 200 and len(body.decode().splitlines()) == 5


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"[" * 100_000, "application/json", 400),
        (json.dumps({"instances": [[True] * 30]}).encode(), "application/json", 400),
        (b"\xff\xfe", "text/csv", 400),
        (b"hello", "text/plain", 415),
    ],
    ids=["malformed", "nested", "booleans", "not-utf8", "media-type"],
)
def test_the_endpoint_refuses_bad_bodies_with_4xx(endpoint, body, content_type, status):
    assert _request(f"{endpoint}/invocations", body, content_type)[0] == status


def test_an_oversized_body_is_refused_before_it_is_sent(endpoint):
    """413 on the declared length alone: the server does not read (or wait for) the body."""
    host, port = endpoint.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.putrequest("POST", "/invocations")
    connection.putheader("Content-Type", "text/csv")
    connection.putheader("Content-Length", str(100 * 1024 * 1024))
    connection.endheaders()
    assert connection.getresponse().status == 413
    connection.close()


def _capture_lines(rows: list[list[float]]) -> str:
    """SageMaker's data-capture JSONL: one record per request, the CSV input as sent."""
    lines = []
    for i in range(0, len(rows), 10):
        data = "\n".join(",".join(repr(v) for v in row) for row in rows[i : i + 10])
        record = {
            "captureData": {
                "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": data, "encoding": "CSV"},
                "endpointOutput": {
                    "observedContentType": "text/csv",
                    "mode": "OUTPUT",
                    "data": "0,0.1",
                    "encoding": "CSV",
                },
            },
            "eventMetadata": {"eventId": f"event-{i}", "inferenceTime": "2026-11-29T00:00:00Z"},
            "eventVersion": "0",
        }
        lines.append(json.dumps(record))
    return "\n".join(lines) + "\n"


def _post_process(prod, approved, aws, workdir: Path, rows: list[list[float]], window: str) -> None:
    """One monitoring run: captured traffic at the endpoint's capture destination, the stack's
    post-processor script run with the analyzer's environment."""
    s3 = aws["client"]("s3")
    capture = prod.one("aws:sagemaker/endpointConfiguration:EndpointConfiguration").inputs["dataCaptureConfig"]
    bucket, prefix = split_s3(capture["destinationS3Uri"])
    _ensure_bucket(s3, capture["destinationS3Uri"])
    key = f"{prefix}/AllTraffic/2026/11/{window}/capture.jsonl"
    s3.put_object(Bucket=bucket, Key=key, Body=_capture_lines(rows).encode())
    job = prod.one("aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition").inputs
    local = workdir / window / job["dataQualityJobInput"]["endpointInput"]["localPath"].lstrip("/")
    local.mkdir(parents=True)
    s3.download_file(bucket, key, str(local / "capture.jsonl"))  # the analyzer's input for this window
    statistics = job["dataQualityBaselineConfig"]["statisticsResource"]["s3Uri"]
    baseline = workdir / window / "statistics.json"
    s3.download_file(*split_s3(statistics), str(baseline))
    script = workdir / window / "drift_share.py"
    script.write_text(prod.one("aws:s3/bucketObjectv2:BucketObjectv2", "postprocessor").inputs["content"])
    env = {
        **aws["env"],
        **job["dataQualityAppSpecification"]["environment"],
        "dataset_source": str(local),
        "baseline_statistics": str(baseline),
    }
    subprocess.run(
        [sys.executable, "-c", f"import runpy; runpy.run_path({str(script)!r})['postprocess_handler']()"],
        env=env,
        check=True,
        timeout=60,
        capture_output=True,
    )


def _latest(aws, alarm) -> float | None:
    inputs = alarm.inputs
    stats = aws["client"]("cloudwatch").get_metric_statistics(
        Namespace=inputs["namespace"],
        MetricName=inputs["metricName"],
        Dimensions=[{"Name": k, "Value": v} for k, v in inputs["dimensions"].items()],
        StartTime=time.time() - 3600,
        EndTime=time.time() + 60,
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    return max((d["Maximum"] for d in stats), default=None)


def test_drift_reaches_the_alarm_and_clean_traffic_does_not(prod, approved, runs, aws, tmp_path):
    alarm = prod.one("aws:cloudwatch/metricAlarm:MetricAlarm", "drift")
    rows = _test_rows(runs[4])
    assert len(rows) >= 100  # the post-processor's minimum sample
    _post_process(prod, approved, aws, tmp_path, rows, "clean")
    clean = _latest(aws, alarm)
    assert clean is not None and clean <= alarm.inputs["threshold"]  # same metric, namespace, dimensions
    drifted = [[v * 3 + 5 for v in row] for row in rows]
    _post_process(prod, approved, aws, tmp_path, drifted, "drifted")
    assert _latest(aws, alarm) > alarm.inputs["threshold"]
    # The alarm's rule starts the training pipeline: the one retraining path.
    rule = prod.one("aws:cloudwatch/eventRule:EventRule", "retrain")
    assert json.loads(rule.inputs["eventPattern"])["detail"] == {"state": {"value": ["ALARM"]}}
    target = prod.one("aws:cloudwatch/eventTarget:EventTarget", "retrain")
    pipeline_name = graph(4, "dev", deployed=True).one("aws:sagemaker/pipeline:Pipeline").inputs["pipelineName"]
    assert target.inputs["arn"].endswith(f":pipeline/{pipeline_name}")


def test_a_small_window_publishes_nothing(prod, approved, runs, aws, tmp_path):
    before = _latest(aws, prod.one("aws:cloudwatch/metricAlarm:MetricAlarm", "drift"))
    _post_process(prod, approved, aws, tmp_path, [[v * 3 for v in row] for row in _test_rows(runs[4])[:20]], "small")
    assert _latest(aws, prod.one("aws:cloudwatch/metricAlarm:MetricAlarm", "drift")) == before
