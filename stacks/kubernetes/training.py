"""Training on Kubernetes: the JupyterLab notebook (level 0), and from level 2 the MLflow
tracking server (experiments and model registry) and the scheduled training Job."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from ..base import CapabilityComponent
from . import netpol
from .pods import Workload, container, http_probes, pod_spec, pod_template

__all__ = [
    "TRACKING_CLIENT",
    "TRACKING_PORT",
    "ExperimentTracking",
    "ExperimentTrackingArgs",
    "Notebook",
    "NotebookArgs",
    "TrainingJob",
    "TrainingJobArgs",
    "to_tracking",
    "tracking_uri",
]

NOTEBOOK_PORT = 8888
TRACKING_PORT = 5000
TRACKING = "mlflow"
TRACKING_CLIENT = {"mlops-bp/tracking-client": "true"}
SCRATCH_DIR = "/scratch"


def tracking_uri(namespace: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.concat(f"http://{TRACKING}.", namespace, f".svc.cluster.local:{TRACKING_PORT}")


def to_tracking() -> dict:
    """Egress to the MLflow server (its ingress admits pods labelled TRACKING_CLIENT)."""
    return netpol.to_pods({"app.kubernetes.io/name": TRACKING}, TRACKING_PORT)


def _pvc(
    owner: CapabilityComponent,
    resource_name: str,
    *,
    name: str,
    namespace: pulumi.Input[str],
    labels: Mapping[str, str],
    size_gb: int,
    storage_class: str | None,
) -> k8s.core.v1.PersistentVolumeClaim:
    spec: dict = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": f"{size_gb}Gi"}}}
    if storage_class:
        spec["storageClassName"] = storage_class
    return k8s.core.v1.PersistentVolumeClaim(
        resource_name,
        metadata={"name": name, "namespace": namespace, "labels": dict(labels)},
        spec=spec,
        opts=owner.stateful(),
    )


def _single_replica(labels: Mapping[str, str], template: dict) -> dict:
    """One pod on a ReadWriteOnce volume: Recreate, so two never mount it at once."""
    return {
        "replicas": 1,
        "selector": {"matchLabels": dict(labels)},
        "strategy": {"type": "Recreate"},
        "template": template,
    }


@dataclass(frozen=True)
class NotebookArgs:
    workload: Workload
    volume_size_gb: int
    idle_minutes: int
    storage_class: str | None = None
    uses_tracking: bool = False
    env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)


class Notebook(CapabilityComponent):
    """JupyterLab with its home on a protected PVC; idle kernels are culled. Reached with
    `kubectl port-forward svc/notebook 8888`, so no ingress is allowed."""

    TYPE = "mlopsbp:k8s:Notebook"
    CAPABILITY = "training"

    home: k8s.core.v1.PersistentVolumeClaim

    def __init__(self, name: str, args: NotebookArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        # The selector is immutable: what later levels add goes on the pod template only.
        labels = {**args.workload.labels, "app.kubernetes.io/name": "notebook"}
        pod_labels = {**labels, **TRACKING_CLIENT} if args.uses_tracking else labels
        self.home = _pvc(
            self,
            f"{name}-home",
            name="notebook-home",
            namespace=args.workload.namespace,
            labels=args.workload.labels,
            size_gb=args.volume_size_gb,
            storage_class=args.storage_class,
        )
        idle_seconds = str(args.idle_minutes * 60)
        lab = container(
            "notebook",
            args.workload.image,
            args.workload.resources,
            command=["jupyter", "lab"],
            args=[
                "--ip=0.0.0.0",
                f"--port={NOTEBOOK_PORT}",
                "--no-browser",
                "--ServerApp.root_dir=/home/jovyan",
                f"--MappingKernelManager.cull_idle_timeout={idle_seconds}",
                "--MappingKernelManager.cull_interval=300",
            ],
            env={"HOME": "/home/jovyan", **args.env},
            ports={"http": NOTEBOOK_PORT},
            probes=http_probes("/api", NOTEBOOK_PORT, initial_delay=15),
            mounts=[{"name": "home", "mountPath": "/home/jovyan"}],
        )
        spec = pod_spec(
            service_account=args.workload.service_account,
            containers=[lab],
            volumes=[{"name": "home", "persistentVolumeClaim": {"claimName": self.home.metadata.name}}],
        )
        metadata = {"name": "notebook", "namespace": args.workload.namespace, "labels": labels}
        k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=metadata,
            spec=_single_replica(labels, pod_template(pod_labels, spec)),
            opts=self.child(),
        )
        k8s.core.v1.Service(
            f"{name}-service",
            metadata=metadata,
            spec={
                "type": "ClusterIP",
                "selector": labels,
                "ports": [{"name": "http", "port": NOTEBOOK_PORT, "targetPort": "http"}],
            },
            opts=self.child(),
        )
        netpol.allow(
            f"{name}-netpol",
            name="allow-notebook",
            namespace=args.workload.namespace,
            pod_labels=labels,
            egress=[netpol.https_egress(), *([to_tracking()] if args.uses_tracking else [])],
            opts=self.child(),
        )
        self.register_outputs({"home": self.home.metadata.name})


@dataclass(frozen=True)
class ExperimentTrackingArgs:
    workload: Workload
    artifacts_uri: pulumi.Input[str]  # s3://bucket/prefix
    region: str
    # SQLite on a protected PVC of this size, or (None) Postgres from `postgres_secret`.
    store_size_gb: int | None
    postgres_secret: str = ""
    storage_class: str | None = None


class ExperimentTracking(CapabilityComponent):
    """The MLflow tracking server (experiments and model registry): runs and registered models
    in SQLite on a protected PVC or in Postgres; artifacts proxied to the artifacts bucket with
    the server's IRSA role, so clients need no AWS credentials for them."""

    TYPE = "mlopsbp:k8s:ExperimentTracking"
    CAPABILITY = "training"

    store: k8s.core.v1.PersistentVolumeClaim | None
    uri: pulumi.Output[str]

    def __init__(self, name: str, args: ExperimentTrackingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        if args.store_size_gb is None and not args.postgres_secret:
            raise ValueError(f"{name}: a Postgres store needs the name of the Secret holding its URI")
        labels = {**args.workload.labels, "app.kubernetes.io/name": TRACKING}
        server_args = [
            "--host=0.0.0.0",
            f"--port={TRACKING_PORT}",
            "--serve-artifacts",
            pulumi.Output.concat("--artifacts-destination=", args.artifacts_uri),
        ]
        self.store = None
        if args.store_size_gb is not None:
            self.store = _pvc(
                self,
                f"{name}-store",
                name="mlflow-store",
                namespace=args.workload.namespace,
                labels=args.workload.labels,
                size_gb=args.store_size_gb,
                storage_class=args.storage_class,
            )
            volume = {"name": "store", "persistentVolumeClaim": {"claimName": self.store.metadata.name}}
            command = ["mlflow", "server", "--backend-store-uri=sqlite:////mlflow/store/mlflow.db", *server_args]
            mount = {"name": "store", "mountPath": "/mlflow/store"}
        else:
            # The URI is read from a mounted file, never from an environment variable.
            volume = {"name": "store", "secret": {"secretName": args.postgres_secret, "defaultMode": 0o400}}
            command = [
                "sh",
                "-c",
                'exec mlflow server --backend-store-uri="$(cat /mlflow/store/uri)" "$@"',
                "mlflow",
                *server_args,
            ]
            mount = {"name": "store", "mountPath": "/mlflow/store", "readOnly": True}
        server = container(
            TRACKING,
            args.workload.image,
            args.workload.resources,
            command=command,
            env={"HOME": "/tmp", "AWS_REGION": args.region, "AWS_DEFAULT_REGION": args.region},
            ports={"http": TRACKING_PORT},
            probes=http_probes("/health", TRACKING_PORT),
            mounts=[mount],
        )
        spec = pod_spec(service_account=args.workload.service_account, containers=[server], volumes=[volume])
        metadata = {"name": TRACKING, "namespace": args.workload.namespace, "labels": labels}
        template = pod_template(labels, spec)
        deployment_spec = (
            _single_replica(labels, template)
            if self.store is not None
            else {"replicas": 2, "selector": {"matchLabels": labels}, "template": template}
        )
        k8s.apps.v1.Deployment(f"{name}-deployment", metadata=metadata, spec=deployment_spec, opts=self.child())
        k8s.core.v1.Service(
            f"{name}-service",
            metadata=metadata,
            spec={
                "type": "ClusterIP",
                "selector": labels,
                "ports": [{"name": "http", "port": TRACKING_PORT, "targetPort": "http"}],
            },
            opts=self.child(),
        )
        egress = [netpol.https_egress()]
        if self.store is None:
            egress.append(netpol.egress_to_ports([5432]))
        netpol.allow(
            f"{name}-netpol",
            name="allow-mlflow",
            namespace=args.workload.namespace,
            pod_labels=labels,
            ingress=[
                {
                    "from": [{"podSelector": {"matchLabels": TRACKING_CLIENT}}],
                    "ports": [{"protocol": "TCP", "port": TRACKING_PORT}],
                }
            ],
            egress=egress,
            opts=self.child(),
        )
        self.uri = tracking_uri(args.workload.namespace)
        self.register_outputs({"uri": self.uri})


@dataclass(frozen=True)
class TrainingJobArgs:
    workload: Workload
    schedule: str  # five-field cron, UTC
    max_runtime_seconds: int
    scratch_gb: int
    env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    # Until a deploy pins the images CI pushed, the schedule waits (its image does not exist yet).
    suspend: bool = False


class TrainingJob(CapabilityComponent):
    """Training as a Job template (the CronJob's jobTemplate, run on its schedule and, for
    retraining, created from it with `kubectl create job --from=cronjob/training`). The training
    image's entry point with the argument `train` reads the dataset from S3, logs the run to
    MLflow and registers a version that passed the quality gate; `env` says where each is.
    Its scratch volume is its temporary directory (TMPDIR)."""

    TYPE = "mlopsbp:k8s:TrainingJob"
    CAPABILITY = "training"

    cron_job_name: str

    def __init__(self, name: str, args: TrainingJobArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        if len(args.schedule.split()) != 5:
            raise ValueError(f"{name}: schedule must be five-field cron, got {args.schedule!r}")
        labels = {**args.workload.labels, "app.kubernetes.io/name": "training", **TRACKING_CLIENT}
        trainer = container(
            "training",
            args.workload.image,
            args.workload.resources,
            args=["train"],
            env={**args.env, "TMPDIR": SCRATCH_DIR},
            mounts=[{"name": "scratch", "mountPath": SCRATCH_DIR}],
        )
        spec = pod_spec(
            service_account=args.workload.service_account,
            containers=[trainer],
            volumes=[{"name": "scratch", "emptyDir": {"sizeLimit": f"{args.scratch_gb}Gi"}}],
            restart_policy="Never",
        )
        self.cron_job_name = "training"
        k8s.batch.v1.CronJob(
            f"{name}-cronjob",
            metadata={"name": self.cron_job_name, "namespace": args.workload.namespace, "labels": labels},
            spec={
                "schedule": args.schedule,
                "suspend": args.suspend,
                "timeZone": "Etc/UTC",
                "concurrencyPolicy": "Forbid",
                "startingDeadlineSeconds": 3600,
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 3,
                "jobTemplate": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "backoffLimit": 2,
                        "activeDeadlineSeconds": args.max_runtime_seconds,
                        "ttlSecondsAfterFinished": 7 * 24 * 3600,
                        "template": pod_template(labels, spec),
                    },
                },
            },
            opts=self.child(),
        )
        netpol.allow(
            f"{name}-netpol",
            name="allow-training",
            namespace=args.workload.namespace,
            pod_labels=labels,
            egress=[netpol.https_egress(), to_tracking()],
            opts=self.child(),
        )
        self.register_outputs({"cron_job_name": self.cron_job_name})
