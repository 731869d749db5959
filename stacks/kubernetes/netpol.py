"""NetworkPolicies: each namespace denies all traffic by default, and each workload declares the
few flows it needs with the rule builders below."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

__all__ = [
    "allow",
    "dns",
    "egress_to_ports",
    "from_namespaces",
    "https_egress",
    "to_namespace",
    "to_pods",
]

Rule = dict[str, Any]
_ANYWHERE = [{"ipBlock": {"cidr": "0.0.0.0/0"}}]


def _ports(ports: Sequence[int], protocol: str = "TCP") -> list[Rule]:
    return [{"protocol": protocol, "port": port} for port in ports]


def https_egress() -> Rule:
    """AWS APIs (S3, STS for IRSA) and the Kubernetes API server are outside the pod network."""
    return {"to": _ANYWHERE, "ports": _ports([443])}


def egress_to_ports(ports: Sequence[int]) -> Rule:
    return {"to": _ANYWHERE, "ports": _ports(ports)}


def to_pods(labels: Mapping[str, str], port: int) -> Rule:
    return {"to": [{"podSelector": {"matchLabels": dict(labels)}}], "ports": _ports([port])}


def to_namespace(namespace: str, port: int) -> Rule:
    selector = {"matchLabels": {"kubernetes.io/metadata.name": namespace}}
    return {"to": [{"namespaceSelector": selector}], "ports": _ports([port])}


def from_namespaces(namespaces: Sequence[str], port: int) -> Rule:
    """Any pod of the named namespaces (never of every namespace)."""
    if not namespaces:
        raise ValueError("an ingress rule needs the namespaces it admits")
    selector = {
        "matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": list(namespaces)}]
    }
    return {"from": [{"namespaceSelector": selector}], "ports": _ports([port])}


def dns() -> Rule:
    selector = {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}
    return {"to": [{"namespaceSelector": selector}], "ports": [*_ports([53], "UDP"), *_ports([53])]}


def allow(
    resource_name: str,
    *,
    name: str,
    namespace: pulumi.Input[str],
    pod_labels: Mapping[str, str],
    ingress: Sequence[Rule] = (),
    egress: Sequence[Rule] = (),
    opts: pulumi.ResourceOptions,
) -> k8s.networking.v1.NetworkPolicy:
    """Allow exactly `ingress` and `egress` for the pods with `pod_labels` (on top of default deny)."""
    types = [kind for kind, rules in (("Ingress", ingress), ("Egress", egress)) if rules]
    if not types:
        raise ValueError(f"{resource_name}: a network policy must allow something")
    spec: Rule = {"podSelector": {"matchLabels": dict(pod_labels)}, "policyTypes": types}
    if ingress:
        spec["ingress"] = list(ingress)
    if egress:
        spec["egress"] = list(egress)
    return k8s.networking.v1.NetworkPolicy(
        resource_name, metadata={"name": name, "namespace": namespace}, spec=spec, opts=opts
    )
