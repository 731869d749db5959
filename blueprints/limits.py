"""AWS limits on what the stacks derive from a blueprint, checked when the Blueprint validates.

Pure data: the Blueprint's validators read these and `tests/test_blueprint_limits.py` proves
them on captured graphs, so a stack that grows a longer name fails there, not at `pulumi up`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .enums import Platform

__all__ = [
    "ALARMS_PER_VARIANT",
    "AUTONAME_SUFFIX",
    "DERIVED_NAMES",
    "MAX_NAME_PREFIX",
    "MAX_ROLLBACK_ALARMS",
    "DerivedName",
    "name_prefix_error",
]

# Pulumi's auto-naming appends "-" and 7 hex characters to a logical name.
AUTONAME_SUFFIX = "-1234567"


@dataclass(frozen=True)
class DerivedName:
    """A physical name the stacks build as `<name>-<environment><suffix>`, and its API limit."""

    what: str
    suffix: str
    limit: int
    autonamed: bool = True

    def physical(self, prefix: str) -> str:
        return f"{prefix}{self.suffix}{AUTONAME_SUFFIX if self.autonamed else ''}"

    @property
    def max_prefix(self) -> int:
        return self.limit - len(self.physical(""))


# The names each platform derives from `<name>-<environment>` that come closest to their
# limits (S3 bucket prefixes are cut to 37 characters by the stacks, so they never bind).
# tests/test_blueprint_limits.py checks every physical name of the longest accepted blueprints
# against its API's limit, so a stack that grows a longer name shows up there.
DERIVED_NAMES: dict[Platform, tuple[DerivedName, ...]] = {
    Platform.SAGEMAKER: (
        DerivedName("IAM role", "-data-scientist-role", 64),
        DerivedName("SageMaker endpoint configuration", "-serving-config", 63),
        DerivedName("SageMaker model", "-serving-model", 63),
    ),
    Platform.KUBERNETES: (
        DerivedName("IAM role", "-model-server-identity-role", 64),
        DerivedName("IAM role", "-training-identity-role", 64),
    ),
}

# The longest `<name>-<environment>` each platform allows: the tightest of its derived names.
MAX_NAME_PREFIX: dict[Platform, int] = {
    platform: min(n.max_prefix for n in names) for platform, names in DERIVED_NAMES.items()
}

# Blue/green auto-rollback watches two alarms (5xx, latency) per variant; an endpoint's
# DeploymentConfig allows at most 10 (botocore shape AlarmList).
ALARMS_PER_VARIANT = 2
MAX_ROLLBACK_ALARMS = 10


def name_prefix_error(name: str, environments: list[str], platform: Platform) -> str | None:
    """Why `<name>-<environment>` is too long for an AWS name built from it, or None."""
    for env in sorted(environments, key=len, reverse=True):
        prefix = f"{name}-{env}"
        for derived in DERIVED_NAMES[platform]:
            physical = derived.physical(prefix)
            if len(physical) > derived.limit:
                return (
                    f"name, environments: '{prefix}' is {len(prefix)} characters; on {platform.value} "
                    f"'<name>-<environment>' may have at most {MAX_NAME_PREFIX[platform]}, so that the AWS names "
                    f"built from it fit (the {derived.what} '{physical}' would have {len(physical)}, "
                    f"{derived.limit} allowed); shorten the name or the environment"
                )
    return None
