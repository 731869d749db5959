"""The SageMaker platform: all six capabilities on AWS managed services, composed from the
blueprint's catalog features and the environment's endpoint mode."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from mlops_bp.blueprints import Blueprint, EndpointMode, Environment, has_local_nvme
from mlops_bp.blueprints.constants import PROMOTED_PREFIX, ci_role_pattern, image_repository, model_package_group

from ..context import DEPLOY_TOKENS, StackContext
from . import policies
from .iam import ServiceRole, ServiceRoleArgs
from .monitoring import (
    AlarmTopic,
    AlarmTopicArgs,
    DataQualityMonitor,
    DataQualityMonitorArgs,
    EndpointMonitoring,
    EndpointMonitoringArgs,
    OperationsDashboard,
    OperationsDashboardArgs,
    PipelineFailureAlert,
    PipelineFailureAlertArgs,
    metric_namespace,
)
from .platform import Foundation, build_foundation
from .serving import (
    DeployOnApproval,
    DeployOnApprovalArgs,
    DeployTrigger,
    ModelEndpoint,
    ModelEndpointArgs,
    RealtimeVariant,
    ServerlessConfig,
    github_dispatch,
    gitlab_pipeline,
)
from .training import (
    ExperimentNotebook,
    ExperimentNotebookArgs,
    ModelRegistry,
    ModelRegistryArgs,
    PipelineSchedule,
    PipelineScheduleArgs,
    TrainingPipeline,
    TrainingPipelineArgs,
)

__all__ = ["DATASET_KEY", "build_sagemaker", "training_data_uri"]

SAGEMAKER = "sagemaker.amazonaws.com"
# The `endpoint` output of a stack that has not been deployed yet.
FIRST_DEPLOY = "created at first deploy"
# The repo's dataset, tracked by DVC, as an object key of the data bucket.
DATASET_KEY = "datasets/train.csv"


@dataclass(frozen=True)
class _Names:
    """Physical names that other stacks and the repo's workflows derive too.

    Training lives in the primary environment, where CI pushes images and the data is: its
    pipeline registers into its registry and the team approves there. Every other environment
    serves only what was promoted into it: the approved package copied, digest-checked, into its
    own bucket, image repository and registry (`mlops-bp promote`). Drift in any environment
    retrains in the primary.
    """

    ctx: StackContext
    primary: str  # name of the primary environment

    @property
    def registry_prefix(self) -> str:
        return f"{self.ctx.project}-{self.primary}"

    @property
    def registry_group(self) -> str:
        """The training registry (primary environment)."""
        return model_package_group(self.ctx.project, self.primary)

    @property
    def own_group(self) -> str:
        """This environment's registry: the training one, or the one promotion copies into."""
        return model_package_group(self.ctx.project, self.ctx.environment)

    @property
    def endpoint(self) -> str:
        return self.ctx.name("endpoint")

    @property
    def pipeline(self) -> str:
        return f"{self.registry_prefix}-training"


