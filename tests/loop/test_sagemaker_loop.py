"""The SageMaker loop, seam by seam, on a generated level-4 repo and its captured graphs.

pipeline (preprocess -> train -> evaluate -> condition -> register, run by tests/loop/harness.py
on S3 of a moto server) -> approval -> promotion into prod (`mlops-bp promote`) -> deploy config
(the repo's infra/deploy_config.py against moto) -> the stack that deploy pins (plan) -> serving
(the repo's entry point on the model copied into prod, its digest checked) -> data capture ->
drift post-processor (the script the stack uploads) -> the metric the drift alarm reads. Every
name and path comes from the graphs and the repo.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import posixpath
import re
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import boto3
import botocore.session
import pytest

from mlops_bp.cli.account.promote import Promotion, promote
from mlops_bp.cli.account.session import Aws, retry_config
from mlops_bp.stacks.context import Deployment
from mlops_bp.stacks.plan import plan
from mlops_bp.templates.render import render_tree

from ..conftest import make_blueprint
from ..ecr import blob_server, push_image, serve_layer_urls
from ..graphs import graph
from ..moto_server import stop
from .harness import PipelineRun, split_s3
from .web import free_port as _free_port
from .web import request as _request
from .web import wait_for_http

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

    return {"env": env, "client": client, "session": session}


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


def _aws_pattern(shape) -> re.Pattern:
    """A botocore string shape's pattern as a Python regex for ASCII text: \\p{L}, \\p{N} and
    \\p{Z} narrowed to ASCII letters, digits and the space (what matches the narrowed pattern
    matches AWS's), and the trailing `${min,max}` dropped (the shape's min and max say it)."""
    pattern = re.sub(r"\$\{\d+,\d+\}$", "", shape.metadata["pattern"])
    for unicode_class, ascii_range in (("\\p{L}", "A-Za-z"), ("\\p{N}", "0-9"), ("\\p{Z}", " ")):
        pattern = pattern.replace(unicode_class, ascii_range)
    return re.compile(pattern)


def _valid(shape, text: str) -> bool:
    length = shape.metadata.get("min", 0) <= len(text) <= shape.metadata.get("max", len(text))
    return length and _aws_pattern(shape).fullmatch(text) is not None


@pytest.mark.parametrize("level", [2, 4])
def test_the_package_records_the_digests_of_the_model_it_registered(runs, aws, level, tmp_path):
    """ArchiveSha256 and ModelSha256, which promotion and serving check artifacts against, are
    the digests of the registered model.tar.gz in S3 and of the model file inside it."""
    run = runs[level]
    (described,) = run.described
    bucket, key = split_s3(run.registered[0]["InferenceSpecification"]["Containers"][0]["ModelDataUrl"])
    archive = tmp_path / "model.tar.gz"
    aws["client"]("s3").download_file(bucket, key, str(archive))
    with tarfile.open(archive) as tar:
        model_file = tar.extractfile("model.skops").read()
    assert described["CustomerMetadataProperties"] == {
        "ArchiveSha256": hashlib.sha256(archive.read_bytes()).hexdigest(),
        "ModelSha256": hashlib.sha256(model_file).hexdigest(),
    }
    # moto stores them unchecked: the keys and values must pass CreateModelPackage's own checks.
    request = botocore.session.get_session().get_service_model("sagemaker").operation_model("CreateModelPackage")
    metadata = request.input_shape.members["CustomerMetadataProperties"]
    assert metadata.metadata["min"] <= len(described["CustomerMetadataProperties"]) <= metadata.metadata["max"]
    for name, value in described["CustomerMetadataProperties"].items():
        assert _valid(metadata.key, name), name
        assert _valid(metadata.value, value), value


def test_the_dataset_is_where_dvc_pushes_it(repo):
    """`make data` writes the file DVC tracks; a version-aware remote at the data bucket's root
    keeps its path; the pipeline's default input is that object."""
    makefile = (repo / "Makefile").read_text()
    data_target = makefile.split("\ndata:\n", 1)[1].splitlines()[0]
    path = data_target.split()[-1]
    _, key = split_s3({p["Name"]: p.get("DefaultValue") for p in _definition(4)["Parameters"]}["InputDataUri"])
    assert key == path
    assert "version_aware true" in makefile and "s3://$$(pulumi stack output data_bucket" in makefile


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
def blobs():
    with blob_server() as server:
        yield server


