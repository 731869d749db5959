"""The Kubernetes platform: storage, registry and IAM on AWS; training, serving and monitoring
on a cluster. Which parts exist follows the blueprint's catalog features."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from mlops_bp.blueprints import Blueprint, Environment, KubernetesServing
from mlops_bp.blueprints.kubernetes import ResourceSettings, TrackingStore

from ..aws import policies
from ..aws.platform import Foundation, build_foundation
from ..context import StackContext
from .cluster import ClusterAccess, EksClusterArgs, connect_cluster
from .identity import WorkloadIdentity, WorkloadIdentityArgs
from .monitoring import (
    ClusterMonitoring,
    ClusterMonitoringArgs,
    DriftRetraining,
    DriftRetrainingArgs,
    ModelMonitoring,
    ModelMonitoringArgs,
)
from .namespace import EnvironmentNamespace, EnvironmentNamespaceArgs
from .pods import Resources
from .rbac import DeployAccess, DeployAccessArgs
from .schedule import to_cron
from .serving import ModelServer, ModelServerArgs, ServingVariant
from .training import (
    ExperimentTracking,
    ExperimentTrackingArgs,
    Notebook,
    NotebookArgs,
    TrainingJob,
    TrainingJobArgs,
    tracking_uri,
)

__all__ = ["build_kubernetes", "variant_percents"]

DATA_CAPTURE_PREFIX = "datacapture"


def _resources(settings: ResourceSettings) -> Resources:
    return Resources(settings.cpu_request, settings.cpu_limit, settings.memory_request, settings.memory_limit)


def variant_percents(blueprint: Blueprint) -> tuple[ServingVariant, ...]:
    """Whole percentages per variant that add up to exactly 100 (the last one takes the rest)."""
    variants = blueprint.serving.variants
    percents = [round(v.weight * 100) for v in variants[:-1]]
    percents.append(100 - sum(percents))  # the Blueprint checked every share is at least 1%
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


def build_kubernetes(
    blueprint: Blueprint, env: Environment, ctx: StackContext, opts: pulumi.ResourceOptions
) -> dict[str, Any]:
    settings = blueprint.kubernetes
    b = _Builder(blueprint, env, ctx, opts)
    features = b.features
    foundation = build_foundation(blueprint, ctx, opts)
    access = b.cluster(foundation)
    k8s_opts = pulumi.ResourceOptions(providers={**(opts.providers or {}), "kubernetes": access.provider})  # type: ignore[dict-item]
    resources = settings.resources
    ns = EnvironmentNamespace(
        ctx.name("namespace"),
        EnvironmentNamespaceArgs(
            name=ctx.prefix,
            labels=b.labels,
            quota_cpu=settings.quota.cpu,
            quota_memory=settings.quota.memory,
            quota_storage=settings.quota.storage,
            quota_pods=settings.quota.pods,
            container_default=_resources(resources.drift_check),
        ),
        k8s_opts,
    )
    namespace = ns.namespace.metadata.name
    key_arn = foundation.key.arn
    data_arn = foundation.data_bucket.arn
    artifacts = foundation.artifacts_bucket
    outputs: dict[str, Any] = {
        "kms_key_arn": key_arn,
        "data_bucket": foundation.data_bucket.bucket_name,
        "cluster_name": b.cluster_name,
        "namespace": namespace,
        "oidc_provider_arn": access.oidc_provider_arn,
    }
    if artifacts is not None:
        outputs["artifacts_bucket"] = artifacts.bucket_name
    if foundation.registry is not None:
        outputs["repository_url"] = foundation.registry.repository_url
    ci_identity = foundation.attach_ci_identity(blueprint, env, b.ci_statements())
    if ci_identity is not None:
        outputs["ci_role_arn"] = ci_identity.role_arn
        if ci_identity.preview_role_arn is not None:
            outputs["ci_preview_role_arn"] = ci_identity.preview_role_arn
    has_tracking = "model_registry" in features and artifacts is not None
    common_env = {
        "AWS_REGION": ctx.region,
        "AWS_DEFAULT_REGION": ctx.region,
        "DATA_BUCKET": foundation.data_bucket.bucket_name,
    }
    if artifacts is not None:
        common_env["ARTIFACTS_BUCKET"] = artifacts.bucket_name
    if has_tracking:
        common_env["MLFLOW_TRACKING_URI"] = tracking_uri(namespace)

    if "notebook" in features:
        identity = b.identity(
            access,
            k8s_opts,
            namespace,
            "notebook",
            [*policies.bucket_read_write([x.arn for x in foundation.buckets]), *policies.kms_use(key_arn)],
        )
        notebook = Notebook(
            ctx.name("notebook"),
            NotebookArgs(
                namespace=namespace,
                labels=b.labels,
                image=settings.images.notebook,
                service_account=identity.service_account_name,
                resources=_resources(resources.notebook),
                volume_size_gb=blueprint.notebook.volume_size_gb,
                idle_minutes=blueprint.notebook.idle_minutes,
                storage_class=settings.storage_class,
                uses_tracking=has_tracking,
                env=common_env,
            ),
            k8s_opts,
        )
        outputs["notebook_role_arn"] = identity.role_arn
        outputs["notebook_pvc"] = notebook.home.metadata.name

    server: ModelServer | None = None
    if "endpoint" in features and foundation.registry is not None:
        image = pulumi.Output.concat(foundation.registry.repository_url, ":", blueprint.serving.image_tag)
        capture = "data_capture" in features and artifacts is not None
        statements: list[dict[str, Any]] = []
        server_env: dict[str, pulumi.Input[str]] = {"MODEL_NAME": blueprint.name}
        if capture:
            capture_uri = pulumi.Output.concat("s3://", artifacts.bucket_name, f"/{DATA_CAPTURE_PREFIX}/{env.name}/")
            server_env |= {
                "AWS_REGION": ctx.region,
                "DATA_CAPTURE_S3_URI": capture_uri,
                "DATA_CAPTURE_PERCENT": str(blueprint.serving.data_capture_percent),
            }
            statements = [
                {
                    "Sid": "WriteCapturedRequests",
                    "Effect": "Allow",
                    "Action": "s3:PutObject",
                    "Resource": pulumi.Output.concat(artifacts.arn, f"/{DATA_CAPTURE_PREFIX}/{env.name}/*"),
                },
                *policies.kms_use(key_arn),
            ]
        identity = b.identity(access, k8s_opts, namespace, "model-server", statements)
        server = ModelServer(
            ctx.name("model-server"),
            ModelServerArgs(
                namespace=namespace,
                labels=b.labels,
                image=image,
                service_account=identity.service_account_name,
                resources=_resources(resources.model_server),
                min_replicas=blueprint.serving.min_capacity,
                max_replicas=blueprint.serving.max_capacity,
                target_cpu_percent=settings.target_cpu_percent,
                variants=variant_percents(blueprint) if blueprint.has_challengers else (),
                kserve=settings.serving is KubernetesServing.KSERVE,
                gateway_name=settings.gateway.name,
                gateway_namespace=settings.gateway.namespace,
                env=server_env,
                calls_aws=capture,
            ),
            k8s_opts,
        )
        outputs["model_server_service"] = server.service_name

    if has_tracking:
        identity = b.identity(
            access,
            k8s_opts,
            namespace,
            "mlflow",
            [*policies.bucket_read_write([artifacts.arn]), *policies.kms_use(key_arn)],
        )
        pvc_store = settings.tracking_store is TrackingStore.PVC
        tracking = ExperimentTracking(
            ctx.name("tracking"),
            ExperimentTrackingArgs(
                namespace=namespace,
                labels=b.labels,
                image=settings.images.tracking,
                service_account=identity.service_account_name,
                resources=_resources(resources.tracking),
                artifacts_uri=pulumi.Output.concat("s3://", artifacts.bucket_name, "/mlflow"),
                region=ctx.region,
                store_size_gb=settings.tracking_storage_gb if pvc_store else None,
                postgres_secret="" if pvc_store else settings.postgres_secret,
                storage_class=settings.storage_class,
            ),
            k8s_opts,
        )
        outputs["tracking_uri"] = tracking.uri

    training: TrainingJob | None = None
    if "training_pipeline" in features and foundation.registry is not None and artifacts is not None:
        identity = b.identity(
            access,
            k8s_opts,
            namespace,
            "training",
            [
                *_named("Data", policies.bucket_read([data_arn])),
                *_named("Artifacts", policies.bucket_read_write([artifacts.arn])),
                *policies.kms_use(key_arn),
            ],
        )
        training = TrainingJob(
            ctx.name("training"),
            TrainingJobArgs(
                namespace=namespace,
                labels=b.labels,
                image=pulumi.Output.concat(foundation.registry.repository_url, ":", blueprint.serving.image_tag),
                service_account=identity.service_account_name,
                resources=_resources(resources.training),
                schedule=to_cron(blueprint.training.schedule, "training.schedule"),
                max_runtime_seconds=blueprint.training.max_runtime_hours * 3600,
                scratch_gb=blueprint.training.volume_size_gb,
                env={
                    **common_env,
                    "MODEL_NAME": blueprint.name,
                    "METRIC_NAME": blueprint.training.metric_name,
                    "METRIC_THRESHOLD": str(blueprint.training.metric_threshold),
                },
            ),
            k8s_opts,
        )
        outputs["training_cronjob"] = training.cron_job_name

    if "model_monitor" in features and server is not None:
        requires: list[pulumi.Resource] = []
        if b.owns_cluster:
            stack = ClusterMonitoring(
                ctx.name("cluster-monitoring"),
                ClusterMonitoringArgs(
                    chart_version=settings.monitoring_chart_version,
                    retention_days=min(blueprint.monitoring.log_retention_days, 90),
                    storage_class=settings.storage_class,
                ),
                k8s_opts,
            )
            requires.append(stack.release)
        ModelMonitoring(
            ctx.name("model-monitoring"),
            ModelMonitoringArgs(
                namespace=namespace,
                labels=b.labels,
                service_labels=server.metrics_labels,
                latency_threshold_ms=blueprint.monitoring.latency_threshold_ms,
                error_5xx_threshold=blueprint.monitoring.error_5xx_threshold,
                drift_threshold=blueprint.monitoring.drift_threshold,
                dashboard="dashboard" in features,
                requires=tuple(requires),
            ),
            k8s_opts,
        )

    if "drift_retraining" in features and training is not None:
        # The drift check talks to Prometheus and the Kubernetes API only: no IAM role.
        identity = b.identity(access, k8s_opts, namespace, "drift-check", [])
        DriftRetraining(
            ctx.name("drift-retraining"),
            DriftRetrainingArgs(
                namespace=namespace,
                labels=b.labels,
                image=settings.images.drift_check,
                service_account=identity.service_account_name,
                resources=_resources(resources.drift_check),
                schedule=to_cron(blueprint.monitoring.monitor_schedule, "monitoring.monitor_schedule"),
                drift_threshold=blueprint.monitoring.drift_threshold,
                training_cron_job=training.cron_job_name,
            ),
            k8s_opts,
        )

    if "deploy_on_approval" in features and ci_identity is not None:
        group = f"mlops-bp:{ctx.prefix}:deploy"
        DeployAccess(
            ctx.name("deploy-access"),
            DeployAccessArgs(
                namespace=namespace,
                labels=b.labels,
                group=group,
                ci_role_arn=ci_identity.role_arn,
                eks_cluster_name=b.cluster_name if settings.cluster.create else None,
            ),
            k8s_opts,
        )
        outputs["deploy_group"] = group
    return outputs
