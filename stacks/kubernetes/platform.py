"""The Kubernetes platform: storage, registry and IAM on AWS; training, serving and monitoring
on a cluster. Which parts exist follows the blueprint's catalog features."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from mlops_bp.blueprints import Blueprint, Environment, KubernetesServing
from mlops_bp.blueprints.kubernetes import ResourceSettings, TrackingStore
from mlops_bp.blueprints.schedules import five_field_cron
from mlops_bp.blueprints.validators import whole_percents

from ..aws import policies
from ..aws.platform import Foundation, build_foundation
from ..aws.sagemaker import training_data_uri
from ..context import StackContext
from .cluster import ClusterAccess, EksClusterArgs, connect_cluster
from .identity import WorkloadIdentity, WorkloadIdentityArgs
from .monitoring import (
    MONITORING_NAMESPACE,
    ClusterMonitoring,
    ClusterMonitoringArgs,
    DriftRetraining,
    DriftRetrainingArgs,
    ModelMonitoring,
    ModelMonitoringArgs,
)
from .namespace import EnvironmentNamespace, EnvironmentNamespaceArgs
from .pods import Resources, Workload
from .rbac import DeployAccess, DeployAccessArgs
from .serving import (
    CHAMPION_ALIAS,
    GatewayExposure,
    ModelServer,
    ModelServerArgs,
    ModelSource,
    ServingVariant,
)
from .training import (
    TRACKING_CLIENT,
    ExperimentTracking,
    ExperimentTrackingArgs,
    Notebook,
    NotebookArgs,
    TrainingJob,
    TrainingJobArgs,
    to_tracking,
    tracking_uri,
)

__all__ = ["build_kubernetes", "variant_percents"]

DATA_CAPTURE_PREFIX = "datacapture"
MODEL_SERVER, TRAINING, DRIFT_CHECK = "model-server", "training", "drift-check"


def _resources(settings: ResourceSettings) -> Resources:
    return Resources(settings.cpu_request, settings.cpu_limit, settings.memory_request, settings.memory_limit)


def variant_percents(blueprint: Blueprint) -> tuple[ServingVariant, ...]:
    """Whole percentages per variant that add up to exactly 100 (the last one takes the rest)."""
    variants = blueprint.serving.variants
    percents = whole_percents([v.weight for v in variants])  # the Blueprint checked each is >= 1%
    return tuple(ServingVariant(v.name.lower(), p) for v, p in zip(variants, percents, strict=True))


def _named(prefix: str, statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The statements with `prefix` on their Sid, so two grants on different buckets stay distinct."""
    return [{**st, "Sid": prefix + st["Sid"]} if "Sid" in st else st for st in statements]


