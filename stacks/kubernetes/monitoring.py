"""Monitoring on Kubernetes: kube-prometheus-stack (once per cluster), the model server's
ServiceMonitor, alert rules and Grafana dashboard, and drift-triggered retraining.

The model server exports, on GET /metrics, the metrics named below: request latency (a
histogram in seconds), requests by HTTP status code, and the share of features whose recent
distribution violates the training baseline (the drift metric).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib.resources import files

import pulumi
import pulumi_kubernetes as k8s

from ..base import CapabilityComponent
from . import netpol
from .pods import Workload, container, pod_spec, pod_template

__all__ = [
    "DRIFT_METRIC",
    "ERRORS_METRIC",
    "KUBE_PROMETHEUS_CHART",
    "LATENCY_METRIC",
    "MONITORING_NAMESPACE",
    "REQUESTS_METRIC",
    "ClusterMonitoring",
    "ClusterMonitoringArgs",
    "DriftRetraining",
    "DriftRetrainingArgs",
    "ModelMonitoring",
    "ModelMonitoringArgs",
    "drift_check_script",
]

# What the team repo's serving app exports on GET /metrics (src/<package>/monitoring.py).
LATENCY_METRIC = "model_latency_seconds"
REQUESTS_METRIC = "model_invocations_total"
ERRORS_METRIC = "model_errors_total"
DRIFT_METRIC = "model_drift_share"

KUBE_PROMETHEUS_CHART = "kube-prometheus-stack"
KUBE_PROMETHEUS_REPO = "https://prometheus-community.github.io/helm-charts"
MONITORING_NAMESPACE = "monitoring"
DASHBOARD_LABEL = "grafana_dashboard"
SCRIPT_DIR = "/opt/drift-check"


def drift_check_script() -> str:
    return (files("mlops_bp.stacks.kubernetes") / "scripts" / "drift_check.py").read_text(encoding="utf-8")


@dataclass(frozen=True)
class ClusterMonitoringArgs:
    chart_version: str
    retention_days: int
    storage_gb: int = 50
    storage_class: str | None = None


class ClusterMonitoring(CapabilityComponent):
    """kube-prometheus-stack from a pinned chart version. Prometheus picks up every
    ServiceMonitor and PrometheusRule; Grafana loads dashboards from labelled ConfigMaps of
    every namespace."""

    TYPE = "mlopsbp:k8s:ClusterMonitoring"
    CAPABILITY = "monitoring"

    release: k8s.helm.v3.Release

    def __init__(self, name: str, args: ClusterMonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={"name": MONITORING_NAMESPACE, "labels": {"app.kubernetes.io/managed-by": "mlops-bp"}},
            # Holds Prometheus' volume: deleting it would delete the metrics history.
            opts=self.stateful(),
        )
        storage: dict = {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": f"{args.storage_gb}Gi"}},
        }
        if args.storage_class:
            storage["storageClassName"] = args.storage_class
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name=KUBE_PROMETHEUS_CHART,
            chart=KUBE_PROMETHEUS_CHART,
            version=args.chart_version,
            repository_opts={"repo": KUBE_PROMETHEUS_REPO},
            namespace=namespace.metadata.name,
            atomic=True,
            cleanup_on_fail=True,
            values={
                "fullnameOverride": KUBE_PROMETHEUS_CHART,
                "prometheus": {
                    "prometheusSpec": {
                        # Select every ServiceMonitor/PrometheusRule, not only the release's own.
                        "serviceMonitorSelectorNilUsesHelmValues": False,
                        "podMonitorSelectorNilUsesHelmValues": False,
                        "ruleSelectorNilUsesHelmValues": False,
                        "retention": f"{args.retention_days}d",
                        "storageSpec": {"volumeClaimTemplate": {"spec": storage}},
                    }
                },
                "grafana": {
                    # Empty: the chart generates a random admin password instead of a known default.
                    "adminPassword": "",
                    "sidecar": {
                        "dashboards": {
                            "enabled": True,
                            "label": DASHBOARD_LABEL,
                            "labelValue": "1",
                            "searchNamespace": "ALL",
                        }
                    },
                },
            },
            opts=self.child(),
        )
        self.register_outputs({"release": self.release.name})


@dataclass(frozen=True)
class ModelMonitoringArgs:
    namespace: pulumi.Input[str]
    labels: Mapping[str, str]
    service_labels: Mapping[str, str]
    latency_threshold_ms: int
    error_5xx_threshold: int
    drift_threshold: float
    dashboard: bool
    # Resources that must exist first (the chart that installs the CRDs), if this stack owns them.
    requires: Sequence[pulumi.Resource] = field(default_factory=tuple)


def alert_rules(namespace: str, latency_ms: int, errors: int, drift: float) -> list[dict]:
    where = f'namespace="{namespace}"'
    labels = {"namespace": namespace}
    return [
        {
            "alert": "ModelLatencyHigh",
            "expr": (
                f"1000 * sum(rate({LATENCY_METRIC}_sum{{{where}}}[5m]))"
                f" / sum(rate({LATENCY_METRIC}_count{{{where}}}[5m]))"
                f" > {latency_ms}"
            ),
            "for": "10m",
            "labels": {**labels, "severity": "warning"},
            "annotations": {"summary": f"Average model latency in {namespace} is above {latency_ms} ms"},
        },
        {
            "alert": "ModelServerErrors",
            "expr": f"sum(increase({ERRORS_METRIC}{{{where}}}[5m])) >= {errors}",
            "for": "5m",
            "labels": {**labels, "severity": "critical"},
            "annotations": {
                "summary": f"{errors} or more failed requests (rejected or failed) in 5 minutes in {namespace}"
            },
        },
        {
            "alert": "ModelDrift",
            "expr": f"max({DRIFT_METRIC}{{{where}}}) > {drift}",
            "for": "15m",
            "labels": {**labels, "severity": "warning"},
            "annotations": {"summary": f"More than {drift:.0%} of the features drift from the baseline in {namespace}"},
        },
    ]


def dashboard(namespace: str) -> dict:
    where = f'namespace="{namespace}"'
    panels = [
        ("Invocations per second", f"sum(rate({REQUESTS_METRIC}{{{where}}}[5m]))", "reqps"),
        (
            "Average latency",
            f"sum(rate({LATENCY_METRIC}_sum{{{where}}}[5m])) / sum(rate({LATENCY_METRIC}_count{{{where}}}[5m]))",
            "s",
        ),
        ("Failed requests per second", f"sum(rate({ERRORS_METRIC}{{{where}}}[5m]))", "reqps"),
        ("Feature drift share", f"max({DRIFT_METRIC}{{{where}}})", "percentunit"),
    ]
    return {
        "title": f"Model server ({namespace})",
        "uid": f"mlops-{namespace}"[:40],
        "schemaVersion": 39,
        "time": {"from": "now-6h", "to": "now"},
        "panels": [
            {
                "id": i + 1,
                "type": "timeseries",
                "title": title,
                "gridPos": {"x": (i % 2) * 12, "y": (i // 2) * 8, "w": 12, "h": 8},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "targets": [{"expr": expr, "refId": "A"}],
            }
            for i, (title, expr, unit) in enumerate(panels)
        ],
    }


class ModelMonitoring(CapabilityComponent):
    """ServiceMonitor for the model server, PrometheusRule alerts on latency, 5xx errors and
    drift, and (with the dashboard feature) a Grafana dashboard ConfigMap."""

    TYPE = "mlopsbp:k8s:ModelMonitoring"
    CAPABILITY = "monitoring"

    def __init__(self, name: str, args: ModelMonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        after = self.child(depends_on=list(args.requires))
        namespace = pulumi.Output.from_input(args.namespace)
        k8s.apiextensions.CustomResource(
            f"{name}-service-monitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata={
                "name": "model-server",
                "namespace": args.namespace,
                "labels": dict(args.labels),
            },
            spec={
                "selector": {"matchLabels": dict(args.service_labels)},
                "endpoints": [{"port": "http", "path": "/metrics", "interval": "30s"}],
            },
            opts=after,
        )
        k8s.apiextensions.CustomResource(
            f"{name}-rules",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata={
                "name": "model-server",
                "namespace": args.namespace,
                "labels": dict(args.labels),
            },
            spec={
                "groups": [
                    {
                        "name": "model-server",
                        "rules": namespace.apply(
                            lambda ns: alert_rules(
                                ns, args.latency_threshold_ms, args.error_5xx_threshold, args.drift_threshold
                            )
                        ),
                    }
                ]
            },
            opts=after,
        )
        if args.dashboard:
            k8s.core.v1.ConfigMap(
                f"{name}-dashboard",
                metadata={
                    "name": "model-server-dashboard",
                    "namespace": args.namespace,
                    "labels": {**args.labels, DASHBOARD_LABEL: "1"},
                },
                data={
                    "model-server.json": namespace.apply(lambda ns: json.dumps(dashboard(ns), indent=2, sort_keys=True))
                },
                opts=self.child(),
            )
        self.register_outputs({})


@dataclass(frozen=True)
class DriftRetrainingArgs:
    # Its image is the team's training image: it has Python and boto3, which the check needs.
    workload: Workload
    schedule: str  # five-field cron, UTC
    drift_threshold: float
    training_cron_job: str
    capture_uri: pulumi.Input[str]  # s3://bucket/prefix/ the model server captures to
    region: str
    tracking_uri: pulumi.Input[str]
    model_name: str
    model_alias: str
    tracking_client_labels: Mapping[str, str]
    tracking_egress: Mapping[str, object]
    window_hours: int = 24
    min_rows: int = 100
    min_requests: int = 20
    # Until a deploy pins the images CI pushed, the schedule waits (its image does not exist yet).
    suspend: bool = False


class DriftRetraining(CapabilityComponent):
    """A CronJob that compares the traffic captured over the last window with the served
    version's training baseline (from MLflow) and, above the threshold and with enough traffic,
    creates a training Job from the training CronJob. Its Role allows exactly that in its
    namespace: get that one CronJob, list and create Jobs; its IRSA role reads the capture."""

    TYPE = "mlopsbp:k8s:DriftRetraining"
    CAPABILITY = "monitoring"

    def __init__(self, name: str, args: DriftRetrainingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        if args.min_rows < 1 or args.min_requests < 1 or args.window_hours < 1:
            raise ValueError(f"{name}: the window and the minimum sample must be at least 1")
        labels = {**args.workload.labels, "app.kubernetes.io/name": "drift-check"}
        metadata = {"name": "drift-check", "namespace": args.workload.namespace, "labels": labels}
        role = k8s.rbac.v1.Role(
            f"{name}-role",
            metadata=metadata,
            rules=[
                {
                    "apiGroups": ["batch"],
                    "resources": ["cronjobs"],
                    "resourceNames": [args.training_cron_job],
                    "verbs": ["get"],
                },
                {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["list", "create"]},
            ],
            opts=self.child(),
        )
        k8s.rbac.v1.RoleBinding(
            f"{name}-binding",
            metadata=metadata,
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role.metadata.name},
            subjects=[
                {"kind": "ServiceAccount", "name": args.workload.service_account, "namespace": args.workload.namespace}
            ],
            opts=self.child(),
        )
        script = k8s.core.v1.ConfigMap(
            f"{name}-script",
            metadata={**metadata, "name": "drift-check-script"},
            data={"drift_check.py": drift_check_script()},
            opts=self.child(),
        )
        check = container(
            "drift-check",
            args.workload.image,
            args.workload.resources,
            command=["python", f"{SCRIPT_DIR}/drift_check.py"],
            env={
                "CAPTURE_S3_URI": args.capture_uri,
                "AWS_REGION": args.region,
                "AWS_DEFAULT_REGION": args.region,
                "MLFLOW_TRACKING_URI": args.tracking_uri,
                "MODEL_NAME": args.model_name,
                "MODEL_ALIAS": args.model_alias,
                "DRIFT_THRESHOLD": str(args.drift_threshold),
                "DRIFT_WINDOW_HOURS": str(args.window_hours),
                "DRIFT_MIN_ROWS": str(args.min_rows),
                "DRIFT_MIN_REQUESTS": str(args.min_requests),
                "NAMESPACE": args.workload.namespace,
                "TRAINING_CRONJOB": args.training_cron_job,
            },
            mounts=[{"name": "script", "mountPath": SCRIPT_DIR, "readOnly": True}],
        )
        spec = pod_spec(
            service_account=args.workload.service_account,
            containers=[check],
            uses_kubernetes_api=True,
            volumes=[{"name": "script", "configMap": {"name": script.metadata.name, "defaultMode": 0o444}}],
            restart_policy="Never",
        )
        k8s.batch.v1.CronJob(
            f"{name}-cronjob",
            metadata=metadata,
            spec={
                "schedule": args.schedule,
                "suspend": args.suspend,
                "timeZone": "Etc/UTC",
                "concurrencyPolicy": "Forbid",
                "startingDeadlineSeconds": 600,
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 3,
                "jobTemplate": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "backoffLimit": 1,
                        "activeDeadlineSeconds": 600,
                        "ttlSecondsAfterFinished": 24 * 3600,
                        "template": pod_template({**labels, **args.tracking_client_labels}, spec),
                    },
                },
            },
            opts=self.child(),
        )
        netpol.allow(
            f"{name}-netpol",
            name="allow-drift-check",
            namespace=args.workload.namespace,
            pod_labels=labels,
            # MLflow; S3 and STS (IRSA); the API server (443 on EKS, 6443 on most other clusters).
            egress=[dict(args.tracking_egress), netpol.egress_to_ports([443, 6443])],
            opts=self.child(),
        )
        self.register_outputs({})
