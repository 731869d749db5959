"""`doctor`: preflight checks of an AWS account for a blueprint, before `pulumi up`.

Each check passes, fails with a fix, or says it could not verify — it never guesses."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from mlops_bp.blueprints import CAPABILITIES, FEATURES, Blueprint, MlopsBpError, Platform
from mlops_bp.blueprints.services import GITHUB_OIDC_HOST

from .bootstrap import state_bucket_name
from .buckets import BucketOwner, bucket_owner, validate_bucket_name
from .session import ApiUnavailable, Aws, AwsAccessDenied, aws_errors, pages

__all__ = [
    "AWS_CAPABILITIES",
    "QUOTA_NEEDS",
    "Check",
    "DoctorReport",
    "QuotaNeed",
    "Status",
    "denied_actions",
    "doctor",
    "quota_checks",
    "quota_needs",
    "required_actions",
]


# Which capabilities a platform builds on AWS (the rest live on the Kubernetes cluster).
AWS_CAPABILITIES: dict[Platform, frozenset[str]] = {
    Platform.SAGEMAKER: frozenset(CAPABILITIES),
    Platform.KUBERNETES: frozenset({"storage", "registry", "iam"}),
}


def _aws_features(blueprint: Blueprint) -> set[str]:
    on_aws = AWS_CAPABILITIES[blueprint.platform]
    return {f.name for f in FEATURES if f.name in blueprint.features and f.capability in on_aws}


def required_actions(blueprint: Blueprint) -> tuple[str, ...]:
    """The IAM actions deploying `blueprint` needs, sorted: derived from the resource types its
    plans declare in every environment once deployed (stacks/permissions.py), never listed
    per feature or level by hand."""
    from mlops_bp.stacks.permissions import required_actions as for_graphs
    from mlops_bp.stacks.plan import deployed, plan

    return for_graphs(plan(blueprint, e.name, deployed(blueprint, e.name)) for e in blueprint.environments)


@dataclass(frozen=True)
class QuotaNeed:
    """A SageMaker instance quota a feature uses: the quota's name and how many instances."""

    feature: str
    usage: Callable[[Blueprint], tuple[str, int]]


def _training_usage(bp: Blueprint) -> tuple[str, int]:
    kind = "spot training job" if bp.training.use_spot else "training job"
    return f"{bp.training.instance_type} for {kind} usage", bp.training.instance_count


def _endpoint_usage(bp: Blueprint) -> tuple[str, int]:
    realtime = sum(1 for e in bp.environments if e.endpoint.value == "realtime")
    per_variant = bp.serving.max_capacity if "autoscaling" in bp.features else bp.serving.instance_count
    variants = len(bp.serving.variants) if "ab_variants" in bp.features else 1
    # A blue/green update runs the new fleet beside the old one until traffic has moved.
    fleets = 2 if "blue_green" in bp.features else 1
    return f"{bp.serving.instance_type} for endpoint usage", realtime * variants * per_variant * fleets


QUOTA_NEEDS: tuple[QuotaNeed, ...] = (
    QuotaNeed("notebook", lambda bp: (f"{bp.notebook.instance_type} for notebook instance usage", 1)),
    QuotaNeed("training_pipeline", _training_usage),
    QuotaNeed("endpoint", _endpoint_usage),
)


def quota_needs(blueprint: Blueprint) -> list[tuple[str, int]]:
    """(quota name, instances needed) per SageMaker quota the blueprint uses; same quotas add up."""
    features = _aws_features(blueprint)
    totals: dict[str, int] = {}
    for need in QUOTA_NEEDS:
        if need.feature in features:
            name, count = need.usage(blueprint)
            if count:
                totals[name] = totals.get(name, 0) + count
    return sorted(totals.items())


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    UNVERIFIED = "could not verify"


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str | None = None


@dataclass(frozen=True)
class DoctorReport:
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(c.status is not Status.FAIL for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [{**asdict(c), "status": c.status.value} for c in self.checks]}


def denied_actions(evaluation_results: Iterable[dict[str, Any]]) -> list[str]:
    """Actions an IAM policy simulation did not allow."""
    return sorted({r["EvalActionName"] for r in evaluation_results if r.get("EvalDecision") != "allowed"})


