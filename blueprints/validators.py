"""The rules a whole Blueprint must satisfy, beyond the types and ranges of its fields.

Each rule is a small pure function: a Blueprint in, why it is invalid (one line naming the
field) or None out. `Blueprint` runs them in `BLUEPRINT_RULES` order when it validates, so
`plan`, `init`, `cost`, `doctor`, `upgrade` and `pulumi up` give the same verdict; stacks and
templates assume a valid Blueprint. Rules read the catalog, never level numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from difflib import get_close_matches
from typing import TYPE_CHECKING, Any

from . import catalog
from .constants import CI_SYSTEMS
from .enums import EndpointMode, Platform
from .instances import INSTANCE_USES, instance_types
from .kubernetes import KubernetesServing
from .limits import name_prefix_error
from .regions import AWS_REGIONS, MODEL_MONITOR_REGISTRIES
from .schedules import five_field_cron_error

if TYPE_CHECKING:
    from .models import Blueprint

__all__ = [
    "BLUEPRINT_RULES",
    "CI_SYSTEMS",
    "ci_system_error",
    "close_match",
    "environments_error",
    "instance_types_error",
    "kubernetes_cluster_error",
    "kubernetes_schedules_error",
    "kubernetes_variants_error",
    "level_settings_error",
    "model_monitor_region_error",
    "name_length_error",
    "region_error",
    "single_ci_system_error",
    "whole_percents",
]


def close_match(value: str, choices: Any) -> str:
    """`; did you mean X?` for the closest of `choices`, or nothing."""
    found = get_close_matches(value.lower(), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"; did you mean {found[0]}?" if found else ""


def region_error(region: str) -> str | None:
    """Why `region` is no region a blueprint may target, or None."""
    if region in AWS_REGIONS:
        return None
    hint = close_match(region, sorted(AWS_REGIONS)) or f" (one of the {len(AWS_REGIONS)} commercial regions)"
    return f"unknown AWS region {region!r}{hint}"


def _get(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def _default_of(blueprint: Blueprint, dotted: str) -> Any:
    """The default of setting `dotted`: its section's model, built with no arguments."""
    section, _, rest = dotted.partition(".")
    default = type(getattr(blueprint, section))()
    return _get(default, rest) if rest else default


def environments_error(blueprint: Blueprint) -> str | None:
    names = [e.name for e in blueprint.environments]
    if not names:
        return "environments: at least one environment is needed"
    if len(set(names)) != len(names):
        return "environments: names must be unique"
    accounts = [e.account for e in blueprint.environments]
    if any(accounts) and not all(accounts):
        return "environments: set account on every environment or on none"
    arn = blueprint.oidc_provider_arn
    if any(accounts) and arn and arn.split(":")[4] not in accounts:
        return f"oidc_provider_arn: names account {arn.split(':')[4]}, which is no environment's account"
    return None


def level_settings_error(blueprint: Blueprint) -> str | None:
    """A setting changed from its default below the level of the feature it belongs to."""
    features = blueprint.features
    for path, feature in catalog.FIELD_FEATURE.items():
        if feature not in features and _get(blueprint, path) != _default_of(blueprint, path):
            needed = catalog.feature_level(feature)
            return f"{path}: needs level {needed} or higher (blueprint is level {int(blueprint.level)})"
    realtime = catalog.REALTIME_ENDPOINT_FEATURE
    if realtime not in features and any(e.endpoint is EndpointMode.REALTIME for e in blueprint.environments):
        return f"environments: real-time endpoints need level {catalog.feature_level(realtime)} or higher"
    return None


def single_ci_system_error(blueprint: Blueprint) -> str | None:
    if blueprint.github and blueprint.gitlab:
        return "github, gitlab: set one CI system; the deploy role trusts exactly one repository"
    return None


def ci_system_error(blueprint: Blueprint, ci: str) -> str | None:
    """Why a repo whose CI runs on `ci` cannot carry `blueprint`, or None."""
    if ci not in CI_SYSTEMS:
        return f"ci: must be one of {', '.join(CI_SYSTEMS)} (got {ci!r}{close_match(ci, CI_SYSTEMS)})"
    if ci == "gitlab" and blueprint.github:
        return "github: a GitLab repo's pipelines cannot use a GitHub trust; set gitlab: GROUP/PROJECT (--gitlab)"
    if ci == "github" and blueprint.gitlab:
        return "gitlab: the blueprint trusts GitLab pipelines; generate with --ci gitlab"
    return None