def _ci_statements(f: Foundation, blueprint: Blueprint, env: Environment, names: _Names) -> list[dict[str, Any]]:
    """What the repo's deploy and training workflows do besides pushing images."""
    features = blueprint.features
    statements: list[dict[str, Any]] = []
    if "endpoint" in features:
        statements.append(
            {
                "Sid": "DeployEndpoint",
                "Effect": "Allow",
                "Action": [
                    # `pulumi up` of a new model version replaces model and endpoint config
                    # (create new, update the endpoint, delete old) and retags them.
                    "sagemaker:CreateModel",
                    "sagemaker:DeleteModel",
                    "sagemaker:CreateEndpointConfig",
                    "sagemaker:DeleteEndpointConfig",
                    "sagemaker:UpdateEndpoint",
                    "sagemaker:DescribeEndpoint",
                    "sagemaker:DescribeEndpointConfig",
                    "sagemaker:DescribeModel",
                    "sagemaker:AddTags",
                    "sagemaker:DeleteTags",
                    "sagemaker:ListTags",
                ],
                "Resource": [
                    f.arn("sagemaker", f"endpoint/{names.endpoint}"),
                    f.arn("sagemaker", f"endpoint-config/{f.ctx.prefix}-*"),
                    f.arn("sagemaker", f"model/{f.ctx.prefix}-*"),
                ],
            }
        )
        # An endpoint configuration encrypted with the stack key: SageMaker creates a grant on
        # it with the deploying identity's credentials (CreateEndpointConfig KmsKeyId).
        statements += [
            {
                "Sid": "EndpointConfigKeyGrant",
                "Effect": "Allow",
                "Action": "kms:CreateGrant",
                "Resource": f.key.arn,
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            },
            {"Sid": "EndpointConfigKeyDescribe", "Effect": "Allow", "Action": "kms:DescribeKey", "Resource": f.key.arn},
        ]
        statements.append(
            {
                "Sid": "PassServingRole",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": pulumi.Output.concat(
                    "arn:aws:iam::", f.account_id, f":role/{f.ctx.name('serving')}-role-*"
                ),
                "Condition": {"StringEquals": {"iam:PassedToService": SAGEMAKER}},
            }
        )
    if env is not blueprint.primary_environment:
        statements += _promotion_statements(f, blueprint, names)
    if "training_pipeline" in features:
        statements.append(
            {
                # Deploys check the package they serve (infra/deploy_config.py): this
                # environment's registry only.
                "Sid": "ReadRegistry",
                "Effect": "Allow",
                "Action": ["sagemaker:ListModelPackages", "sagemaker:DescribeModelPackage"],
                "Resource": [
                    f.arn("sagemaker", f"model-package-group/{names.own_group}"),
                    f.arn("sagemaker", f"model-package/{names.own_group}/*"),
                ],
            }
        )
        if env is blueprint.primary_environment:
            statements.append(
                {
                    "Sid": "RunTraining",
                    "Effect": "Allow",
                    "Action": [
                        "sagemaker:StartPipelineExecution",
                        "sagemaker:DescribePipelineExecution",
                        "sagemaker:ListPipelineExecutionSteps",
                    ],
                    "Resource": [
                        f.arn("sagemaker", f"pipeline/{names.pipeline}"),
                        f.arn("sagemaker", f"pipeline/{names.pipeline}/execution/*"),
                    ],
                }
            )
    return statements


@dataclass(frozen=True)
class _Images:
    serving: pulumi.Output[str]
    training: pulumi.Output[str]


def _images(f: Foundation, ctx: StackContext) -> _Images | None:
    """The images CI pushed for the deployed commit (`mlops-bp:imageTag`), if a deploy set it."""
    tag = ctx.deployment.image_tag
    if tag is None or f.registry is None:
        return None
    url = f.registry.repository_url
    return _Images(serving=pulumi.Output.concat(url, ":", tag), training=pulumi.Output.concat(url, ":train-", tag))


def training_data_uri(f: Foundation) -> pulumi.Output[str]:
    """The dataset the pipeline trains on: where `dvc push` puts the repo's datasets/train.csv
    (a version-aware DVC remote at the data bucket's root keeps workspace paths)."""
    return pulumi.Output.concat("s3://", f.data_bucket.bucket_name, f"/{DATASET_KEY}")


def _service_role(
    f: Foundation, role: str, service: str, description: str, statements: list[dict[str, Any]]
) -> ServiceRole:
    return ServiceRole(
        f.ctx.name(role),
        ServiceRoleArgs(service=service, description=f"{description} ({f.ctx.prefix})", statements=statements),
        f.opts,
    )


def _workload_statements(f: Foundation, *, write: bool, logs: tuple[str, ...]) -> list[dict[str, Any]]:
    """Data, key, logs and metrics access of a SageMaker workload (notebook, training, serving).
    `logs`: the workload's log groups under /aws/sagemaker/ (SageMaker names them), e.g.
    "Endpoints/<endpoint>" — never another environment's endpoint logs."""
    buckets = [b.arn for b in f.buckets]
    statements = [
        *(policies.bucket_read_write(buckets) if write else policies.bucket_read(buckets)),
        *policies.kms_use(f.key.arn),
        *policies.logs_write([f.arn("logs", f"log-group:/aws/sagemaker/{group}") for group in logs]),
        *policies.metrics_put(["/aws/sagemaker/*", metric_namespace(f.ctx.project)]),
    ]
    if f.registry is not None:
        statements += policies.ecr_pull(f.registry.arn)
    return statements


