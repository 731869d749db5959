"""Settings of the `kubernetes` platform (training, serving and monitoring on a cluster)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "ClusterSettings",
    "DriftCheckSettings",
    "GatewaySettings",
    "ImageSettings",
    "KubernetesServing",
    "KubernetesSettings",
    "NamespaceQuota",
    "ResourceSettings",
    "TrackingStore",
    "WorkloadResources",
]

# Kubernetes quantities: "500m", "2", "1.5", "512Mi", "4Gi".
CPU_PATTERN = r"^(\d+m|\d+(\.\d+)?)$"
MEMORY_PATTERN = r"^\d+(Ki|Mi|Gi|Ti)$"
# A container image with a pinned tag and/or digest (a bare name would mean `latest`).
IMAGE_PATTERN = r"^[a-z0-9][a-z0-9._/:-]*[a-z0-9](:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?$"
DNS_LABEL = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
DNS_NAME = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
HTTPS_URL = r"^https://[^\s]+$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KubernetesServing(StrEnum):
    """How the model server runs: a plain Deployment, or a KServe InferenceService."""

    DEPLOYMENT = "deployment"
    KSERVE = "kserve"


class TrackingStore(StrEnum):
    """Where MLflow keeps runs and registered models: SQLite on a PVC, or an external Postgres."""

    PVC = "pvc"
    POSTGRES = "postgres"


class ClusterSettings(_Strict):
    name: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$",
        description="EKS cluster name (default: the blueprint name); IRSA trusts its OIDC issuer.",
    )
    create: bool = Field(False, description="Create an EKS cluster instead of using an existing one.")
    kubeconfig: str | None = Field(None, description="Path to a kubeconfig of the existing cluster.")
    context: str | None = Field(None, description="kubeconfig context of the existing cluster.")
    version: str = Field("1.31", pattern=r"^1\.\d{2}$", description="Kubernetes version for a created EKS cluster.")
    subnet_ids: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]] = Field(
        default_factory=list, description="Subnets of a created EKS cluster (two or more availability zones)."
    )
    instance_types: list[str] = Field(default_factory=lambda: ["m5.large"], min_length=1)
    min_size: int = Field(1, ge=0, le=100)
    desired_size: int = Field(2, ge=0, le=100)
    max_size: int = Field(4, ge=1, le=100)
    private_endpoint: bool = Field(False, description="Only a private API endpoint for a created cluster.")
    public_access_cidrs: list[str] = Field(
        default_factory=lambda: ["0.0.0.0/0"],
        min_length=1,
        description="CIDRs allowed to reach a public API endpoint of a created cluster.",
    )

    @model_validator(mode="after")
    def _sizes(self) -> ClusterSettings:
        if not self.min_size <= self.desired_size <= self.max_size:
            raise ValueError("cluster sizes must satisfy min_size <= desired_size <= max_size")
        return self


class GatewaySettings(_Strict):
    """The Gateway API Gateway in front of the model server: its HTTPRoute forwards /invocations
    and /ping only (never /metrics) and splits traffic between model-server variants."""

    name: str = Field("mlops-gateway", pattern=DNS_LABEL)
    namespace: str = Field("gateway-system", pattern=DNS_LABEL)
    domain: str | None = Field(
        None,
        pattern=DNS_NAME,
        description="Each environment's model server is https://<namespace>.<domain> on the Gateway "
        "(stack output endpoint_url); unset: no route unless variants need one, and endpoint_url is "
        "the in-cluster Service.",
    )
    envoy_gateway: bool = Field(
        True,
        description="The Gateway is Envoy Gateway: the route gets the app's request body limit "
        "(BackendTrafficPolicy) and, with jwt_issuer, JWT authentication (SecurityPolicy). With another "
        "implementation, set both on the Gateway yourself.",
    )
    jwt_issuer: str | None = Field(None, pattern=HTTPS_URL, description="Require JWTs of this issuer.")
    jwks_uri: str | None = Field(None, pattern=HTTPS_URL, description="Where the issuer's signing keys are.")
    jwt_audiences: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=10, description="Accepted `aud` values (any when empty)."
    )

    @model_validator(mode="after")
    def _authentication(self) -> GatewaySettings:
        if self.jwt_issuer and not self.jwks_uri:
            raise ValueError("jwt_issuer needs jwks_uri, where the issuer's signing keys are")
        if self.jwt_issuer and not self.envoy_gateway:
            raise ValueError("jwt_issuer: JWT authentication is configured through Envoy Gateway only")
        return self


class DriftCheckSettings(_Strict):
    """When captured traffic is enough to judge drift (and start retraining)."""

    window_hours: int = Field(24, ge=1, le=24 * 14, description="Captured traffic the check reads.")
    min_rows: int = Field(100, ge=1, le=10_000_000, description="Fewer captured rows decide nothing.")
    min_requests: int = Field(
        20, ge=1, le=10_000_000, description="Fewer captured requests decide nothing (one client's burst)."
    )


class ResourceSettings(_Strict):
    """CPU/memory requests and limits of one workload's container."""

    cpu_request: str = Field(pattern=CPU_PATTERN)
    cpu_limit: str = Field(pattern=CPU_PATTERN)
    memory_request: str = Field(pattern=MEMORY_PATTERN)
    memory_limit: str = Field(pattern=MEMORY_PATTERN)