def whole_percents(weights: list[float]) -> list[int]:
    """Traffic shares as whole percents that add up to 100: each rounded, the last takes the
    rest (how Kubernetes routes and KServe canaries split traffic)."""
    percents = [round(w * 100) for w in weights[:-1]]
    return [*percents, 100 - sum(percents)]


def kubernetes_variants_error(blueprint: Blueprint) -> str | None:
    if blueprint.platform is not Platform.KUBERNETES or not blueprint.has_challengers:
        return None
    variants = blueprint.serving.variants
    if any(p < 1 for p in whole_percents([v.weight for v in variants])):
        return "serving.variants: on kubernetes every variant needs at least 1% of the traffic in whole percents"
    if blueprint.kubernetes.serving is KubernetesServing.KSERVE and len(variants) != 2:
        return "serving.variants: a KServe canary takes exactly two variants (stable first, canary second)"
    return None


def kubernetes_schedules_error(blueprint: Blueprint) -> str | None:
    """CronJobs run the schedules on kubernetes: each needs an exact five-field cron."""
    if blueprint.platform is not Platform.KUBERNETES:
        return None
    features = blueprint.features
    schedules = (
        ("training.schedule", blueprint.training.schedule, "training_schedule"),
        ("monitoring.monitor_schedule", blueprint.monitoring.monitor_schedule, "model_monitor"),
    )
    for path, expression, feature in schedules:
        problem = five_field_cron_error(expression) if feature in features else None
        if problem:
            return f"{path}: {problem} (a Kubernetes CronJob runs it)"
    return None


def kubernetes_cluster_error(blueprint: Blueprint) -> str | None:
    cluster = blueprint.kubernetes.cluster
    if blueprint.platform is Platform.KUBERNETES and cluster.create and len(cluster.subnet_ids) < 2:
        return (
            "kubernetes.cluster.subnet_ids: kubernetes.cluster.create needs subnets in at least two "
            "availability zones (EKS refuses fewer)"
        )
    return None


def instance_types_error(blueprint: Blueprint) -> str | None:
    """Each SageMaker instance type is one the API accepts for every use the stacks make of it."""
    if blueprint.platform is not Platform.SAGEMAKER:
        return None
    for path, uses in INSTANCE_USES.items():
        value = _get(blueprint, path)
        for what, shape in uses:
            offered = instance_types(shape)
            if value not in offered:
                hint = close_match(value, sorted(offered))
                return f"{path}: {value} is not an instance type SageMaker offers for {what}{hint}"
    return None


def name_length_error(blueprint: Blueprint) -> str | None:
    return name_prefix_error(blueprint.name, [e.name for e in blueprint.environments], blueprint.platform)


def model_monitor_region_error(blueprint: Blueprint) -> str | None:
    if (
        blueprint.platform is Platform.SAGEMAKER
        and "model_monitor" in blueprint.features
        and any(e.endpoint is EndpointMode.REALTIME for e in blueprint.environments)
        and blueprint.region not in MODEL_MONITOR_REGISTRIES
    ):
        area = blueprint.region.split("-")[0]
        nearby = sorted(r for r in MODEL_MONITOR_REGISTRIES if r.startswith(f"{area}-")) or ["us-east-1"]
        return (
            f"region: SageMaker Model Monitor (level {catalog.feature_level('model_monitor')} data-quality "
            f"monitoring) is not offered in {blueprint.region}; nearby regions that offer it: {', '.join(nearby)}"
        )
    return None


# In the order they are checked: the first that finds a problem is the error.
BLUEPRINT_RULES: tuple[Callable[[Blueprint], str | None], ...] = (
    environments_error,
    level_settings_error,
    single_ci_system_error,
    kubernetes_variants_error,
    instance_types_error,
    name_length_error,
    model_monitor_region_error,
    kubernetes_cluster_error,
    kubernetes_schedules_error,
)
