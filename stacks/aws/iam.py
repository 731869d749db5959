"""IAM: least-privilege service roles and the GitHub Actions OIDC deploy identity."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from ..base import CapabilityComponent, policy_document

__all__ = [
    "GITHUB_OIDC_HOST",
    "CiDeployIdentity",
    "CiDeployIdentityArgs",
    "ServiceRole",
    "ServiceRoleArgs",
    "github_subjects",
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
    role_name: pulumi.Output[str]

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
        self.role_name = self.role.name
        self.register_outputs({"arn": self.arn})


def github_subjects(repo: str, environment: str, requires_approval: bool) -> list[str]:
    """The OIDC `sub` claims that may assume the deploy role of `environment`.

    An environment behind a human approval only trusts runs of that GitHub environment; the
    others also trust the default branch (CI on main: image push, `pulumi preview`).
    """
    subjects = [f"repo:{repo}:environment:{environment}"]
    if not requires_approval:
        subjects.append(f"repo:{repo}:ref:refs/heads/main")
    return subjects


@dataclass(frozen=True)
class CiDeployIdentityArgs:
    github_repo: str
    environment: str
    requires_approval: bool
    statements: Sequence[Mapping[str, Any]]
    create_provider: bool
    existing_provider_arn: str | None = None
    extra_subjects: Sequence[str] = field(default_factory=tuple)


class CiDeployIdentity(CapabilityComponent):
    """GitHub Actions OIDC provider (or an existing one) and the CI deploy role trusting exactly
    the configured repository. No long-lived keys exist anywhere."""

    TYPE = "mlopsbp:aws:CiDeployIdentity"
    CAPABILITY = "iam"

    role: aws.iam.Role
    role_arn: pulumi.Output[str]
    provider_arn: pulumi.Output[str]

    def __init__(self, name: str, args: CiDeployIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        if "/" not in args.github_repo:
            raise ValueError(f"{name}: github_repo must be OWNER/REPO, got {args.github_repo!r}")
        if args.create_provider:
            provider = aws.iam.OpenIdConnectProvider(
                f"{name}-github-oidc",
                url=f"https://{GITHUB_OIDC_HOST}",
                client_id_lists=["sts.amazonaws.com"],
                opts=self.child(),
            )
            self.provider_arn = provider.arn
        elif args.existing_provider_arn:
            self.provider_arn = pulumi.Output.from_input(args.existing_provider_arn)
        else:
            # Another environment of this account owns the provider; its ARN is well known.
            account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
            self.provider_arn = pulumi.Output.concat("arn:aws:iam::", account_id, f":oidc-provider/{GITHUB_OIDC_HOST}")
        subjects = [*github_subjects(args.github_repo, args.environment, args.requires_approval), *args.extra_subjects]
        self.role = role_with_policy(
            self,
            name,
            description=f"GitHub Actions deploy role of {args.github_repo} ({args.environment})",
            trust={
                "Effect": "Allow",
                "Principal": {"Federated": self.provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {f"{GITHUB_OIDC_HOST}:aud": "sts.amazonaws.com"},
                    "StringLike": {f"{GITHUB_OIDC_HOST}:sub": subjects},
                },
            },
            statements=args.statements,
        )
        self.role_arn = self.role.arn
        self.register_outputs({"role_arn": self.role_arn, "provider_arn": self.provider_arn})
