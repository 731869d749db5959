"""Training compute on SageMaker: the experimentation notebook (level 0) and, from level 2,
the model registry, the training pipeline and its schedule."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from importlib.resources import files

import pulumi
import pulumi_aws as aws

from ..base import CapabilityComponent

__all__ = [
    "ExperimentNotebook",
    "ExperimentNotebookArgs",
    "ModelRegistry",
    "ModelRegistryArgs",
    "PipelineSchedule",
    "PipelineScheduleArgs",
    "TrainingPipeline",
    "TrainingPipelineArgs",
    "autostop_script",
    "pipeline_definition",
]


def autostop_script(idle_minutes: int) -> str:
    """The lifecycle script that stops an idle notebook, base64 as SageMaker wants it."""
    text = (files("mlops_bp.stacks.aws") / "scripts" / "autostop.sh").read_text(encoding="utf-8")
    return base64.b64encode(text.replace("__IDLE_MINUTES__", str(idle_minutes)).encode()).decode()


@dataclass(frozen=True)
class ExperimentNotebookArgs:
    notebook_name: str
    instance_type: str
    volume_size_gb: int
    idle_minutes: int
    role_arn: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    subnet_id: str | None = None
    security_group_ids: tuple[str, ...] = ()


class ExperimentNotebook(CapabilityComponent):
    """A SageMaker notebook instance: encrypted volume, no root access, stops itself when idle,
    and no direct internet access when it runs in the team's VPC."""

    TYPE = "mlopsbp:aws:ExperimentNotebook"
    CAPABILITY = "training"

    instance: aws.sagemaker.NotebookInstance

    def __init__(self, name: str, args: ExperimentNotebookArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        lifecycle = aws.sagemaker.NotebookInstanceLifecycleConfiguration(
            f"{name}-autostop",
            name=f"{args.notebook_name}-autostop",
            on_start=autostop_script(args.idle_minutes),
            opts=self.child(),
        )
        in_vpc = args.subnet_id is not None
        self.instance = aws.sagemaker.NotebookInstance(
            f"{name}-instance",
            name=args.notebook_name,
            instance_type=args.instance_type,
            role_arn=args.role_arn,
            kms_key_id=args.kms_key_arn,
            volume_size=args.volume_size_gb,
            root_access="Disabled",
            direct_internet_access="Disabled" if in_vpc else "Enabled",
            subnet_id=args.subnet_id,
            security_groups=list(args.security_group_ids) if in_vpc else None,
            lifecycle_config_name=lifecycle.name,
            # The volume holds the scientists' notebooks: never replace or delete it by accident.
            opts=self.stateful(),
        )
        self.register_outputs({"notebook_name": self.instance.name})


@dataclass(frozen=True)
class ModelRegistryArgs:
    group_name: str
    description: str


class ModelRegistry(CapabilityComponent):
    """The SageMaker model package group that the pipeline registers models into."""

    TYPE = "mlopsbp:aws:ModelRegistry"
    CAPABILITY = "training"

    group: aws.sagemaker.ModelPackageGroup
    group_name: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: ModelRegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        self.group = aws.sagemaker.ModelPackageGroup(
            f"{name}-group",
            model_package_group_name=args.group_name,
            model_package_group_description=args.description,
            opts=self.stateful(),
        )
        self.group_name = self.group.model_package_group_name
        self.arn = self.group.arn
        self.register_outputs({"group_name": self.group_name, "arn": self.arn})


@dataclass(frozen=True)
class TrainingPipelineArgs:
    pipeline_name: str
    role_arn: pulumi.Input[str]
    # Defaults of the pipeline parameters TrainingImage / ServingImage; the training workflow
    # passes the images it just built.
    training_image: pulumi.Input[str]
    serving_image: pulumi.Input[str]
    package: str  # the Python package of the team's ML code inside the image
    data_uri: pulumi.Input[str]
    artifacts_uri: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    model_package_group: pulumi.Input[str]
    instance_type: str
    instance_count: int
    volume_size_gb: int
    max_runtime_seconds: int
    use_spot: bool
    metric_name: str
    metric_threshold: float
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()


def pipeline_definition(args: TrainingPipelineArgs) -> pulumi.Output[str]:
    """The SageMaker Pipelines definition: preprocess -> train -> evaluate -> condition ->
    register (PendingManualApproval) or fail. Steps run the team's own image."""
    image = {"Get": "Parameters.TrainingImage"}
    vpc = (
        {"VpcConfig": {"Subnets": list(args.subnet_ids), "SecurityGroupIds": list(args.security_group_ids)}}
        if args.subnet_ids
        else {}
    )
    processing_resources = {
        "ClusterConfig": {
            "InstanceType": args.instance_type,
            "InstanceCount": 1,
            "VolumeSizeInGB": args.volume_size_gb,
            "VolumeKmsKeyId": args.kms_key_arn,
        }
    }
    run_prefix = pulumi.Output.concat(args.artifacts_uri, "/pipelines/", args.pipeline_name)
    network = {"NetworkConfig": {"EnableNetworkIsolation": False, "VpcConfig": vpc["VpcConfig"]}} if vpc else {}
    stopping = {"MaxRuntimeInSeconds": args.max_runtime_seconds}
    if args.use_spot:
        stopping["MaxWaitTimeInSeconds"] = args.max_runtime_seconds * 2
    train_model_uri = {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    definition = {
        "Version": "2020-12-01",
        "Metadata": {"generator": "mlops-bp"},
        "Parameters": [
            {"Name": "TrainingImage", "Type": "String", "DefaultValue": args.training_image},
            {"Name": "ServingImage", "Type": "String", "DefaultValue": args.serving_image},
            {"Name": "InputDataUri", "Type": "String", "DefaultValue": args.data_uri},
        ],
        "Steps": [
            {
                "Name": "Preprocess",
                "Type": "Processing",
                "Arguments": {
                    "ProcessingResources": processing_resources,
                    "AppSpecification": {
                        "ImageUri": image,
                        "ContainerEntrypoint": ["python", "-m", f"{args.package}.features"],
                    },
                    "RoleArn": args.role_arn,
                    "StoppingCondition": {"MaxRuntimeInSeconds": args.max_runtime_seconds},
                    "ProcessingInputs": [
                        {
                            "InputName": "raw",
                            "S3Input": {
                                "S3Uri": {"Get": "Parameters.InputDataUri"},
                                "LocalPath": "/opt/ml/processing/input",
                                "S3DataType": "S3Prefix",
                                "S3InputMode": "File",
                            },
                        }
                    ],
                    "ProcessingOutputConfig": {
                        "KmsKeyId": args.kms_key_arn,
                        "Outputs": [
                            {
                                "OutputName": split,
                                "S3Output": {
                                    "S3Uri": pulumi.Output.concat(run_prefix, f"/{split}"),
                                    "LocalPath": f"/opt/ml/processing/{split}",
                                    "S3UploadMode": "EndOfJob",
                                },
                            }
                            for split in ("train", "test")
                        ],
                    },
                    **network,
                },
            },
            {
                "Name": "Train",
                "Type": "Training",
                "Arguments": {
                    "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
                    "RoleArn": args.role_arn,
                    "ResourceConfig": {
                        "InstanceType": args.instance_type,
                        "InstanceCount": args.instance_count,
                        "VolumeSizeInGB": args.volume_size_gb,
                        "VolumeKmsKeyId": args.kms_key_arn,
                    },
                    "StoppingCondition": stopping,
                    "EnableManagedSpotTraining": args.use_spot,
                    **(
                        {"CheckpointConfig": {"S3Uri": pulumi.Output.concat(run_prefix, "/checkpoints")}}
                        if args.use_spot
                        else {}
                    ),
                    "OutputDataConfig": {
                        "S3OutputPath": pulumi.Output.concat(run_prefix, "/models"),
                        "KmsKeyId": args.kms_key_arn,
                    },
                    "EnableInterContainerTrafficEncryption": args.instance_count > 1,
                    "InputDataConfig": [
                        {
                            "ChannelName": "train",
                            "DataSource": {
                                "S3DataSource": {
                                    "S3DataType": "S3Prefix",
                                    "S3Uri": {
                                        "Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"
                                    },
                                    "S3DataDistributionType": "ShardedByS3Key"
                                    if args.instance_count > 1
                                    else "FullyReplicated",
                                }
                            },
                        }
                    ],
                    **vpc,
                },
            },
            {
                "Name": "Evaluate",
                "Type": "Processing",
                "Arguments": {
                    "ProcessingResources": processing_resources,
                    "AppSpecification": {
                        "ImageUri": image,
                        "ContainerEntrypoint": ["python", "-m", f"{args.package}.evaluate"],
                    },
                    "RoleArn": args.role_arn,
                    "StoppingCondition": {"MaxRuntimeInSeconds": args.max_runtime_seconds},
                    "ProcessingInputs": [
                        {
                            "InputName": "model",
                            "S3Input": {
                                "S3Uri": train_model_uri,
                                "LocalPath": "/opt/ml/processing/model",
                                "S3DataType": "S3Prefix",
                                "S3InputMode": "File",
                            },
                        },
                        {
                            "InputName": "test",
                            "S3Input": {
                                "S3Uri": {
                                    "Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"
                                },
                                "LocalPath": "/opt/ml/processing/test",
                                "S3DataType": "S3Prefix",
                                "S3InputMode": "File",
                            },
                        },
                    ],
                    "ProcessingOutputConfig": {
                        "KmsKeyId": args.kms_key_arn,
                        "Outputs": [
                            {
                                "OutputName": "evaluation",
                                "S3Output": {
                                    "S3Uri": pulumi.Output.concat(run_prefix, "/evaluation"),
                                    "LocalPath": "/opt/ml/processing/evaluation",
                                    "S3UploadMode": "EndOfJob",
                                },
                            }
                        ],
                    },
                    **network,
                },
                "PropertyFiles": [
                    {"PropertyFileName": "EvaluationReport", "OutputName": "evaluation", "FilePath": "evaluation.json"}
                ],
            },
            {
                "Name": "CheckMetric",
                "Type": "Condition",
                "Arguments": {
                    "Conditions": [
                        {
                            "Type": "GreaterThanOrEqualTo",
                            "LeftValue": {
                                "Std:JsonGet": {
                                    "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"},
                                    "Path": f"metrics.{args.metric_name}",
                                }
                            },
                            "RightValue": args.metric_threshold,
                        }
                    ],
                    "IfSteps": [
                        {
                            "Name": "RegisterModel",
                            "Type": "RegisterModel",
                            "Arguments": {
                                "ModelPackageGroupName": args.model_package_group,
                                "ModelApprovalStatus": "PendingManualApproval",
                                "InferenceSpecification": {
                                    "Containers": [
                                        {"Image": {"Get": "Parameters.ServingImage"}, "ModelDataUrl": train_model_uri}
                                    ],
                                    "SupportedContentTypes": ["application/json", "text/csv"],
                                    "SupportedResponseMIMETypes": ["application/json"],
                                },
                            },
                        }
                    ],
                    "ElseSteps": [
                        {
                            "Name": "MetricBelowThreshold",
                            "Type": "Fail",
                            "Arguments": {
                                "ErrorMessage": f"{args.metric_name} is below {args.metric_threshold}; model not registered"
                            },
                        }
                    ],
                },
            },
        ],
    }
    return pulumi.Output.json_dumps(definition)


class TrainingPipeline(CapabilityComponent):
    """The SageMaker Pipeline that trains, evaluates and registers the team's model."""

    TYPE = "mlopsbp:aws:TrainingPipeline"
    CAPABILITY = "training"

    pipeline: aws.sagemaker.Pipeline
    arn: pulumi.Output[str]
    pipeline_name: pulumi.Output[str]

    def __init__(self, name: str, args: TrainingPipelineArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        if not 0 <= args.metric_threshold <= 1:
            raise ValueError(f"{name}: metric_threshold must be within 0..1")
        self.pipeline = aws.sagemaker.Pipeline(
            f"{name}-pipeline",
            pipeline_name=args.pipeline_name,
            pipeline_display_name=args.pipeline_name,
            pipeline_description="mlops-bp training pipeline: preprocess, train, evaluate, register",
            role_arn=args.role_arn,
            pipeline_definition=pipeline_definition(args),
            parallelism_configuration={"max_parallel_execution_steps": 2},
            opts=self.child(),
        )
        self.arn = self.pipeline.arn
        self.pipeline_name = self.pipeline.pipeline_name
        self.register_outputs({"arn": self.arn, "pipeline_name": self.pipeline_name})


@dataclass(frozen=True)
class PipelineScheduleArgs:
    schedule_name: str
    schedule_expression: str
    pipeline_arn: pulumi.Input[str]
    role_arn: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]


class PipelineSchedule(CapabilityComponent):
    """An EventBridge Scheduler schedule that starts the training pipeline."""

    TYPE = "mlopsbp:aws:PipelineSchedule"
    CAPABILITY = "training"

    def __init__(self, name: str, args: PipelineScheduleArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        schedule = aws.scheduler.Schedule(
            f"{name}-schedule",
            name=args.schedule_name,
            description="Scheduled training run (mlops-bp)",
            schedule_expression=args.schedule_expression,
            schedule_expression_timezone="UTC",
            flexible_time_window={"mode": "FLEXIBLE", "maximum_window_in_minutes": 30},
            kms_key_arn=args.kms_key_arn,
            target={
                "arn": args.pipeline_arn,
                "role_arn": args.role_arn,
                "retry_policy": {"maximum_retry_attempts": 2, "maximum_event_age_in_seconds": 3600},
            },
            opts=self.child(),
        )
        self.register_outputs({"schedule_name": schedule.name})