def _promotion_statements(f: Foundation, blueprint: Blueprint, names: _Names) -> list[dict[str, Any]]:
    """The promotion path, the only way between environments: this environment's CI role reads
    the approved package, its artifacts and its serving image in the primary environment (exact
    account, resources by name) and writes the digest-checked copies into its own bucket, image
    repository and registry (`mlops-bp promote`). Its serving and monitoring roles read only
    their own environment."""
    ctx = f.ctx
    source = blueprint.primary_environment.account or f.account_id

    def source_arn(service: str, resource: str) -> pulumi.Output[str]:
        return pulumi.Output.concat(f"arn:aws:{service}:{ctx.region}:", source, f":{resource}")

    artifacts = f"arn:aws:s3:::{ctx.bucket_prefix('artifacts', names.primary)}*"
    in_source = {"StringEquals": {"s3:ResourceAccount": source}}
    statements: list[dict[str, Any]] = [
        {
            "Sid": "PromoteFromImages",
            "Effect": "Allow",
            "Action": [
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
                "ecr:BatchCheckLayerAvailability",
                "ecr:DescribeImages",
            ],
            "Resource": source_arn("ecr", f"repository/{image_repository(ctx.project, names.primary)}"),
        },
        {
            "Sid": "PromoteFromKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:DescribeKey"],
            "Resource": source_arn("kms", "key/*"),
            "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": f"alias/{names.registry_prefix}-kms"}},
        },
    ]
    if "model_registry" not in blueprint.features or f.artifacts_bucket is None:
        return statements
    return statements + [
        {
            "Sid": "PromoteFromRegistry",
            "Effect": "Allow",
            "Action": ["sagemaker:ListModelPackages", "sagemaker:DescribeModelPackage"],
            "Resource": [
                source_arn("sagemaker", f"model-package-group/{names.registry_group}"),
                source_arn("sagemaker", f"model-package/{names.registry_group}/*"),
            ],
        },
        # Bucket ARNs carry no account: the condition pins the source's, so a look-alike bucket
        # in another account does not match.
        {
            "Sid": "PromoteFromArtifactsList",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": artifacts,
            "Condition": in_source,
        },
        {
            "Sid": "PromoteFromArtifacts",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"{artifacts}/*",
            "Condition": in_source,
        },
        {
            "Sid": "PromoteIntoArtifacts",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
            "Resource": pulumi.Output.concat(f.artifacts_bucket.arn, f"/{PROMOTED_PREFIX}/*"),
        },
        {
            "Sid": "PromoteIntoArtifactsList",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": f.artifacts_bucket.arn,
        },
        {
            "Sid": "PromoteIntoKey",
            "Effect": "Allow",
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
            "Resource": f.key.arn,
        },
        {
            "Sid": "PromoteIntoRegistry",
            "Effect": "Allow",
            "Action": ["sagemaker:CreateModelPackage", "sagemaker:AddTags"],
            "Resource": [
                f.arn("sagemaker", f"model-package-group/{names.own_group}"),
                f.arn("sagemaker", f"model-package/{names.own_group}/*"),
            ],
        },
    ]


def promotion_readers(blueprint: Blueprint, env: Environment) -> tuple[policies.Reader, ...]:
    """In the primary environment's stack: the CI roles of environments with their own account,
    which the key, artifacts bucket, image repository and registry let read (promotion)."""
    primary = blueprint.primary_environment
    if env is not primary:
        return ()
    return tuple(
        policies.Reader(other.account, ci_role_pattern(blueprint.name, other.name))
        for other in blueprint.environments[1:]
        if other.account and other.account != primary.account
    )


def _deploy_trigger(blueprint: Blueprint, env: Environment) -> DeployTrigger | None:
    """How a model approval starts the repository's deploy pipeline, by CI system."""
    if blueprint.github:
        return github_dispatch(blueprint.github)
    if blueprint.gitlab:
        return gitlab_pipeline(blueprint.gitlab, blueprint.gitlab_host, env.name)
    return None


