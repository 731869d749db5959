"""The team's security expectations, checked on every environment's stack offline: the real
Pulumi program runs under Pulumi's mocks (no cloud account, no credentials)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlops_bp.blueprints import load_blueprint
from mlops_bp.stacks.plan import plan

BLUEPRINT = load_blueprint(Path(__file__).resolve().parents[2] / "mlops-bp.yaml")
STATEFUL_TYPES = {
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:ecr/repository:Repository",
    "aws:kms/key:Key",
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketV2:BucketV2",
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup",
}

S3_ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
S3_VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
S3_PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
S3_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
PUBLIC_ACCESS_FLAGS = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)
GITHUB_SUB = "token.actions.githubusercontent.com:sub"


@pytest.fixture(scope="module", params=[env.name for env in BLUEPRINT.environments])
def graph(request):
    return plan(BLUEPRINT, request.param)


def _siblings(graph, resource, type_: str) -> list:
    """Resources of `type_` created by the same component as `resource`."""
    return [r for r in graph.of_type(type_) if r.parent == resource.parent]


def _statements(document: str) -> list[dict]:
    statements = json.loads(document)["Statement"]
    return statements if isinstance(statements, list) else [statements]


def _denies_plain_http(statement: dict) -> bool:
    secure = statement.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")
    return statement["Effect"] == "Deny" and secure == "false"


def test_the_data_bucket_exists(graph) -> None:
    assert [r for r in graph.of_type("aws:s3/bucket:Bucket") if "data" in r.name]


def test_stateful_resources_are_protected(graph) -> None:
    stateful = [r for r in graph.custom if r.type in STATEFUL_TYPES]
    assert stateful
    assert [r.name for r in stateful if not r.protect] == []


def test_buckets_are_kms_encrypted_versioned_private_and_tls_only(graph) -> None:
    buckets = graph.of_type("aws:s3/bucket:Bucket")
    assert buckets
    for bucket in buckets:
        (encryption,) = _siblings(graph, bucket, S3_ENCRYPTION)
        rules = encryption.inputs["rules"]
        algorithms = [r["applyServerSideEncryptionByDefault"]["sseAlgorithm"] for r in rules]
        assert algorithms == ["aws:kms"]
        (versioning,) = _siblings(graph, bucket, S3_VERSIONING)
        assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
        (block,) = _siblings(graph, bucket, S3_PUBLIC_ACCESS_BLOCK)
        assert all(block.inputs[k] for k in PUBLIC_ACCESS_FLAGS)
        (policy,) = _siblings(graph, bucket, S3_POLICY)
        assert any(_denies_plain_http(s) for s in _statements(policy.inputs["policy"]))


def test_kms_keys_rotate(graph) -> None:
    keys = graph.of_type("aws:kms/key:Key")
    assert keys
    assert all(key.inputs.get("enableKeyRotation") is True for key in keys)


def test_container_images_are_scanned_and_immutable(graph) -> None:
    for repository in graph.of_type("aws:ecr/repository:Repository"):
        assert repository.inputs["imageTagMutability"] == "IMMUTABLE"
        assert repository.inputs["imageScanningConfiguration"]["scanOnPush"] is True


def test_no_iam_policy_allows_every_action(graph) -> None:
    documents = [r.inputs["policy"] for r in graph.of_type("aws:iam/rolePolicy:RolePolicy")]
    documents += [r.inputs["policy"] for r in graph.of_type("aws:iam/policy:Policy")]
    assert documents
    for document in documents:
        for statement in _statements(document):
            actions = statement.get("Action", [])
            actions = [actions] if isinstance(actions, str) else actions
            assert "*" not in actions, statement


def test_ci_roles_trust_only_this_repository(graph) -> None:
    trusted = []
    for role in graph.of_type("aws:iam/role:Role"):
        for statement in _statements(role.inputs["assumeRolePolicy"]):
            subjects = statement.get("Condition", {}).get("StringLike", {}).get(GITHUB_SUB)
            if subjects is not None:
                subjects = [subjects] if isinstance(subjects, str) else subjects
                assert all(s.startswith(f"repo:{BLUEPRINT.github}:") for s in subjects), subjects
                trusted.extend(subjects)
    if BLUEPRINT.github and int(BLUEPRINT.level) >= 1:
        assert trusted, "the CI deploy role is missing"
{%- if cookiecutter.platform == "kubernetes" %}


WORKLOAD_TYPES = (
    "kubernetes:apps/v1:Deployment",
    "kubernetes:batch/v1:Job",
    "kubernetes:batch/v1:CronJob",
)


def _pod_specs(resource) -> list[dict]:
    spec = resource.inputs.get("spec", {})
    if resource.type.endswith("CronJob"):
        spec = spec.get("jobTemplate", {}).get("spec", {})
    return [spec.get("template", {}).get("spec", {})]


def test_containers_run_as_non_root_with_limits(graph) -> None:
    for resource in (r for t in WORKLOAD_TYPES for r in graph.of_type(t)):
        for pod in _pod_specs(resource):
            pod_non_root = pod.get("securityContext", {}).get("runAsNonRoot") is True
            for container in pod.get("containers", []):
                context = container.get("securityContext", {})
                assert pod_non_root or context.get("runAsNonRoot") is True, resource.name
                assert container.get("resources", {}).get("limits"), resource.name
{%- endif %}
