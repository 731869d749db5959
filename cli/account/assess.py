"""`assess`: read an existing AWS account and report, per capability, the MLOps maturity level it
reaches, the evidence, and what the next level adds.

Reading (boto3) and judging (pure functions over an `AccountSnapshot`) are separate: every catalog
feature has one detector in `DETECTORS`. Something that could not be read makes the features
built on it "could not verify", never "found"."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from mlops_bp.blueprints import CAPABILITIES, FEATURES, LEVELS, Feature
from mlops_bp.blueprints.services import CI_OIDC_HOSTS, MODEL_PACKAGE_STATE_CHANGED, PIPELINE_STATUS_CHANGED

from .buckets import bucket_region, missing_settings
from .session import ApiUnavailable, Aws, AwsAccessDenied, aws_errors, pages

__all__ = [
    "DETECTORS",
    "AccountSnapshot",
    "Assessment",
    "CapabilityResult",
    "FeatureResult",
    "Found",
    "assess",
    "evaluate",
    "read_account",
]

PIPELINE_FAILED = PIPELINE_STATUS_CHANGED
MODEL_PACKAGE_CHANGED = MODEL_PACKAGE_STATE_CHANGED
ALARM_CHANGED = "CloudWatch Alarm State Change"


@dataclass(frozen=True)
class AccountSnapshot:
    """What `assess` read, in plain data. A field is None when it could not be read; `unread`
    says why."""

    account: str
    region: str
    kms_keys: list[dict[str, Any]] | None = None  # {"id", "rotation"}
    buckets: list[dict[str, Any]] | None = None  # {"name", "secure", "missing"}
    notebooks: list[dict[str, Any]] | None = None  # {"name", "lifecycle_config"}
    roles: list[dict[str, Any]] | None = None  # {"name", "arn", "services", "federated", "subjects"}
    oidc_providers: list[str] | None = None
    repositories: list[dict[str, Any]] | None = None  # {"name", "scan_on_push", "immutable", "lifecycle"}
    endpoints: list[dict[str, Any]] | None = None  # {"name", "variants", "data_capture", "deployment"}
    log_groups: list[dict[str, Any]] | None = None  # {"name", "retention"}
    alarms: list[dict[str, Any]] | None = None  # {"name", "namespace", "metric"}
    model_package_groups: list[str] | None = None
    pipelines: list[dict[str, Any]] | None = None  # {"name", "arn", "role"}
    schedules: list[dict[str, Any]] | None = None  # {"name", "schedule", "target"} (rules and Scheduler)
    event_rules: list[dict[str, Any]] | None = None  # {"name", "pattern", "targets"}
    monitoring_schedules: list[str] | None = None
    scalable_targets: list[str] | None = None
    dashboards: list[str] | None = None
    unread: dict[str, str] = field(default_factory=dict)


# -- reading ---------------------------------------------------------------------------------


def _kms_keys(aws: Aws) -> list[dict[str, Any]]:
    kms = aws.client("kms")
    keys = []
    for entry in pages(kms, "list_keys", "Keys"):
        meta = kms.describe_key(KeyId=entry["KeyId"])["KeyMetadata"]
        if meta.get("KeyManager") != "CUSTOMER" or meta.get("KeyState") != "Enabled":
            continue
        rotation = kms.get_key_rotation_status(KeyId=entry["KeyId"])["KeyRotationEnabled"]
        keys.append({"id": entry["KeyId"], "rotation": rotation})
    return keys


def _buckets(aws: Aws) -> list[dict[str, Any]]:
    s3 = aws.client("s3")
    result = []
    for bucket in pages(s3, "list_buckets", "Buckets"):
        if bucket_region(aws, bucket["Name"]) != aws.region:
            continue
        missing = [s.name for s in missing_settings(aws, bucket["Name"])]
        result.append({"name": bucket["Name"], "secure": not missing, "missing": missing})
    return result


def _notebooks(aws: Aws) -> list[dict[str, Any]]:
    items = pages(aws.client("sagemaker"), "list_notebook_instances", "NotebookInstances")
    return [
        {"name": n["NotebookInstanceName"], "lifecycle_config": n.get("NotebookInstanceLifecycleConfigName")}
        for n in items
    ]


def _principals(document: Any, key: str) -> list[str]:
    if isinstance(document, str):
        document = json.loads(document)
    statements = document.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else statements
    found: list[str] = []
    for statement in statements:
        value = (statement.get("Principal") or {}).get(key, []) if isinstance(statement.get("Principal"), dict) else []
        found.extend([value] if isinstance(value, str) else value)
    return found


def _subjects(document: Any) -> list[str]:
    """The OIDC `sub` values a trust policy's conditions name (any issuer)."""
    if isinstance(document, str):
        document = json.loads(document)
    statements = document.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else statements
    found: list[str] = []
    for statement in statements:
        for block in (statement.get("Condition") or {}).values():
            for key, value in block.items():
                if key.endswith(":sub"):
                    found.extend([value] if isinstance(value, str) else value)
    return found