def _network(blueprint: Blueprint) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Subnets and security groups from the spec (no VPC is created)."""
    network = blueprint.network
    return (tuple(network.subnet_ids), tuple(network.security_group_ids)) if network else ((), ())


def _notebook(f: Foundation, blueprint: Blueprint) -> ExperimentNotebook:
    """Level 0: the scientists' notebook and its role."""
    ctx, opts = f.ctx, f.opts
    subnets, security_groups = _network(blueprint)
    notebook_statements = [
        *_workload_statements(f, write=True, logs=("NotebookInstances",)),
        {
            "Sid": "StopOwnNotebookWhenIdle",
            "Effect": "Allow",
            "Action": ["sagemaker:StopNotebookInstance", "sagemaker:DescribeNotebookInstance"],
            "Resource": f.arn("sagemaker", f"notebook-instance/{ctx.name('notebook')}"),
        },
    ]
    scientist = _service_role(f, "data-scientist", SAGEMAKER, "Notebook role", notebook_statements)
    return ExperimentNotebook(
        ctx.name("notebook"),
        ExperimentNotebookArgs(
            notebook_name=ctx.name("notebook"),
            instance_type=blueprint.notebook.instance_type,
            volume_size_gb=blueprint.notebook.volume_size_gb,
            idle_minutes=blueprint.notebook.idle_minutes,
            role_arn=scientist.arn,
            kms_key_arn=f.key.arn,
            subnet_id=subnets[0] if subnets else None,
            security_group_ids=security_groups,
        ),
        opts,
    )


def _alarm_topic(f: Foundation, blueprint: Blueprint) -> AlarmTopic | None:
    """The topic every alarm and alert goes to, when the level has any."""
    ctx, opts = f.ctx, f.opts
    features = blueprint.features
    if not ("endpoint_alarms" in features or "pipeline_failure_alerts" in features):
        return None
    return AlarmTopic(
        ctx.name("alarms"),
        AlarmTopicArgs(topic_name=ctx.name("alarms"), kms_key_arn=f.key.arn, email=blueprint.monitoring.alarm_email),
        opts,
    )


@dataclass
class _Training:
    registry: ModelRegistry | None = None
    pipeline: TrainingPipeline | None = None