def _resources(cpu: str, cpu_limit: str, memory: str, memory_limit: str) -> ResourceSettings:
    return ResourceSettings(cpu_request=cpu, cpu_limit=cpu_limit, memory_request=memory, memory_limit=memory_limit)


class WorkloadResources(_Strict):
    notebook: ResourceSettings = Field(default_factory=lambda: _resources("500m", "2", "2Gi", "4Gi"))
    model_server: ResourceSettings = Field(default_factory=lambda: _resources("250m", "1", "512Mi", "1Gi"))
    training: ResourceSettings = Field(default_factory=lambda: _resources("1", "2", "2Gi", "4Gi"))
    tracking: ResourceSettings = Field(default_factory=lambda: _resources("250m", "1", "512Mi", "1Gi"))
    drift_check: ResourceSettings = Field(default_factory=lambda: _resources("100m", "500m", "256Mi", "512Mi"))


class NamespaceQuota(_Strict):
    """ResourceQuota of each environment namespace."""

    cpu: str = Field("16", pattern=CPU_PATTERN, description="Sum of CPU limits in the namespace.")
    memory: str = Field("64Gi", pattern=MEMORY_PATTERN, description="Sum of memory limits in the namespace.")
    storage: str = Field("500Gi", pattern=MEMORY_PATTERN, description="Sum of PVC requests in the namespace.")
    pods: int = Field(50, ge=1, le=5000)


class ImageSettings(_Strict):
    """Third-party images, pinned (the team's own images come from its ECR repository; the drift
    check runs in the team's training image)."""

    notebook: str = Field("quay.io/jupyter/scipy-notebook:2024-12-23", pattern=IMAGE_PATTERN)
    tracking: str = Field("ghcr.io/mlflow/mlflow:v2.19.0", pattern=IMAGE_PATTERN)

    @model_validator(mode="before")
    @classmethod
    def _drop_retired_keys(cls, data: Any) -> Any:
        # `drift_check` named the drift check's own image until it ran in the training image;
        # every mlops-bp.yaml written before says it, so it is accepted and ignored.
        if isinstance(data, dict) and "drift_check" in data:
            data = {k: v for k, v in data.items() if k != "drift_check"}
        return data

    @field_validator("notebook", "tracking")
    @classmethod
    def _pinned(cls, value: str) -> str:
        last = value.rsplit("/", 1)[-1]
        if "@sha256:" not in value and ":" not in last:
            raise ValueError("must pin a tag or digest (a bare image name means `latest`)")
        if last.endswith(":latest"):
            raise ValueError("must be a pinned tag, not 'latest'")
        return value


class KubernetesSettings(_Strict):
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)
    serving: KubernetesServing = KubernetesServing.DEPLOYMENT
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    drift: DriftCheckSettings = Field(default_factory=DriftCheckSettings)
    storage_class: str | None = Field(
        None, pattern=DNS_LABEL, description="StorageClass of PVCs (cluster default when unset)."
    )
    tracking_store: TrackingStore = Field(TrackingStore.PVC, description="MLflow backend store.")
    tracking_storage_gb: int = Field(10, ge=1, le=16384, description="Size of the MLflow store PVC.")
    postgres_secret: str = Field(
        "mlflow-postgres",
        pattern=DNS_LABEL,
        description=(
            "Secret (key `uri`: postgresql://...) with the MLflow backend store when tracking_store is postgres."
        ),
    )
    target_cpu_percent: int = Field(
        70, ge=10, le=100, description="CPU utilisation the model-server autoscaler aims at."
    )
    monitoring_chart_version: str = Field(
        "69.2.3", pattern=r"^\d+\.\d+\.\d+$", description="Pinned kube-prometheus-stack chart version."
    )
    images: ImageSettings = Field(default_factory=ImageSettings)
    resources: WorkloadResources = Field(default_factory=WorkloadResources)
    quota: NamespaceQuota = Field(default_factory=NamespaceQuota)
