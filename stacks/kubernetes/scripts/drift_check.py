"""Drift check (runs in a CronJob, installed by mlops-bp): read the traffic the model server
captured over the last window and the served version's training baseline; when enough of it was
captured and the share of drifted features is above the threshold, create a training Job from
the training CronJob's template.

A feature drifts when its mean over the window left the baseline mean by more than
DRIFT_EFFECT_SIZE baseline standard deviations (the rule of the serving app's own monitoring
and of the SageMaker platform's drift metric). Only records of the served version count, and
below DRIFT_MIN_ROWS rows or DRIFT_MIN_REQUESTS requests nothing is decided: a few requests,
however skewed, never start a retraining.

It runs in the team's training image (Python, boto3 for S3 with the pod's IRSA role); MLflow and
the Kubernetes API are plain HTTP. Configuration comes from the environment: CAPTURE_S3_URI,
MLFLOW_TRACKING_URI, MODEL_NAME, MODEL_ALIAS, DRIFT_THRESHOLD, DRIFT_WINDOW_HOURS,
DRIFT_MIN_ROWS, DRIFT_MIN_REQUESTS, NAMESPACE, TRAINING_CRONJOB; KUBERNETES_API and
SERVICEACCOUNT_DIR default to the in-cluster values.
"""

from __future__ import annotations

import json
import math
import os
import ssl
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

TRIGGER_LABEL = "mlops-bp/trigger"
IN_CLUSTER_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
DRIFT_EFFECT_SIZE = 0.5
# A captured line bigger than this is not a request the model server accepts (1 MiB bodies).
MAX_LINE_BYTES = 8 * 1024 * 1024
METADATA_FILE = "metadata.json"
ARTIFACT_SCHEME = "mlflow-artifacts:"


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


@dataclass(frozen=True)
class Baseline:
    version: str
    mean: list[float]
    std: list[float]


def served_baseline(tracking_uri: str, model: str, alias: str) -> Baseline:
    """The training baseline (metadata.json) of the version `alias` names in MLflow."""
    base = tracking_uri.rstrip("/")
    query = urllib.parse.urlencode({"name": model, "alias": alias})
    version = _get_json(f"{base}/api/2.0/mlflow/registered-models/alias?{query}")["model_version"]
    source = version["source"]
    if not source.startswith(ARTIFACT_SCHEME):
        raise RuntimeError(f"{model} version {version['version']}: {source} is not served by MLflow's proxy")
    path = urllib.parse.quote(f"{source.removeprefix(ARTIFACT_SCHEME).strip('/')}/{METADATA_FILE}")
    metadata = _get_json(f"{base}/api/2.0/mlflow-artifacts/artifacts/{path}")
    return Baseline(str(version["version"]), metadata["baseline"]["mean"], metadata["baseline"]["std"])


def window_prefixes(prefix: str, now: datetime, hours: int) -> list[str]:
    """The hourly folders (`<prefix>yyyy/mm/dd/hh/`, UTC) the model server wrote in the window."""
    return [f"{prefix}{now - timedelta(hours=h):%Y/%m/%d/%H}/" for h in range(hours)]


def captured_records(s3: Any, uri: str, now: datetime, hours: int) -> Iterator[dict[str, Any]]:
    """Every well-formed record captured under `uri` in the last `hours` hours."""
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    for folder in window_prefixes(prefix, now, hours):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=folder):
            for obj in page.get("Contents", []):
                body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"]
                for line in body.iter_lines():
                    if not line.strip() or len(line) > MAX_LINE_BYTES:
                        continue
                    try:
                        record = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(record, dict):
                        yield record


@dataclass(frozen=True)
class Window:
    requests: int
    rows: int
    share: float | None  # None: too little traffic to decide


def drift_window(records: Iterable[dict[str, Any]], baseline: Baseline, min_rows: int, min_requests: int) -> Window:
    width = len(baseline.mean)
    sums = [0.0] * width
    rows = requests = 0
    for record in records:
        if str(record.get("model_version")) != baseline.version:
            continue
        matrix = record.get("features")
        if not isinstance(matrix, list):
            continue
        good = [
            row
            for row in matrix
            if isinstance(row, list)
            and len(row) == width
            and all(isinstance(v, int | float) and math.isfinite(v) for v in row)
        ]
        if not good:
            continue
        requests += 1
        rows += len(good)
        for row in good:
            for i, value in enumerate(row):
                sums[i] += value
    if width == 0 or rows < min_rows or requests < min_requests:
        return Window(requests, rows, None)
    drifted = sum(
        1
        for i in range(width)
        if abs(sums[i] / rows - baseline.mean[i]) / (baseline.std[i] if baseline.std[i] > 0 else 1.0)
        > DRIFT_EFFECT_SIZE
    )
    return Window(requests, rows, drifted / width)