def _roles(aws: Aws) -> list[dict[str, Any]]:
    roles = pages(aws.client("iam"), "list_roles", "Roles")
    return [
        {
            "name": r["RoleName"],
            "arn": r["Arn"],
            "services": _principals(r.get("AssumeRolePolicyDocument", {}), "Service"),
            "federated": _principals(r.get("AssumeRolePolicyDocument", {}), "Federated"),
            "subjects": _subjects(r.get("AssumeRolePolicyDocument", {})),
        }
        for r in roles
    ]


def _oidc_providers(aws: Aws) -> list[str]:
    data = aws.client("iam").list_open_id_connect_providers()
    return [p["Arn"] for p in data.get("OpenIDConnectProviderList", [])]


def _repositories(aws: Aws) -> list[dict[str, Any]]:
    ecr = aws.client("ecr")
    result = []
    for repo in pages(ecr, "describe_repositories", "repositories"):
        try:
            ecr.get_lifecycle_policy(repositoryName=repo["repositoryName"])
            lifecycle = True
        except ecr.exceptions.LifecyclePolicyNotFoundException:
            lifecycle = False
        result.append(
            {
                "name": repo["repositoryName"],
                "scan_on_push": repo.get("imageScanningConfiguration", {}).get("scanOnPush", False),
                "immutable": repo.get("imageTagMutability", "").startswith("IMMUTABLE"),
                "lifecycle": lifecycle,
            }
        )
    return result


def _endpoints(aws: Aws) -> list[dict[str, Any]]:
    sm = aws.client("sagemaker")
    result = []
    for summary in pages(sm, "list_endpoints", "Endpoints"):
        endpoint = sm.describe_endpoint(EndpointName=summary["EndpointName"])
        config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
        capture = endpoint.get("DataCaptureConfig") or config.get("DataCaptureConfig") or {}
        result.append(
            {
                "name": endpoint["EndpointName"],
                "variants": len(config.get("ProductionVariants", [])),
                "data_capture": bool(capture.get("EnableCapture")),
                "deployment": endpoint.get("LastDeploymentConfig") or {},
            }
        )
    return result


def _log_groups(aws: Aws) -> list[dict[str, Any]]:
    groups = pages(
        aws.client("logs"), "describe_log_groups", "logGroups", logGroupNamePrefix="/aws/sagemaker/Endpoints"
    )
    return [{"name": g["logGroupName"], "retention": g.get("retentionInDays")} for g in groups]


def _alarms(aws: Aws) -> list[dict[str, Any]]:
    alarms = pages(aws.client("cloudwatch"), "describe_alarms", "MetricAlarms")
    return [{"name": a["AlarmName"], "namespace": a.get("Namespace"), "metric": a.get("MetricName")} for a in alarms]


def _model_package_groups(aws: Aws) -> list[str]:
    groups = pages(aws.client("sagemaker"), "list_model_package_groups", "ModelPackageGroupSummaryList")
    return [g["ModelPackageGroupName"] for g in groups]


def _pipelines(aws: Aws) -> list[dict[str, Any]]:
    sm = aws.client("sagemaker")
    result = []
    for summary in pages(sm, "list_pipelines", "PipelineSummaries"):
        pipeline = sm.describe_pipeline(PipelineName=summary["PipelineName"])
        result.append(
            {"name": pipeline["PipelineName"], "arn": pipeline["PipelineArn"], "role": pipeline.get("RoleArn")}
        )
    return result


def _event_rules(aws: Aws) -> list[dict[str, Any]]:
    events = aws.client("events")
    result = []
    for rule in pages(events, "list_rules", "Rules"):
        targets = pages(events, "list_targets_by_rule", "Targets", Rule=rule["Name"])
        result.append(
            {
                "name": rule["Name"],
                "schedule": rule.get("ScheduleExpression"),
                "pattern": json.loads(rule["EventPattern"]) if rule.get("EventPattern") else {},
                "targets": [t["Arn"] for t in targets],
            }
        )
    return result