class _Builder:
    """Holds what the components of one environment share while they are declared."""

    def __init__(self, blueprint: Blueprint, env: Environment, ctx: StackContext, opts: pulumi.ResourceOptions) -> None:
        self.blueprint = blueprint
        self.env = env
        self.ctx = ctx
        self.features = blueprint.features
        self.settings = blueprint.kubernetes
        self.aws_opts = opts
        self.cluster_name = self.settings.cluster.name or blueprint.name
        # The primary environment's stack owns what exists once per cluster.
        self.owns_cluster = env.name == blueprint.primary_environment.name
        aws_provider = opts.providers["aws"] if isinstance(opts.providers, dict) else None
        self.account_id = aws.get_caller_identity_output(
            opts=pulumi.InvokeOutputOptions(provider=aws_provider)
        ).account_id
        self.labels = {
            "app.kubernetes.io/part-of": blueprint.name,
            "app.kubernetes.io/managed-by": "mlops-bp",
            "mlops-bp/environment": env.name,
        }

    def ci_statements(self) -> list[dict[str, Any]]:
        """The deploy workflow runs `aws eks update-kubeconfig`; RBAC limits the rest."""
        cluster_arn = pulumi.Output.concat(
            f"arn:aws:eks:{self.ctx.region}:", self.account_id, f":cluster/{self.cluster_name}"
        )
        return [{"Sid": "DescribeCluster", "Effect": "Allow", "Action": "eks:DescribeCluster", "Resource": cluster_arn}]

    def cluster(self, foundation: Foundation) -> ClusterAccess:
        cluster = self.settings.cluster
        create = None
        if cluster.create and self.owns_cluster:
            create = EksClusterArgs(
                cluster_name=self.cluster_name,
                version=cluster.version,
                subnet_ids=tuple(cluster.subnet_ids),
                instance_types=tuple(cluster.instance_types),
                min_size=cluster.min_size,
                desired_size=cluster.desired_size,
                max_size=cluster.max_size,
                private_endpoint=cluster.private_endpoint,
                public_access_cidrs=tuple(cluster.public_access_cidrs),
                kms_key_arn=foundation.key.arn,
                log_retention_days=self.blueprint.monitoring.log_retention_days,
                region=self.ctx.region,
            )
        return connect_cluster(
            resource_prefix=self.ctx.prefix,
            cluster_name=self.cluster_name,
            region=self.ctx.region,
            account_id=self.account_id,
            opts=self.aws_opts,
            create=create,
            created_elsewhere=cluster.create and not self.owns_cluster,
            kubeconfig_path=cluster.kubeconfig,
            context=cluster.context,
        )

    def identity(
        self,
        access: ClusterAccess,
        opts: pulumi.ResourceOptions,
        namespace: pulumi.Input[str],
        workload: str,
        statements: list[dict[str, Any]],
    ) -> WorkloadIdentity:
        return WorkloadIdentity(
            self.ctx.name(f"{workload}-identity"),
            WorkloadIdentityArgs(
                namespace=namespace,
                service_account=workload,
                labels={**self.labels, "app.kubernetes.io/name": workload},
                oidc_provider_arn=access.oidc_provider_arn,
                oidc_issuer=access.oidc_issuer,
                statements=tuple(statements),
                description=f"{workload} of {self.ctx.prefix} (IRSA)",
            ),
            opts,
        )


