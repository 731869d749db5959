"""Workload identity by IRSA: one ServiceAccount per workload, and when the workload calls AWS,
its own IAM role that only that ServiceAccount of that namespace can assume."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from ..aws.iam import role_with_policy
from ..base import CapabilityComponent

__all__ = ["IRSA_ROLE_ANNOTATION", "WorkloadIdentity", "WorkloadIdentityArgs", "irsa_trust"]

IRSA_ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"


def irsa_trust(
    oidc_provider_arn: pulumi.Input[str],
    oidc_issuer: pulumi.Input[str],
    namespace: pulumi.Input[str],
    service_account: str,
) -> dict[str, Any]:
    """Trust statement for exactly one ServiceAccount (the issuer is host/path, no https://)."""

    def condition_of(values: list[str]) -> dict[str, Any]:
        issuer, ns = values
        subject = f"system:serviceaccount:{ns}:{service_account}"
        return {"StringEquals": {f"{issuer}:sub": subject, f"{issuer}:aud": "sts.amazonaws.com"}}

    condition = pulumi.Output.all(oidc_issuer, namespace).apply(condition_of)
    return {
        "Effect": "Allow",
        "Principal": {"Federated": oidc_provider_arn},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": condition,
    }


@dataclass(frozen=True)
class WorkloadIdentityArgs:
    namespace: pulumi.Input[str]
    service_account: str
    labels: Mapping[str, str]
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    # What the workload may do on AWS; none means no IAM role at all.
    statements: Sequence[Mapping[str, Any]] = field(default_factory=tuple)
    description: str = ""


class WorkloadIdentity(CapabilityComponent):
    """A workload's ServiceAccount and, if it calls AWS, its IRSA role. The API token is not
    mounted through the ServiceAccount; pods that call the Kubernetes API ask for it."""

    TYPE = "mlopsbp:k8s:WorkloadIdentity"
    CAPABILITY = "iam"

    service_account: k8s.core.v1.ServiceAccount
    service_account_name: str
    role: aws.iam.Role | None
    role_arn: pulumi.Output[str] | None

    def __init__(self, name: str, args: WorkloadIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        self.role = None
        self.role_arn = None
        annotations: dict[str, pulumi.Input[str]] = {}
        if args.statements:
            self.role = role_with_policy(
                self,
                name,
                description=args.description or f"IRSA role of ServiceAccount {args.service_account}",
                trust=irsa_trust(args.oidc_provider_arn, args.oidc_issuer, args.namespace, args.service_account),
                statements=args.statements,
            )
            self.role_arn = self.role.arn
            annotations[IRSA_ROLE_ANNOTATION] = self.role.arn
        self.service_account_name = args.service_account
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata={
                "name": args.service_account,
                "namespace": args.namespace,
                "labels": dict(args.labels),
                "annotations": annotations,
            },
            automount_service_account_token=False,
            opts=self.child(),
        )
        self.register_outputs({"service_account": args.service_account, "role_arn": self.role_arn})
