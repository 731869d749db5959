"""RBAC of the CI deploy identity: what the deploy workflow may do, in its own namespace only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from ..base import CapabilityComponent

__all__ = ["DEPLOY_RULES", "DeployAccess", "DeployAccessArgs"]

_READ = ["get", "list", "watch"]
_ROLL = [*_READ, "patch", "update"]

# Roll a new model image out and watch it; never Secrets, RBAC or wildcards.
DEPLOY_RULES: tuple[dict, ...] = (
    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": _ROLL},
    {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": _READ},
    {"apiGroups": [""], "resources": ["pods", "services", "configmaps", "events"], "verbs": _READ},
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
    {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": _ROLL},
    {"apiGroups": ["batch"], "resources": ["cronjobs"], "verbs": _ROLL},
    {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": [*_READ, "create"]},
    {"apiGroups": ["serving.kserve.io"], "resources": ["inferenceservices"], "verbs": _ROLL},
    {"apiGroups": ["gateway.networking.k8s.io"], "resources": ["httproutes"], "verbs": _ROLL},
)


@dataclass(frozen=True)
class DeployAccessArgs:
    namespace: pulumi.Input[str]
    labels: Mapping[str, str]
    group: str
    ci_role_arn: pulumi.Input[str]
    # Set when mlops-bp manages the EKS cluster: the role is mapped to the group by an access
    # entry. On another cluster its admin maps the role to the group.
    eks_cluster_name: str | None = None


class DeployAccess(CapabilityComponent):
    """A Role with the deploy workflow's verbs in one namespace, bound to the CI group."""

    TYPE = "mlopsbp:k8s:DeployAccess"
    CAPABILITY = "iam"

    def __init__(self, name: str, args: DeployAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        if args.group.startswith("system:"):
            raise ValueError(f"{name}: the group must not be a system: group")
        metadata = {"name": "ci-deploy", "namespace": args.namespace, "labels": dict(args.labels)}
        role = k8s.rbac.v1.Role(
            f"{name}-role", metadata=metadata, rules=[dict(rule) for rule in DEPLOY_RULES], opts=self.child()
        )
        k8s.rbac.v1.RoleBinding(
            f"{name}-binding",
            metadata=metadata,
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role.metadata.name},
            subjects=[{"kind": "Group", "name": args.group, "apiGroup": "rbac.authorization.k8s.io"}],
            opts=self.child(),
        )
        if args.eks_cluster_name:
            aws.eks.AccessEntry(
                f"{name}-access-entry",
                cluster_name=args.eks_cluster_name,
                principal_arn=args.ci_role_arn,
                kubernetes_groups=[args.group],
                type="STANDARD",
                opts=self.child(),
            )
        self.register_outputs({"group": args.group})
