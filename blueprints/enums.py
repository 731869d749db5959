"""The spec's enumerations (no pydantic here: the CLI's startup path imports them)."""

from __future__ import annotations

from enum import IntEnum, StrEnum

__all__ = ["EndpointMode", "MaturityLevel", "Platform"]


class MaturityLevel(IntEnum):
    """Microsoft's MLOps maturity levels. An IntEnum (not a str-Enum) so YAML and flags say `3`."""

    NO_MLOPS = 0
    DEVOPS = 1
    AUTOMATED_TRAINING = 2
    AUTOMATED_DEPLOYMENT = 3
    FULL_AUTOMATION = 4


class Platform(StrEnum):
    SAGEMAKER = "sagemaker"
    KUBERNETES = "kubernetes"


class EndpointMode(StrEnum):
    SERVERLESS = "serverless"
    REALTIME = "realtime"