@pytest.fixture(scope="module")
def promoted(runs, aws, blobs) -> Promotion:
    """The level-4 model approved in the primary (dev), the commit's images pushed there, and
    `mlops-bp promote` copying both into prod's own repository, bucket and registry (which
    prod's day-one stack created: names from its graph)."""
    sagemaker, ecr, s3 = aws["client"]("sagemaker"), aws["client"]("ecr"), aws["client"]("s3")
    arn = runs[4].registered[0]["ModelPackageArn"]
    dev_repository = graph(4, "dev").one("aws:ecr/repository:Repository").inputs["name"]
    ecr.create_repository(repositoryName=dev_repository)
    push_image(ecr, blobs, dev_repository, [IMAGE_TAG, f"train-{IMAGE_TAG}"])
    # moto's UpdateModelPackage drops CustomerMetadataProperties it is not given (SageMaker
    # keeps them): the approval gives them again.
    sagemaker.update_model_package(
        ModelPackageArn=arn,
        ModelApprovalStatus="Approved",
        CustomerMetadataProperties=runs[4].described[0]["CustomerMetadataProperties"],
    )
    prod = graph(4, "prod")
    ecr.create_repository(repositoryName=prod.one("aws:ecr/repository:Repository").inputs["name"])
    group = prod.one("aws:sagemaker/modelPackageGroup:ModelPackageGroup").inputs["modelPackageGroupName"]
    sagemaker.create_model_package_group(ModelPackageGroupName=group)
    bucket = prod.outputs["artifacts_bucket"]
    s3.create_bucket(Bucket=bucket)
    session = Aws(aws["session"], REGION, retry_config(), endpoint_url=aws["env"]["AWS_ENDPOINT_URL"])
    serve_layer_urls(session.client("ecr"), blobs)
    return promote(
        session, make_blueprint(4), to="prod", image_tag=IMAGE_TAG, model_package_arn=arn, artifacts_bucket=bucket
    )


@pytest.fixture(scope="module")
def approved(promoted, aws, repo) -> dict[str, str]:
    """The deploy's pinned config for prod: the promoted package, checked by the repo's
    infra/deploy_config.py against prod's registry."""
    done = _deploy_config(repo, aws, "--model-package-arn", promoted.model_package_arn)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_promotion_carries_the_registered_digests_into_prod(promoted, runs):
    registered = runs[4].described[0]
    assert promoted.source_package_arn == registered["ModelPackageArn"]
    assert ":model-package/fraud-detect-prod-models/" in promoted.model_package_arn
    assert promoted.model_sha256 == registered["CustomerMetadataProperties"]["ModelSha256"]


def test_the_deploy_pins_the_promoted_package_its_digest_and_baseline(approved, promoted, aws):
    described = aws["client"]("sagemaker").describe_model_package(ModelPackageName=promoted.model_package_arn)
    assert approved["modelPackageArn"] == promoted.model_package_arn
    assert approved["imageTag"] == IMAGE_TAG
    assert json.loads(approved["modelDigests"]) == {promoted.model_package_arn: promoted.model_sha256}
    statistics = described["DriftCheckBaselines"]["ModelDataQuality"]["Statistics"]["S3Uri"]
    assert approved["baselineUri"] == posixpath.dirname(statistics)
    assert approved["baselineUri"].startswith(f"s3://{graph(4, 'prod').outputs['artifacts_bucket']}/promoted/")


