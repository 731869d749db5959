"""Data at rest: S3 buckets, KMS keys, ECR repositories, and protection of everything stateful."""

from __future__ import annotations

from ..diff import STATEFUL_TYPES
from ..graph import CapturedResource, ResourceGraph
from .core import Severity, Verdict, compliant, not_applicable, rule, verdict, violation
from .values import as_list, get, is_kms_key, statements

BUCKETS = frozenset({"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"})
# A bucket's configuration resources (with their deprecated pulumi-aws 6 `...V2` aliases).
ENCRYPTION = frozenset(
    {
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
    }
)
VERSIONING = frozenset({"aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2"})
LIFECYCLE = frozenset(
    {
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
    }
)
PUBLIC_ACCESS_BLOCK = frozenset({"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"})
BUCKET_POLICY = frozenset({"aws:s3/bucketPolicy:BucketPolicy"})
PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
KEY = "aws:kms/key:Key"
REPOSITORY = "aws:ecr/repository:Repository"


def bucket_configs(graph: ResourceGraph, bucket: CapturedResource, types: frozenset[str]) -> list[CapturedResource]:
    """The resources of `types` that configure `bucket`: those with the same parent (a component
    holds one bucket and its configuration). Where one parent holds several buckets, only those
    whose `bucket` input is this bucket's name."""
    same_parent = [r for r in graph.resources if r.type in types and r.parent == bucket.parent]
    if sum(1 for r in graph.resources if r.type in BUCKETS and r.parent == bucket.parent) == 1:
        return same_parent
    name = bucket.inputs.get("bucket")
    return [r for r in same_parent if name is not None and r.inputs.get("bucket") == name]


@rule(
    "MLOPS-S3-001",
    "S3 buckets are encrypted with SSE-KMS and a customer-managed key",
    severity=Severity.HIGH,
    applies_to=BUCKETS,
    reads_graph=True,
)
def bucket_encrypted(bucket: CapturedResource, graph: ResourceGraph) -> Verdict:
    configs = bucket_configs(graph, bucket, ENCRYPTION)
    if not configs:
        return violation("no server-side encryption configuration")
    problems = []
    for config in configs:
        for sse_rule in as_list(config.inputs.get("rules")) or [{}]:
            default = get(sse_rule, "applyServerSideEncryptionByDefault", default={})
            algorithm = get(default, "sseAlgorithm")
            if algorithm not in ("aws:kms", "aws:kms:dsse"):
                problems.append(f"encrypts with {algorithm!r}, not aws:kms")
            elif not is_kms_key(get(default, "kmsMasterKeyId")):
                problems.append("no customer-managed KMS key (kmsMasterKeyId)")
    return verdict(problems)


@rule(
    "MLOPS-S3-002",
    "S3 buckets block every kind of public access",
    severity=Severity.CRITICAL,
    applies_to=BUCKETS,
    reads_graph=True,
)
def bucket_private(bucket: CapturedResource, graph: ResourceGraph) -> Verdict:
    blocks = bucket_configs(graph, bucket, PUBLIC_ACCESS_BLOCK)
    if not blocks:
        return violation("no public access block")
    return verdict(
        f"{flag} is not true" for b in blocks for flag in PUBLIC_ACCESS_FLAGS if b.inputs.get(flag) is not True
    )


def _denies_plain_http(statement) -> bool:
    secure = get(statement, "Condition", "Bool", "aws:SecureTransport")
    actions = as_list(statement.get("Action"))
    return statement.get("Effect") == "Deny" and str(secure).lower() == "false" and bool({"s3:*", "*"} & set(actions))


@rule(
    "MLOPS-S3-003",
    "S3 bucket policies deny every request not made over TLS",
    severity=Severity.HIGH,
    applies_to=BUCKETS,
    reads_graph=True,
)
def bucket_tls_only(bucket: CapturedResource, graph: ResourceGraph) -> Verdict:
    policies = bucket_configs(graph, bucket, BUCKET_POLICY)
    if any(_denies_plain_http(s) for p in policies for s in statements(p.inputs.get("policy"))):
        return compliant()
    return violation("no bucket policy statement denies s3:* when aws:SecureTransport is false")


