"""Settings of the `kubernetes` platform (training, serving and monitoring on a cluster)."""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ClusterSettings", "KubernetesServing", "KubernetesSettings"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KubernetesServing(str, Enum):
    """How the model server runs: a plain Deployment, or a KServe InferenceService."""

    DEPLOYMENT = "deployment"
    KSERVE = "kserve"


class ClusterSettings(_Strict):
    create: bool = Field(False, description="Create an EKS cluster instead of using an existing one.")
    kubeconfig: str | None = Field(None, description="Path to a kubeconfig of the existing cluster.")
    context: str | None = Field(None, description="kubeconfig context of the existing cluster.")
    version: str = Field("1.31", pattern=r"^1\.\d{2}$", description="Kubernetes version for a created EKS cluster.")
    subnet_ids: list[str] = Field(default_factory=list, description="Subnets of a created EKS cluster.")
    instance_types: list[str] = Field(default_factory=lambda: ["m5.large"], min_length=1)
    min_size: int = Field(1, ge=0, le=100)
    desired_size: int = Field(2, ge=0, le=100)
    max_size: int = Field(4, ge=1, le=100)
    private_endpoint: bool = Field(False, description="Only a private API endpoint for a created cluster.")


class KubernetesSettings(_Strict):
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)
    serving: KubernetesServing = KubernetesServing.DEPLOYMENT
