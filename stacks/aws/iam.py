"""IAM: least-privilege service roles and the GitHub Actions OIDC deploy identity."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from mlops_bp.blueprints.services import GITHUB_OIDC_HOST

from ..base import CapabilityComponent, policy_document

__all__ = [
    "GITHUB_OIDC_HOST",
    "CiTrust",
    "CiDeployIdentity",
    "CiDeployIdentityArgs",
    "ServiceRole",
    "ServiceRoleArgs",
    "github_subjects",
    "github_trust",
    "gitlab_trust",
    "preview_trust",
    "role_with_policy",
]


def role_with_policy(
    owner: CapabilityComponent,
    name: str,
    *,
    description: str,
    trust: Mapping[str, Any],
    statements: Sequence[Mapping[str, Any]],
    max_session_hours: int = 1,
) -> aws.iam.Role:
    """A role with one trust statement and an inline policy, both children of `owner`."""
    role = aws.iam.Role(
        f"{name}-role",
        description=description,
        max_session_duration=max_session_hours * 3600,
        assume_role_policy=policy_document([trust]),
        opts=owner.child(),
    )
    aws.iam.RolePolicy(f"{name}-policy", role=role.id, policy=policy_document(list(statements)), opts=owner.child())
    return role


@dataclass(frozen=True)
class ServiceRoleArgs:
    service: str  # e.g. "sagemaker.amazonaws.com"
    description: str
    statements: Sequence[Mapping[str, Any]]
    max_session_hours: int = 1


class ServiceRole(CapabilityComponent):
    """A role that one AWS service assumes, with an inline least-privilege policy."""

    TYPE = "mlopsbp:aws:ServiceRole"
    CAPABILITY = "iam"

    role: aws.iam.Role
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: ServiceRoleArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        if not args.statements:
            raise ValueError(f"{name}: a service role needs at least one policy statement")
        account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        self.role = role_with_policy(
            self,
            name,
            description=args.description,
            max_session_hours=args.max_session_hours,
            trust={
                "Effect": "Allow",
                "Principal": {"Service": args.service},
                "Action": "sts:AssumeRole",
                # Confused-deputy guard: only this account's service may assume it.
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            },
            statements=args.statements,
        )
        self.arn = self.role.arn
        self.register_outputs({"arn": self.arn})


@dataclass(frozen=True)
class CiTrust:
    """Who may assume a CI role: a CI system's OIDC issuer, the `sub` claims it accepts and
    those it refuses even when they match (StringNotLike). Wildcards may stand only for a ref
    name (a tag or branch), never for the repository."""

    slug: str  # "github" / "gitlab": names the OIDC provider resource
    repository: str
    host: str  # the OIDC issuer host
    subjects: tuple[str, ...]
    excluded: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        fixed = (f"repo:{self.repository}:", f"project_path:{self.repository}:")
        for subject in (*self.subjects, *self.excluded):
            if not subject.startswith(fixed) or "*" in subject.split(":ref")[0]:
                raise ValueError(f"{self.repository}: a CI role trusts this repository only, got {subject!r}")
        if not self.subjects:
            raise ValueError(f"{self.repository}: a CI role needs at least one trusted subject")

    @property
    def condition(self) -> dict[str, Any]:
        condition: dict[str, Any] = {
            "StringEquals": {f"{self.host}:aud": "sts.amazonaws.com"},
            "StringLike": {f"{self.host}:sub": list(self.subjects)},
        }
        if self.excluded:
            condition["StringNotLike"] = {f"{self.host}:sub": list(self.excluded)}
        return condition


def github_subjects(repo: str, environment: str) -> list[str]:
    """The OIDC `sub` claim of a job that runs in the GitHub environment `environment`: only
    such jobs assume its role, so the environment's protection rules (reviewers, branches)
    guard it. No branch, pull-request or dispatch subject is trusted."""
    return [f"repo:{repo}:environment:{environment}"]


def github_trust(repo: str, environment: str) -> CiTrust:
    if "/" not in repo:
        raise ValueError(f"github repo must be OWNER/REPO, got {repo!r}")
    return CiTrust("github", repo, GITHUB_OIDC_HOST, tuple(github_subjects(repo, environment)))


# GitLab release tags: `v1.2.0-rc1` deploys the middle environments, `v1.2.0` the last one.
# Protect `v*` tags (Settings > Repository > Protected tags) so only maintainers create them.
GITLAB_RC_TAGS = "v*-rc*"
GITLAB_RELEASE_TAGS = "v*"


def gitlab_trust(project: str, host: str, position: str) -> CiTrust:
    """GitLab's `sub` names the project and the ref, not the environment, so each environment
    trusts a different ref that only its protected deploy job runs on: the first environment
    the protected main branch (`position` "first"), middle ones protected release-candidate
    tags ("middle"), the last one protected release tags that are not candidates ("last")."""
    if "/" not in project:
        raise ValueError(f"gitlab project must be GROUP/PROJECT, got {project!r}")
    base = f"project_path:{project}:ref_type:"
    if position == "first":
        return CiTrust("gitlab", project, host, (f"{base}branch:ref:main",))
    if position == "middle":
        return CiTrust("gitlab", project, host, (f"{base}tag:ref:{GITLAB_RC_TAGS}",))
    return CiTrust(
        "gitlab", project, host, (f"{base}tag:ref:{GITLAB_RELEASE_TAGS}",), excluded=(f"{base}tag:ref:*-rc*",)
    )


def preview_trust(trust: CiTrust) -> CiTrust:
    """Who may assume the read-only preview role: change requests (GitHub pull requests; GitLab
    pipelines of any branch). It reads one stack's state and nothing else."""
    if trust.slug == "github":
        return CiTrust("github", trust.repository, trust.host, (f"repo:{trust.repository}:pull_request",))
    base = f"project_path:{trust.repository}:ref_type:branch:ref:"
    return CiTrust("gitlab", trust.repository, trust.host, (f"{base}*",))