def _training(
    f: Foundation, blueprint: Blueprint, env: Environment, names: _Names, topic: AlarmTopic | None
) -> _Training:
    """Level 2, primary environment: model registry, training pipeline, its schedule and
    failure alerts. Other environments train nothing: they serve what the primary approved."""
    ctx, opts = f.ctx, f.opts
    features = blueprint.features
    subnets, security_groups = _network(blueprint)
    registry = pipeline = None
    if env is not blueprint.primary_environment:
        # No training here: the registry holds the packages promoted into this environment.
        if "model_registry" in features:
            registry = ModelRegistry(
                ctx.name("models"),
                ModelRegistryArgs(
                    group_name=names.own_group, description=f"Models of {ctx.project} promoted into {ctx.environment}"
                ),
                opts,
            )
        return _Training(registry)
    if "model_registry" in features:
        registry = ModelRegistry(
            ctx.name("models"),
            ModelRegistryArgs(
                group_name=names.registry_group,
                description=f"Models of {ctx.project}",
                readers=promotion_readers(blueprint, env),
            ),
            opts,
        )
    if (
        "training_pipeline" in features
        and f.registry is not None
        and f.artifacts_bucket is not None
        and registry is not None
    ):
        training_statements = [
            # Pipeline steps are processing and training jobs: SageMaker's account-wide groups.
            *_workload_statements(f, write=True, logs=("ProcessingJobs", "TrainingJobs")),
            {
                "Sid": "RunPipelineJobs",
                "Effect": "Allow",
                "Action": [
                    "sagemaker:CreateProcessingJob",
                    "sagemaker:DescribeProcessingJob",
                    "sagemaker:StopProcessingJob",
                    "sagemaker:CreateTrainingJob",
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:StopTrainingJob",
                    "sagemaker:AddTags",
                ],
                "Resource": [
                    f.arn("sagemaker", "processing-job/pipelines-*"),
                    f.arn("sagemaker", "training-job/pipelines-*"),
                ],
            },
            {
                "Sid": "RegisterModels",
                "Effect": "Allow",
                "Action": ["sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage", "sagemaker:AddTags"],
                "Resource": [registry.arn, f.arn("sagemaker", f"model-package/{names.registry_group}/*")],
            },
            {
                "Sid": "PassItselfToJobs",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": pulumi.Output.concat("arn:aws:iam::", f.account_id, f":role/{ctx.name('training')}-role-*"),
                "Condition": {"StringEquals": {"iam:PassedToService": SAGEMAKER}},
            },
        ]
        training_role = _service_role(f, "training", SAGEMAKER, "Training pipeline and jobs", training_statements)
        images = _images(f, ctx)
        pipeline = TrainingPipeline(
            ctx.name("pipeline"),
            TrainingPipelineArgs(
                pipeline_name=names.pipeline,
                role_arn=training_role.arn,
                training_image=images.training if images else None,
                serving_image=images.serving if images else None,
                package=blueprint.package,
                data_uri=training_data_uri(f),
                artifacts_uri=pulumi.Output.concat("s3://", f.artifacts_bucket.bucket_name),
                kms_key_arn=f.key.arn,
                model_package_group=registry.group_name,
                instance_type=blueprint.training.instance_type,
                instance_count=blueprint.training.instance_count,
                volume_size_gb=blueprint.training.volume_size_gb,
                max_runtime_seconds=blueprint.training.max_runtime_hours * 3600,
                use_spot=blueprint.training.use_spot,
                metric_name=blueprint.training.metric_name,
                metric_threshold=blueprint.training.metric_threshold,
                volume_kms=not has_local_nvme(blueprint.training.instance_type),
                subnet_ids=subnets,
                security_group_ids=security_groups,
            ),
            opts,
        )
        # Runs the stack starts itself use the images of the deployed commit: none before the
        # first deploy, so no schedule either.
        if "training_schedule" in features and images is not None:
            scheduler_role = _service_role(
                f,
                "scheduler",
                "scheduler.amazonaws.com",
                "Starts the training pipeline on schedule",
                [
                    {
                        "Sid": "StartPipeline",
                        "Effect": "Allow",
                        "Action": "sagemaker:StartPipelineExecution",
                        "Resource": pipeline.arn,
                    },
                    # The schedule is encrypted with the stack key (EventBridge Scheduler guide,
                    # "Encryption at rest"): its role decrypts it to run the target.
                    {"Sid": "DecryptSchedule", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": f.key.arn},
                ],
            )
            PipelineSchedule(
                ctx.name("schedule"),
                PipelineScheduleArgs(
                    schedule_name=ctx.name("training"),
                    schedule_expression=blueprint.training.schedule,
                    pipeline_arn=pipeline.arn,
                    role_arn=scheduler_role.arn,
                    kms_key_arn=f.key.arn,
                ),
                opts,
            )
        if "pipeline_failure_alerts" in features and topic is not None:
            PipelineFailureAlert(
                ctx.name("pipeline-failed"),
                PipelineFailureAlertArgs(
                    rule_name=ctx.name("pipeline-failed"), pipeline_arn=pipeline.arn, topic_arn=topic.arn
                ),
                opts,
            )
    return _Training(registry, pipeline)


def _serving(
    f: Foundation, blueprint: Blueprint, env: Environment, names: _Names, topic: AlarmTopic | None
) -> ModelEndpoint | None:
    """Level 1 on: the endpoint with its logs and alarms; from level 4 data-quality monitoring
    with retraining on drift, and the dashboard."""
    ctx, opts = f.ctx, f.opts
    features = blueprint.features
    subnets, security_groups = _network(blueprint)
    if "endpoint" not in features or f.registry is None:
        return None
    deployment = ctx.deployment
    # What to serve: from level 2 an approved model package (the deploy workflow pins it);
    # below, the serving image CI built with the model inside. Before the first deploy there
    # is nothing to serve, so no endpoint (CreateEndpoint would fail its ping health check).
    images = _images(f, ctx)
    if "model_registry" in features:
        image, package = None, deployment.model_package_arn
        if package is None:
            return None
    else:
        image, package = (images.serving if images else None), None
        if image is None:
            return None
    realtime = env.endpoint is EndpointMode.REALTIME
    variants: tuple[RealtimeVariant, ...] = ()
    if realtime:
        chosen = blueprint.serving.variants if "ab_variants" in features else blueprint.serving.variants[:1]
        total = sum(v.weight for v in chosen)
        variants = tuple(
            RealtimeVariant(
                v.name,
                v.weight / total,
                blueprint.serving.instance_type,
                blueprint.serving.instance_count,
                model_package_arn=deployment.package_for(v.name) if package else None,
            )
            for v in chosen
        )
    variant_names = tuple(v.name for v in variants) or ("AllTraffic",)
    monitoring = EndpointMonitoring(
        ctx.name("endpoint-monitoring"),
        EndpointMonitoringArgs(
            endpoint_name=names.endpoint,
            variant_names=variant_names,
            topic_arn=topic.arn if topic is not None else "",
            kms_key_arn=f.key.arn,
            log_retention_days=blueprint.monitoring.log_retention_days,
            latency_threshold_ms=blueprint.monitoring.latency_threshold_ms,
            error_5xx_threshold=blueprint.monitoring.error_5xx_threshold,
            alarms="endpoint_alarms" in features and topic is not None,
        ),
        opts,
    )
    # Its own environment only: the package, its artifacts and image were promoted into it.
    serving_role = _service_role(
        f,
        "serving",
        SAGEMAKER,
        "Model endpoint",
        _workload_statements(f, write=False, logs=(f"Endpoints/{names.endpoint}",)),
    )
    capture_uri = None
    if realtime and "data_capture" in features and f.artifacts_bucket is not None:
        capture_uri = pulumi.Output.concat("s3://", f.artifacts_bucket.bucket_name, f"/data-capture/{names.endpoint}")
    endpoint = ModelEndpoint(
        ctx.name("serving"),
        ModelEndpointArgs(
            endpoint_name=names.endpoint,
            image=image,
            role_arn=serving_role.arn,
            kms_key_arn=f.key.arn,
            volume_kms=not has_local_nvme(blueprint.serving.instance_type),
            serverless=None
            if realtime
            else ServerlessConfig(blueprint.serving.serverless_memory_mb, blueprint.serving.serverless_max_concurrency),
            variants=variants,
            rollback_alarm_names=tuple(monitoring.alarm_names) if realtime and "blue_green" in features else (),
            capture_uri=capture_uri,
            capture_percent=blueprint.serving.data_capture_percent,
            autoscaling=(
                (
                    blueprint.serving.min_capacity,
                    blueprint.serving.max_capacity,
                    blueprint.serving.target_invocations_per_instance,
                )
                if realtime and "autoscaling" in features
                else None
            ),
            subnet_ids=subnets,
            security_group_ids=security_groups,
            environment={
                "MLOPS_BP_METRIC_NAMESPACE": metric_namespace(ctx.project),
                "MLOPS_BP_ENDPOINT": names.endpoint,
            },
            model_package_arn=package,
            model_digests=dict(deployment.model_digests),
            tags=deployment.tags,
        ),
        pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[monitoring])),
    )

    # Monitoring compares live traffic with the served package's own baseline, which the
    # deploy workflow reads from the package (DriftCheckBaselines) and pins.
    if (
        capture_uri is not None
        and "model_monitor" in features
        and deployment.baseline_uri is not None
        and images is not None  # the retraining run the drift rule starts uses them
        and "training_pipeline" in features
        and topic is not None
    ):
        # Drift anywhere retrains where training lives: the primary environment's pipeline.
        primary_pipeline = f.arn("sagemaker", f"pipeline/{names.pipeline}")
        retrain_role = _service_role(
            f,
            "retrain",
            "events.amazonaws.com",
            "Starts the training pipeline on drift",
            [
                {
                    "Sid": "StartPipeline",
                    "Effect": "Allow",
                    "Action": "sagemaker:StartPipelineExecution",
                    "Resource": primary_pipeline,
                }
            ],
        )
        # The analyzer reads captured traffic and the served package's baseline (promoted into
        # this environment's artifacts with the package) and writes its reports.
        monitor_role = _service_role(
            f,
            "monitor",
            SAGEMAKER,
            "Data-quality monitoring jobs",
            _workload_statements(f, write=True, logs=("ProcessingJobs",)),
        )
        DataQualityMonitor(
            ctx.name("data-quality"),
            DataQualityMonitorArgs(
                project=ctx.project,
                endpoint_name=names.endpoint,
                region=ctx.region,
                schedule_cron=blueprint.monitoring.monitor_schedule,
                interval_hours=blueprint.monitoring.interval_hours,
                baseline_uri=deployment.baseline_uri,
                role_arn=monitor_role.arn,
                artifacts_bucket=f.artifacts_bucket.bucket_name,
                kms_key_arn=f.key.arn,
                drift_threshold=blueprint.monitoring.drift_threshold,
                topic_arn=topic.arn,
                pipeline_arn=primary_pipeline,
                retrain_role_arn=retrain_role.arn,
                subnet_ids=subnets,
                security_group_ids=security_groups,
            ),
            pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[endpoint])),
        )

    if "dashboard" in features:
        OperationsDashboard(
            ctx.name("dashboard"),
            OperationsDashboardArgs(
                dashboard_name=ctx.name("operations"),
                project=ctx.project,
                region=ctx.region,
                endpoints=((names.endpoint, endpoint.variant_names),),
            ),
            opts,
        )
    return endpoint


