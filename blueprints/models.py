"""The blueprint spec: a strict pydantic model of what a team's MLOps platform looks like."""

from __future__ import annotations

from difflib import get_close_matches
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from . import catalog
from .constants import SPEC_VERSION
from .enums import EndpointMode, MaturityLevel, Platform
from .errors import BlueprintError, UserError, format_validation_error
from .instances import ENDPOINT_SMALLEST_INSTANCE
from .kubernetes import KubernetesSettings
from .limits import ALARMS_PER_VARIANT, MAX_ROLLBACK_ALARMS
from .names import SUPPORTED_METRICS, package_name, package_name_error
from .validators import BLUEPRINT_RULES, ci_system_error, close_match, region_error

__all__ = [
    "PATTERN_HINTS",
    "data_at_level",
    "RULE_IDS",
    "SPEC_VERSION",
    "Blueprint",
    "EndpointMode",
    "Environment",
    "MaturityLevel",
    "MonitoringSettings",
    "NetworkSettings",
    "NotebookSettings",
    "Platform",
    "RegistrySettings",
    "RuleSettings",
    "ServingSettings",
    "StorageSettings",
    "TrainingSettings",
    "Variant",
]

NAME_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{1,38})[a-z0-9]$"
GITLAB_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*){1,19}$"
GITHUB_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$"
# EventBridge / SageMaker schedule expressions.
# What a pattern allows, in words, for error messages (keyed by field name).
PATTERN_HINTS = {
    "name": "must be 3-40 characters of a-z, 0-9 and '-', starting and ending with a letter or digit",
    "github": "must be OWNER/REPO, e.g. acme/fraud-model",
    "instance_type": "must be a SageMaker instance type such as ml.m5.large",
    "schedule": "must be cron(m h dom mon dow year) or rate(N minutes|hours|days)",
    "monitor_schedule": (
        "must be hourly cron(0 * ? * * *), daily cron(0 H ? * * *) or every N hours cron(0 H/N ? * * *)"
    ),
    "alarm_email": "must be an e-mail address",
    "image_tag": "must be a Docker tag: letters, digits, '_', '.', '-'",
    "subnet_ids": "must be subnet ids like subnet-0123abcd",
    "security_group_ids": "must be security group ids like sg-0123abcd",
    "oidc_provider_arn": "must be the ARN of an IAM OIDC provider (arn:aws:iam::ACCOUNT:oidc-provider/HOST)",
    "gitlab": "must be GROUP/PROJECT (subgroups allowed), e.g. acme/ml/fraud-model",
    "gitlab_host": "must be a host name such as gitlab.com",
}
# Model Monitor accepts hourly, daily at an hour, or every N hours (CreateMonitoringSchedule).
MONITOR_SCHEDULE_PATTERN = r"^cron\(0 (\*|([01]?[0-9]|2[0-3])(/([1-9]|1[0-9]|2[0-4]))?) \? \* \* \*\)$"
SCHEDULE_PATTERN = r"^(cron\(([^ )]+ ){5}[^ )]+\)|rate\(\d+ (minute|minutes|hour|hours|day|days)\))$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


class Environment(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9]{1,11}$", description="Environment name, e.g. dev, staging, prod.")
    endpoint: EndpointMode = Field(
        EndpointMode.SERVERLESS, description="Serverless (scale to zero) or real-time instances."
    )
    requires_approval: bool = Field(False, description="Deploys to this environment wait for a human approval in CI.")
    account: str | None = Field(
        None,
        pattern=r"^\d{12}$",
        description=(
            "AWS account of this environment (12 digits), for one account per environment; unset: "
            "the deploying credentials' account (all environments in one account)."
        ),
    )

    @model_serializer(mode="wrap")
    def _without_unset_account(self, handler: Any) -> dict[str, Any]:
        # One account for all environments is the default: mlops-bp.yaml does not spell it out.
        data = handler(self)
        if data.get("account") is None:
            data.pop("account", None)
        return data


class NetworkSettings(_Strict):
    subnet_ids: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]] = Field(min_length=1)
    security_group_ids: list[Annotated[str, Field(pattern=r"^sg-[0-9a-f]{8,17}$")]] = Field(min_length=1)


class StorageSettings(_Strict):
    noncurrent_version_days: int = Field(
        30, ge=1, le=3650, description="Days before noncurrent object versions expire."
    )
    infrequent_access_days: int = Field(
        30, ge=30, le=3650, description="Days before noncurrent versions move to STANDARD_IA."
    )
    force_destroy: bool = Field(
        False, description="Let `pulumi destroy` delete non-empty buckets (never for prod data)."
    )


