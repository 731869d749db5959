"""SageMaker, CloudWatch Logs and SNS: what they store is encrypted with a customer-managed key,
and notebooks give no root shell."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..graph import CapturedResource, ResourceGraph
from .core import Severity, Verdict, compliant, not_applicable, rule, verdict, violation
from .values import as_list, get, is_kms_key, json_document

NOTEBOOK = "aws:sagemaker/notebookInstance:NotebookInstance"
ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
PIPELINE = "aws:sagemaker/pipeline:Pipeline"
DATA_QUALITY_JOB = "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
TOPIC = "aws:sns/topic:Topic"
# Pipeline step type -> the paths (in its Arguments) of the KMS keys of its volume and its output.
STEP_KEYS: dict[str, tuple[tuple[str, ...], ...]] = {
    "Training": (("ResourceConfig", "VolumeKmsKeyId"), ("OutputDataConfig", "KmsKeyId")),
    "Processing": (("ProcessingResources", "ClusterConfig", "VolumeKmsKeyId"), ("ProcessingOutputConfig", "KmsKeyId")),
    "Transform": (("TransformResources", "VolumeKmsKeyId"), ("TransformOutput", "KmsKeyId")),
}


def _encrypted_with_key(resource: CapturedResource, key: str) -> Verdict:
    value = resource.inputs.get(key)
    return compliant() if is_kms_key(value) else violation(f"{key} is not a customer-managed KMS key")


@rule(
    "MLOPS-SM-001",
    "SageMaker notebook volumes are encrypted with a customer-managed key",
    severity=Severity.HIGH,
    applies_to={NOTEBOOK},
)
def notebook_encrypted(notebook: CapturedResource, _graph: ResourceGraph) -> Verdict:
    return _encrypted_with_key(notebook, "kmsKeyId")


@rule("MLOPS-SM-002", "SageMaker notebooks give users no root access", severity=Severity.HIGH, applies_to={NOTEBOOK})
def notebook_without_root(notebook: CapturedResource, _graph: ResourceGraph) -> Verdict:
    access = notebook.inputs.get("rootAccess", "Enabled")
    return compliant() if access == "Disabled" else violation(f"rootAccess is {access!r}")


@rule(
    "MLOPS-SM-003",
    "Real-time SageMaker endpoints encrypt their volumes with a customer-managed key",
    severity=Severity.HIGH,
    applies_to={ENDPOINT_CONFIG},
)
def endpoint_encrypted(config: CapturedResource, _graph: ResourceGraph) -> Verdict:
    variants = as_list(config.inputs.get("productionVariants")) + as_list(config.inputs.get("shadowProductionVariants"))
    if not any(get(v, "instanceType") for v in variants):
        return not_applicable("serverless endpoints take no KMS key")
    return _encrypted_with_key(config, "kmsKeyArn")


def _steps(steps: Any) -> Iterator[Mapping[str, Any]]:
    """Every step of a pipeline definition, the branches of condition steps included."""
    for step in as_list(steps):
        if isinstance(step, Mapping):
            yield step
            for branch in ("IfSteps", "ElseSteps"):
                yield from _steps(get(step, "Arguments", branch))


@rule(
    "MLOPS-SM-004",
    "SageMaker pipeline jobs encrypt their volumes and outputs with KMS",
    severity=Severity.HIGH,
    applies_to={PIPELINE},
)
def pipeline_jobs_encrypted(pipeline: CapturedResource, _graph: ResourceGraph) -> Verdict:
    definition = json_document(pipeline.inputs.get("pipelineDefinition"))
    if definition is None:
        return not_applicable("the pipeline definition is not inline")
    return verdict(
        f"step {step.get('Name')!r} sets no {'.'.join(path)}"
        for step in _steps(definition.get("Steps"))
        for path in STEP_KEYS.get(str(step.get("Type")), ())
        if not get(step, "Arguments", *path)
    )


@rule(
    "MLOPS-SM-005",
    "SageMaker monitoring jobs encrypt their volumes and outputs with KMS",
    severity=Severity.HIGH,
    applies_to={DATA_QUALITY_JOB},
)
def monitoring_jobs_encrypted(job: CapturedResource, _graph: ResourceGraph) -> Verdict:
    paths = (("jobResources", "clusterConfig", "volumeKmsKeyId"), ("dataQualityJobOutputConfig", "kmsKeyId"))
    return verdict(f"sets no {'.'.join(path)}" for path in paths if not get(job.inputs, *path))


@rule(
    "MLOPS-LOG-001",
    "CloudWatch log groups are encrypted with a customer-managed key",
    severity=Severity.MEDIUM,
    applies_to={LOG_GROUP},
)
def log_group_encrypted(group: CapturedResource, _graph: ResourceGraph) -> Verdict:
    return _encrypted_with_key(group, "kmsKeyId")


@rule(
    "MLOPS-SNS-001",
    "SNS topics are encrypted with a customer-managed key",
    severity=Severity.MEDIUM,
    applies_to={TOPIC},
)
def topic_encrypted(topic: CapturedResource, _graph: ResourceGraph) -> Verdict:
    return _encrypted_with_key(topic, "kmsMasterKeyId")