def _deploy_on_approval(f: Foundation, blueprint: Blueprint, env: Environment, registry: ModelRegistry | None) -> None:
    """Level 3: an approval in the training registry (primary environment) starts the
    repository's deploy pipeline, which promotes the package on to the other environments."""
    ctx, opts = f.ctx, f.opts
    trigger = _deploy_trigger(blueprint, env)
    if (
        "deploy_on_approval" not in blueprint.features
        or trigger is None
        or registry is None
        or env is not blueprint.primary_environment
    ):
        return
    config_key, what = DEPLOY_TOKENS[trigger.slug]
    token = ctx.deployment.dispatch_token  # read from stack config at the entry (stacks/entry.py)
    if token is None:
        raise pulumi.RunError(
            f"deploy on approval needs a token: pulumi config set --secret mlops-bp:{config_key} <{what}>"
        )
    dispatch_role = _service_role(
        f,
        "dispatch",
        "events.amazonaws.com",
        "Starts the deploy pipeline on model approval",
        [
            {
                "Sid": "InvokeDeployPipeline",
                "Effect": "Allow",
                "Action": "events:InvokeApiDestination",
                "Resource": f.arn("events", f"api-destination/{ctx.name('approved')}-dispatch/*"),
            }
        ],
    )
    DeployOnApproval(
        ctx.name("approved"),
        DeployOnApprovalArgs(
            rule_name=ctx.name("approved"),
            trigger=trigger,
            model_package_group=registry.group_name,
            token=token,
            role_arn=dispatch_role.arn,
        ),
        opts,
    )