def _scheduler_schedules(aws: Aws) -> list[dict[str, Any]]:
    scheduler = aws.client("scheduler")
    result = []
    for summary in pages(scheduler, "list_schedules", "Schedules"):
        schedule = scheduler.get_schedule(Name=summary["Name"], GroupName=summary.get("GroupName", "default"))
        result.append(
            {
                "name": schedule["Name"],
                "schedule": schedule.get("ScheduleExpression"),
                "target": schedule.get("Target", {}).get("Arn", ""),
            }
        )
    return result


def _monitoring_schedules(aws: Aws) -> list[str]:
    items = pages(aws.client("sagemaker"), "list_monitoring_schedules", "MonitoringScheduleSummaries")
    return [m["MonitoringScheduleName"] for m in items]


def _scalable_targets(aws: Aws) -> list[str]:
    targets = pages(
        aws.client("application-autoscaling"),
        "describe_scalable_targets",
        "ScalableTargets",
        ServiceNamespace="sagemaker",
    )
    return [t["ResourceId"] for t in targets if t.get("ScalableDimension") == "sagemaker:variant:DesiredInstanceCount"]


def _dashboards(aws: Aws) -> list[str]:
    return [d["DashboardName"] for d in pages(aws.client("cloudwatch"), "list_dashboards", "DashboardEntries")]


# Snapshot field -> (what it reads, for messages; the reader).
READERS: dict[str, tuple[str, Callable[[Aws], Any]]] = {
    "kms_keys": ("kms:ListKeys", _kms_keys),
    "buckets": ("s3:ListAllMyBuckets", _buckets),
    "notebooks": ("sagemaker:ListNotebookInstances", _notebooks),
    "roles": ("iam:ListRoles", _roles),
    "oidc_providers": ("iam:ListOpenIDConnectProviders", _oidc_providers),
    "repositories": ("ecr:DescribeRepositories", _repositories),
    "endpoints": ("sagemaker:ListEndpoints", _endpoints),
    "log_groups": ("logs:DescribeLogGroups", _log_groups),
    "alarms": ("cloudwatch:DescribeAlarms", _alarms),
    "model_package_groups": ("sagemaker:ListModelPackageGroups", _model_package_groups),
    "pipelines": ("sagemaker:ListPipelines", _pipelines),
    "schedules": ("scheduler:ListSchedules", _scheduler_schedules),
    "event_rules": ("events:ListRules", _event_rules),
    "monitoring_schedules": ("sagemaker:ListMonitoringSchedules", _monitoring_schedules),
    "scalable_targets": ("application-autoscaling:DescribeScalableTargets", _scalable_targets),
    "dashboards": ("cloudwatch:ListDashboards", _dashboards),
}


def read_account(aws: Aws) -> AccountSnapshot:
    """Read everything the detectors look at. Credentials problems stop the read; an API that is
    not available, or that the identity may not call, leaves its field unread."""
    values: dict[str, Any] = {}
    unread: dict[str, str] = {}
    identity = aws.identity
    for name, (action, reader) in READERS.items():
        try:
            with aws_errors(action, optional=True):
                values[name] = reader(aws)
        except ApiUnavailable as exc:
            unread[name] = str(exc)
        except AwsAccessDenied:
            unread[name] = f"no permission for {action}"
    # EventBridge rules with a schedule count as schedules, like EventBridge Scheduler's.
    if values.get("schedules") is not None and values.get("event_rules") is not None:
        values["schedules"] = values["schedules"] + [
            {"name": r["name"], "schedule": r["schedule"], "target": t}
            for r in values["event_rules"]
            if r["schedule"]
            for t in r["targets"]
        ]
    return AccountSnapshot(account=identity.account, region=aws.region, unread=unread, **values)


# -- judging ---------------------------------------------------------------------------------


class Found(StrEnum):
    YES = "found"
    NO = "missing"
    UNKNOWN = "could not verify"


@dataclass(frozen=True)
class FeatureResult:
    feature: str
    level: int
    capability: str
    description: str
    status: Found
    evidence: str


class _Unread(Exception):
    """A detector needs a snapshot field that could not be read."""


def _need(snapshot: AccountSnapshot, name: str) -> list[Any]:
    value = getattr(snapshot, name)
    if value is None:
        raise _Unread(snapshot.unread.get(name, f"{name} could not be read"))
    return value