class RegistrySettings(_Strict):
    keep_last_images: int = Field(30, ge=1, le=1000, description="Images kept by the ECR lifecycle policy.")


class NotebookSettings(_Strict):
    instance_type: str = Field("ml.t3.medium", pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    volume_size_gb: int = Field(20, ge=5, le=16384)
    idle_minutes: int = Field(60, ge=5, le=1440, description="Stop the notebook after this many idle minutes.")


class TrainingSettings(_Strict):
    instance_type: str = Field("ml.m5.large", pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    instance_count: int = Field(1, ge=1, le=64, description=">1 runs SageMaker distributed training.")
    volume_size_gb: int = Field(30, ge=1, le=16384)
    max_runtime_hours: int = Field(2, ge=1, le=120)
    use_spot: bool = Field(False, description="Managed spot training (cheaper, may be interrupted).")
    schedule: str = Field(
        "cron(0 3 ? * MON *)", pattern=SCHEDULE_PATTERN, description="When the pipeline runs on its own."
    )
    metric_name: Literal[SUPPORTED_METRICS] = Field(  # type: ignore[valid-type]
        "accuracy", description="The quality gate's metric: one the generated repo's evaluate step computes."
    )
    metric_threshold: float = Field(0.8, ge=0, le=1, description="Models below this are not registered.")


class Variant(_Strict):
    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9-]{0,62}$")
    weight: float = Field(gt=0, le=1)


def _default_variants() -> list[Variant]:
    # One variant: updates are blue/green canaries with automatic rollback. A challenger is a
    # second variant with its own approved package (stack config mlops-bp:variantModelPackages).
    return [Variant(name="primary", weight=1.0)]


class ServingSettings(_Strict):
    image_tag: str = Field(
        "0.1.0", pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", description="Model image tag (pinned, never `latest`)."
    )
    serverless_memory_mb: Literal[1024, 2048, 3072, 4096, 5120, 6144] = 2048
    serverless_max_concurrency: int = Field(5, ge=1, le=200)
    instance_type: str = Field(
        ENDPOINT_SMALLEST_INSTANCE,
        pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$",
        description="Instance type of real-time endpoints (default: the smallest they accept).",
    )
    instance_count: int = Field(1, ge=1, le=100, description="Instances per variant of a real-time endpoint.")
    variants: list[Variant] = Field(
        default_factory=_default_variants,
        min_length=1,
        max_length=MAX_ROLLBACK_ALARMS // ALARMS_PER_VARIANT,
        description="Production variants (champion first); at most 5, as blue/green rollback "
        "watches 2 alarms per variant and SageMaker allows 10.",
    )
    min_capacity: int = Field(1, ge=1, le=100)
    max_capacity: int = Field(4, ge=1, le=100)
    target_invocations_per_instance: int = Field(100, ge=1, le=100000)
    data_capture_percent: int = Field(100, ge=1, le=100)

    @field_validator("image_tag")
    @classmethod
    def _pinned_tag(cls, value: str) -> str:
        if value == "latest":
            raise ValueError("must be a pinned tag, not 'latest'")
        return value

    @model_validator(mode="after")
    def _check(self) -> ServingSettings:
        if abs(sum(v.weight for v in self.variants) - 1.0) > 1e-6:
            raise ValueError("variant weights must add up to 1")
        if len({v.name for v in self.variants}) != len(self.variants):
            raise ValueError("variant names must be unique")
        if self.min_capacity > self.max_capacity:
            raise ValueError("min_capacity must not exceed max_capacity")
        return self


class MonitoringSettings(_Strict):
    log_retention_days: Literal[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653] = 30
    latency_threshold_ms: int = Field(
        1000, ge=1, le=600000, description="Alarm when average model latency exceeds this."
    )
    error_5xx_threshold: int = Field(5, ge=1, le=100000, description="Alarm when 5xx errors in 5 minutes reach this.")
    alarm_email: str | None = Field(
        None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", description="Subscribed to the alarm topic."
    )
    drift_threshold: float = Field(
        0.2, gt=0, le=1, description="Share of features violating the baseline that counts as drift."
    )
    monitor_schedule: str = Field(
        "cron(0 0 ? * * *)",
        pattern=MONITOR_SCHEDULE_PATTERN,
        description="Model Monitor cadence: daily by default; hourly is cron(0 * ? * * *).",
    )

    @property
    def interval_hours(self) -> int:
        """Hours between two monitoring runs (the drift alarm's period)."""
        hours = self.monitor_schedule.split(" ")[1]
        if hours == "*":
            return 1
        return int(hours.split("/")[1]) if "/" in hours else 24


# The ids of the rule pack's rules (mlops_bp.stacks.rules registers one check per id): the names
# `rules.advisory` may use. Listed here because the spec validates them and never imports stacks.
RULE_IDS = (
    "MLOPS-S3-001",
    "MLOPS-S3-002",
    "MLOPS-S3-003",
    "MLOPS-S3-004",
    "MLOPS-S3-005",
    "MLOPS-KMS-001",
    "MLOPS-KMS-002",
    "MLOPS-ECR-001",
    "MLOPS-ECR-002",
    "MLOPS-ECR-003",
    "MLOPS-IAM-001",
    "MLOPS-IAM-002",
    "MLOPS-IAM-003",
    "MLOPS-IAM-004",
    "MLOPS-IAM-005",
    "MLOPS-IAM-006",
    "MLOPS-SM-001",
    "MLOPS-SM-002",
    "MLOPS-SM-003",
    "MLOPS-SM-004",
    "MLOPS-SM-005",
    "MLOPS-LOG-001",
    "MLOPS-SNS-001",
    "MLOPS-STATE-001",
    "MLOPS-K8S-001",
    "MLOPS-K8S-002",
    "MLOPS-K8S-003",
    "MLOPS-K8S-004",
    "MLOPS-IMG-001",
    "MLOPS-ENV-001",
    "MLOPS-ENV-002",
    "MLOPS-ENV-003",
)


class RuleSettings(_Strict):
    advisory: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Rules of the rule pack (`mlops-bp plan --check`, the repo's policy pack) that only warn, "
            "each with the reason why: rule id -> reason. Every other rule is mandatory."
        ),
        json_schema_extra={"propertyNames": {"enum": list(RULE_IDS)}},
    )

    @field_validator("advisory")
    @classmethod
    def _known_rules_with_reasons(cls, value: dict[str, str]) -> dict[str, str]:
        for rule_id, reason in value.items():
            if rule_id not in RULE_IDS:
                close = get_close_matches(rule_id.upper(), RULE_IDS, n=1)
                hint = f"did you mean {close[0]}?" if close else "`mlops-bp plan --check` lists the rules"
                raise ValueError(f"unknown rule {rule_id!r}; {hint}")
            if not reason.strip():
                raise ValueError(f"{rule_id}: say why the rule is advisory (a non-empty reason)")
        return value


