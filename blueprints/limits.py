"""AWS limits on what the stacks derive from a blueprint, checked when the Blueprint validates.

Pure data: the Blueprint's validators read these and `tests/test_blueprint_limits.py` proves
them on captured graphs, so a stack that grows a longer name fails there, not at `pulumi up`.
"""

from __future__ import annotations

from .enums import Platform

__all__ = ["ALARMS_PER_VARIANT", "MAX_NAME_PREFIX", "MAX_ROLLBACK_ALARMS", "name_prefix_error"]

# Every physical name starts with `<name>-<environment>`. The longest suffixes a platform adds,
# against the shortest limit they meet: IAM role names allow 64 characters and Pulumi's
# auto-naming appends 8 (`-` and 7 hex), so `<prefix>-data-scientist-role-1234567` (SageMaker)
# and `<prefix>-model-server-identity-role-1234567` (Kubernetes IRSA) bound the prefix.
MAX_NAME_PREFIX: dict[Platform, int] = {Platform.SAGEMAKER: 36, Platform.KUBERNETES: 29}

# Blue/green auto-rollback watches two alarms (5xx, latency) per variant; an endpoint's
# DeploymentConfig allows at most 10 (botocore shape AlarmList).
ALARMS_PER_VARIANT = 2
MAX_ROLLBACK_ALARMS = 10


def name_prefix_error(name: str, environments: list[str], platform: Platform) -> str | None:
    """Why `<name>-<environment>` is too long for the AWS names built from it, or None."""
    limit = MAX_NAME_PREFIX[platform]
    for env in environments:
        prefix = f"{name}-{env}"
        if len(prefix) > limit:
            return (
                f"name, environments: '{prefix}' is {len(prefix)} characters; on {platform.value} "
                f"'<name>-<environment>' may have at most {limit}, so that the AWS names built from it "
                f"(IAM roles: 64 characters) fit; shorten the name or the environment"
            )
    return None