@rule(
    "MLOPS-S3-004",
    "S3 buckets keep object versions (versioning enabled)",
    severity=Severity.MEDIUM,
    applies_to=BUCKETS,
    reads_graph=True,
)
def bucket_versioned(bucket: CapturedResource, graph: ResourceGraph) -> Verdict:
    configs = bucket_configs(graph, bucket, VERSIONING)
    if not configs:
        return violation("no versioning configuration")
    return verdict(
        f"versioning is {status!r}"
        for c in configs
        if (status := get(c.inputs, "versioningConfiguration", "status")) != "Enabled"
    )


@rule(
    "MLOPS-S3-005",
    "S3 buckets expire noncurrent object versions (lifecycle rule)",
    severity=Severity.LOW,
    applies_to=BUCKETS,
    reads_graph=True,
)
def bucket_expires_old_versions(bucket: CapturedResource, graph: ResourceGraph) -> Verdict:
    for config in bucket_configs(graph, bucket, LIFECYCLE):
        for lifecycle_rule in as_list(config.inputs.get("rules")):
            days = get(lifecycle_rule, "noncurrentVersionExpiration", "noncurrentDays")
            if get(lifecycle_rule, "status") == "Enabled" and isinstance(days, int | float) and days > 0:
                return compliant()
    return violation("no enabled lifecycle rule expires noncurrent versions")


@rule("MLOPS-KMS-001", "KMS keys rotate their key material yearly", severity=Severity.HIGH, applies_to={KEY})
def key_rotates(key: CapturedResource, _graph: ResourceGraph) -> Verdict:
    spec = key.inputs.get("customerMasterKeySpec") or key.inputs.get("keySpec") or "SYMMETRIC_DEFAULT"
    if spec != "SYMMETRIC_DEFAULT":
        return not_applicable(f"AWS rotates only symmetric keys ({spec})")
    if key.inputs.get("enableKeyRotation") is not True:
        return violation("enableKeyRotation is not true")
    return compliant()


@rule(
    "MLOPS-KMS-002",
    "KMS key policies grant kms:* to the account root only",
    severity=Severity.HIGH,
    applies_to={KEY},
)
def key_policy_admin_is_root(key: CapturedResource, _graph: ResourceGraph) -> Verdict:
    problems = []
    for statement in statements(key.inputs.get("policy")):
        if statement.get("Effect") == "Allow" and "kms:*" in as_list(statement.get("Action")):
            principals = as_list(get(statement, "Principal", "AWS"))
            if not principals or not all(isinstance(p, str) and p.endswith(":root") for p in principals):
                problems.append(
                    f"statement {statement.get('Sid', '')!r} grants kms:* to {principals or 'a non-AWS principal'}"
                )
    return verdict(problems)


@rule("MLOPS-ECR-001", "ECR repositories scan images on push", severity=Severity.HIGH, applies_to={REPOSITORY})
def repository_scans(repo: CapturedResource, _graph: ResourceGraph) -> Verdict:
    if get(repo.inputs, "imageScanningConfiguration", "scanOnPush") is not True:
        return violation("imageScanningConfiguration.scanOnPush is not true")
    return compliant()


@rule(
    "MLOPS-ECR-002",
    "ECR repositories have immutable tags (a tag names one image)",
    severity=Severity.MEDIUM,
    applies_to={REPOSITORY},
)
def repository_immutable(repo: CapturedResource, _graph: ResourceGraph) -> Verdict:
    mutability = repo.inputs.get("imageTagMutability", "MUTABLE")
    return compliant() if mutability == "IMMUTABLE" else violation(f"imageTagMutability is {mutability!r}")


@rule("MLOPS-ECR-003", "ECR repositories are encrypted with KMS", severity=Severity.MEDIUM, applies_to={REPOSITORY})
def repository_encrypted(repo: CapturedResource, _graph: ResourceGraph) -> Verdict:
    kinds = [get(c, "encryptionType") for c in as_list(repo.inputs.get("encryptionConfigurations"))]
    return compliant() if kinds and all(k == "KMS" for k in kinds) else violation(f"encryption is {kinds or 'AES256'}")


@rule(
    "MLOPS-STATE-001",
    "Stateful resources (data, keys, images, logs, volumes) are protected",
    severity=Severity.HIGH,
    applies_to=STATEFUL_TYPES,
)
def stateful_protected(resource: CapturedResource, _graph: ResourceGraph) -> Verdict:
    if not resource.protect:
        return violation("not protected: `pulumi destroy` or a replacement would delete its data")
    return compliant()
