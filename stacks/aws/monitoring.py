"""Monitoring on AWS: the alarm topic, endpoint logs and alarms, pipeline-failure alerts,
Model Monitor data-quality checks with a drift alarm that retrains, and the dashboard."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files

import pulumi
import pulumi_aws as aws

from mlops_bp.blueprints.regions import MODEL_MONITOR_REGISTRIES
from mlops_bp.blueprints.services import ALARM_STATE_CHANGED, PIPELINE_STATUS_CHANGED

from ..base import CapabilityComponent, policy_document

__all__ = [
    "AlarmTopic",
    "AlarmTopicArgs",
    "DataQualityMonitor",
    "DataQualityMonitorArgs",
    "EndpointMonitoring",
    "EndpointMonitoringArgs",
    "OperationsDashboard",
    "OperationsDashboardArgs",
    "PipelineFailureAlert",
    "PipelineFailureAlertArgs",
    "metric_namespace",
]


def metric_namespace(project: str) -> str:
    """CloudWatch namespace of the metrics mlops-bp and the team's app publish."""
    return f"mlops-bp/{project}"


@dataclass(frozen=True)
class AlarmTopicArgs:
    topic_name: str
    kms_key_arn: pulumi.Input[str]
    email: str | None = None


class AlarmTopic(CapabilityComponent):
    """The encrypted SNS topic every alarm and alert publishes to."""

    TYPE = "mlopsbp:aws:AlarmTopic"
    CAPABILITY = "monitoring"

    topic: aws.sns.Topic
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: AlarmTopicArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        self.topic = aws.sns.Topic(
            f"{name}-topic", name=args.topic_name, kms_master_key_id=args.kms_key_arn, opts=self.child()
        )
        account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        aws.sns.TopicPolicy(
            f"{name}-policy",
            arn=self.topic.arn,
            policy=policy_document(
                [
                    {
                        "Sid": "AlarmsAndEventsPublish",
                        "Effect": "Allow",
                        "Principal": {"Service": ["cloudwatch.amazonaws.com", "events.amazonaws.com"]},
                        "Action": "sns:Publish",
                        "Resource": self.topic.arn,
                        "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
                    },
                    {
                        "Sid": "DenyInsecureTransport",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "sns:Publish",
                        "Resource": self.topic.arn,
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    },
                ]
            ),
            opts=self.child(),
        )
        if args.email:
            aws.sns.TopicSubscription(
                f"{name}-email", topic=self.topic.arn, protocol="email", endpoint=args.email, opts=self.child()
            )
        self.arn = self.topic.arn
        self.register_outputs({"arn": self.arn})


@dataclass(frozen=True)
class EndpointMonitoringArgs:
    endpoint_name: str
    variant_names: tuple[str, ...]
    topic_arn: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    log_retention_days: int
    latency_threshold_ms: int
    error_5xx_threshold: int
    alarms: bool


class EndpointMonitoring(CapabilityComponent):
    """The endpoint's encrypted log group and, when enabled, its 5xx and latency alarms.

    Alarm names are derived from the endpoint name, so the endpoint's automatic rollback can
    name them before they exist."""

    TYPE = "mlopsbp:aws:EndpointMonitoring"
    CAPABILITY = "monitoring"

    alarm_names: list[pulumi.Output[str]]

    def __init__(self, name: str, args: EndpointMonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/sagemaker/Endpoints/{args.endpoint_name}",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.kms_key_arn,
            opts=self.stateful(),
        )
        self.alarm_names = []
        if args.alarms:
            for variant in args.variant_names:
                dimensions = {"EndpointName": args.endpoint_name, "VariantName": variant}
                errors = aws.cloudwatch.MetricAlarm(
                    f"{name}-{variant.lower()}-5xx",
                    name=f"{args.endpoint_name}-{variant}-5xx",
                    alarm_description=f"5xx errors of {args.endpoint_name}/{variant}",
                    namespace="AWS/SageMaker",
                    metric_name="Invocation5XXErrors",
                    dimensions=dimensions,
                    statistic="Sum",
                    period=300,
                    evaluation_periods=1,
                    threshold=args.error_5xx_threshold,
                    comparison_operator="GreaterThanOrEqualToThreshold",
                    treat_missing_data="notBreaching",
                    alarm_actions=[args.topic_arn],
                    ok_actions=[args.topic_arn],
                    opts=self.child(),
                )
                latency = aws.cloudwatch.MetricAlarm(
                    f"{name}-{variant.lower()}-latency",
                    name=f"{args.endpoint_name}-{variant}-latency",
                    alarm_description=(
                        f"Average model latency of {args.endpoint_name}/{variant} above {args.latency_threshold_ms} ms"
                    ),
                    namespace="AWS/SageMaker",
                    metric_name="ModelLatency",  # microseconds
                    dimensions=dimensions,
                    statistic="Average",
                    period=300,
                    evaluation_periods=3,
                    datapoints_to_alarm=2,
                    threshold=args.latency_threshold_ms * 1000,
                    comparison_operator="GreaterThanThreshold",
                    treat_missing_data="notBreaching",
                    alarm_actions=[args.topic_arn],
                    ok_actions=[args.topic_arn],
                    opts=self.child(),
                )
                self.alarm_names += [errors.name, latency.name]
        self.register_outputs({"alarm_names": self.alarm_names})


