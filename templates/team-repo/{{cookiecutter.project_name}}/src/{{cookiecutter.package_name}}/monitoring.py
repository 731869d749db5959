"""What the serving app emits for monitoring: invocations, errors, latency, prediction scores
and a drift share, the fraction of features whose live mean has left the training baseline
(compared with monitoring.drift_threshold of mlops-bp.yaml).
{%- if cookiecutter.platform == "sagemaker" %}
On SageMaker each request also logs a CloudWatch embedded-metric (EMF) line, which CloudWatch
turns into metrics without an agent; Model Monitor works on the endpoint's captured data.
{%- else %}
On Kubernetes Prometheus scrapes `GET /metrics`; the PrometheusRule alerts on the drift share
of each serving process. Retraining is decided on captured traffic instead (DataCapture below;
the stack's drift check reads a whole window of it against the served version's baseline).
{%- endif %}
"""

from __future__ import annotations
{% if cookiecutter.platform == "sagemaker" %}
import json
import os
import time
{%- else %}
import atexit
import json
import os
import random
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
{%- endif %}
{%- if cookiecutter.platform == "kubernetes" %}
from threading import Event, Lock, Thread
{%- else %}
from threading import Lock
{%- endif %}
from typing import Any

import numpy as np

from .config import DRIFT_THRESHOLD

# A feature drifts when its live mean moves more than this many training standard deviations.
DRIFT_EFFECT_SIZE = 0.5
# Below this many observed rows the drift share is not computed (reported as 0).
MIN_ROWS_FOR_DRIFT = 30
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
PREFIX = "model"
{%- if cookiecutter.platform == "sagemaker" %}
# Set on the endpoint's container by mlops-bp's ModelEndpoint; the serving role may publish
# metrics to this namespace only.
DEFAULT_METRIC_NAMESPACE = "mlops-bp/{{ cookiecutter.project_name }}"
METRIC_NAMESPACE = os.environ.get("MLOPS_BP_METRIC_NAMESPACE", DEFAULT_METRIC_NAMESPACE)
{%- endif %}


def _bucket_line(bound: str, count: int) -> str:
    return PREFIX + '_latency_seconds_bucket{le="' + bound + '"} ' + str(count)


class ModelMonitor:
    """Running statistics of one serving process (thread-safe)."""

    def __init__(
        self, mean: list[float], std: list[float], drift_threshold: float = DRIFT_THRESHOLD
    ) -> None:
        self.baseline_mean = np.asarray(mean, dtype=float)
        self.baseline_std = np.where(np.asarray(std, dtype=float) > 0, std, 1.0)
        self.drift_threshold = drift_threshold
        self._lock = Lock()
        self.rows = 0
        self.invocations = 0
        self.errors = 0
        self.score_sum = 0.0
        self.latency_sum = 0.0
        self.latency_counts = [0] * len(LATENCY_BUCKETS)
        self.feature_sums = np.zeros_like(self.baseline_mean)

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any]) -> ModelMonitor:
        return cls(metadata["baseline"]["mean"], metadata["baseline"]["std"])

    def observe(self, features: np.ndarray, scores: list[float], latency_s: float) -> None:
        with self._lock:
            self.invocations += 1
            self.rows += len(features)
            self.feature_sums += features.sum(axis=0)
            self.score_sum += float(sum(scores))
            self.latency_sum += latency_s
            for i, bound in enumerate(LATENCY_BUCKETS):
                if latency_s <= bound:
                    self.latency_counts[i] += 1
{%- if cookiecutter.platform == "sagemaker" %}
        print(json.dumps(self.emf_record(len(features), latency_s), sort_keys=True), flush=True)
{%- endif %}

    def record_error(self) -> None:
        with self._lock:
            self.invocations += 1
            self.errors += 1

    def drift_share(self) -> float:
        """Share of features whose live mean differs from the baseline by more than
        DRIFT_EFFECT_SIZE standard deviations (0 until MIN_ROWS_FOR_DRIFT rows were seen)."""
        with self._lock:
            if self.rows < MIN_ROWS_FOR_DRIFT:
                return 0.0
            live_mean = self.feature_sums / self.rows
        shifted = np.abs(live_mean - self.baseline_mean) / self.baseline_std > DRIFT_EFFECT_SIZE
        return float(shifted.mean())

    def drifting(self) -> bool:
        return self.drift_share() > self.drift_threshold

    def prometheus_text(self) -> str:
        """The metrics in Prometheus' text exposition format."""
        drift = self.drift_share()
        with self._lock:
            lines = [
                f"# TYPE {PREFIX}_invocations_total counter",
                f"{PREFIX}_invocations_total {self.invocations}",
                f"# TYPE {PREFIX}_errors_total counter",
                f"{PREFIX}_errors_total {self.errors}",
                f"# TYPE {PREFIX}_rows_total counter",
                f"{PREFIX}_rows_total {self.rows}",
                f"# TYPE {PREFIX}_score_sum counter",
                f"{PREFIX}_score_sum {self.score_sum:.6f}",
                f"# TYPE {PREFIX}_latency_seconds histogram",
            ]
            ok = self.invocations - self.errors
            for bound, count in zip(LATENCY_BUCKETS, self.latency_counts, strict=True):
                lines.append(_bucket_line(str(bound), count))
            lines += [
                _bucket_line("+Inf", ok),
                f"{PREFIX}_latency_seconds_sum {self.latency_sum:.6f}",
                f"{PREFIX}_latency_seconds_count {ok}",
            ]
        lines += [
            f"# TYPE {PREFIX}_drift_share gauge",
            f"{PREFIX}_drift_share {drift:.6f}",
            f"# TYPE {PREFIX}_drift_threshold gauge",
            f"{PREFIX}_drift_threshold {self.drift_threshold}",
        ]
        return "\n".join(lines) + "\n"
{%- if cookiecutter.platform == "sagemaker" %}

    def emf_record(self, rows: int, latency_s: float) -> dict[str, Any]:
        """One CloudWatch embedded-metric-format record (a JSON log line)."""
        return {
            "_aws": {
                "Timestamp": int(time.time() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": METRIC_NAMESPACE,
                        "Dimensions": [["EndpointName"]],
                        "Metrics": [
                            {"Name": "Rows", "Unit": "Count"},
                            {"Name": "LatencyMs", "Unit": "Milliseconds"},
                            {"Name": "DriftShare", "Unit": "None"},
                        ],
                    }
                ],
            },
            "EndpointName": os.environ.get("MLOPS_BP_ENDPOINT", "local"),
            "Rows": rows,
            "LatencyMs": round(latency_s * 1000, 3),
            "DriftShare": self.drift_share(),
        }
{%- endif %}
{%- if cookiecutter.platform == "kubernetes" %}