@dataclass
class _Stack:
    """One environment's stack while it is declared: the shared pieces (foundation, cluster
    access, namespace, images, environment variables) and the stack outputs, filled in by one
    method per capability."""

    b: _Builder
    foundation: Foundation
    access: ClusterAccess
    opts: pulumi.ResourceOptions
    namespace: pulumi.Output[str]
    outputs: dict[str, Any]
    common_env: dict[str, pulumi.Input[str]]
    ci_identity: Any = None
    capture_uri: pulumi.Output[str] | None = None

    @property
    def blueprint(self) -> Blueprint:
        return self.b.blueprint

    @property
    def ctx(self) -> StackContext:
        return self.b.ctx

    @property
    def settings(self) -> Any:
        return self.b.settings

    @property
    def features(self) -> frozenset[str]:
        return self.b.features

    @property
    def artifacts(self) -> Any:
        return self.foundation.artifacts_bucket

    @property
    def has_tracking(self) -> bool:
        return "model_registry" in self.features and self.artifacts is not None

    @property
    def repository(self) -> pulumi.Output[str] | None:
        return self.foundation.registry.repository_url if self.foundation.registry is not None else None

    @property
    def tag(self) -> str:
        """The commit whose images CI pushed, as the deploy pinned it (before: the blueprint's tag)."""
        return self.ctx.deployment.image_tag or self.blueprint.serving.image_tag

    @property
    def suspended(self) -> bool:
        """Schedules wait until a deploy pins images that exist."""
        return self.ctx.deployment.image_tag is None

    def image(self, prefix: str = "") -> pulumi.Output[str] | None:
        return pulumi.Output.concat(self.repository, f":{prefix}", self.tag) if self.repository is not None else None

    def identity(self, workload: str, statements: list[dict[str, Any]]) -> WorkloadIdentity:
        return self.b.identity(self.access, self.opts, self.namespace, workload, statements)

    def workload(self, image: pulumi.Input[str], service_account: str, resources: Resources) -> Workload:
        """Where and as whom a workload of this environment runs."""
        return Workload(self.namespace, self.b.labels, image, service_account, resources)

    def resources(self, workload: str) -> Resources:
        return _resources(getattr(self.settings.resources, workload))

    def notebook(self) -> None:
        f = self.foundation
        identity = self.identity(
            "notebook",
            [*policies.bucket_read_write([x.arn for x in f.buckets]), *policies.kms_use(f.key.arn)],
        )
        notebook = Notebook(
            self.ctx.name("notebook"),
            NotebookArgs(
                workload=self.workload(
                    self.settings.images.notebook, identity.service_account_name, self.resources("notebook")
                ),
                volume_size_gb=self.blueprint.notebook.volume_size_gb,
                idle_minutes=self.blueprint.notebook.idle_minutes,
                storage_class=self.settings.storage_class,
                uses_tracking=self.has_tracking,
                env=self.common_env,
            ),
            self.opts,
        )
        self.outputs["notebook_role_arn"] = identity.role_arn
        self.outputs["notebook_pvc"] = notebook.home.metadata.name

    def model_server(self) -> ModelServer:
        blueprint, ctx, artifacts = self.blueprint, self.ctx, self.artifacts
        capture = "data_capture" in self.features and artifacts is not None
        statements: list[dict[str, Any]] = []
        server_env: dict[str, pulumi.Input[str]] = {"MODEL_NAME": blueprint.name}
        if capture:
            prefix = f"{DATA_CAPTURE_PREFIX}/{ctx.environment}/"
            self.capture_uri = pulumi.Output.concat("s3://", artifacts.bucket_name, f"/{prefix}")
            server_env |= {
                "AWS_REGION": ctx.region,
                "AWS_DEFAULT_REGION": ctx.region,
                "DATA_CAPTURE_S3_URI": self.capture_uri,
                "DATA_CAPTURE_PERCENT": str(blueprint.serving.data_capture_percent),
            }
            statements = [
                {
                    "Sid": "WriteCapturedRequests",
                    "Effect": "Allow",
                    "Action": "s3:PutObject",
                    "Resource": pulumi.Output.concat(artifacts.arn, f"/{prefix}*"),
                },
                *policies.kms_use(self.foundation.key.arn),
            ]
        identity = self.identity(MODEL_SERVER, statements)
        gateway = self.settings.gateway
        server = ModelServer(
            ctx.name("model-server"),
            ModelServerArgs(
                workload=self.workload(self.image(), identity.service_account_name, self.resources("model_server")),
                min_replicas=blueprint.serving.min_capacity,
                max_replicas=blueprint.serving.max_capacity,
                target_cpu_percent=self.settings.target_cpu_percent,
                gateway=GatewayExposure(
                    name=gateway.name,
                    namespace=gateway.namespace,
                    domain=gateway.domain,
                    envoy_gateway=gateway.envoy_gateway,
                    jwt_issuer=gateway.jwt_issuer,
                    jwks_uri=gateway.jwks_uri,
                    jwt_audiences=tuple(gateway.jwt_audiences),
                ),
                variants=variant_percents(blueprint) if blueprint.has_challengers else (),
                kserve=self.settings.serving is KubernetesServing.KSERVE,
                env=server_env,
                calls_aws=capture,
                model_source=(
                    ModelSource(tracking_uri(self.namespace), blueprint.name, TRACKING_CLIENT, to_tracking())
                    if self.has_tracking
                    else None
                ),
                prometheus_namespace=MONITORING_NAMESPACE if "model_monitor" in self.features else None,
            ),
            self.opts,
        )
        self.outputs["model_server_service"] = server.service_name
        self.outputs["endpoint_url"] = server.endpoint_url
        return server

    def tracking(self) -> None:
        settings, artifacts = self.settings, self.artifacts
        identity = self.identity(
            "mlflow", [*policies.bucket_read_write([artifacts.arn]), *policies.kms_use(self.foundation.key.arn)]
        )
        pvc_store = settings.tracking_store is TrackingStore.PVC
        tracking = ExperimentTracking(
            self.ctx.name("tracking"),
            ExperimentTrackingArgs(
                workload=self.workload(
                    settings.images.tracking, identity.service_account_name, self.resources("tracking")
                ),
                artifacts_uri=pulumi.Output.concat("s3://", artifacts.bucket_name, "/mlflow"),
                region=self.ctx.region,
                store_size_gb=settings.tracking_storage_gb if pvc_store else None,
                postgres_secret="" if pvc_store else settings.postgres_secret,
                storage_class=settings.storage_class,
            ),
            self.opts,
        )
        self.outputs["tracking_uri"] = tracking.uri

    def training(self) -> TrainingJob:
        blueprint, f = self.blueprint, self.foundation
        identity = self.identity(
            TRAINING,
            [
                *_named("Data", policies.bucket_read([f.data_bucket.arn])),
                *_named("Artifacts", policies.bucket_read_write([self.artifacts.arn])),
                *policies.kms_use(f.key.arn),
            ],
        )
        training = TrainingJob(
            self.ctx.name("training"),
            TrainingJobArgs(
                workload=self.workload(self.image("train-"), identity.service_account_name, self.resources("training")),
                schedule=five_field_cron(blueprint.training.schedule),
                suspend=self.suspended,
                max_runtime_seconds=blueprint.training.max_runtime_hours * 3600,
                scratch_gb=blueprint.training.volume_size_gb,
                env={
                    **self.common_env,
                    "TRAINING_DATA_URI": training_data_uri(f),
                    "MODEL_NAME": blueprint.name,
                    "METRIC_NAME": blueprint.training.metric_name,
                    "METRIC_THRESHOLD": str(blueprint.training.metric_threshold),
                },
            ),
            self.opts,
        )
        self.outputs["training_cronjob"] = training.cron_job_name
        return training

    def monitoring(self, server: ModelServer) -> None:
        blueprint, settings = self.blueprint, self.settings
        requires: list[pulumi.Resource] = []
        if self.b.owns_cluster:
            stack = ClusterMonitoring(
                self.ctx.name("cluster-monitoring"),
                ClusterMonitoringArgs(
                    chart_version=settings.monitoring_chart_version,
                    retention_days=min(blueprint.monitoring.log_retention_days, 90),
                    storage_class=settings.storage_class,
                ),
                self.opts,
            )
            requires.append(stack.release)
        ModelMonitoring(
            self.ctx.name("model-monitoring"),
            ModelMonitoringArgs(
                namespace=self.namespace,
                labels=self.b.labels,
                service_labels=server.metrics_labels,
                latency_threshold_ms=blueprint.monitoring.latency_threshold_ms,
                error_5xx_threshold=blueprint.monitoring.error_5xx_threshold,
                drift_threshold=blueprint.monitoring.drift_threshold,
                dashboard="dashboard" in self.features,
                requires=tuple(requires),
            ),
            self.opts,
        )

    def drift_retraining(self, training: TrainingJob, capture_uri: pulumi.Output[str]) -> None:
        """Reads the captured traffic (S3, its IRSA role), the served version's baseline (MLflow)
        and creates the retraining Job (Kubernetes API)."""
        blueprint, artifacts = self.blueprint, self.artifacts
        prefix = f"{DATA_CAPTURE_PREFIX}/{self.ctx.environment}/"
        identity = self.identity(
            DRIFT_CHECK,
            [
                {
                    "Sid": "ReadCapturedRequests",
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "Resource": pulumi.Output.concat(artifacts.arn, f"/{prefix}*"),
                },
                {
                    "Sid": "ListCapturedRequests",
                    "Effect": "Allow",
                    "Action": "s3:ListBucket",
                    "Resource": artifacts.arn,
                    "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*"]}},
                },
                *policies.kms_use(self.foundation.key.arn),
            ],
        )
        drift = self.settings.drift
        DriftRetraining(
            self.ctx.name("drift-retraining"),
            DriftRetrainingArgs(
                workload=self.workload(
                    self.image("train-"), identity.service_account_name, self.resources("drift_check")
                ),
                schedule=five_field_cron(blueprint.monitoring.monitor_schedule),
                drift_threshold=blueprint.monitoring.drift_threshold,
                training_cron_job=training.cron_job_name,
                capture_uri=capture_uri,
                region=self.ctx.region,
                tracking_uri=tracking_uri(self.namespace),
                model_name=blueprint.name,
                model_alias=CHAMPION_ALIAS,
                tracking_client_labels=TRACKING_CLIENT,
                tracking_egress=to_tracking(),
                window_hours=drift.window_hours,
                min_rows=drift.min_rows,
                min_requests=drift.min_requests,
                suspend=self.suspended,
            ),
            self.opts,
        )

    def deploy_access(self, repository: pulumi.Output[str]) -> None:
        group = f"mlops-bp:{self.ctx.prefix}:deploy"
        DeployAccess(
            self.ctx.name("deploy-access"),
            DeployAccessArgs(
                namespace=self.namespace,
                labels=self.b.labels,
                group=group,
                ci_role_arn=self.ci_identity.role_arn,
                repository_url=repository,
                service_accounts={
                    "Deployment": [MODEL_SERVER],
                    "InferenceService": [MODEL_SERVER],
                    "Job": [TRAINING],
                    "CronJob": [TRAINING, DRIFT_CHECK],
                },
                api_clients=[DRIFT_CHECK],
                route_backend_prefix=MODEL_SERVER,
                eks_cluster_name=self.b.cluster_name if self.settings.cluster.create else None,
            ),
            self.opts,
        )
        self.outputs["deploy_group"] = group