def build_sagemaker(
    blueprint: Blueprint, env: Environment, ctx: StackContext, opts: pulumi.ResourceOptions
) -> dict[str, Any]:
    features = blueprint.features
    names = _Names(ctx, blueprint.primary_environment.name)
    f = build_foundation(blueprint, ctx, opts, promotion_readers(blueprint, env))
    outputs: dict[str, Any] = {"kms_key_arn": f.key.arn, "data_bucket": f.data_bucket.bucket_name}
    if f.artifacts_bucket is not None:
        outputs["artifacts_bucket"] = f.artifacts_bucket.bucket_name
    if f.registry is not None:
        outputs["repository_url"] = f.registry.repository_url
    # Experiments happen in the primary environment: staging and prod get no notebook.
    if "notebook" in features and env is blueprint.primary_environment:
        outputs["notebook_name"] = _notebook(f, blueprint).instance.name
    topic = _alarm_topic(f, blueprint)
    if topic is not None:
        outputs["alarm_topic_arn"] = topic.arn
    training = _training(f, blueprint, env, names, topic)
    if training.registry is not None:
        outputs["model_package_group"] = training.registry.group_name
    if training.pipeline is not None:
        outputs["training_pipeline_name"] = training.pipeline.pipeline_name
        outputs["training_data_uri"] = training_data_uri(f)
    endpoint = _serving(f, blueprint, env, names, topic)
    if endpoint is None and "endpoint" in features:
        outputs["endpoint"] = FIRST_DEPLOY
    if endpoint is not None:
        outputs["endpoint_name"] = endpoint.endpoint_name
        outputs["endpoint_url"] = pulumi.Output.concat(
            f"https://runtime.sagemaker.{ctx.region}.amazonaws.com/endpoints/", endpoint.endpoint_name, "/invocations"
        )
    _deploy_on_approval(f, blueprint, env, training.registry)
    # The CI identity comes last: its policy names the endpoint, pipeline and registry.
    ci = f.attach_ci_identity(blueprint, env, _ci_statements(f, blueprint, env, names))
    if ci is not None:
        outputs["ci_role_arn"] = ci.role_arn
        if ci.preview_role_arn is not None:
            outputs["ci_preview_role_arn"] = ci.preview_role_arn
    return outputs
