"""Training compute on SageMaker: the experimentation notebook (level 0) and, from level 2,
the model registry, the training pipeline and its schedule."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from importlib.resources import files

import pulumi
import pulumi_aws as aws

from ..base import CapabilityComponent

__all__ = ["ExperimentNotebook", "ExperimentNotebookArgs", "autostop_script"]


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
            opts=self.child(),
        )
        self.register_outputs({"notebook_name": self.instance.name})