def _environment_stack(b: _Builder, opts: pulumi.ResourceOptions) -> _Stack:
    """The foundation (AWS), the cluster, the namespace and the CI identity."""
    blueprint, ctx, settings = b.blueprint, b.ctx, b.settings
    foundation = build_foundation(blueprint, ctx, opts)
    access = b.cluster(foundation)
    k8s_opts = pulumi.ResourceOptions(providers={**(opts.providers or {}), "kubernetes": access.provider})  # type: ignore[dict-item]
    ns = EnvironmentNamespace(
        ctx.name("namespace"),
        EnvironmentNamespaceArgs(
            name=ctx.prefix,
            labels=b.labels,
            quota_cpu=settings.quota.cpu,
            quota_memory=settings.quota.memory,
            quota_storage=settings.quota.storage,
            quota_pods=settings.quota.pods,
            container_default=_resources(settings.resources.drift_check),
        ),
        k8s_opts,
    )
    namespace = ns.namespace.metadata.name
    artifacts = foundation.artifacts_bucket
    outputs: dict[str, Any] = {
        "kms_key_arn": foundation.key.arn,
        "data_bucket": foundation.data_bucket.bucket_name,
        "cluster_name": b.cluster_name,
        "namespace": namespace,
        "oidc_provider_arn": access.oidc_provider_arn,
    }
    common_env: dict[str, pulumi.Input[str]] = {
        "AWS_REGION": ctx.region,
        "AWS_DEFAULT_REGION": ctx.region,
        "DATA_BUCKET": foundation.data_bucket.bucket_name,
    }
    if artifacts is not None:
        outputs["artifacts_bucket"] = artifacts.bucket_name
        common_env["ARTIFACTS_BUCKET"] = artifacts.bucket_name
    if foundation.registry is not None:
        outputs["repository_url"] = foundation.registry.repository_url
    stack = _Stack(b, foundation, access, k8s_opts, namespace, outputs, common_env)
    if stack.has_tracking:
        common_env["MLFLOW_TRACKING_URI"] = tracking_uri(namespace)
    stack.ci_identity = foundation.attach_ci_identity(blueprint, b.env, b.ci_statements())
    if stack.ci_identity is not None:
        outputs["ci_role_arn"] = stack.ci_identity.role_arn
        if stack.ci_identity.preview_role_arn is not None:
            outputs["ci_preview_role_arn"] = stack.ci_identity.preview_role_arn
    return stack


def build_kubernetes(
    blueprint: Blueprint, env: Environment, ctx: StackContext, opts: pulumi.ResourceOptions
) -> dict[str, Any]:
    """Every capability the blueprint's features switch on, each declared by its own method."""
    stack = _environment_stack(_Builder(blueprint, env, ctx, opts), opts)
    features, repository = stack.features, stack.repository
    if "notebook" in features:
        stack.notebook()
    server = stack.model_server() if "endpoint" in features and repository is not None else None
    if stack.has_tracking:
        stack.tracking()
    training = None
    if "training_pipeline" in features and repository is not None and stack.artifacts is not None:
        training = stack.training()
    if "model_monitor" in features and server is not None:
        stack.monitoring(server)
    if "drift_retraining" in features and training is not None and stack.capture_uri is not None:
        stack.drift_retraining(training, stack.capture_uri)
    if "deploy_on_approval" in features and stack.ci_identity is not None and repository is not None:
        stack.deploy_access(repository)
    return stack.outputs
