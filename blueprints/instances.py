"""Facts about SageMaker instance types that decide what the API accepts for them.

Pure data: the Blueprint's validators and the stacks read these, so both agree.
"""

from __future__ import annotations

import re
from functools import cache

__all__ = ["ENDPOINT_SMALLEST_INSTANCE", "INSTANCE_USES", "has_local_nvme", "instance_types"]

# The smallest (cheapest) instance type real-time endpoints accept.
ENDPOINT_SMALLEST_INSTANCE = "ml.t2.medium"

# Families whose instances carry local NVMe instance storage. For them SageMaker refuses
# `VolumeKmsKeyId` (training, processing, monitoring) and an endpoint configuration's `KmsKeyId`:
# their storage is encrypted by the hardware (botocore `ResourceConfig.VolumeKmsKeyId`,
# `CreateEndpointConfigInput.KmsKeyId`). A `d` after the generation digit marks local disks
# (m5d, c6id, g4dn, p4de); the families below have them without the letter.
_NVME_FAMILIES = frozenset({"dl1", "g5", "g6", "g6e", "gr6", "p5", "p5e", "p5en", "trn1", "trn1n", "trn2"})
_DISK_LETTER = re.compile(r"^[a-z]+\d+[a-z]*d[a-z]*$")


def has_local_nvme(instance_type: str) -> bool:
    """True for instance types with local NVMe storage, e.g. ml.g4dn.xlarge or ml.m5d.large."""
    family = instance_type.split(".")[1] if instance_type.count(".") == 2 else instance_type
    return family in _NVME_FAMILIES or bool(_DISK_LETTER.match(family))


# What each instance-type setting is used for on SageMaker, and the botocore shapes (enums of the
# API) that list the types each use accepts. The training type also runs the pipeline's
# processing steps (preprocess, evaluate), so it must be valid for both.
INSTANCE_USES: dict[str, tuple[tuple[str, str], ...]] = {
    "notebook.instance_type": (("notebook instances", "InstanceType"),),
    "training.instance_type": (
        ("training jobs", "TrainingInstanceType"),
        ("processing jobs (the pipeline's preprocess and evaluate steps)", "ProcessingInstanceType"),
    ),
    "serving.instance_type": (("real-time endpoints", "ProductionVariantInstanceType"),),
}


@cache
def instance_types(shape: str) -> frozenset[str]:
    """The instance types the SageMaker API accepts where it uses `shape` (botocore's model of
    the API, shipped with boto3; loaded on first use)."""
    import botocore.loaders

    model = botocore.loaders.Loader().load_service_model("sagemaker", "service-2")
    return frozenset(model["shapes"][shape]["enum"])
