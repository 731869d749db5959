"""IAM: least-privilege service roles and the GitHub Actions OIDC deploy identity."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

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
    "role_with_policy",
]

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"


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
    """Who may assume a CI deploy role: a CI system's OIDC issuer and the `sub` claims."""

    slug: str  # "github" / "gitlab": names the OIDC provider resource
    repository: str
    host: str  # the OIDC issuer host
    subjects: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.subjects or any(s.endswith("*") for s in self.subjects):
            raise ValueError(f"{self.repository}: the deploy role trusts named subjects only, got {self.subjects}")


def github_subjects(repo: str, environment: str, requires_approval: bool) -> list[str]:
    """The OIDC `sub` claims that may assume the deploy role of `environment`.

    An environment behind a human approval only trusts runs of that GitHub environment; the
    others also trust the default branch (CI on main: image push, `pulumi preview`).
    """
    subjects = [f"repo:{repo}:environment:{environment}"]
    if not requires_approval:
        subjects.append(f"repo:{repo}:ref:refs/heads/main")
    return subjects


def github_trust(repo: str, environment: str, requires_approval: bool) -> CiTrust:
    if "/" not in repo:
        raise ValueError(f"github repo must be OWNER/REPO, got {repo!r}")
    return CiTrust("github", repo, GITHUB_OIDC_HOST, tuple(github_subjects(repo, environment, requires_approval)))


def gitlab_trust(project: str, host: str) -> CiTrust:
    """GitLab's `sub` names the project and the ref, not the environment: deploys run from the
    protected default branch, and approvals are GitLab protected environments."""
    if "/" not in project:
        raise ValueError(f"gitlab project must be GROUP/PROJECT, got {project!r}")
    return CiTrust("gitlab", project, host, (f"project_path:{project}:ref_type:branch:ref:main",))


@dataclass(frozen=True)
class CiDeployIdentityArgs:
    trust: CiTrust
    environment: str
    statements: Sequence[Mapping[str, Any]]
    create_provider: bool
    existing_provider_arn: str | None = None


class CiDeployIdentity(CapabilityComponent):
    """The CI system's OIDC provider (or an existing one) and the deploy role trusting exactly the
    configured repository (GitHub Actions or GitLab CI). No long-lived keys exist anywhere."""

    TYPE = "mlopsbp:aws:CiDeployIdentity"
    CAPABILITY = "iam"

    role: aws.iam.Role
    role_arn: pulumi.Output[str]
    provider_arn: pulumi.Output[str]

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
                "Condition": {
                    "StringEquals": {f"{trust.host}:aud": "sts.amazonaws.com"},
                    "StringLike": {f"{trust.host}:sub": list(trust.subjects)},
                },
            },
            statements=args.statements,
        )
        self.role_arn = self.role.arn
        self.register_outputs({"role_arn": self.role_arn, "provider_arn": self.provider_arn})