class DataCapture:
    """A sample of the answered requests (features) and their responses, written to S3 as JSON
    lines in batches by a background thread: the request thread only appends to a bounded
    buffer, and when the buffer is full new records are dropped (and counted), never waited for.

    Objects go to `<DATA_CAPTURE_S3_URI><yyyy>/<mm>/<dd>/<hh>/<time>-<id>.jsonl` (UTC), one
    record per request: time, request id, the served model version, features, predictions and
    probabilities. The drift check reads these hourly folders."""

    def __init__(
        self,
        uri: str,
        percent: float,
        model_version: str,
        *,
        flush_seconds: float = 60.0,
        max_buffered_rows: int = 50_000,
        client: Any = None,
    ) -> None:
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        if not uri.startswith("s3://") or not bucket:
            raise ValueError(f"DATA_CAPTURE_S3_URI must be s3://bucket/prefix/, got {uri!r}")
        self.bucket, self.prefix = bucket, prefix
        self.share = percent / 100
        self.model_version = model_version
        self.flush_seconds = flush_seconds
        self.max_buffered_rows = max_buffered_rows
        self.dropped = 0
        self._client = client
        self._records: list[dict[str, Any]] = []
        self._rows = 0
        self._lock = Lock()
        self._stop = Event()
        self._thread = Thread(target=self._run, name="data-capture", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    @classmethod
    def from_environment(cls, model_dir: Path) -> DataCapture | None:
        """Capture as the stack configures it (DATA_CAPTURE_S3_URI, DATA_CAPTURE_PERCENT), or
        None without a destination."""
        uri = os.environ.get("DATA_CAPTURE_S3_URI")
        if not uri:
            return None
        registration = Path(model_dir) / "registration.json"
        version = "unknown"
        if registration.is_file():
            version = str(json.loads(registration.read_text(encoding="utf-8"))["version"])
        percent = float(os.environ.get("DATA_CAPTURE_PERCENT") or 100)
        flush = float(os.environ.get("DATA_CAPTURE_FLUSH_SECONDS") or 60)
        return cls(uri, percent, version, flush_seconds=flush)

    def offer(self, features: np.ndarray, predictions: list[int], scores: list[float]) -> None:
        """Keep one request (a sampled share of them) for the next batch; never blocks on S3."""
        if self.share < 1 and random.random() >= self.share:
            return
        with self._lock:
            if self._rows + len(features) > self.max_buffered_rows:
                self.dropped += 1
                return
            self._rows += len(features)
            self._records.append(
                {
                    "time": datetime.now(UTC).isoformat(),
                    "request_id": uuid.uuid4().hex,
                    "model_version": self.model_version,
                    "features": features.tolist(),
                    "predictions": predictions,
                    "probabilities": scores,
                }
            )

    def flush(self) -> int:
        """Write what is buffered as one object; returns how many records it held."""
        with self._lock:
            records, self._records, self._rows = self._records, [], 0
        if not records:
            return 0
        now = datetime.now(UTC)
        key = f"{self.prefix}{now:%Y/%m/%d/%H}/{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}.jsonl"
        body = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
        try:
            self._s3().put_object(Bucket=self.bucket, Key=key, Body=body.encode("utf-8"))
        except Exception as exc:  # a lost batch must not stop serving; the log says why
            print(f"data capture: {len(records)} records lost: {exc}", file=sys.stderr, flush=True)
            return 0
        return len(records)

    def close(self) -> None:
        """Stop the thread and write what is left (at exit)."""
        self._stop.set()
        self.flush()

    def _s3(self) -> Any:
        if self._client is None:
            import boto3  # the serving image has it on Kubernetes; local serving captures nothing

            self._client = boto3.client("s3")
        return self._client

    def _run(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            self.flush()
{%- endif %}