def quota_checks(needs: list[tuple[str, int]], quotas: dict[str, dict[str, Any]], region: str) -> list[Check]:
    """Compare the instances needed with Service Quotas entries (QuotaName -> quota)."""
    checks = []
    for name, count in needs:
        quota = quotas.get(name)
        if quota is None:
            checks.append(Check(f"quota: {name}", Status.UNVERIFIED, f"no SageMaker quota named {name!r} found"))
            continue
        value = int(quota.get("Value", 0))
        if value >= count:
            checks.append(Check(f"quota: {name}", Status.PASS, f"{value} available, {count} needed"))
        else:
            checks.append(
                Check(
                    f"quota: {name}",
                    Status.FAIL,
                    f"{value} available, {count} needed",
                    f"aws service-quotas request-service-quota-increase --service-code sagemaker "
                    f"--quota-code {quota.get('QuotaCode')} --desired-value {count} --region {region}",
                )
            )
    return checks


def _credentials(aws: Aws) -> Check:
    identity = aws.identity
    return Check("credentials", Status.PASS, f"{identity.arn} in account {identity.account}")


def _region(aws: Aws) -> Check:
    # Ask a region that is always on: calls into a disabled region fail before they can tell us.
    with aws_errors("ec2:DescribeRegions", optional=True):
        regions = aws.client("ec2", region="us-east-1").describe_regions(AllRegions=True, RegionNames=[aws.region])
    status = next((r.get("OptInStatus") for r in regions.get("Regions", [])), None)
    if status in ("opt-in-not-required", "opted-in"):
        return Check("region", Status.PASS, f"{aws.region} is enabled ({status})")
    if status == "not-opted-in":
        return Check(
            "region",
            Status.FAIL,
            f"{aws.region} is not enabled for this account",
            f"aws account enable-region --region-name {aws.region} (takes a few minutes)",
        )
    return Check("region", Status.UNVERIFIED, f"EC2 did not report the opt-in status of {aws.region}")


def _principal_arn(aws: Aws) -> str | None:
    """The IAM ARN policy simulation takes for the caller (a role for an assumed-role session)."""
    arn = aws.identity.arn
    kind, _, rest = arn.split(":", 5)[-1].partition("/")
    if kind == "user":
        return arn
    if kind == "assumed-role":
        role = rest.split("/")[0]
        try:
            with aws_errors("iam:GetRole"):
                return aws.client("iam").get_role(RoleName=role)["Role"]["Arn"]
        except AwsAccessDenied:
            return f"arn:aws:iam::{aws.identity.account}:role/{role}"
    return None


def _permissions(aws: Aws, blueprint: Blueprint) -> Check:
    actions = required_actions(blueprint)
    if aws.identity.arn.endswith(":root"):
        return Check("permissions", Status.PASS, f"root user may do all {len(actions)} actions")
    principal = _principal_arn(aws)
    if principal is None:
        return Check("permissions", Status.UNVERIFIED, f"IAM cannot simulate policies of {aws.identity.arn}")
    with aws_errors("iam:SimulatePrincipalPolicy", optional=True):
        results = pages(
            aws.client("iam"),
            "simulate_principal_policy",
            "EvaluationResults",
            PolicySourceArn=principal,
            ActionNames=list(actions),
        )
    denied = denied_actions(results)
    if not denied:
        return Check(
            "permissions", Status.PASS, f"all {len(actions)} actions level {int(blueprint.level)} needs are allowed"
        )
    return Check(
        "permissions",
        Status.FAIL,
        f"{len(denied)} of {len(actions)} actions are not allowed",
        f"allow for {principal}: {', '.join(denied)}",
    )


def _state_bucket(aws: Aws, blueprint: Blueprint, bucket: str | None) -> Check:
    name = validate_bucket_name(
        bucket or blueprint.state_bucket or state_bucket_name(blueprint.name, aws.identity.account, aws.region)
    )
    owner = bucket_owner(aws, name)
    if owner is BucketOwner.MINE:
        return Check("state bucket", Status.PASS, f"s3://{name} exists in this account")
    if owner is BucketOwner.AVAILABLE:
        return Check("state bucket", Status.PASS, f"s3://{name} is free; `mlops-bp bootstrap` creates it")
    return Check(
        "state bucket",
        Status.FAIL,
        f"s3://{name} belongs to another account",
        "choose another name: mlops-bp bootstrap --bucket NAME (it writes state_bucket into mlops-bp.yaml)",
    )