@dataclass(frozen=True)
class PipelineFailureAlertArgs:
    rule_name: str
    pipeline_arn: pulumi.Input[str]
    topic_arn: pulumi.Input[str]


class PipelineFailureAlert(CapabilityComponent):
    """An EventBridge rule that sends failed training-pipeline runs to the alarm topic."""

    TYPE = "mlopsbp:aws:PipelineFailureAlert"
    CAPABILITY = "monitoring"

    def __init__(self, name: str, args: PipelineFailureAlertArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        rule = aws.cloudwatch.EventRule(
            f"{name}-rule",
            name=args.rule_name,
            description="Training pipeline execution failed",
            event_pattern=pulumi.Output.json_dumps(
                {
                    "source": ["aws.sagemaker"],
                    "detail-type": [PIPELINE_STATUS_CHANGED],
                    "detail": {"currentPipelineExecutionStatus": ["Failed"], "pipelineArn": [args.pipeline_arn]},
                }
            ),
            opts=self.child(),
        )
        aws.cloudwatch.EventTarget(f"{name}-to-topic", rule=rule.name, arn=args.topic_arn, opts=self.child())
        self.register_outputs({"rule_name": rule.name})


@dataclass(frozen=True)
class DataQualityMonitorArgs:
    project: str
    endpoint_name: str
    region: str
    schedule_cron: str
    interval_hours: int  # how often the schedule runs: the drift alarm's period
    baseline_uri: str  # the served package's baseline: statistics.json, constraints.json
    role_arn: pulumi.Input[str]
    artifacts_bucket: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    drift_threshold: float
    topic_arn: pulumi.Input[str]
    pipeline_arn: pulumi.Input[str]
    retrain_role_arn: pulumi.Input[str]
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()


class DataQualityMonitor(CapabilityComponent):
    """Model Monitor data-quality checks on captured traffic, a drift alarm on the share of
    drifted features, and automatic retraining: alarm -> EventBridge -> pipeline start."""

    TYPE = "mlopsbp:aws:DataQualityMonitor"
    CAPABILITY = "monitoring"

    drift_alarm: aws.cloudwatch.MetricAlarm

    def __init__(self, name: str, args: DataQualityMonitorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        registry = MODEL_MONITOR_REGISTRIES[args.region]  # the Blueprint checked the region
        prefix = pulumi.Output.concat("s3://", args.artifacts_bucket, f"/monitoring/{args.endpoint_name}")
        processor = aws.s3.BucketObjectv2(
            f"{name}-postprocessor",
            bucket=args.artifacts_bucket,
            key=f"monitoring/{args.endpoint_name}/code/drift_share.py",
            content=(files("mlops_bp.stacks.aws") / "scripts" / "drift_share.py").read_text(encoding="utf-8"),
            server_side_encryption="aws:kms",
            kms_key_id=args.kms_key_arn,
            opts=self.child(),
        )
        namespace = metric_namespace(args.project)
        network = (
            {
                "vpc_config": {"subnets": list(args.subnet_ids), "security_group_ids": list(args.security_group_ids)},
                "enable_inter_container_traffic_encryption": True,
            }
            if args.subnet_ids
            else {"enable_inter_container_traffic_encryption": True}
        )
        job = aws.sagemaker.DataQualityJobDefinition(
            f"{name}-job",
            name=f"{args.endpoint_name}-data-quality",
            role_arn=args.role_arn,
            data_quality_app_specification={
                "image_uri": f"{registry}.dkr.ecr.{args.region}.amazonaws.com/sagemaker-model-monitor-analyzer",
                "post_analytics_processor_source_uri": pulumi.Output.concat(
                    "s3://", processor.bucket, "/", processor.key
                ),
                "environment": {"MLOPS_BP_METRIC_NAMESPACE": namespace, "MLOPS_BP_ENDPOINT": args.endpoint_name},
            },
            data_quality_baseline_config={
                "constraints_resource": {"s3_uri": f"{args.baseline_uri.rstrip('/')}/constraints.json"},
                "statistics_resource": {"s3_uri": f"{args.baseline_uri.rstrip('/')}/statistics.json"},
            },
            data_quality_job_input={
                "endpoint_input": {
                    "endpoint_name": args.endpoint_name,
                    "local_path": "/opt/ml/processing/input/endpoint",
                    "s3_data_distribution_type": "FullyReplicated",
                    "s3_input_mode": "File",
                }
            },
            data_quality_job_output_config={
                "kms_key_id": args.kms_key_arn,
                "monitoring_outputs": {
                    "s3_output": {
                        "local_path": "/opt/ml/processing/resultdata",
                        "s3_uri": pulumi.Output.concat(prefix, "/reports"),
                        "s3_upload_mode": "EndOfJob",
                    }
                },
            },
            job_resources={
                "cluster_config": {
                    "instance_count": 1,
                    "instance_type": "ml.m5.large",
                    "volume_size_in_gb": 20,
                    "volume_kms_key_id": args.kms_key_arn,
                }
            },
            network_config=network,
            stopping_condition={"max_runtime_in_seconds": 3300},
            opts=self.child(),
        )
        aws.sagemaker.MonitoringSchedule(
            f"{name}-schedule",
            name=f"{args.endpoint_name}-data-quality",
            monitoring_schedule_config={
                "monitoring_job_definition_name": job.name,
                "monitoring_type": "DataQuality",
                "schedule_config": {"schedule_expression": args.schedule_cron},
            },
            opts=self.child(),
        )
        self.drift_alarm = aws.cloudwatch.MetricAlarm(
            f"{name}-drift",
            name=f"{args.endpoint_name}-drift",
            alarm_description=f"Share of drifted features of {args.endpoint_name} above {args.drift_threshold}",
            namespace=namespace,
            metric_name="DriftedFeatureShare",
            dimensions={"EndpointName": args.endpoint_name},
            statistic="Maximum",
            period=args.interval_hours * 3600,
            evaluation_periods=1,
            threshold=args.drift_threshold,
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=[args.topic_arn],
            opts=self.child(),
        )
        retrain = aws.cloudwatch.EventRule(
            f"{name}-retrain",
            name=f"{args.endpoint_name}-drift-retrain",
            description="Drift alarm fired: start the training pipeline",
            event_pattern=pulumi.Output.json_dumps(
                {
                    "source": ["aws.cloudwatch"],
                    "detail-type": [ALARM_STATE_CHANGED],
                    "resources": [self.drift_alarm.arn],
                    "detail": {"state": {"value": ["ALARM"]}},
                }
            ),
            opts=self.child(),
        )
        aws.cloudwatch.EventTarget(
            f"{name}-retrain-pipeline",
            rule=retrain.name,
            arn=args.pipeline_arn,
            role_arn=args.retrain_role_arn,
            opts=self.child(),
        )
        self.register_outputs({"drift_alarm": self.drift_alarm.name})


@dataclass(frozen=True)
class OperationsDashboardArgs:
    dashboard_name: str
    project: str
    region: str
    endpoints: tuple[tuple[str, tuple[str, ...]], ...]  # (endpoint, variants)


class OperationsDashboard(CapabilityComponent):
    """A CloudWatch dashboard: invocations, latency, errors and drift of the endpoints."""

    TYPE = "mlopsbp:aws:OperationsDashboard"
    CAPABILITY = "monitoring"

    def __init__(self, name: str, args: OperationsDashboardArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)

        def widget(title: str, metrics: list[list], y: int, x: int) -> dict:
            return {
                "type": "metric",
                "x": x,
                "y": y,
                "width": 12,
                "height": 6,
                "properties": {"title": title, "region": args.region, "metrics": metrics, "period": 300, "stat": "Sum"},
            }

        per_variant = [(e, v) for e, variants in args.endpoints for v in variants]
        invocations = [["AWS/SageMaker", "Invocations", "EndpointName", e, "VariantName", v] for e, v in per_variant]
        errors = [["AWS/SageMaker", "Invocation5XXErrors", "EndpointName", e, "VariantName", v] for e, v in per_variant]
        latency = [
            ["AWS/SageMaker", "ModelLatency", "EndpointName", e, "VariantName", v, {"stat": "p90"}]
            for e, v in per_variant
        ]
        drift = [
            [metric_namespace(args.project), "DriftedFeatureShare", "EndpointName", e, {"stat": "Maximum"}]
            for e, _ in args.endpoints
        ]
        body = {
            "widgets": [
                widget("Invocations", invocations, 0, 0),
                widget("Model latency p90 (us)", latency, 0, 12),
                widget("5xx errors", errors, 6, 0),
                widget("Drifted feature share", drift, 6, 12),
            ]
        }
        dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=args.dashboard_name,
            dashboard_body=json.dumps(body, sort_keys=True),
            opts=self.child(),
        )
        self.register_outputs({"dashboard_name": dashboard.dashboard_name})
