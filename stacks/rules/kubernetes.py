"""Kubernetes workloads: the restricted pod-security baseline, bounded resources, default-deny
networking per namespace, and pinned images (SageMaker models' images too)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..graph import CapturedResource, ResourceGraph
from .core import Severity, Verdict, compliant, not_applicable, rule, verdict, violation
from .values import as_list, get

# workload type -> where its pod spec is
WORKLOADS: dict[str, tuple[str, ...]] = {
    "kubernetes:core/v1:Pod": ("spec",),
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "kubernetes:serving.kserve.io/v1beta1:InferenceService": ("spec", "predictor"),
}
NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
SAGEMAKER_MODEL = "aws:sagemaker/model:Model"
HELM_CHARTS = frozenset({"kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart"})
ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
SECCOMP_PROFILES = ("RuntimeDefault", "Localhost")


def pod_spec(workload: CapturedResource) -> Mapping[str, Any] | None:
    spec = get(workload.inputs, *WORKLOADS[workload.type])
    return spec if isinstance(spec, Mapping) else None


def containers(pod: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for key in ("initContainers", "containers"):
        yield from (c for c in as_list(pod.get(key)) if isinstance(c, Mapping))


def _container_problems(pod: Mapping[str, Any], container: Mapping[str, Any]) -> Iterator[str]:
    pod_context = get(pod, "securityContext", default={})
    context = get(container, "securityContext", default={})
    where = f"container {container.get('name', '?')!r}"
    non_root = context.get("runAsNonRoot", pod_context.get("runAsNonRoot"))
    if non_root is not True or context.get("runAsUser", pod_context.get("runAsUser")) == 0:
        yield f"{where} may run as root (runAsNonRoot)"
    if context.get("allowPrivilegeEscalation") is not False:
        yield f"{where} allows privilege escalation"
    if context.get("privileged") is True:
        yield f"{where} is privileged"
    if context.get("readOnlyRootFilesystem") is not True:
        yield f"{where} has a writable root file system"
    if "ALL" not in as_list(get(context, "capabilities", "drop")):
        yield f"{where} does not drop ALL capabilities"
    seccomp = get(context, "seccompProfile", "type", default=get(pod_context, "seccompProfile", "type"))
    if seccomp not in SECCOMP_PROFILES:
        yield f"{where} has no RuntimeDefault seccomp profile"


@rule(
    "MLOPS-K8S-001",
    "Pods meet the restricted pod-security baseline (non-root, no escalation)",
    severity=Severity.HIGH,
    applies_to=WORKLOADS,
)
def pod_security(workload: CapturedResource, _graph: ResourceGraph) -> Verdict:
    pod = pod_spec(workload)
    if pod is None or not any(True for _ in containers(pod)):
        return not_applicable("declares no containers")
    shared = [f"shares the host's {ns}" for ns in ("hostNetwork", "hostPID", "hostIPC") if pod.get(ns) is True]
    return verdict([*shared, *(p for c in containers(pod) for p in _container_problems(pod, c))])


@rule(
    "MLOPS-K8S-002",
    "Containers request and limit CPU and memory",
    severity=Severity.MEDIUM,
    applies_to=WORKLOADS,
)
def container_resources(workload: CapturedResource, _graph: ResourceGraph) -> Verdict:
    pod = pod_spec(workload)
    if pod is None or not any(True for _ in containers(pod)):
        return not_applicable("declares no containers")
    return verdict(
        f"container {c.get('name', '?')!r} sets no {bound}.{resource}"
        for c in containers(pod)
        for bound in ("requests", "limits")
        for resource in ("cpu", "memory")
        if not get(c, "resources", bound, resource)
    )


def _namespace_name(namespace: CapturedResource) -> Any:
    return get(namespace.inputs, "metadata", "name")


def _runs_workloads(namespace: CapturedResource, graph: ResourceGraph) -> bool:
    """Whether the stack declares pods in `namespace`. A namespace that only holds a Helm chart
    (kube-prometheus-stack's, whose node exporter needs the host network) runs pods the plan
    cannot see: their security is the chart's."""
    name = _namespace_name(namespace)
    return any(r.type in WORKLOADS and get(r.inputs, "metadata", "namespace") == name for r in graph.resources)


def _denies_everything(policy: CapturedResource) -> bool:
    spec = get(policy.inputs, "spec", default={})
    selector = get(spec, "podSelector")
    selects_all = (
        isinstance(selector, Mapping) and not get(selector, "matchLabels") and not get(selector, "matchExpressions")
    )
    types = set(as_list(get(spec, "policyTypes")))
    return selects_all and {"Ingress", "Egress"} <= types and not get(spec, "ingress") and not get(spec, "egress")


@rule(
    "MLOPS-K8S-003",
    "Namespaces that run the stack's pods deny all traffic by default",
    severity=Severity.HIGH,
    applies_to={NAMESPACE},
    reads_graph=True,
)
def namespace_default_deny(namespace: CapturedResource, graph: ResourceGraph) -> Verdict:
    if not _runs_workloads(namespace, graph):
        return not_applicable("runs none of the stack's pods")
    name = _namespace_name(namespace)
    policies = [p for p in graph.of_type(NETWORK_POLICY) if get(p.inputs, "metadata", "namespace") == name]
    if any(_denies_everything(p) for p in policies):
        return compliant()
    return violation(f"no default-deny NetworkPolicy (empty podSelector, Ingress and Egress) in {name!r}")


@rule(
    "MLOPS-K8S-004",
    "Namespaces that run the stack's pods enforce the restricted pod security level",
    severity=Severity.MEDIUM,
    applies_to={NAMESPACE},
    reads_graph=True,
)
def namespace_restricted(namespace: CapturedResource, graph: ResourceGraph) -> Verdict:
    if not _runs_workloads(namespace, graph):
        return not_applicable("runs none of the stack's pods")
    level = get(namespace.inputs, "metadata", "labels", ENFORCE_LABEL)
    return compliant() if level == "restricted" else violation(f"label {ENFORCE_LABEL} is {level!r}, not 'restricted'")


def pinned(image: Any) -> bool:
    """An image reference that names one image: a digest, or a tag other than `latest`."""
    if not isinstance(image, str) or not image:
        return False
    last = image.rsplit("/", 1)[-1]
    return "@sha256:" in image or (":" in last and not last.endswith(":latest"))


def _images(resource: CapturedResource) -> list[Any]:
    if resource.type == SAGEMAKER_MODEL:
        found = [resource.inputs.get("primaryContainer"), *as_list(resource.inputs.get("containers"))]
        return [get(c, "image") for c in found if isinstance(c, Mapping) and "image" in c]
    pod = pod_spec(resource)
    return [c.get("image") for c in containers(pod)] if pod is not None else []


@rule(
    "MLOPS-IMG-001",
    "Images are pinned by tag or digest (never latest); Helm charts by version",
    severity=Severity.MEDIUM,
    applies_to={*WORKLOADS, SAGEMAKER_MODEL, *HELM_CHARTS},
)
def images_pinned(resource: CapturedResource, _graph: ResourceGraph) -> Verdict:
    if resource.type in HELM_CHARTS:
        return compliant() if resource.inputs.get("version") else violation("the chart version is not pinned")
    images = _images(resource)
    if not images:
        return not_applicable("names no image (a model package brings its own)")
    return verdict(f"image {image!r} is not pinned" for image in images if not pinned(image))
