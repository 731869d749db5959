"""Serving on SageMaker: the model endpoint (serverless, or real-time with A/B variants,
blue/green updates, data capture and autoscaling) and deploy-on-approval dispatch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

import pulumi
import pulumi_aws as aws

from mlops_bp.blueprints.services import MODEL_PACKAGE_STATE_CHANGED

from ..base import CapabilityComponent

__all__ = [
    "DeployOnApproval",
    "DeployOnApprovalArgs",
    "DeployTrigger",
    "GITHUB_DEPLOY_WORKFLOW",
    "MODEL_DIGEST_ENV",
    "ModelEndpoint",
    "ModelEndpointArgs",
    "RealtimeVariant",
    "ServerlessConfig",
    "github_dispatch",
    "gitlab_pipeline",
]

# The serving container's expected sha256 of its model file (the team's serve.py reads it).
MODEL_DIGEST_ENV = "MLOPS_BP_MODEL_SHA256"
# The repository's deploy workflow, which a model approval starts (GitHub workflow_dispatch).
GITHUB_DEPLOY_WORKFLOW = "deploy.yml"


@dataclass(frozen=True)
class ServerlessConfig:
    memory_mb: int
    max_concurrency: int


@dataclass(frozen=True)
class RealtimeVariant:
    name: str
    weight: float
    instance_type: str
    instance_count: int
    # An approved package this variant serves instead of the endpoint's (a challenger).
    model_package_arn: str | None = None


@dataclass(frozen=True)
class ModelEndpointArgs:
    """What to serve is `model_package_arn` (an approved package: the model archive and the
    serving image it was registered with) or else `image`, an image with the model inside."""

    endpoint_name: str
    image: pulumi.Input[str] | None
    role_arn: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    # False for instance types with local NVMe storage, which refuse the configuration's KmsKeyId.
    volume_kms: bool = True
    serverless: ServerlessConfig | None = None
    variants: tuple[RealtimeVariant, ...] = ()
    rollback_alarm_names: Sequence[pulumi.Input[str]] = ()
    capture_uri: pulumi.Input[str] | None = None
    capture_percent: int = 100
    autoscaling: tuple[int, int, int] | None = None  # (min, max, target invocations per instance)
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    environment: dict[str, str] = field(default_factory=dict)
    model_package_arn: str | None = None
    # sha256 of each served package's model file, recorded at registration: the container gets
    # its own as MODEL_DIGEST_ENV and refuses to load a file that differs.
    model_digests: Mapping[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)  # traceability of the deployed model


class ModelEndpoint(CapabilityComponent):
    """SageMaker model + endpoint configuration + endpoint for the team's serving image."""

    TYPE = "mlopsbp:aws:ModelEndpoint"
    CAPABILITY = "serving"

    endpoint: aws.sagemaker.Endpoint
    endpoint_name: pulumi.Output[str]
    variant_names: tuple[str, ...]

    def __init__(self, name: str, args: ModelEndpointArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        if (args.serverless is None) == (not args.variants):
            raise ValueError(f"{name}: give either a serverless config or real-time variants")
        if args.variants and abs(sum(v.weight for v in args.variants) - 1) > 1e-6:
            raise ValueError(f"{name}: variant weights must add up to 1")
        if args.serverless is not None and (args.capture_uri or args.autoscaling):
            raise ValueError(f"{name}: serverless endpoints support neither data capture nor instance autoscaling")
        if args.image is None and args.model_package_arn is None:
            raise ValueError(f"{name}: nothing to serve: give an image or a model package")
        self._args = args
        tags = args.tags or None
        self._models: dict[str | None, aws.sagemaker.Model] = {}
        if args.serverless is not None:
            self.variant_names = ("AllTraffic",)
            variants = [
                {
                    "variant_name": "AllTraffic",
                    "model_name": self._model(name, None).name,
                    "serverless_config": {
                        "memory_size_in_mb": args.serverless.memory_mb,
                        "max_concurrency": args.serverless.max_concurrency,
                    },
                }
            ]
        else:
            self.variant_names = tuple(v.name for v in args.variants)
            variants = [
                {
                    "variant_name": v.name,
                    "model_name": self._model(name, v.model_package_arn).name,
                    "initial_instance_count": v.instance_count,
                    "instance_type": v.instance_type,
                    "initial_variant_weight": v.weight,
                }
                for v in args.variants
            ]
        capture = None
        if args.capture_uri is not None:
            capture = {
                "enable_capture": True,
                "initial_sampling_percentage": args.capture_percent,
                "destination_s3_uri": args.capture_uri,
                "kms_key_id": args.kms_key_arn,
                "capture_options": [{"capture_mode": "Input"}, {"capture_mode": "Output"}],
                "capture_content_type_header": {
                    "json_content_types": ["application/json"],
                    "csv_content_types": ["text/csv"],
                },
            }
        config = aws.sagemaker.EndpointConfiguration(
            f"{name}-config",
            production_variants=variants,
            # KMS for the ML storage volume; serverless endpoints have none to encrypt, and
            # instances with local NVMe storage encrypt it in hardware (and refuse a key).
            kms_key_arn=args.kms_key_arn if args.serverless is None and args.volume_kms else None,
            data_capture_config=capture,
            tags=tags,
            opts=self.child(),
        )
        deployment = None
        if args.rollback_alarm_names and args.serverless is None:
            deployment = {
                "blue_green_update_policy": {
                    "traffic_routing_configuration": {
                        "type": "CANARY",
                        "canary_size": {"type": "CAPACITY_PERCENT", "value": 10},
                        "wait_interval_in_seconds": 300,
                    },
                    "termination_wait_in_seconds": 600,
                    "maximum_execution_timeout_in_seconds": 3600,
                },
                "auto_rollback_configuration": {"alarms": [{"alarm_name": n} for n in args.rollback_alarm_names]},
            }
        self.endpoint = aws.sagemaker.Endpoint(
            f"{name}-endpoint",
            name=args.endpoint_name,
            endpoint_config_name=config.name,
            deployment_config=deployment,
            tags=tags,
            opts=self.child(),
        )
        self.endpoint_name = self.endpoint.name
        if args.autoscaling is not None:
            low, high, target = args.autoscaling
            for variant in self.variant_names:
                scalable = aws.appautoscaling.Target(
                    f"{name}-{variant.lower()}-scaling",
                    service_namespace="sagemaker",
                    scalable_dimension="sagemaker:variant:DesiredInstanceCount",
                    resource_id=pulumi.Output.concat("endpoint/", self.endpoint.name, f"/variant/{variant}"),
                    min_capacity=low,
                    max_capacity=high,
                    opts=self.child(),
                )
                aws.appautoscaling.Policy(
                    f"{name}-{variant.lower()}-invocations",
                    policy_type="TargetTrackingScaling",
                    service_namespace=scalable.service_namespace,
                    scalable_dimension=scalable.scalable_dimension,
                    resource_id=scalable.resource_id,
                    target_tracking_scaling_policy_configuration={
                        "target_value": target,
                        "predefined_metric_specification": {
                            "predefined_metric_type": "SageMakerVariantInvocationsPerInstance"
                        },
                        "scale_in_cooldown": 300,
                        "scale_out_cooldown": 60,
                    },
                    opts=self.child(),
                )
        self.register_outputs({"endpoint_name": self.endpoint_name})

    def _model(self, name: str, package: str | None) -> aws.sagemaker.Model:
        """The SageMaker model of one source: the endpoint's own (`package` None), or a
        variant's own approved package. One model per distinct source."""
        args = self._args
        package = package if package != args.model_package_arn else None
        if package not in self._models:
            source = package or args.model_package_arn
            container = {"model_package_name": source} if source else {"image": args.image, "mode": "SingleModel"}
            suffix = "model" if package is None else f"model-{_variant_index(args, package)}"
            environment = dict(args.environment)
            if source is not None:
                environment[MODEL_DIGEST_ENV] = args.model_digests[source]
            self._models[package] = aws.sagemaker.Model(
                f"{name}-{suffix}",
                execution_role_arn=args.role_arn,
                primary_container={**container, "environment": environment or None},
                tags=args.tags or None,  # traceability of the deployed model
                vpc_config=(
                    {"subnets": list(args.subnet_ids), "security_group_ids": list(args.security_group_ids)}
                    if args.subnet_ids
                    else None
                ),
                opts=self.child(),
            )
        return self._models[package]


def _variant_index(args: ModelEndpointArgs, package: str) -> int:
    """Position of the (first) variant serving `package`: names its model resource (variant
    names would make model names longer than SageMaker's 63 characters)."""
    return next(i for i, v in enumerate(args.variants) if v.model_package_arn == package)


@dataclass(frozen=True)
class DeployTrigger:
    """The API call that starts the repository's deploy pipeline when a model is approved.
    `body` is an EventBridge input template: <arn> and <version> come from the event."""

    slug: str  # "github" / "gitlab": names the connection and target resources
    repository: str
    endpoint: str
    token_header: str
    token_prefix: str
    headers: tuple[tuple[str, str], ...]
    body: str


def github_dispatch(repo: str) -> DeployTrigger:
    """GitHub `workflow_dispatch` of the deploy workflow on main, with the approved package as
    its input: the token needs only Actions: write (a `repository_dispatch` token would need
    Contents: write, which can also push code)."""
    body = '{"ref": "main", "inputs": {"model_package_arn": <arn>}}'
    headers = (("Accept", "application/vnd.github+json"), ("X-GitHub-Api-Version", "2022-11-28"))
    endpoint = f"https://api.github.com/repos/{repo}/actions/workflows/{GITHUB_DEPLOY_WORKFLOW}/dispatches"
    return DeployTrigger("github", repo, endpoint, "Authorization", "Bearer ", headers, body)


def gitlab_pipeline(project: str, host: str, environment: str) -> DeployTrigger:
    """A GitLab pipeline on the default branch with MODEL_APPROVED=true, which runs the deploy
    jobs (the token: a project access token with the `api` scope)."""
    variables = [
        '{"key": "MODEL_APPROVED", "value": "true"}',
        '{"key": "MODEL_PACKAGE_ARN", "value": <arn>}',
        '{"key": "MODEL_VERSION", "value": "<version>"}',
        f'{{"key": "APPROVED_IN", "value": "{environment}"}}',
    ]
    body = '{"ref": "main", "variables": [' + ", ".join(variables) + "]}"
    endpoint = f"https://{host}/api/v4/projects/{quote(project, safe='')}/pipeline"
    return DeployTrigger("gitlab", project, endpoint, "PRIVATE-TOKEN", "", (), body)


@dataclass(frozen=True)
class DeployOnApprovalArgs:
    rule_name: str
    trigger: DeployTrigger
    model_package_group: pulumi.Input[str]
    token: pulumi.Input[str]
    role_arn: pulumi.Input[str]


class DeployOnApproval(CapabilityComponent):
    """Model package approved -> EventBridge API destination -> the repository's deploy pipeline
    (GitHub `workflow_dispatch` or a GitLab pipeline). The token lives in the connection's
    Secrets Manager secret (EventBridge manages it), set from Pulumi secret config — never in code."""

    TYPE = "mlopsbp:aws:DeployOnApproval"
    CAPABILITY = "serving"

    def __init__(self, name: str, args: DeployOnApprovalArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        trigger = args.trigger
        connection = aws.cloudwatch.EventConnection(
            f"{name}-{trigger.slug}",
            name=f"{args.rule_name}-{trigger.slug}",
            description=f"API access to {trigger.repository} (token in Secrets Manager)",
            authorization_type="API_KEY",
            auth_parameters={
                "api_key": {
                    "key": trigger.token_header,
                    "value": pulumi.Output.concat(trigger.token_prefix, args.token),
                },
                "invocation_http_parameters": {
                    "headers": [{"key": k, "value": v, "is_value_secret": False} for k, v in trigger.headers]
                }
                if trigger.headers
                else None,
            },
            opts=self.child(),
        )
        destination = aws.cloudwatch.EventApiDestination(
            f"{name}-dispatch",
            name=f"{args.rule_name}-dispatch",
            description=f"deploy pipeline of {trigger.repository}",
            connection_arn=connection.arn,
            http_method="POST",
            invocation_endpoint=trigger.endpoint,
            invocation_rate_limit_per_second=1,
            opts=self.child(),
        )
        rule = aws.cloudwatch.EventRule(
            f"{name}-approved",
            name=args.rule_name,
            description="A model package was approved: deploy it",
            event_pattern=pulumi.Output.json_dumps(
                {
                    "source": ["aws.sagemaker"],
                    "detail-type": [MODEL_PACKAGE_STATE_CHANGED],
                    "detail": {
                        "ModelPackageGroupName": [args.model_package_group],
                        "ModelApprovalStatus": ["Approved"],
                    },
                }
            ),
            opts=self.child(),
        )
        aws.cloudwatch.EventTarget(
            f"{name}-to-{trigger.slug}",
            rule=rule.name,
            arn=destination.arn,
            role_arn=args.role_arn,
            input_transformer={
                "input_paths": {"arn": "$.detail.ModelPackageArn", "version": "$.detail.ModelPackageVersion"},
                "input_template": trigger.body,
            },
            retry_policy={"maximum_retry_attempts": 5, "maximum_event_age_in_seconds": 3600},
            opts=self.child(),
        )
        self.register_outputs({"rule_name": rule.name})
