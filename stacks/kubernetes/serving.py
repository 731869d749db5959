"""Serving on Kubernetes: the model server, on the SageMaker container contract (`serve`,
port 8080, GET /ping, POST /invocations), so one image serves on both platforms."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from ..base import CapabilityComponent
from . import netpol
from .pods import Resources, container, http_probes, pod_spec, pod_template

__all__ = ["MODEL_PORT", "ModelServer", "ModelServerArgs", "ServingVariant"]

MODEL_PORT = 8080
COMPONENT = "model-server"


@dataclass(frozen=True)
class ServingVariant:
    name: str
    percent: int


@dataclass(frozen=True)
class ModelServerArgs:
    namespace: pulumi.Input[str]
    labels: Mapping[str, str]
    image: pulumi.Input[str]
    service_account: str
    resources: Resources
    min_replicas: int
    max_replicas: int
    target_cpu_percent: int
    # Canary rollout: two or more variants share the traffic by percent; none = one server.
    variants: tuple[ServingVariant, ...] = ()
    kserve: bool = False
    gateway_name: str = ""
    gateway_namespace: str = ""
    env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    calls_aws: bool = False


class ModelServer(CapabilityComponent):
    """The model server: Deployment, Service, HorizontalPodAutoscaler and PodDisruptionBudget
    per variant, variants split by a Gateway API HTTPRoute; or, with KServe, one
    InferenceService whose `canaryTrafficPercent` rolls a new revision out gradually."""

    TYPE = "mlopsbp:k8s:ModelServer"
    CAPABILITY = "serving"

    service_name: str
    pod_labels: dict[str, str]
    metrics_labels: dict[str, str]

    def __init__(self, name: str, args: ModelServerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        if args.min_replicas > args.max_replicas:
            raise ValueError(f"{name}: min_replicas must not exceed max_replicas")
        if args.variants and sum(v.percent for v in args.variants) != 100:
            raise ValueError(f"{name}: variant percentages must add up to 100")
        if args.kserve and args.variants and len(args.variants) != 2:
            raise ValueError(f"{name}: a KServe canary takes exactly two variants (stable, canary)")
        self._args = args
        # Every model-server pod; each Deployment also selects on its own name.
        labels = {**args.labels, "app.kubernetes.io/component": COMPONENT}
        self.metrics_labels = {**labels, "app.kubernetes.io/name": COMPONENT, "mlops-bp/metrics": "true"}
        if args.kserve:
            self.pod_labels = {"serving.kserve.io/inferenceservice": COMPONENT}
            self._inference_service(name, {**labels, "app.kubernetes.io/name": COMPONENT})
        else:
            self.pod_labels = labels
            # The first (stable) variant is the server of the levels without variants, so
            # adding variants adds Deployments and never replaces the running one.
            for i, variant in enumerate(args.variants or (ServingVariant("", 100),)):
                resource = name if i == 0 else f"{name}-{variant.name}"
                deployment = COMPONENT if i == 0 else f"{COMPONENT}-{variant.name}"
                own = {**labels, "app.kubernetes.io/name": deployment}
                self._deployment(resource, deployment, own)
                if args.variants:
                    self._service(f"{name}-{variant.name}-service", f"{COMPONENT}-{variant.name}", own, own)
            if args.variants:
                self._route(name)
        # The one Service in front of every variant: in-cluster clients and Prometheus use it.
        self.service_name = COMPONENT
        self._service(f"{name}-service", COMPONENT, self.metrics_labels, self.pod_labels)
        egress = [netpol.https_egress()] if args.calls_aws else []
        netpol.allow(
            f"{name}-netpol",
            name=f"allow-{COMPONENT}",
            namespace=args.namespace,
            pod_labels=self.pod_labels,
            # Clients (and Prometheus) in any namespace reach the server on its one port.
            ingress=[netpol.from_any_namespace(MODEL_PORT)],
            egress=egress,
            opts=self.child(),
        )
        self.register_outputs({"service_name": self.service_name})

    def _container(self, port_name: str) -> dict:
        args = self._args
        return container(
            COMPONENT if not args.kserve else "kserve-container",
            args.image,
            args.resources,
            args=["serve"],
            env=args.env,
            ports={port_name: MODEL_PORT},
            probes=http_probes("/ping", MODEL_PORT),
        )

    def _service(
        self, resource_name: str, service_name: str, labels: Mapping[str, str], selector: Mapping[str, str]
    ) -> None:
        k8s.core.v1.Service(
            resource_name,
            metadata={"name": service_name, "namespace": self._args.namespace, "labels": dict(labels)},
            spec={
                "type": "ClusterIP",
                "selector": dict(selector),
                "ports": [{"name": "http", "port": MODEL_PORT, "targetPort": MODEL_PORT, "protocol": "TCP"}],
            },
            opts=self.child(),
        )

    def _deployment(self, resource_name: str, deployment_name: str, labels: dict[str, str]) -> None:
        args = self._args
        metadata = {"name": deployment_name, "namespace": args.namespace, "labels": labels}
        spec = pod_spec(service_account=args.service_account, containers=[self._container("http")])
        deployment = k8s.apps.v1.Deployment(
            f"{resource_name}-deployment",
            metadata=metadata,
            # No `replicas`: the autoscaler owns it, so `pulumi up` never fights it.
            spec={
                "selector": {"matchLabels": labels},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                "revisionHistoryLimit": 5,
                "template": pod_template(labels, spec),
            },
            opts=self.child(),
        )
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{resource_name}-hpa",
            metadata=metadata,
            spec={
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment.metadata.name},
                "minReplicas": args.min_replicas,
                "maxReplicas": args.max_replicas,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": args.target_cpu_percent},
                        },
                    }
                ],
            },
            opts=self.child(),
        )
        # maxUnavailable (not minAvailable) so a single replica never blocks a node drain.
        k8s.policy.v1.PodDisruptionBudget(
            f"{resource_name}-pdb",
            metadata=metadata,
            spec={"maxUnavailable": 1, "selector": {"matchLabels": labels}},
            opts=self.child(),
        )

    def _route(self, name: str) -> None:
        args = self._args
        k8s.apiextensions.CustomResource(
            f"{name}-route",
            api_version="gateway.networking.k8s.io/v1",
            kind="HTTPRoute",
            metadata={"name": COMPONENT, "namespace": args.namespace, "labels": dict(args.labels)},
            spec={
                "parentRefs": [{"name": args.gateway_name, "namespace": args.gateway_namespace}],
                "rules": [
                    {
                        "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                        "backendRefs": [
                            {"name": f"{COMPONENT}-{v.name}", "port": MODEL_PORT, "weight": v.percent}
                            for v in args.variants
                        ],
                    }
                ],
            },
            opts=self.child(),
        )

    def _inference_service(self, name: str, labels: Mapping[str, str]) -> None:
        """KServe's canary needs its Serverless (Knative) mode; Knative must allow the pod
        security context (feature `kubernetes.podspec-securitycontext`)."""
        args = self._args
        spec = pod_spec(service_account=args.service_account, containers=[self._container("http1")])
        predictor: dict = {
            **spec,
            "minReplicas": args.min_replicas,
            "maxReplicas": args.max_replicas,
            "scaleMetric": "cpu",
            "scaleTarget": args.target_cpu_percent,
        }
        if args.variants:
            predictor["canaryTrafficPercent"] = args.variants[-1].percent
        k8s.apiextensions.CustomResource(
            f"{name}-inference-service",
            api_version="serving.kserve.io/v1beta1",
            kind="InferenceService",
            metadata={"name": COMPONENT, "namespace": args.namespace, "labels": dict(labels)},
            spec={"predictor": predictor},
            opts=self.child(),
        )