@dataclass(frozen=True)
class CiDeployIdentityArgs:
    trust: CiTrust
    environment: str
    statements: Sequence[Mapping[str, Any]]
    create_provider: bool
    existing_provider_arn: str | None = None
    # The read-only role of change-request previews (primary environment only): its policy.
    preview_statements: Sequence[Mapping[str, Any]] = ()


class CiDeployIdentity(CapabilityComponent):
    """The CI system's OIDC provider (or an existing one) and the deploy role trusting exactly the
    configured repository (GitHub Actions or GitLab CI). No long-lived keys exist anywhere."""

    TYPE = "mlopsbp:aws:CiDeployIdentity"
    CAPABILITY = "iam"

    role: aws.iam.Role
    role_arn: pulumi.Output[str]
    provider_arn: pulumi.Output[str]
    preview_role_arn: pulumi.Output[str] | None = None

    def __init__(self, name: str, args: CiDeployIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        trust = args.trust
        if args.create_provider:
            provider = aws.iam.OpenIdConnectProvider(
                f"{name}-{trust.slug}-oidc",
                url=f"https://{trust.host}",
                client_id_lists=["sts.amazonaws.com"],
                opts=self.child(),
            )
            self.provider_arn = provider.arn
        elif args.existing_provider_arn:
            self.provider_arn = pulumi.Output.from_input(args.existing_provider_arn)
        else:
            # Another environment of this account owns the provider; its ARN is well known.
            account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
            self.provider_arn = pulumi.Output.concat("arn:aws:iam::", account_id, f":oidc-provider/{trust.host}")
        self.role = role_with_policy(
            self,
            name,
            description=f"CI deploy role of {trust.repository} ({args.environment})",
            trust={
                "Effect": "Allow",
                "Principal": {"Federated": self.provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": trust.condition,
            },
            statements=args.statements,
        )
        self.role_arn = self.role.arn
        if args.preview_statements:
            preview = preview_trust(trust)
            self.preview_role_arn = role_with_policy(
                self,
                f"{name}-preview",
                description=f"Read-only CI preview role of {trust.repository} ({args.environment})",
                trust={
                    "Effect": "Allow",
                    "Principal": {"Federated": self.provider_arn},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": preview.condition,
                },
                statements=args.preview_statements,
            ).arn
        self.register_outputs(
            {"role_arn": self.role_arn, "provider_arn": self.provider_arn, "preview_role_arn": self.preview_role_arn}
        )