def _names(items: list[Any], key: str = "name") -> str:
    names = [i[key] if isinstance(i, dict) else i for i in items]
    return ", ".join(names[:3]) + (f" (+{len(names) - 3} more)" if len(names) > 3 else "")


def _some(items: list[Any], what: str, key: str = "name") -> tuple[bool, str]:
    return (True, f"{what}: {_names(items, key)}") if items else (False, f"no {what}")


def _is_pipeline(arn: str) -> bool:
    return ":pipeline/" in arn


def _rules(s: AccountSnapshot, source: str, detail_type: str, target: Callable[[str], bool] = bool) -> list[dict]:
    return [
        r
        for r in _need(s, "event_rules")
        if source in r["pattern"].get("source", [])
        and detail_type in r["pattern"].get("detail-type", [])
        and any(target(t) for t in r["targets"])
    ]


def _sagemaker_roles(s: AccountSnapshot) -> list[dict[str, Any]]:
    return [r for r in _need(s, "roles") if "sagemaker.amazonaws.com" in r["services"]]


def _secure_buckets(s: AccountSnapshot) -> list[dict[str, Any]]:
    return [b for b in _need(s, "buckets") if b["secure"]]


def _ci_roles(s: AccountSnapshot) -> tuple[bool, str]:
    """Roles a CI system assumes by OIDC: GitHub Actions, or GitLab (gitlab.com, or a
    self-managed instance, recognised by the `project_path:` subjects its roles trust)."""
    providers = [
        p for p in _need(s, "oidc_providers") if p.endswith(tuple(f"oidc-provider/{h}" for h in CI_OIDC_HOSTS.values()))
    ]
    roles = _need(s, "roles")
    gitlab_hosts = {
        f for r in roles for f in r["federated"] if any("project_path:" in sub for sub in r.get("subjects", []))
    }
    providers += sorted(gitlab_hosts - set(providers))
    trusting = [r for r in roles if any(p in r["federated"] for p in providers)]
    if not providers:
        return False, "no GitHub Actions or GitLab OIDC provider"
    return _some(trusting, "roles trusting a CI system's OIDC provider")


def _training_role(s: AccountSnapshot) -> tuple[bool, str]:
    trusted = {r["arn"] for r in _sagemaker_roles(s)}
    used = [p for p in _need(s, "pipelines") if p["role"] in trusted]
    return (
        (True, f"pipeline {used[0]['name']} runs as {used[0]['role']}")
        if used
        else (False, "no pipeline runs as a SageMaker execution role")
    )


def _blue_green(s: AccountSnapshot) -> list[dict[str, Any]]:
    return [
        e
        for e in _need(s, "endpoints")
        if e["deployment"].get("BlueGreenUpdatePolicy")
        and e["deployment"].get("AutoRollbackConfiguration", {}).get("Alarms")
    ]


Detector = Callable[[AccountSnapshot], tuple[bool, str]]

