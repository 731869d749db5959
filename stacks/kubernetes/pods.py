"""What every workload's pod shares: labels and the pod-security baseline.

One place decides the baseline, so no workload can drift from it: non-root with a high UID,
read-only root filesystem (an emptyDir on /tmp), no privilege escalation, all capabilities
dropped, the RuntimeDefault seccomp profile, requests and limits, pinned images, and the API
token mounted only into pods that call the Kubernetes API.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

__all__ = [
    "Workload",
    "NON_ROOT_UID",
    "Resources",
    "container",
    "http_probes",
    "pod_spec",
    "pod_template",
]

# Above 10000 so a container UID never maps to a host user.
NON_ROOT_UID = 10001
TMP_VOLUME = "tmp"
Manifest = dict[str, Any]


@dataclass(frozen=True)
class Resources:
    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str

    def spec(self) -> Manifest:
        return {
            "requests": {"cpu": self.cpu_request, "memory": self.memory_request},
            "limits": {"cpu": self.cpu_limit, "memory": self.memory_limit},
        }


@dataclass(frozen=True)
class Workload:
    """Where and as whom a workload runs, what every Kubernetes workload's args share: its
    namespace and labels, image, service account and resources."""

    namespace: pulumi.Input[str]
    labels: Mapping[str, str]
    image: pulumi.Input[str]
    service_account: str
    resources: Resources


def http_probes(path: str, port: int | str, *, initial_delay: int = 10) -> Manifest:
    """Readiness and liveness on the same HTTP path; liveness is more patient."""
    probe = {"httpGet": {"path": path, "port": port}, "timeoutSeconds": 5}
    return {
        "readinessProbe": {**probe, "initialDelaySeconds": initial_delay, "periodSeconds": 10, "failureThreshold": 3},
        "livenessProbe": {
            **probe,
            "initialDelaySeconds": initial_delay * 3,
            "periodSeconds": 20,
            "failureThreshold": 3,
        },
    }


def container(
    name: str,
    image: pulumi.Input[str],
    resources: Resources,
    *,
    command: Sequence[str] | None = None,
    args: Sequence[str] | None = None,
    env: Mapping[str, pulumi.Input[str]] | None = None,
    ports: Mapping[str, int] | None = None,
    probes: Manifest | None = None,
    mounts: Sequence[Manifest] = (),
) -> Manifest:
    """A container with the security baseline. Images are pinned: the Blueprint validates the
    third-party ones, the team's are its ECR repository's by commit (MLOPS-IMG-001 checks)."""
    spec: Manifest = {
        "name": name,
        "image": image,
        "imagePullPolicy": "Always",
        "resources": resources.spec(),
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": NON_ROOT_UID,
            "runAsGroup": NON_ROOT_UID,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "privileged": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [{"name": TMP_VOLUME, "mountPath": "/tmp"}, *mounts],
        **(probes or {}),
    }
    if command:
        spec["command"] = list(command)
    if args:
        spec["args"] = list(args)
    if env:
        spec["env"] = [{"name": key, "value": value} for key, value in env.items()]
    if ports:
        spec["ports"] = [
            {"name": port_name, "containerPort": port, "protocol": "TCP"} for port_name, port in ports.items()
        ]
    return spec


def pod_spec(
    *,
    service_account: pulumi.Input[str],
    containers: Sequence[Manifest],
    uses_kubernetes_api: bool = False,
    volumes: Sequence[Manifest] = (),
    restart_policy: str | None = None,
    init_containers: Sequence[Manifest] = (),
) -> Manifest:
    """A pod spec with the security baseline and an emptyDir for /tmp; `init_containers` run
    to completion, in order, before the containers start."""
    spec: Manifest = {
        "serviceAccountName": service_account,
        "automountServiceAccountToken": uses_kubernetes_api,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": NON_ROOT_UID,
            "runAsGroup": NON_ROOT_UID,
            "fsGroup": NON_ROOT_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": list(containers),
        "volumes": [{"name": TMP_VOLUME, "emptyDir": {"sizeLimit": "1Gi"}}, *volumes],
    }
    if init_containers:
        spec["initContainers"] = list(init_containers)
    if restart_policy:
        spec["restartPolicy"] = restart_policy
    return spec


def pod_template(labels: Mapping[str, str], spec: Manifest) -> Manifest:
    return {"metadata": {"labels": dict(labels)}, "spec": spec}