class Blueprint(_Strict):
    """One team's MLOps platform. Level-dependent defaults are filled in on validation."""

    spec_version: Literal[1] = Field(SPEC_VERSION, description="Version of this spec.")
    name: str = Field(
        pattern=NAME_PATTERN,
        description="Project name: 3-40 characters of a-z, 0-9 and '-', not starting or ending with '-'.",
    )
    level: MaturityLevel = Field(description=f"MLOps maturity level {catalog.level_range()}.")
    platform: Platform = Platform.SAGEMAKER
    region: str = Field("us-east-1", description="AWS region.")
    environments: list[Environment] = Field(
        default_factory=list, description="Defaults per level: dev; dev, staging, prod from level 3."
    )
    github: str | None = Field(
        None, pattern=GITHUB_PATTERN, description="GitHub OWNER/REPO whose workflows may deploy."
    )
    gitlab: str | None = Field(
        None,
        pattern=GITLAB_PATTERN,
        description="GitLab GROUP/PROJECT whose pipelines may deploy (instead of github).",
    )
    gitlab_host: str = Field(
        "gitlab.com", pattern=r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$", description="GitLab instance (OIDC issuer)."
    )
    oidc_provider_arn: str | None = Field(
        None,
        pattern=r"^arn:aws[a-z-]*:iam::\d{12}:oidc-provider/[a-z0-9.-]+$",
        description="Reuse the account's OIDC provider of the CI system instead of creating one.",
    )
    state_bucket: str | None = Field(
        None,
        pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
        description="S3 bucket holding the Pulumi state (from `mlops-bp bootstrap`); CI may use it.",
    )
    tags: dict[
        Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:/=+@ -]{1,128}$")], Annotated[str, Field(max_length=256)]
    ] = Field(default_factory=dict)
    network: NetworkSettings | None = Field(
        None, description="Subnets/security groups for network isolation (no VPC is created)."
    )
    storage: StorageSettings = Field(default_factory=StorageSettings)
    registry: RegistrySettings = Field(default_factory=RegistrySettings)
    notebook: NotebookSettings = Field(default_factory=NotebookSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    serving: ServingSettings = Field(default_factory=ServingSettings)
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings)
    kubernetes: KubernetesSettings = Field(default_factory=KubernetesSettings)
    rules: RuleSettings = Field(default_factory=RuleSettings)

    @model_serializer(mode="wrap")
    def _without_default_rules(self, handler: Any) -> dict[str, Any]:
        # Every rule mandatory is the default: mlops-bp.yaml lists `rules` only when a team
        # made one advisory (and existing repos' files stay as they were).
        data = handler(self)
        if data.get("rules") == {"advisory": {}}:
            data.pop("rules")
        return data

    @model_validator(mode="before")
    @classmethod
    def _fill_level_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        level = data.get("level")
        if isinstance(level, bool) or not isinstance(level, int) or level not in catalog.LEVEL_DEFAULTS:
            return data  # the field validator reports the bad level
        merged = catalog.level_defaults(level)
        merged.update({k: v for k, v in data.items() if v is not None or k not in merged})
        return merged

    @field_validator("level", mode="before")
    @classmethod
    def _level_is_int(cls, value: Any) -> Any:
        numbers = catalog.level_numbers()
        if isinstance(value, bool) or not isinstance(value, int) or value not in numbers:
            raise ValueError(f"must be one of {', '.join(map(str, numbers))}")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if ".." in value or "--" in value:
            raise ValueError("must not contain '..' or '--'")
        problem = package_name_error(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        problem = region_error(value)
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _check_rules(self) -> Blueprint:
        for rule in BLUEPRINT_RULES:
            problem = rule(self)
            if problem:
                raise ValueError(problem)
        return self

    def check_ci(self, ci: str) -> None:
        """Refuse a repo whose CI runs on `ci` for this blueprint (BlueprintError)."""
        problem = ci_system_error(self, ci)
        if problem:
            raise BlueprintError(problem)

    @property
    def features(self) -> frozenset[str]:
        """The catalog features switched on at this blueprint's level."""
        return catalog.features_at(int(self.level))

    @property
    def has_challengers(self) -> bool:
        """Traffic is split between variants (a champion and challengers) at this level."""
        return "ab_variants" in self.features and len(self.serving.variants) > 1

    @property
    def ci_repository(self) -> str | None:
        """The repository whose CI may deploy (GitHub or GitLab), if any."""
        return self.github or self.gitlab

    @property
    def package(self) -> str:
        """The import package of the team's ML code (`src/<package>/`, `python -m <package>...`)."""
        return package_name(self.name)

    @property
    def primary_environment(self) -> Environment:
        """The first environment: the one that owns account-wide resources (GitHub OIDC provider)."""
        return self.environments[0]

    @property
    def cross_account(self) -> bool:
        """Environments live in different AWS accounts (`environments[].account`)."""
        return len({e.account for e in self.environments}) > 1

    def environment(self, name: str | None) -> Environment:
        """The environment called `name` (the primary one when None)."""
        if name is None:
            return self.primary_environment
        for env in self.environments:
            if env.name == name:
                return env
        names = [e.name for e in self.environments]
        raise UserError(
            f"environment: {name!r} is not in this blueprint (one of {', '.join(names)}){close_match(name, names)}"
        )

    def with_level(self, level: int) -> Blueprint:
        """This blueprint at another level: settings the user changed stay, level defaults
        follow. A setting that the new level does not allow is a BlueprintError."""
        if level == self.level:
            return self
        data = data_at_level(self.model_dump(mode="json"), level)
        try:
            return Blueprint.model_validate(data)
        except ValidationError as exc:
            raise BlueprintError(format_validation_error(exc, f"at level {level}", PATTERN_HINTS)) from None


def data_at_level(data: dict[str, Any], level: Any) -> dict[str, Any]:
    """Blueprint data moved to `level`: environments that are the old level's defaults follow
    the new level's defaults; everything else the user set stays as it is."""
    moved = {**data, "level": level}
    if _are_level_defaults(data.get("environments"), data.get("level")):
        moved.pop("environments")
    return moved


def _are_level_defaults(environments: Any, level: Any) -> bool:
    if isinstance(level, bool) or level not in catalog.LEVEL_DEFAULTS or not isinstance(environments, list):
        return False
    try:
        given = [Environment.model_validate(e) for e in environments]
    except ValidationError:
        return False
    return given == [Environment.model_validate(e) for e in catalog.level_defaults(level)["environments"]]
