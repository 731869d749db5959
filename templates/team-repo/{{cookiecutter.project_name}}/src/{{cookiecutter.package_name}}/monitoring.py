"""What the serving app emits for monitoring: invocations, errors, latency, prediction scores
and a drift share, the fraction of features whose live mean has left the training baseline
(compared with monitoring.drift_threshold of mlops-bp.yaml).
{%- if cookiecutter.platform == "sagemaker" %}
On SageMaker each request also logs a CloudWatch embedded-metric (EMF) line, which CloudWatch
turns into metrics without an agent; Model Monitor works on the endpoint's captured data.
{%- else %}
On Kubernetes Prometheus scrapes `GET /metrics`; the PrometheusRule alerts on the drift share.
{%- endif %}
"""

from __future__ import annotations
{% if cookiecutter.platform == "sagemaker" %}
import json
import os
import time
{%- endif %}
from threading import Lock
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