def _quota_listing(aws: Aws, operation: str, action: str) -> tuple[dict[str, dict[str, Any]], str | None]:
    """SageMaker quotas by name from one Service Quotas listing, or why there are none."""
    try:
        # NoSuchResource: the service has no quotas listed in this region.
        with aws_errors(action, optional=True, unavailable_codes=frozenset({"NoSuchResourceException"})):
            items = pages(aws.client("service-quotas"), operation, "Quotas", ServiceCode="sagemaker")
    except ApiUnavailable as exc:
        return {}, str(exc)
    except AwsAccessDenied:
        return {}, f"no permission for {action}"
    return {q["QuotaName"]: q for q in items}, None


def _quotas(aws: Aws, blueprint: Blueprint) -> list[Check]:
    needs = quota_needs(blueprint)
    if not needs:
        return []
    # Defaults first, applied values on top: ListServiceQuotas omits quotas never changed.
    defaults, why_no_defaults = _quota_listing(
        aws, "list_aws_default_service_quotas", "servicequotas:ListAWSDefaultServiceQuotas"
    )
    applied, why_no_applied = _quota_listing(aws, "list_service_quotas", "servicequotas:ListServiceQuotas")
    quotas = {**defaults, **applied}
    if not quotas:
        reason = "; ".join(r for r in (why_no_defaults, why_no_applied) if r)
        return [Check(f"quota: {name}", Status.UNVERIFIED, reason) for name, _ in needs]
    return quota_checks(needs, quotas, aws.region)


def _ci_oidc_host(blueprint: Blueprint) -> tuple[str, str]:
    """The OIDC issuer host of the blueprint's CI system, and the name of its check."""
    if blueprint.gitlab is not None:
        return blueprint.gitlab_host, "GitLab OIDC provider"
    return GITHUB_OIDC_HOST, "GitHub OIDC provider"


def _ci_oidc(aws: Aws, blueprint: Blueprint) -> Check:
    """The CI system's OIDC provider (GitHub Actions or GitLab): reused, or created by the stack."""
    host, name = _ci_oidc_host(blueprint)
    if "ci_oidc_role" not in blueprint.features:
        return Check(name, Status.PASS, f"not used at level {int(blueprint.level)}")
    if blueprint.ci_repository is None:
        return Check(name, Status.PASS, "not used: no `github` or `gitlab` repository in the blueprint")
    with aws_errors("iam:ListOpenIDConnectProviders", optional=True):
        arns = [
            p["Arn"] for p in aws.client("iam").list_open_id_connect_providers().get("OpenIDConnectProviderList", [])
        ]
    existing = [a for a in arns if a.endswith(f"oidc-provider/{host}")]
    wanted = blueprint.oidc_provider_arn
    if wanted:
        if wanted in existing:
            return Check(name, Status.PASS, f"{wanted} exists and is reused")
        return Check(
            name,
            Status.FAIL,
            f"oidc_provider_arn {wanted} does not exist",
            "fix oidc_provider_arn in mlops-bp.yaml, or remove it to let the stack create the provider",
        )
    if existing:
        return Check(
            name,
            Status.FAIL,
            f"{existing[0]} exists; the stack would try to create a second one and fail",
            f"set `oidc_provider_arn: {existing[0]}` in mlops-bp.yaml",
        )
    return Check(name, Status.PASS, "absent; the stack creates it")


def _run(name: str, check: Callable[[], Check | list[Check]]) -> list[Check]:
    """A check's results; an API that is missing or that we may not call makes it unverifiable,
    any other AWS error fails it with the one-line explanation."""
    try:
        result = check()
    except ApiUnavailable as exc:
        return [Check(name, Status.UNVERIFIED, str(exc))]
    except AwsAccessDenied as exc:
        return [Check(name, Status.UNVERIFIED, f"no permission to check: {exc}")]
    except MlopsBpError as exc:
        return [Check(name, Status.FAIL, "check failed", str(exc))]
    return result if isinstance(result, list) else [result]


def doctor(aws: Aws, blueprint: Blueprint, bucket: str | None = None) -> DoctorReport:
    """Run every preflight check for `blueprint` in `aws`'s account and region. Without a usable
    identity nothing can be checked: that is the one error (missing or expired credentials are
    the user's to fix: exit 2), not a table of unverified rows."""
    checks = [_credentials(aws)]
    checks += _run("region", lambda: _region(aws))
    checks += _run("permissions", lambda: _permissions(aws, blueprint))
    checks += _run("state bucket", lambda: _state_bucket(aws, blueprint, bucket))
    checks += _run("quotas", lambda: _quotas(aws, blueprint))
    checks += _run(_ci_oidc_host(blueprint)[1], lambda: _ci_oidc(aws, blueprint))
    return DoctorReport(tuple(checks))
