"""DESIGN.md's secure-by-default invariants, checked over every captured graph: every level,
every environment, both platforms."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from parliament import analyze_policy_string

from mlops_bp.stacks.diff import RESOURCE_KINDS
from mlops_bp.stacks.graph import CapturedResource, ResourceGraph

from .graphs import LEVEL_ENVS, graph

CASES = [(level, env, platform) for platform in ("sagemaker", "kubernetes") for level, env in LEVEL_ENVS]
IDS = [f"{p}-L{level}-{env}" for level, env, p in CASES]

# Actions AWS does not scope to a resource: the only ones allowed on Resource "*".
UNSCOPED_ACTIONS = {"ecr:GetAuthorizationToken", "cloudwatch:PutMetricData"}
POLICY_INPUTS = {
    "aws:iam/rolePolicy:RolePolicy": ("policy", "identity"),
    "aws:iam/policy:Policy": ("policy", "identity"),
    "aws:iam/role:Role": ("assumeRolePolicy", "trust"),
    "aws:s3/bucketPolicy:BucketPolicy": ("policy", "resource"),
    "aws:sns/topicPolicy:TopicPolicy": ("policy", "resource"),
    "aws:kms/key:Key": ("policy", "key"),
}


@pytest.fixture(params=CASES, ids=IDS)
def g(request) -> ResourceGraph:
    level, env, platform = request.param
    return graph(level, env, platform)


def _statements(g: ResourceGraph) -> Iterator[tuple[CapturedResource, str, dict]]:
    for res in g.custom:
        if res.type in POLICY_INPUTS:
            key, kind = POLICY_INPUTS[res.type]
            if key not in res.inputs:
                continue
            document = json.loads(res.inputs[key])
            for statement in document["Statement"]:
                yield res, kind, statement


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _children_of_bucket(g: ResourceGraph, bucket: CapturedResource, type_: str) -> list[CapturedResource]:
    return [r for r in g.of_type(type_) if r.inputs.get("bucket") == f"{bucket.name}-id"]


def test_buckets_are_versioned_encrypted_private_and_tls_only(g):
    buckets = g.of_type("aws:s3/bucket:Bucket")
    assert buckets, "every level has at least the data bucket"
    for bucket in buckets:
        (versioning,) = _children_of_bucket(g, bucket, "aws:s3/bucketVersioning:BucketVersioning")
        assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
        (sse,) = _children_of_bucket(
            g, bucket, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
        )
        default = sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
        assert default["sseAlgorithm"] == "aws:kms" and default["kmsMasterKeyId"].startswith("arn:aws:kms:")
        (pab,) = _children_of_bucket(g, bucket, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
        assert all(
            pab.inputs[k] is True
            for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        )
        (bucket_policy,) = _children_of_bucket(g, bucket, "aws:s3/bucketPolicy:BucketPolicy")
        statements = json.loads(bucket_policy.inputs["policy"])["Statement"]
        assert any(
            s["Effect"] == "Deny"
            and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            and s["Action"] == "s3:*"
            for s in statements
        )
        (lifecycle,) = _children_of_bucket(
            g, bucket, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
        )
        assert lifecycle.inputs["rules"][0]["noncurrentVersionExpiration"]["noncurrentDays"] > 0


def test_kms_keys_rotate(g):
    keys = g.of_type("aws:kms/key:Key")
    assert keys and all(k.inputs["enableKeyRotation"] is True for k in keys)


def test_ecr_scans_on_push_with_immutable_tags(g):
    for repo in g.of_type("aws:ecr/repository:Repository"):
        assert repo.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
        assert repo.inputs["imageTagMutability"] == "IMMUTABLE"
        assert repo.inputs["encryptionConfigurations"][0]["encryptionType"] == "KMS"


def test_no_iam_wildcard_actions_and_resource_star_only_where_aws_requires_it(g):
    seen = 0
    for res, kind, statement in _statements(g):
        seen += 1
        assert "NotAction" not in statement and "NotResource" not in statement, res.name
        actions = _as_list(statement.get("Action", []))
        assert "*" not in actions, f"{res.name}: Action '*'"
        if statement["Effect"] == "Allow" and kind == "identity":
            assert not any(a.endswith(":*") for a in actions), f"{res.name}: service-wide action {actions}"
            if "*" in _as_list(statement["Resource"]):
                assert set(actions) <= UNSCOPED_ACTIONS, f"{res.name}: Resource '*' for {actions}"
        if kind == "key" and "kms:*" in actions:
            # In a key policy, Resource "*" means "this key"; only the account root gets kms:*.
            assert statement["Principal"]["AWS"].endswith(":root")
    assert seen


def _known_gap(finding) -> bool:
    # parliament's bundled IAM database predates the kms:ResourceAliases condition key (2021),
    # which KMS supports for its cryptographic operations (alias-based access control).
    return finding.issue == "UNKNOWN_CONDITION_FOR_ACTION" and "kms:ResourceAliases" in str(finding.detail)


def test_identity_policies_pass_parliament(g):
    for res in g.custom:
        if POLICY_INPUTS.get(res.type, ("", ""))[1] == "identity":
            findings = [f for f in analyze_policy_string(res.inputs["policy"]).findings if not _known_gap(f)]
            assert not findings, f"{res.name}: {[(f.issue, f.detail) for f in findings]}"


def test_oidc_trust_is_pinned_to_the_configured_repo(g):
    federated = [
        (res, s)
        for res, kind, s in _statements(g)
        if kind == "trust" and "token.actions.githubusercontent.com" in json.dumps(s.get("Principal", {}))
    ]
    if g.stack != "dev" and not federated:
        pytest.fail("every environment of level >= 1 has a CI role") if g.of_type(
            "aws:ecr/repository:Repository"
        ) else None
    for res, statement in federated:
        conditions = statement["Condition"]
        assert conditions["StringEquals"]["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
        subjects = _as_list(conditions["StringLike"]["token.actions.githubusercontent.com:sub"])
        assert subjects and all(s.startswith("repo:acme/fraud-detect:") for s in subjects), res.name
        assert not any(s.endswith(":*") for s in subjects)


def test_service_roles_are_guarded_against_confused_deputies(g):
    for res, kind, statement in _statements(g):
        if kind == "trust" and "Service" in statement.get("Principal", {}):
            assert "aws:SourceAccount" in statement["Condition"]["StringEquals"], res.name


def test_sagemaker_storage_is_encrypted_with_the_stack_key(g):
    for nb in g.of_type("aws:sagemaker/notebookInstance:NotebookInstance"):
        assert nb.inputs["kmsKeyId"].startswith("arn:aws:kms:") and nb.inputs["rootAccess"] == "Disabled"
    for config in g.of_type("aws:sagemaker/endpointConfiguration:EndpointConfiguration"):
        realtime = any("instanceType" in v for v in config.inputs["productionVariants"])
        assert not realtime or config.inputs["kmsKeyArn"].startswith("arn:aws:kms:")
    for pipeline in g.of_type("aws:sagemaker/pipeline:Pipeline"):
        for step in json.loads(pipeline.inputs["pipelineDefinition"])["Steps"]:
            args = step["Arguments"]
            if step["Type"] == "Training":
                assert args["ResourceConfig"]["VolumeKmsKeyId"] and args["OutputDataConfig"]["KmsKeyId"]
            if step["Type"] == "Processing":
                assert (
                    args["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"]
                    and args["ProcessingOutputConfig"]["KmsKeyId"]
                )
    for job in g.of_type("aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition"):
        assert job.inputs["jobResources"]["clusterConfig"]["volumeKmsKeyId"]
        assert job.inputs["dataQualityJobOutputConfig"]["kmsKeyId"]
    for logs in g.of_type("aws:cloudwatch/logGroup:LogGroup"):
        assert logs.inputs["kmsKeyId"].startswith("arn:aws:kms:")
    for topic in g.of_type("aws:sns/topic:Topic"):
        assert topic.inputs["kmsMasterKeyId"].startswith("arn:aws:kms:")


def test_stateful_resources_are_protected(g):
    stateful = [r for r in g.custom if RESOURCE_KINDS.get(r.type) is not None and RESOURCE_KINDS[r.type].stateful]
    assert stateful
    assert [r.name for r in stateful if not r.protect] == []


def test_components_parent_their_children(g):
    top_level = [r for r in g.custom if r.parent.endswith("::pulumi:pulumi:Stack::" + g.project + "-" + g.stack)]
    assert top_level == [], [r.name for r in top_level]
