"""IAM policy statements the components share. Each names the narrowest resources it can;
`Resource: "*"` appears only for actions AWS does not scope to a resource."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from mlops_bp.blueprints.constants import StateKeys

__all__ = [
    "Reader",
    "bucket_read",
    "bucket_read_write",
    "ecr_pull",
    "ecr_push",
    "kms_use",
    "logs_write",
    "metrics_put",
    "reader_statement",
    "state_bucket",
]

Statement = dict[str, Any]


@dataclass(frozen=True)
class Reader:
    """A role of another account that reads through the promotion path: the CI role of an
    environment with its own account, named by its account and role-name pattern."""

    account: str
    role_name: str  # e.g. "shop-prod-ci-role-*" (Pulumi appends a suffix to the role name)

    @property
    def role_arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role/{self.role_name}"


def reader_statement(
    sid: str, readers: Sequence[Reader], actions: Sequence[str], resources: pulumi.Input[Any] | None = None
) -> Statement:
    """A resource-policy statement letting exactly `readers`' roles (exact accounts, role names
    by pattern) take `actions`; never a wildcard account. `resources` None: a policy that
    applies to its own resource only (ECR repository policies take no Resource)."""
    statement: Statement = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"AWS": sorted({f"arn:aws:iam::{r.account}:root" for r in readers})},
        "Action": list(actions),
        "Condition": {"ArnLike": {"aws:PrincipalArn": sorted(r.role_arn for r in readers)}},
    }
    if resources is not None:
        statement["Resource"] = resources
    return statement


def _objects(bucket_arns: Sequence[pulumi.Input[str]]) -> list[pulumi.Output[str]]:
    return [pulumi.Output.concat(arn, "/*") for arn in bucket_arns]


def bucket_read(bucket_arns: Sequence[pulumi.Input[str]]) -> list[Statement]:
    return [
        {
            "Sid": "ListBuckets",
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
            "Resource": list(bucket_arns),
        },
        {
            "Sid": "ReadObjects",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": _objects(bucket_arns),
        },
    ]


def bucket_read_write(bucket_arns: Sequence[pulumi.Input[str]]) -> list[Statement]:
    return [
        {
            "Sid": "ListBuckets",
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
            "Resource": list(bucket_arns),
        },
        {
            "Sid": "ReadWriteObjects",
            "Effect": "Allow",
            "Action": [
                "s3:GetObject",
                "s3:GetObjectVersion",
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:AbortMultipartUpload",
            ],
            "Resource": _objects(bucket_arns),
        },
    ]


def kms_use(key_arn: pulumi.Input[str]) -> list[Statement]:
    return [
        {
            "Sid": "UseProjectKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant"],
            "Resource": key_arn,
        }
    ]


def ecr_pull(repository_arn: pulumi.Input[str]) -> list[Statement]:
    return [
        # GetAuthorizationToken is account-wide: AWS does not scope it to a repository.
        {"Sid": "EcrLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {
            "Sid": "EcrPull",
            "Effect": "Allow",
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
            "Resource": repository_arn,
        },
    ]


def ecr_push(repository_arn: pulumi.Input[str]) -> list[Statement]:
    return [
        *ecr_pull(repository_arn),
        {
            "Sid": "EcrPush",
            "Effect": "Allow",
            "Action": [
                "ecr:PutImage",
                "ecr:InitiateLayerUpload",
                "ecr:UploadLayerPart",
                "ecr:CompleteLayerUpload",
                "ecr:DescribeImages",
                "ecr:DescribeImageScanFindings",
            ],
            "Resource": repository_arn,
        },
    ]


def logs_write(log_group_arns: Sequence[pulumi.Input[str]]) -> list[Statement]:
    """Write to the named log groups (and their streams), e.g. .../log-group:/aws/sagemaker/Endpoints/x."""
    return [
        {
            "Sid": "WriteLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            "Resource": [pulumi.Output.concat(arn, suffix) for arn in log_group_arns for suffix in ("", ":*")],
        }
    ]


def metrics_put(namespaces: Sequence[str]) -> list[Statement]:
    # PutMetricData has no resource type; the namespace condition is the scope.
    return [
        {
            "Sid": "PutMetrics",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringLike": {"cloudwatch:namespace": list(namespaces)}},
        }
    ]


def state_bucket(bucket: str | None, project: str, stack: str, *, write: bool = True) -> list[Statement]:
    """Pulumi state access for CI to ONE stack of a DIY S3 backend (`StateKeys`): its
    checkpoint, history, backups and lock files (`pulumi preview`/`up` take a lock, so even a
    preview writes there). Other stacks' state is neither readable nor writable."""
    if bucket is None:
        return []
    arn = f"arn:aws:s3:::{bucket}"
    keys = StateKeys(bucket, project, stack)
    checkpoint, locks, history = keys.checkpoint, keys.locks, keys.history
    statements: list[Statement] = [
        {
            # Listing shows key names only; it is how the CLI finds stacks and locks.
            "Sid": "PulumiStateList",
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
            "Resource": arn,
            "Condition": {"StringLike": {"s3:prefix": [".pulumi/*"]}},
        },
        {
            "Sid": "PulumiStateRead",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": [keys.meta, checkpoint, locks],
        },
        {
            "Sid": "PulumiStateLock",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:DeleteObject"],
            "Resource": locks,
        },
    ]
    if write:
        statements.append(
            {
                "Sid": "PulumiStateWrite",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": [checkpoint, *history],
            }
        )
    return statements


def secrets_key(key_arns: pulumi.Input[str], alias: str) -> list[Statement]:
    """Use of the Pulumi secrets-provider key (`mlops-bp bootstrap`'s), found by its alias:
    `pulumi preview`/`up` decrypt the stack's secrets and encrypt new ones."""
    return [
        {
            "Sid": "PulumiSecretsKey",
            "Effect": "Allow",
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
            "Resource": key_arns,
            "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": alias}},
        }
    ]
