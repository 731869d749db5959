"""Storage: the KMS key and the encrypted, versioned, private S3 buckets."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ..base import CapabilityComponent, policy_document
from . import policies

__all__ = ["EncryptionKey", "EncryptionKeyArgs", "SecureBucket", "SecureBucketArgs"]


@dataclass(frozen=True)
class EncryptionKeyArgs:
    description: str
    deletion_window_days: int = 30
    # Roles of other accounts that decrypt what the key encrypts (the promotion path).
    readers: tuple[policies.Reader, ...] = ()


class EncryptionKey(CapabilityComponent):
    """A customer-managed KMS key with yearly rotation and an alias."""

    TYPE = "mlopsbp:aws:EncryptionKey"
    CAPABILITY = "storage"

    key: aws.kms.Key
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: EncryptionKeyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region
        self.key = aws.kms.Key(
            f"{name}-key",
            description=args.description,
            enable_key_rotation=True,
            deletion_window_in_days=args.deletion_window_days,
            # Key policy: the account administers the key through IAM; CloudWatch Logs and the
            # SageMaker/S3 services use it on behalf of callers that IAM allows.
            policy=policy_document(
                [
                    {
                        "Sid": "AccountAdministersKeyThroughIam",
                        "Effect": "Allow",
                        "Principal": {"AWS": pulumi.Output.concat("arn:aws:iam::", account_id, ":root")},
                        "Action": "kms:*",
                        "Resource": "*",
                    },
                    {
                        # Alarms and EventBridge publish to the KMS-encrypted alarm topic.
                        "Sid": "AlarmAndEventServicesUseKeyForTopics",
                        "Effect": "Allow",
                        "Principal": {"Service": ["cloudwatch.amazonaws.com", "events.amazonaws.com"]},
                        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                        "Resource": "*",
                        "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
                    },
                    {
                        "Sid": "CloudWatchLogsEncrypt",
                        "Effect": "Allow",
                        "Principal": {"Service": pulumi.Output.concat("logs.", region, ".amazonaws.com")},
                        "Action": [
                            "kms:Encrypt*",
                            "kms:Decrypt*",
                            "kms:ReEncrypt*",
                            "kms:GenerateDataKey*",
                            "kms:Describe*",
                        ],
                        "Resource": "*",
                        "Condition": {
                            "ArnLike": {
                                "kms:EncryptionContext:aws:logs:arn": pulumi.Output.concat(
                                    "arn:aws:logs:", region, ":", account_id, ":*"
                                )
                            }
                        },
                    },
                    *(
                        [
                            policies.reader_statement(
                                "PromotionReadersDecrypt", args.readers, ["kms:Decrypt", "kms:DescribeKey"], "*"
                            )
                        ]
                        if args.readers
                        else []
                    ),
                ]
            ),
            opts=self.stateful(),
        )
        aws.kms.Alias(f"{name}-alias", name=f"alias/{name}", target_key_id=self.key.key_id, opts=self.child())
        self.arn = self.key.arn
        self.register_outputs({"arn": self.arn})


@dataclass(frozen=True)
class SecureBucketArgs:
    bucket_prefix: str
    kms_key_arn: pulumi.Input[str]
    noncurrent_version_days: int
    infrequent_access_days: int
    force_destroy: bool = False
    # Roles of other accounts that read the objects (the promotion path).
    readers: tuple[policies.Reader, ...] = ()


class SecureBucket(CapabilityComponent):
    """An S3 bucket with the guarantees every mlops-bp bucket has: versioning, SSE-KMS with the
    stack's key, all public access blocked, bucket-owner ownership, TLS-only access, and a
    lifecycle for noncurrent versions."""

    TYPE = "mlopsbp:aws:SecureBucket"
    CAPABILITY = "storage"

    bucket: aws.s3.Bucket
    bucket_name: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: SecureBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        # STANDARD_IA only pays off when versions live on after the transition.
        transition_days = (
            args.infrequent_access_days if args.infrequent_access_days < args.noncurrent_version_days else None
        )
        self.bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket_prefix=args.bucket_prefix,
            force_destroy=args.force_destroy,
            opts=self.stateful(),
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=self.bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=self.child(),
        )
        aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=self.child(),
        )
        aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=self.bucket.id,
            versioning_configuration={"status": "Enabled"},
            opts=self.child(),
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=self.bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {
                        "sse_algorithm": "aws:kms",
                        "kms_master_key_id": args.kms_key_arn,
                    },
                    "bucket_key_enabled": True,
                }
            ],
            opts=self.child(),
        )
        noncurrent_rule: dict = {
            "id": "noncurrent-versions",
            "status": "Enabled",
            "filter": {},
            "noncurrent_version_expiration": {"noncurrent_days": args.noncurrent_version_days},
            "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
        }
        if transition_days is not None:
            noncurrent_rule["noncurrent_version_transitions"] = [
                {"noncurrent_days": transition_days, "storage_class": "STANDARD_IA"}
            ]
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=self.bucket.id,
            rules=[noncurrent_rule],
            opts=self.child(),
        )
        aws.s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=self.bucket.id,
            policy=policy_document(
                [
                    {
                        "Sid": "DenyInsecureTransport",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [self.bucket.arn, pulumi.Output.concat(self.bucket.arn, "/*")],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    },
                    *(
                        [
                            policies.reader_statement(
                                "PromotionReadersList", args.readers, ["s3:ListBucket"], self.bucket.arn
                            ),
                            policies.reader_statement(
                                "PromotionReadersGet",
                                args.readers,
                                ["s3:GetObject"],
                                pulumi.Output.concat(self.bucket.arn, "/*"),
                            ),
                        ]
                        if args.readers
                        else []
                    ),
                ]
            ),
            opts=self.child(),
        )
        self.bucket_name = self.bucket.bucket
        self.arn = self.bucket.arn
        self.register_outputs({"bucket_name": self.bucket_name, "arn": self.arn})
