"""S3 buckets: who owns a name, and the settings every mlops-bp bucket has (the same guarantees
as the stacks' SecureBucket), read, applied and explained from one table."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import botocore.exceptions as bx

from mlops_bp.blueprints import UserError

from .session import Aws, aws_errors, error_code, explain, pages

__all__ = [
    "BUCKET_SETTINGS",
    "BucketOwner",
    "BucketSetting",
    "bucket_owner",
    "bucket_region",
    "missing_settings",
    "tls_only_statement",
    "validate_bucket_name",
]

_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_ABSENT = {
    "NoSuchBucketPolicy",
    "NoSuchPublicAccessBlockConfiguration",
    "ServerSideEncryptionConfigurationNotFoundError",
}
TLS_SID = "DenyInsecureTransport"


def validate_bucket_name(name: str) -> str:
    if not _BUCKET_NAME.match(name) or ".." in name or re.match(r"^\d+\.\d+\.\d+\.\d+$", name):
        raise UserError(
            f"bucket: {name!r} is not a valid S3 bucket name (3-63 characters of a-z, 0-9, '.' and '-', "
            "starting and ending with a letter or digit)"
        )
    return name


class BucketOwner(StrEnum):
    MINE = "mine"
    AVAILABLE = "available"
    TAKEN = "taken"


def bucket_owner(aws: Aws, name: str) -> BucketOwner:
    """Whether `name` is a bucket of this account, free, or someone else's. ListBuckets shows only
    this account's buckets; HeadBucket answers 404 for a free name and 403 (or 200 when shared
    with us) for another account's."""
    s3 = aws.client("s3")
    with aws_errors("s3:ListAllMyBuckets"):
        mine = {b["Name"] for b in pages(s3, "list_buckets", "Buckets")}
    if name in mine:
        return BucketOwner.MINE
    try:
        s3.head_bucket(Bucket=name)
    except bx.ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 404 or error_code(exc) in {"404", "NoSuchBucket"}:
            return BucketOwner.AVAILABLE
        if status == 403:
            return BucketOwner.TAKEN
        raise explain(exc, "s3:HeadBucket") from None
    except bx.BotoCoreError as exc:
        raise explain(exc, "s3:HeadBucket") from None
    return BucketOwner.TAKEN


def bucket_region(aws: Aws, name: str) -> str:
    with aws_errors("s3:GetBucketLocation"):
        location = aws.client("s3").get_bucket_location(Bucket=name).get("LocationConstraint")
    return {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(location, location)


def tls_only_statement(bucket: str) -> dict[str, Any]:
    return {
        "Sid": TLS_SID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def _read(s3: Any, operation: str, bucket: str) -> dict[str, Any] | None:
    """A bucket sub-resource, or None when it is not set."""
    try:
        return getattr(s3, operation)(Bucket=bucket)
    except bx.ClientError as exc:
        if error_code(exc) in _ABSENT:
            return None
        raise


def _public_access_blocked(s3: Any, bucket: str) -> bool:
    data = _read(s3, "get_public_access_block", bucket)
    config = (data or {}).get("PublicAccessBlockConfiguration", {})
    keys = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    return all(config.get(k) is True for k in keys)


def _versioned(s3: Any, bucket: str) -> bool:
    return (_read(s3, "get_bucket_versioning", bucket) or {}).get("Status") == "Enabled"


def _sse_kms(s3: Any, bucket: str) -> bool:
    data = _read(s3, "get_bucket_encryption", bucket) or {}
    rules = data.get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    return any(
        r.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm") in ("aws:kms", "aws:kms:dsse")
        for r in rules
    )


def _policy(s3: Any, bucket: str) -> dict[str, Any]:
    data = _read(s3, "get_bucket_policy", bucket)
    return json.loads(data["Policy"]) if data else {"Version": "2012-10-17", "Statement": []}


def _denies_insecure_transport(statement: dict[str, Any]) -> bool:
    actions = statement.get("Action")
    actions = [actions] if isinstance(actions, str) else actions or []
    condition = statement.get("Condition", {}).get("Bool", {})
    return (
        statement.get("Effect") == "Deny"
        and statement.get("Principal") in ("*", {"AWS": "*"})
        and "s3:*" in actions
        and str(condition.get("aws:SecureTransport", "")).lower() == "false"
    )


def _tls_only(s3: Any, bucket: str) -> bool:
    statements = _policy(s3, bucket).get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else statements
    return any(_denies_insecure_transport(s) for s in statements)


def _block_public_access(s3: Any, bucket: str, key_arn: str) -> None:
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )


def _enable_versioning(s3: Any, bucket: str, key_arn: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


def _encryption_config(key_arn: str) -> dict[str, Any]:
    return {
        "Rules": [
            {
                "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn},
                "BucketKeyEnabled": True,
            }
        ]
    }


def _encrypt(s3: Any, bucket: str, key_arn: str) -> None:
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=_encryption_config(key_arn))


def _add_tls_statement(s3: Any, bucket: str, key_arn: str) -> None:
    # Merge into whatever policy is there: never drop someone's statements.
    policy = _policy(s3, bucket)
    statements = policy.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else list(statements)
    policy["Statement"] = [s for s in statements if s.get("Sid") != TLS_SID] + [tls_only_statement(bucket)]
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))


@dataclass(frozen=True)
class BucketSetting:
    """One guarantee of a secure bucket: how to read it, apply it, and tell a user to fix it."""

    name: str
    action: str  # the S3 API that applies it, for error messages
    is_set: Callable[[Any, str], bool]
    apply: Callable[[Any, str, str], None]
    fix: Callable[[str, str], str]


BUCKET_SETTINGS: tuple[BucketSetting, ...] = (
    BucketSetting(
        "public access blocked",
        "s3:PutBucketPublicAccessBlock",
        _public_access_blocked,
        _block_public_access,
        lambda b, k: (
            f"aws s3api put-public-access-block --bucket {b} --public-access-block-configuration "
            "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true"
        ),
    ),
    BucketSetting(
        "versioning enabled",
        "s3:PutBucketVersioning",
        _versioned,
        _enable_versioning,
        lambda b, k: f"aws s3api put-bucket-versioning --bucket {b} --versioning-configuration Status=Enabled",
    ),
    BucketSetting(
        "SSE-KMS default encryption",
        "s3:PutEncryptionConfiguration",
        _sse_kms,
        _encrypt,
        lambda b, k: (
            f"aws s3api put-bucket-encryption --bucket {b} --server-side-encryption-configuration "
            f"'{json.dumps(_encryption_config(k))}'"
        ),
    ),
    BucketSetting(
        "TLS-only bucket policy",
        "s3:PutBucketPolicy",
        _tls_only,
        _add_tls_statement,
        lambda b, k: f"add this statement to the bucket policy of {b}: {json.dumps(tls_only_statement(b))}",
    ),
)


def missing_settings(aws: Aws, bucket: str) -> list[BucketSetting]:
    """The secure-bucket settings `bucket` lacks."""
    s3 = aws.client("s3")
    missing = []
    for setting in BUCKET_SETTINGS:
        with aws_errors(f"reading {setting.name} of s3://{bucket}"):
            if not setting.is_set(s3, bucket):
                missing.append(setting)
    return missing