DETECTORS: dict[str, Detector] = {
    "kms_key": lambda s: _some(
        [k for k in _need(s, "kms_keys") if k["rotation"]], "customer KMS keys with rotation", "id"
    ),
    "data_bucket": lambda s: _some(_secure_buckets(s), "versioned, SSE-KMS, private, TLS-only buckets"),
    "notebook": lambda s: _some(
        [n for n in _need(s, "notebooks") if n["lifecycle_config"]],
        "notebook instances with an idle-stop lifecycle config",
    ),
    "data_scientist_role": lambda s: _some(_sagemaker_roles(s), "roles SageMaker may assume"),
    "container_registry": lambda s: _some(
        [r for r in _need(s, "repositories") if r["scan_on_push"] and r["immutable"] and r["lifecycle"]],
        "ECR repositories with scan on push, immutable tags and a lifecycle policy",
    ),
    "ci_oidc_role": _ci_roles,
    "endpoint": lambda s: _some(_need(s, "endpoints"), "SageMaker endpoints"),
    "endpoint_logs": lambda s: _some(
        [g for g in _need(s, "log_groups") if g["retention"]], "endpoint log groups with retention"
    ),
    "endpoint_alarms": lambda s: _some(
        [
            a
            for a in _need(s, "alarms")
            if a["namespace"] == "AWS/SageMaker" and a["metric"] in ("Invocation5XXErrors", "ModelLatency")
        ],
        "alarms on endpoint errors or latency",
    ),
    "artifacts_bucket": lambda s: (
        len(_secure_buckets(s)) >= 2,
        f"{len(_secure_buckets(s))} secure buckets (data and artifacts need 2)",
    ),
    "model_registry": lambda s: _some(_need(s, "model_package_groups"), "model package groups"),
    "training_pipeline": lambda s: _some(_need(s, "pipelines"), "SageMaker pipelines"),
    "training_schedule": lambda s: _some(
        [x for x in _need(s, "schedules") if _is_pipeline(x["target"])], "schedules starting a pipeline"
    ),
    "training_role": _training_role,
    "pipeline_failure_alerts": lambda s: _some(
        _rules(s, "aws.sagemaker", PIPELINE_FAILED), "rules on pipeline execution changes"
    ),
    "multi_environment": lambda s: (
        len(_need(s, "endpoints")) >= 2,
        f"{len(_need(s, 'endpoints'))} endpoints (staging and prod need 2)",
    ),
    "blue_green": lambda s: _some(_blue_green(s), "endpoints with blue/green updates and rollback alarms"),
    "ab_variants": lambda s: _some(
        [e for e in _need(s, "endpoints") if e["variants"] >= 2], "endpoints with 2+ production variants"
    ),
    "deploy_on_approval": lambda s: _some(
        _rules(s, "aws.sagemaker", MODEL_PACKAGE_CHANGED), "rules on model package approval"
    ),
    "data_capture": lambda s: _some(
        [e for e in _need(s, "endpoints") if e["data_capture"]], "endpoints capturing data"
    ),
    "model_monitor": lambda s: _some(_need(s, "monitoring_schedules"), "monitoring schedules", key=""),
    "drift_retraining": lambda s: _some(
        _rules(s, "aws.cloudwatch", ALARM_CHANGED, _is_pipeline), "alarm rules starting a pipeline"
    ),
    "autoscaling": lambda s: _some(_need(s, "scalable_targets"), "autoscaled endpoint variants", key=""),
    "dashboard": lambda s: _some(_need(s, "dashboards"), "CloudWatch dashboards", key=""),
}


@dataclass(frozen=True)
class CapabilityResult:
    capability: str
    level: int | None  # highest level whose features (of this capability) were all found
    max_level: int | None  # the same if every feature that could not be verified were there
    next_adds: tuple[str, ...]


@dataclass(frozen=True)
class Assessment:
    account: str
    region: str
    level: int | None
    capabilities: tuple[CapabilityResult, ...]
    features: tuple[FeatureResult, ...]
    next_adds: tuple[str, ...]
    unread: dict[str, str]

    def capability(self, name: str) -> CapabilityResult:
        return next(c for c in self.capabilities if c.capability == name)

    def feature(self, name: str) -> FeatureResult:
        return next(f for f in self.features if f.feature == name)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["features"] = [{**asdict(f), "status": f.status.value} for f in self.features]
        return data


def _detect(feature: Feature, snapshot: AccountSnapshot) -> FeatureResult:
    try:
        found, evidence = DETECTORS[feature.name](snapshot)
        status = Found.YES if found else Found.NO
    except _Unread as exc:
        status, evidence = Found.UNKNOWN, str(exc)
    return FeatureResult(feature.name, feature.level, feature.capability, feature.description, status, evidence)


def _reached(results: list[FeatureResult], ok: set[Found]) -> int | None:
    reached = None
    for info in LEVELS:
        if any(r.level == info.number and r.status not in ok for r in results):
            break
        reached = info.number
    return reached


def _next_of(level: int | None, results: list[FeatureResult]) -> tuple[str, ...]:
    target = 0 if level is None else level + 1
    return tuple(f"{r.feature}: {r.description}" for r in results if r.level == target and r.status is not Found.YES)


def evaluate(snapshot: AccountSnapshot) -> Assessment:
    """Judge a snapshot against the level catalog (levels are cumulative, as in the model)."""
    results = [_detect(f, snapshot) for f in FEATURES]
    capabilities = []
    for capability in CAPABILITIES:
        own = [r for r in results if r.capability == capability]
        level = _reached(own, {Found.YES})
        capabilities.append(
            CapabilityResult(capability, level, _reached(own, {Found.YES, Found.UNKNOWN}), _next_of(level, own))
        )
    levels = [c.level for c in capabilities]
    overall = None if None in levels else min(levels)
    return Assessment(
        snapshot.account,
        snapshot.region,
        overall,
        tuple(capabilities),
        tuple(results),
        _next_of(overall, results),
        dict(snapshot.unread),
    )


def assess(aws: Aws) -> Assessment:
    """Read the account in `aws`'s region and judge it."""
    return evaluate(read_account(aws))
