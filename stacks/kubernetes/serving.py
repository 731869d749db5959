"""Serving on Kubernetes: the model server, on the SageMaker container contract (`serve`,
port 8080, GET /ping, POST /invocations), so one image serves on both platforms.

With a model registry (MLflow), the image holds no model: an init container (`load`) downloads
the version an alias names (`champion`; a canary variant's own alias) into an emptyDir, checking
its sha256 against the one recorded at registration, and the server starts on it. /ping answers
200 only once the model is loaded, so a pod is Ready only then.

Exposure: the HTTPRoute forwards exactly POST/GET of /invocations and /ping (never /metrics) with
a request body limit at the gateway (Envoy Gateway's BackendTrafficPolicy) equal to the app's
MAX_REQUEST_BYTES, optionally behind JWT authentication (SecurityPolicy); the NetworkPolicy admits
the serving port from the namespaces that need it only: the gateway's, Prometheus' (/metrics)
and, with KServe, Knative's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from ..base import CapabilityComponent
from . import netpol
from .pods import Workload, container, http_probes, pod_spec, pod_template

__all__ = [
    "CHAMPION_ALIAS",
    "ENVOY_GATEWAY",
    "KNATIVE_NAMESPACES",
    "MAX_REQUEST_BYTES",
    "MODEL_DIR",
    "MODEL_PORT",
    "ROUTED_PATHS",
    "GatewayExposure",
    "ModelServer",
    "ModelServerArgs",
    "ModelSource",
    "ServingVariant",
    "server_url",
]

MODEL_PORT = 8080
COMPONENT = "model-server"
# `pulumi up` does not wait for the server to become Ready: before the first deploy its image does
# not exist, and from level 2 it serves only once a version is approved. The deploy workflow
# restarts it and waits for it instead (`kubectl rollout status`).
NO_AWAIT = {"pulumi.com/skipAwait": "true"}
# The serving app's limit (its MAX_REQUEST_BYTES, 413 above it); the gateway enforces the same.
MAX_REQUEST_BYTES = 1024 * 1024
# Where the loader puts the model and the server reads it (the image's MODEL_DIR).
MODEL_DIR = "/opt/ml/model"
MODEL_VOLUME = "model"
# The alias an approval sets; the stable variant serves it, every other variant its own name.
CHAMPION_ALIAS = "champion"
# The only paths clients reach through the gateway; /metrics is for Prometheus alone.
ROUTED_PATHS = ("/invocations", "/ping")
ENVOY_GATEWAY = "gateway.envoyproxy.io/v1alpha1"
# Knative's activator and its ingress forward requests to KServe's pods.
KNATIVE_NAMESPACES = ("knative-serving",)


@dataclass(frozen=True)
class ServingVariant:
    name: str
    percent: int


@dataclass(frozen=True)
class ModelSource:
    """The model registry the loader reads: an MLflow tracking server and the registered model."""

    tracking_uri: pulumi.Input[str]
    model_name: str
    tracking_client_labels: Mapping[str, str]
    tracking_egress: Mapping[str, object]


@dataclass(frozen=True)
class GatewayExposure:
    """How clients reach the server: a Gateway API Gateway, the environment's host name on it
    (`<namespace>.<domain>`; none routes nothing unless variants need the route), and whether
    the gateway is Envoy Gateway (body limit and optional JWT policies)."""

    name: str
    namespace: str
    domain: str | None = None
    envoy_gateway: bool = True
    jwt_issuer: str | None = None
    jwks_uri: str | None = None
    jwt_audiences: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelServerArgs:
    workload: Workload
    min_replicas: int
    max_replicas: int
    target_cpu_percent: int
    gateway: GatewayExposure
    # Canary rollout: two or more variants share the traffic by percent; none = one server.
    variants: tuple[ServingVariant, ...] = ()
    kserve: bool = False
    env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    calls_aws: bool = False
    # None: the model is in the image (no registry at this level).
    model_source: ModelSource | None = None
    # The namespace Prometheus scrapes /metrics from, when the server is monitored.
    prometheus_namespace: str | None = None


def server_url(namespace: pulumi.Input[str]) -> pulumi.Output[str]:
    """The in-cluster URL of the Service in front of every variant."""
    return pulumi.Output.concat(f"http://{COMPONENT}.", namespace, f".svc.cluster.local:{MODEL_PORT}")


class ModelServer(CapabilityComponent):
    """The model server: Deployment, Service, HorizontalPodAutoscaler and PodDisruptionBudget
    per variant, variants split by a Gateway API HTTPRoute; or, with KServe, one
    InferenceService whose `canaryTrafficPercent` rolls a new revision out gradually."""

    TYPE = "mlopsbp:k8s:ModelServer"
    CAPABILITY = "serving"

    service_name: str
    pod_labels: dict[str, str]
    metrics_labels: dict[str, str]
    endpoint_url: pulumi.Output[str]

    def __init__(self, name: str, args: ModelServerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        if args.min_replicas > args.max_replicas:
            raise ValueError(f"{name}: min_replicas must not exceed max_replicas")
        if args.variants and sum(v.percent for v in args.variants) != 100:
            raise ValueError(f"{name}: variant percentages must add up to 100")
        if args.kserve and args.variants and len(args.variants) != 2:
            raise ValueError(f"{name}: a KServe canary takes exactly two variants (stable, canary)")
        if args.gateway.jwt_issuer and not (args.gateway.envoy_gateway and args.gateway.jwks_uri):
            raise ValueError(f"{name}: JWT authentication needs Envoy Gateway and a JWKS URI")
        self._args = args
        # Every model-server pod; each Deployment also selects on its own name.
        labels = {**args.workload.labels, "app.kubernetes.io/component": COMPONENT}
        self.metrics_labels = {**labels, "app.kubernetes.io/name": COMPONENT, "mlops-bp/metrics": "true"}
        routed = False
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
                self._deployment(resource, deployment, own, CHAMPION_ALIAS if i == 0 else variant.name)
                if args.variants:
                    self._service(f"{name}-{variant.name}-service", f"{COMPONENT}-{variant.name}", own, own)
            routed = bool(args.variants or args.gateway.domain)
            if routed:
                self._route(name)
        # The one Service in front of every variant: in-cluster clients and Prometheus use it.
        self.service_name = COMPONENT
        self._service(f"{name}-service", COMPONENT, self.metrics_labels, self.pod_labels)
        self.endpoint_url = (
            pulumi.Output.concat("https://", args.workload.namespace, f".{args.gateway.domain}")
            if routed and args.gateway.domain
            else server_url(args.workload.namespace)
        )
        self._network_policy(name, routed)
        self.register_outputs({"service_name": self.service_name, "endpoint_url": self.endpoint_url})

    def _network_policy(self, name: str, routed: bool) -> None:
        args = self._args
        clients: list[str] = []
        if routed:
            clients.append(args.gateway.namespace)
        if args.kserve:
            clients += [*KNATIVE_NAMESPACES, args.gateway.namespace]
        if args.prometheus_namespace:
            clients.append(args.prometheus_namespace)
        ingress = [netpol.from_namespaces(sorted(set(clients)), MODEL_PORT)] if clients else []
        egress = [netpol.https_egress()] if args.calls_aws else []
        if args.model_source is not None:
            egress.append(dict(args.model_source.tracking_egress))
        if ingress or egress:
            netpol.allow(
                f"{name}-netpol",
                name=f"allow-{COMPONENT}",
                namespace=args.workload.namespace,
                pod_labels=self.pod_labels,
                ingress=ingress,
                egress=egress,
                opts=self.child(),
            )

    def _containers(self, port_name: str, alias: str) -> tuple[list[dict], list[dict], list[dict]]:
        """(init containers, containers, volumes) of a server pod that serves `alias`."""
        args = self._args
        env = {**args.env, "MAX_REQUEST_BYTES": str(MAX_REQUEST_BYTES)}
        server_name = COMPONENT if not args.kserve else "kserve-container"
        source = args.model_source
        if source is None:
            server = container(
                server_name,
                args.workload.image,
                args.workload.resources,
                args=["serve"],
                env=env,
                ports={port_name: MODEL_PORT},
                probes=http_probes("/ping", MODEL_PORT),
            )
            return [], [server], []
        mount = {"name": MODEL_VOLUME, "mountPath": MODEL_DIR}
        loader = container(
            "model-loader",
            args.workload.image,
            args.workload.resources,
            args=["load"],
            env={
                "MLFLOW_TRACKING_URI": source.tracking_uri,
                "MODEL_NAME": source.model_name,
                "MODEL_ALIAS": alias,
                "MODEL_DIR": MODEL_DIR,
            },
            mounts=[mount],
        )
        server = container(
            server_name,
            args.workload.image,
            args.workload.resources,
            args=["serve"],
            env={**env, "MODEL_DIR": MODEL_DIR},
            ports={port_name: MODEL_PORT},
            probes=http_probes("/ping", MODEL_PORT),
            mounts=[{**mount, "readOnly": True}],
        )
        return [loader], [server], [{"name": MODEL_VOLUME, "emptyDir": {"sizeLimit": "1Gi"}}]

    def _pod_spec(self, port_name: str, alias: str) -> dict:
        init, containers, volumes = self._containers(port_name, alias)
        return pod_spec(
            service_account=self._args.workload.service_account,
            containers=containers,
            init_containers=init,
            volumes=volumes,
        )

    def _pod_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        source = self._args.model_source
        return {**labels, **(source.tracking_client_labels if source else {})}

    def _service(
        self, resource_name: str, service_name: str, labels: Mapping[str, str], selector: Mapping[str, str]
    ) -> None:
        k8s.core.v1.Service(
            resource_name,
            metadata={"name": service_name, "namespace": self._args.workload.namespace, "labels": dict(labels)},
            spec={
                "type": "ClusterIP",
                "selector": dict(selector),
                "ports": [{"name": "http", "port": MODEL_PORT, "targetPort": MODEL_PORT, "protocol": "TCP"}],
            },
            opts=self.child(),
        )

    def _deployment(self, resource_name: str, deployment_name: str, labels: dict[str, str], alias: str) -> None:
        args = self._args
        metadata = {"name": deployment_name, "namespace": args.workload.namespace, "labels": labels}
        deployment = k8s.apps.v1.Deployment(
            f"{resource_name}-deployment",
            metadata={**metadata, "annotations": NO_AWAIT},
            # No `replicas`: the autoscaler owns it, so `pulumi up` never fights it.
            spec={
                "selector": {"matchLabels": labels},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                "revisionHistoryLimit": 5,
                "template": pod_template(self._pod_labels(labels), self._pod_spec("http", alias)),
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
        gateway = args.gateway
        backends = (
            [{"name": f"{COMPONENT}-{v.name}", "port": MODEL_PORT, "weight": v.percent} for v in args.variants]
            if args.variants
            else [{"name": COMPONENT, "port": MODEL_PORT}]
        )
        spec: dict = {
            "parentRefs": [{"name": gateway.name, "namespace": gateway.namespace}],
            "rules": [
                {
                    "matches": [{"path": {"type": "Exact", "value": path}} for path in ROUTED_PATHS],
                    "backendRefs": backends,
                }
            ],
        }
        if gateway.domain:
            spec["hostnames"] = [pulumi.Output.concat(args.workload.namespace, f".{gateway.domain}")]
        metadata = {"name": COMPONENT, "namespace": args.workload.namespace, "labels": dict(args.workload.labels)}
        k8s.apiextensions.CustomResource(
            f"{name}-route",
            api_version="gateway.networking.k8s.io/v1",
            kind="HTTPRoute",
            metadata=metadata,
            spec=spec,
            opts=self.child(),
        )
        if not gateway.envoy_gateway:
            return
        target = [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": COMPONENT}]
        # Envoy answers 413 above the limit before the body reaches a pod.
        k8s.apiextensions.CustomResource(
            f"{name}-body-limit",
            api_version=ENVOY_GATEWAY,
            kind="BackendTrafficPolicy",
            metadata={**metadata, "name": f"{COMPONENT}-body-limit"},
            spec={"targetRefs": target, "requestBuffer": {"limit": f"{MAX_REQUEST_BYTES // 1024}Ki"}},
            opts=self.child(),
        )
        if gateway.jwt_issuer:
            provider: dict = {"name": "clients", "issuer": gateway.jwt_issuer, "remoteJWKS": {"uri": gateway.jwks_uri}}
            if gateway.jwt_audiences:
                provider["audiences"] = list(gateway.jwt_audiences)
            k8s.apiextensions.CustomResource(
                f"{name}-authentication",
                api_version=ENVOY_GATEWAY,
                kind="SecurityPolicy",
                metadata={**metadata, "name": f"{COMPONENT}-authentication"},
                spec={"targetRefs": target, "jwt": {"providers": [provider]}},
                opts=self.child(),
            )

    def _inference_service(self, name: str, labels: Mapping[str, str]) -> None:
        """KServe's canary needs its Serverless (Knative) mode; Knative must allow the pod
        security context, init containers and emptyDir volumes (features
        `kubernetes.podspec-securitycontext`, `kubernetes.podspec-init-containers`,
        `kubernetes.podspec-emptydir`). The canary is the newest revision: after an approval
        moves the alias, the next rollout serves it to `canaryTrafficPercent` of requests."""
        args = self._args
        spec = self._pod_spec("http1", CHAMPION_ALIAS)
        predictor: dict = {
            **spec,
            "minReplicas": args.min_replicas,
            "maxReplicas": args.max_replicas,
            "scaleMetric": "cpu",
            "scaleTarget": args.target_cpu_percent,
        }
        if args.variants:
            predictor["canaryTrafficPercent"] = args.variants[-1].percent
        source = args.model_source
        metadata: dict = {
            "name": COMPONENT,
            "namespace": args.workload.namespace,
            "labels": dict(labels),
            "annotations": NO_AWAIT,
        }
        if source is not None:
            # KServe copies these onto the predictor's pods: the loader may reach MLflow.
            predictor["labels"] = dict(source.tracking_client_labels)
        k8s.apiextensions.CustomResource(
            f"{name}-inference-service",
            api_version="serving.kserve.io/v1beta1",
            kind="InferenceService",
            metadata=metadata,
            spec={"predictor": predictor},
            opts=self.child(),
        )
