"""IAM policy statements the components share. Each names the narrowest resources it can;
`Resource: "*"` appears only for actions AWS does not scope to a resource."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi

__all__ = [
    "bucket_read",
    "bucket_read_write",
    "ecr_pull",
    "ecr_push",
    "kms_use",
    "logs_write",
    "metrics_put",
    "state_bucket",
]

Statement = dict[str, Any]


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


def logs_write(log_group_arn_prefix: pulumi.Input[str]) -> list[Statement]:
    """Write to the log groups under `log_group_arn_prefix` (e.g. .../log-group:/aws/sagemaker/)."""
    return [
        {
            "Sid": "WriteLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            "Resource": [pulumi.Output.concat(log_group_arn_prefix, "*")],
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


def state_bucket(bucket: str | None) -> list[Statement]:
    """Pulumi state access for CI (`pulumi preview`/`up` take a lock file, so write too)."""
    if bucket is None:
        return []
    arn = f"arn:aws:s3:::{bucket}"
    return [
        {
            "Sid": "PulumiStateList",
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
            "Resource": arn,
        },
        {
            "Sid": "PulumiStateObjects",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": f"{arn}/.pulumi/*",
        },
    ]


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