class KubernetesApi:
    """The few calls the check needs, authenticated with the pod's ServiceAccount token."""

    def __init__(self, base_url: str, account_dir: str) -> None:
        self.base_url = base_url.rstrip("/")
        with open(os.path.join(account_dir, "token"), encoding="utf-8") as token:
            self.token = token.read().strip()
        ca = os.path.join(account_dir, "ca.crt")
        self.context = ssl.create_default_context(cafile=ca) if os.path.exists(ca) else None

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.base_url}{path}", data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=30, context=self.context) as response:
            return json.load(response)


def training_job(cronjob: dict[str, Any], value: float) -> dict[str, Any]:
    """A Job from the CronJob's template, as `kubectl create job --from=cronjob/...` makes it."""
    template = cronjob["spec"]["jobTemplate"]
    meta = cronjob["metadata"]
    labels = {**template.get("metadata", {}).get("labels", {}), TRIGGER_LABEL: "drift"}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "generateName": f"{meta['name']}-drift-",
            "namespace": meta["namespace"],
            "labels": labels,
            "annotations": {"cronjob.kubernetes.io/instantiate": "manual", "mlops-bp/drift-value": f"{value:.4f}"},
            "ownerReferences": [
                {"apiVersion": "batch/v1", "kind": "CronJob", "name": meta["name"], "uid": meta["uid"]}
            ],
        },
        "spec": template["spec"],
    }


def start_retraining(env: dict[str, str], value: float, threshold: float) -> str:
    namespace = env["NAMESPACE"]
    api = KubernetesApi(
        env.get("KUBERNETES_API")
        or f"https://{env['KUBERNETES_SERVICE_HOST']}:{env.get('KUBERNETES_SERVICE_PORT', '443')}",
        env.get("SERVICEACCOUNT_DIR", IN_CLUSTER_ACCOUNT),
    )
    selector = urllib.parse.urlencode({"labelSelector": f"{TRIGGER_LABEL}=drift"})
    jobs = api.call("GET", f"/apis/batch/v1/namespaces/{namespace}/jobs?{selector}")
    running = [job["metadata"]["name"] for job in jobs.get("items", []) if job.get("status", {}).get("active")]
    if running:
        return f"drift {value:.4f} > threshold {threshold}; retraining already running ({running[0]})"
    cronjob = api.call("GET", f"/apis/batch/v1/namespaces/{namespace}/cronjobs/{env['TRAINING_CRONJOB']}")
    created = api.call("POST", f"/apis/batch/v1/namespaces/{namespace}/jobs", training_job(cronjob, value))
    return f"drift {value:.4f} > threshold {threshold}; started {created['metadata']['name']}"


def run(env: dict[str, str], s3: Any = None, now: datetime | None = None) -> str:
    """Check once; return what happened (one line for the Job's log)."""
    threshold = float(env["DRIFT_THRESHOLD"])
    baseline = served_baseline(env["MLFLOW_TRACKING_URI"], env["MODEL_NAME"], env["MODEL_ALIAS"])
    if s3 is None:
        import boto3  # in the training image; imported here so the pure functions test without it

        s3 = boto3.client("s3")
    records = captured_records(s3, env["CAPTURE_S3_URI"], now or datetime.now(UTC), int(env["DRIFT_WINDOW_HOURS"]))
    window = drift_window(records, baseline, int(env["DRIFT_MIN_ROWS"]), int(env["DRIFT_MIN_REQUESTS"]))
    seen = f"{window.requests} requests, {window.rows} rows of version {baseline.version}"
    if window.share is None:
        return f"{seen}: too little traffic to decide; nothing to do"
    if window.share <= threshold:
        return f"{seen}: drift {window.share:.4f} <= threshold {threshold}; nothing to do"
    return f"{seen}: " + start_retraining(env, window.share, threshold)


if __name__ == "__main__":
    print(run(dict(os.environ)), flush=True)
    sys.exit(0)
