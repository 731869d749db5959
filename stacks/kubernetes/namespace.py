"""The environment's namespace: the boundary of quotas, pod security and network policy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from ..base import CapabilityComponent
from . import netpol
from .pods import Resources

__all__ = ["EnvironmentNamespace", "EnvironmentNamespaceArgs"]


@dataclass(frozen=True)
class EnvironmentNamespaceArgs:
    name: str
    labels: Mapping[str, str]
    quota_cpu: str
    quota_memory: str
    quota_storage: str
    quota_pods: int
    # What a container gets when its manifest names no resources (every mlops-bp one does).
    container_default: Resources


class EnvironmentNamespace(CapabilityComponent):
    """A namespace that enforces the `restricted` Pod Security Standard, with a ResourceQuota,
    a LimitRange, a default-deny NetworkPolicy and the DNS egress every pod needs."""

    TYPE = "mlopsbp:k8s:EnvironmentNamespace"
    CAPABILITY = "iam"

    namespace: k8s.core.v1.Namespace
    name: str

    def __init__(self, name: str, args: EnvironmentNamespaceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        labels = {
            **args.labels,
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": "latest",
            "pod-security.kubernetes.io/warn": "restricted",
            "pod-security.kubernetes.io/audit": "restricted",
        }
        self.name = args.name
        # Protected: deleting a namespace deletes everything in it, volume claims included.
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-namespace", metadata={"name": args.name, "labels": labels}, opts=self.stateful()
        )
        in_namespace = self.child(depends_on=[self.namespace])
        metadata = {"namespace": args.name, "labels": dict(args.labels)}
        k8s.core.v1.ResourceQuota(
            f"{name}-quota",
            metadata={"name": "environment-quota", **metadata},
            spec={
                "hard": {
                    "requests.cpu": args.quota_cpu,
                    "limits.cpu": args.quota_cpu,
                    "requests.memory": args.quota_memory,
                    "limits.memory": args.quota_memory,
                    "requests.storage": args.quota_storage,
                    "pods": str(args.quota_pods),
                }
            },
            opts=in_namespace,
        )
        default = args.container_default.spec()
        k8s.core.v1.LimitRange(
            f"{name}-limits",
            metadata={"name": "container-defaults", **metadata},
            spec={
                "limits": [{"type": "Container", "default": default["limits"], "defaultRequest": default["requests"]}]
            },
            opts=in_namespace,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-default-deny",
            metadata={"name": "default-deny", **metadata},
            spec={"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
            opts=in_namespace,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-allow-dns",
            metadata={"name": "allow-dns", **metadata},
            spec={"podSelector": {}, "policyTypes": ["Egress"], "egress": [netpol.dns()]},
            opts=in_namespace,
        )
        self.register_outputs({"name": args.name})
