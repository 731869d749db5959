"""Drift check (runs in a CronJob): when the model's drift metric in Prometheus is above the
threshold, create a training Job from the training CronJob's template.

Standard library only, so it runs on a plain pinned Python image. Configuration comes from the
environment: PROMETHEUS_URL, DRIFT_QUERY, DRIFT_THRESHOLD, NAMESPACE, TRAINING_CRONJOB;
KUBERNETES_API and SERVICEACCOUNT_DIR default to the in-cluster values.
"""

from __future__ import annotations

import json
import os
import ssl
import sys
import urllib.parse
import urllib.request
from typing import Any

TRIGGER_LABEL = "mlops-bp/trigger"
IN_CLUSTER_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"


def drift_value(prometheus_url: str, query: str) -> float | None:
    """The highest value the query returns, or None when the metric has no samples yet."""
    url = f"{prometheus_url.rstrip('/')}/api/v1/query?{urllib.parse.urlencode({'query': query})}"
    with urllib.request.urlopen(url, timeout=30) as response:
        body = json.load(response)
    if body.get("status") != "success":
        raise RuntimeError(f"Prometheus query failed: {body.get('error', body)}")
    values = [float(sample["value"][1]) for sample in body["data"]["result"]]
    return max(values) if values else None


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


def run(env: dict[str, str]) -> str:
    """Check once; return what happened (one line for the Job's log)."""
    threshold = float(env["DRIFT_THRESHOLD"])
    value = drift_value(env["PROMETHEUS_URL"], env["DRIFT_QUERY"])
    if value is None:
        return "no drift metric yet; nothing to do"
    if value <= threshold:
        return f"drift {value:.4f} <= threshold {threshold}; nothing to do"
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


if __name__ == "__main__":
    print(run(dict(os.environ)), flush=True)
    sys.exit(0)