def test_the_deploy_refuses_what_it_must_not_serve(approved, runs, aws, repo):
    sagemaker = aws["client"]("sagemaker")
    # The primary's approved package itself: prod serves only what was promoted into it.
    done = _deploy_config(repo, aws, "--model-package-arn", runs[4].registered[0]["ModelPackageArn"])
    assert done.returncode == 1 and "not in this environment's registry fraud-detect-prod-models" in done.stderr
    assert "mlops-bp promote" in done.stderr and "Traceback" not in done.stderr
    other = sagemaker.create_model_package_group(ModelPackageGroupName="someone-else-models")["ModelPackageGroupArn"]
    foreign = other.replace(":model-package-group/", ":model-package/") + "/1"
    done = _deploy_config(repo, aws, "--model-package-arn", foreign)
    assert done.returncode == 1 and "not in this environment's registry" in done.stderr
    done = _deploy_config(repo, aws, image_tag="f" * 40)  # a commit CI never pushed
    assert done.returncode == 1 and "is not in the registry" in done.stderr
    # In prod's own registry but never approved, or approved without a recorded digest.
    promoted = sagemaker.describe_model_package(ModelPackageName=approved["modelPackageArn"])
    spec = promoted["InferenceSpecification"]
    pending = sagemaker.create_model_package(
        ModelPackageGroupName=promoted["ModelPackageGroupName"],
        InferenceSpecification=spec,
        ModelApprovalStatus="PendingManualApproval",
        CustomerMetadataProperties=promoted["CustomerMetadataProperties"],
    )["ModelPackageArn"]
    done = _deploy_config(repo, aws, "--model-package-arn", pending)
    assert done.returncode == 1 and "is PendingManualApproval, not Approved" in done.stderr, done.stderr
    unrecorded = sagemaker.create_model_package(
        ModelPackageGroupName=promoted["ModelPackageGroupName"],
        InferenceSpecification=spec,
        ModelApprovalStatus="Approved",
    )["ModelPackageArn"]
    done = _deploy_config(repo, aws, "--model-package-arn", unrecorded)
    assert done.returncode == 1 and "has no recorded ModelSha256" in done.stderr, done.stderr


@pytest.fixture(scope="module")
def prod(approved):
    """The prod stack as the deploy's config pins it."""
    deployment = Deployment(
        git_sha=approved["gitSha"],
        model_version=approved["modelVersion"],
        model_package_arn=approved["modelPackageArn"],
        image_tag=approved["imageTag"],
        baseline_uri=approved["baselineUri"],
        model_digests=tuple(json.loads(approved["modelDigests"]).items()),
    )
    return plan(make_blueprint(4), "prod", deployment)


def test_the_deployed_stack_serves_the_package_and_monitors_its_baseline(prod, approved):
    model = prod.one("aws:sagemaker/model:Model")
    assert model.inputs["primaryContainer"]["modelPackageName"] == approved["modelPackageArn"]
    digest = json.loads(approved["modelDigests"])[approved["modelPackageArn"]]
    assert model.inputs["primaryContainer"]["environment"]["MLOPS_BP_MODEL_SHA256"] == digest
    job = prod.one("aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition").inputs
    statistics = job["dataQualityBaselineConfig"]["statisticsResource"]["s3Uri"]
    assert statistics == f"{approved['baselineUri']}/statistics.json"


@pytest.fixture(scope="module")
def endpoint(promoted, prod, aws, repo, tmp_path_factory):
    """The serving image's entry point on the model promoted into prod, as SageMaker starts it
    for prod's stack: the archive extracted to /opt/ml/model, the argument `serve`, the model's
    environment from the graph (the recorded digest among it)."""
    package = aws["client"]("sagemaker").describe_model_package(ModelPackageName=promoted.model_package_arn)
    bucket, key = split_s3(package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"])
    assert bucket == prod.outputs["artifacts_bucket"]  # prod loads only what was copied into prod
    model_environment = prod.one("aws:sagemaker/model:Model").inputs["primaryContainer"]["environment"]
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
            **model_environment,
            "SAGEMAKER_BIND_TO_PORT": str(port),
            "HOME": str(root),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/ping", process, 60, "the serving app")
        yield url
    finally:
        stop(process)


def _test_rows(run: PipelineRun) -> list[list[float]]:
    test_csv = next(run.workdir.rglob("processing/test/*.csv"))
    lines = test_csv.read_text().splitlines()[1:]
    return [[float(v) for v in line.split(",")[:-1]] for line in lines]


def test_the_endpoint_serves_the_registered_model(endpoint, runs):
    """It serves, so the model file passed the check against the digest of the registration."""
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
