"""Training compute on SageMaker: the experimentation notebook (level 0) and, from level 2,
the model registry, the training pipeline and its schedule."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from importlib.resources import files

import pulumi
import pulumi_aws as aws

from ..base import CapabilityComponent, policy_document
from . import policies

__all__ = [
    "ExperimentNotebook",
    "ExperimentNotebookArgs",
    "INTEGRITY_METADATA",
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
    # Roles of other accounts that read the approved packages (the promotion path).
    readers: tuple[policies.Reader, ...] = ()


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
        if args.readers:
            region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region
            account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
            packages = pulumi.Output.concat(
                "arn:aws:sagemaker:", region, ":", account, f":model-package/{args.group_name}/*"
            )
            aws.sagemaker.ModelPackageGroupPolicy(
                f"{name}-promotion-readers",
                model_package_group_name=self.group.model_package_group_name,
                resource_policy=policy_document(
                    [
                        policies.reader_statement(
                            "PromotionReadersDescribe",
                            args.readers,
                            ["sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages"],
                            [self.group.arn, packages],
                        )
                    ]
                ),
                opts=self.child(),
            )
        self.group_name = self.group.model_package_group_name
        self.arn = self.group.arn
        self.register_outputs({"group_name": self.group_name, "arn": self.arn})


@dataclass(frozen=True)
class TrainingPipelineArgs:
    pipeline_name: str
    role_arn: pulumi.Input[str]
    # Defaults of the pipeline parameters TrainingImage / ServingImage: images CI pushed (known
    # once a deploy pinned its commit). None on a fresh account: every run then names its images
    # (the training workflow passes the ones it just pushed).
    training_image: pulumi.Input[str] | None
    serving_image: pulumi.Input[str] | None
    package: str  # the Python package of the team's ML code inside the image
    data_uri: pulumi.Input[str]  # the dataset object that DVC pushes (version-aware remote)
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
    hyperparameters: tuple[tuple[str, str], ...] = ()
    # False for instance types with local NVMe storage, which refuse VolumeKmsKeyId.
    volume_kms: bool = True
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()


# Where each step's container reads and writes (the repo's entry points take these as arguments).
PROCESSING_ROOT = "/opt/ml/processing"
JSON = "application/json"
# The Evaluate step's evaluation.json, which the condition and the registration read.
EVALUATION_REPORT = "EvaluationReport"
# Customer metadata of each registered package -> where evaluation.json holds its value: the
# sha256 of the model.tar.gz Evaluate was given and of the model file inside. Promotion and
# serving check artifacts against these; the key names are a contract (`mlops-bp promote`).
INTEGRITY_METADATA = {"ArchiveSha256": "integrity.archive_sha256", "ModelSha256": "integrity.model_sha256"}


def _get(path: str) -> dict[str, str]:
    return {"Get": path}


def _join(*values: object) -> dict[str, object]:
    return {"Std:Join": {"On": "/", "Values": list(values)}}


def _output_uri(step: str, output: str) -> dict[str, str]:
    return _get(f"Steps.{step}.ProcessingOutputConfig.Outputs['{output}'].S3Output.S3Uri")


def _evaluation(path: str) -> dict[str, object]:
    """A value of the Evaluate step's evaluation.json (the SageMaker SDK's JsonGet.expr)."""
    return {"Std:JsonGet": {"PropertyFile": _get(f"Steps.Evaluate.PropertyFiles.{EVALUATION_REPORT}"), "Path": path}}


class _Steps:
    """Builders of the pipeline's steps; each run writes under its own execution id, so the
    data and baseline a registered model was made from stay where its package points."""

    def __init__(self, args: TrainingPipelineArgs) -> None:
        self.args = args
        self.run_prefix = _join(
            pulumi.Output.concat(args.artifacts_uri, "/pipelines/", args.pipeline_name),
            _get("Execution.PipelineExecutionId"),
        )
        self.image = _get("Parameters.TrainingImage")
        volume_kms = {"VolumeKmsKeyId": args.kms_key_arn} if args.volume_kms else {}
        self.cluster = {
            "InstanceType": args.instance_type,
            "VolumeSizeInGB": args.volume_size_gb,
            **volume_kms,
        }
        self.vpc = (
            {"Subnets": list(args.subnet_ids), "SecurityGroupIds": list(args.security_group_ids)}
            if args.subnet_ids
            else None
        )

    def processing(
        self,
        name: str,
        module: str,
        inputs: dict[str, object],
        outputs: tuple[str, ...],
        property_files: list[dict[str, str]] | None = None,
    ) -> dict[str, object]:
        """A processing job running `python -m <package>.<module> --<input> DIR ... --<output> DIR`."""
        arguments: list[str] = []
        for local in [*inputs, *outputs]:
            arguments += [f"--{local}", f"{PROCESSING_ROOT}/{local}"]
        step: dict[str, object] = {
            "Name": name,
            "Type": "Processing",
            "Arguments": {
                "ProcessingResources": {"ClusterConfig": {**self.cluster, "InstanceCount": 1}},
                "AppSpecification": {
                    "ImageUri": self.image,
                    "ContainerEntrypoint": ["python", "-m", f"{self.args.package}.{module}"],
                    "ContainerArguments": arguments,
                },
                "RoleArn": self.args.role_arn,
                "StoppingCondition": {"MaxRuntimeInSeconds": self.args.max_runtime_seconds},
                "ProcessingInputs": [
                    {
                        "InputName": local,
                        "S3Input": {
                            "S3Uri": uri,
                            "LocalPath": f"{PROCESSING_ROOT}/{local}",
                            "S3DataType": "S3Prefix",
                            "S3InputMode": "File",
                        },
                    }
                    for local, uri in inputs.items()
                ],
                "ProcessingOutputConfig": {
                    "KmsKeyId": self.args.kms_key_arn,
                    "Outputs": [
                        {
                            "OutputName": local,
                            "S3Output": {
                                "S3Uri": _join(self.run_prefix, local),
                                "LocalPath": f"{PROCESSING_ROOT}/{local}",
                                "S3UploadMode": "EndOfJob",
                            },
                        }
                        for local in outputs
                    ],
                },
                **({"NetworkConfig": {"VpcConfig": self.vpc}} if self.vpc else {}),
            },
        }
        if property_files:
            step["PropertyFiles"] = property_files
        return step

    def training(self, name: str, train_uri: object) -> dict[str, object]:
        """A training job of the training image: channel `train`, model to /opt/ml/model."""
        args = self.args
        stopping = {"MaxRuntimeInSeconds": args.max_runtime_seconds}
        if args.use_spot:
            stopping["MaxWaitTimeInSeconds"] = args.max_runtime_seconds * 2
        return {
            "Name": name,
            "Type": "Training",
            "Arguments": {
                "AlgorithmSpecification": {"TrainingImage": self.image, "TrainingInputMode": "File"},
                "HyperParameters": dict(args.hyperparameters),
                "RoleArn": args.role_arn,
                "ResourceConfig": {**self.cluster, "InstanceCount": args.instance_count},
                "StoppingCondition": stopping,
                "EnableManagedSpotTraining": args.use_spot,
                **({"CheckpointConfig": {"S3Uri": _join(self.run_prefix, "checkpoints")}} if args.use_spot else {}),
                "OutputDataConfig": {"S3OutputPath": _join(self.run_prefix, "models"), "KmsKeyId": args.kms_key_arn},
                "EnableInterContainerTrafficEncryption": args.instance_count > 1,
                "InputDataConfig": [
                    {
                        "ChannelName": "train",
                        "ContentType": "text/csv",
                        "DataSource": {
                            "S3DataSource": {
                                "S3DataType": "S3Prefix",
                                "S3Uri": train_uri,
                                "S3DataDistributionType": "ShardedByS3Key"
                                if args.instance_count > 1
                                else "FullyReplicated",
                            }
                        },
                    }
                ],
                **({"VpcConfig": self.vpc} if self.vpc else {}),
            },
        }

    def register(self, name: str, model_uri: object, baseline_uri: object, evaluation_uri: object) -> dict[str, object]:
        """Register the model as PendingManualApproval, with its evaluation and the data-quality
        baseline that monitoring of this model compares live traffic against."""
        baseline = {
            "Statistics": {"ContentType": JSON, "S3Uri": _join(baseline_uri, "statistics.json")},
            "Constraints": {"ContentType": JSON, "S3Uri": _join(baseline_uri, "constraints.json")},
        }
        return {
            "Name": name,
            "Type": "RegisterModel",
            "Arguments": {
                "ModelPackageGroupName": self.args.model_package_group,
                "ModelApprovalStatus": "PendingManualApproval",
                "InferenceSpecification": {
                    "Containers": [{"Image": _get("Parameters.ServingImage"), "ModelDataUrl": model_uri}],
                    "SupportedContentTypes": [JSON, "text/csv"],
                    "SupportedResponseMIMETypes": [JSON, "text/csv"],
                },
                "ModelMetrics": {
                    "ModelQuality": {
                        "Statistics": {"ContentType": JSON, "S3Uri": _join(evaluation_uri, "evaluation.json")}
                    },
                    "ModelDataQuality": baseline,
                },
                "DriftCheckBaselines": {"ModelDataQuality": baseline},
                # Values may be pipeline variables: the SageMaker Python SDK (aws/sagemaker-python-sdk
                # a248126) types customer_metadata_properties as dict[str, str] or
                # dict[str, PipelineVariable] (sagemaker-serve/src/sagemaker/serve/model_builder.py),
                # and JsonGet is a PipelineVariable (sagemaker-core/src/sagemaker/core/workflow/functions.py).
                "CustomerMetadataProperties": {key: _evaluation(path) for key, path in INTEGRITY_METADATA.items()},
            },
        }


def _parameter(name: str, default: pulumi.Input[str] | None) -> dict[str, object]:
    return {"Name": name, "Type": "String", **({"DefaultValue": default} if default is not None else {})}


def pipeline_definition(args: TrainingPipelineArgs) -> pulumi.Output[str]:
    """The SageMaker Pipelines definition: preprocess (split + data-quality baseline) -> train
    -> evaluate -> condition -> register (PendingManualApproval) or fail. Every step runs the
    team's training image; the registered package names the serving image."""
    steps = _Steps(args)
    preprocess = steps.processing(
        "Preprocess", "preprocess", {"input": _get("Parameters.InputDataUri")}, ("train", "test", "baseline")
    )
    train = steps.training("Train", _output_uri("Preprocess", "train"))
    model_uri = _get("Steps.Train.ModelArtifacts.S3ModelArtifacts")
    evaluate = steps.processing(
        "Evaluate",
        "evaluate",
        {"model": model_uri, "test": _output_uri("Preprocess", "test")},
        ("evaluation",),
        [{"PropertyFileName": EVALUATION_REPORT, "OutputName": "evaluation", "FilePath": "evaluation.json"}],
    )
    register = steps.register(
        "RegisterModel", model_uri, _output_uri("Preprocess", "baseline"), _output_uri("Evaluate", "evaluation")
    )
    check = {
        "Name": "CheckMetric",
        "Type": "Condition",
        "Arguments": {
            "Conditions": [
                {
                    "Type": "GreaterThanOrEqualTo",
                    "LeftValue": _evaluation(f"metrics.{args.metric_name}"),
                    "RightValue": args.metric_threshold,
                }
            ],
            "IfSteps": [register],
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
    }
    definition = {
        "Version": "2020-12-01",
        "Metadata": {"generator": "mlops-bp"},
        "Parameters": [
            _parameter("TrainingImage", args.training_image),
            _parameter("ServingImage", args.serving_image),
            _parameter("InputDataUri", args.data_uri),
        ],
        "Steps": [preprocess, train, evaluate, check],
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
