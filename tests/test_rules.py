"""The rule pack: every rule on a real captured resource, compliant as the stacks declare it and
non-compliant once that resource is modified; the registry, the report, and the blueprint's
`rules.advisory` setting."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from mlops_bp.blueprints import BlueprintError, blueprint_from_data, dump_blueprint, json_schema
from mlops_bp.blueprints.models import RULE_IDS
from mlops_bp.stacks.diff import RESOURCE_KINDS, STATEFUL_TYPES
from mlops_bp.stacks.graph import ResourceGraph
from mlops_bp.stacks.rules import RULES, Severity, Status, check_graph, compliant, pack, rule

from .graphs import graph

SAGEMAKER = (3, "dev", "sagemaker", True)  # notebook, pipeline, serverless endpoint, CI role
SAGEMAKER_PROD = (4, "prod", "sagemaker", True)  # real-time endpoint, Model Monitor
KUBERNETES = (4, "dev", "kubernetes", True)  # workloads, namespaces, a Helm chart, IRSA roles

SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
BUCKET = "aws:s3/bucket:Bucket"
KEY = "aws:kms/key:Key"
REPOSITORY = "aws:ecr/repository:Repository"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"

Mutation = Callable[[ResourceGraph], ResourceGraph]


def edited(type_: str, name: str, change: Callable[[dict[str, Any]], Any], **options: Any) -> Mutation:
    """The graph with the one `type_` resource named *name* changed: `change` edits a copy of its
    inputs in place; `options` replace fields such as `protect`."""

    def mutate(g: ResourceGraph) -> ResourceGraph:
        target = g.one(type_, name)
        inputs = copy.deepcopy(target.inputs)
        change(inputs)
        new = replace(target, inputs=inputs, **options)
        return ResourceGraph(g.project, g.stack, [new if r is target else r for r in g.resources], g.outputs)

    return mutate


def removed(type_: str, name: str) -> Mutation:
    def mutate(g: ResourceGraph) -> ResourceGraph:
        target = g.one(type_, name)
        return ResourceGraph(g.project, g.stack, [r for r in g.resources if r is not target], g.outputs)

    return mutate


def document(key: str, change: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], None]:
    """An edit of the JSON policy document held in input `key`."""

    def edit(inputs: dict[str, Any]) -> None:
        doc = json.loads(inputs[key])
        change(doc)
        inputs[key] = json.dumps(doc)

    return edit


def statement(sid: str, doc: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in doc["Statement"] if s.get("Sid") == sid)


def container(inputs: dict[str, Any]) -> dict[str, Any]:
    return inputs["spec"]["template"]["spec"]["containers"][0]


def add_statement(**fields: Any) -> Callable[[dict[str, Any]], None]:
    return document("policy", lambda doc: doc["Statement"].append({"Effect": "Allow", **fields}))


def sse_default(inputs: dict[str, Any]) -> dict[str, Any]:
    return inputs["rules"][0]["applyServerSideEncryptionByDefault"]


def training_step(inputs: dict[str, Any]) -> None:
    definition = json.loads(inputs["pipelineDefinition"])
    train = next(s for s in definition["Steps"] if s["Type"] == "Training")
    del train["Arguments"]["ResourceConfig"]["VolumeKmsKeyId"]
    inputs["pipelineDefinition"] = json.dumps(definition)


# rule id -> (graph it is checked on, what makes it non-compliant, what the violation says)
CASES: dict[str, tuple[tuple, Mutation, str]] = {
    "MLOPS-S3-001": (
        SAGEMAKER,
        edited(SSE, "data", lambda i: sse_default(i).update(sseAlgorithm="AES256")),
        "encrypts with 'AES256'",
    ),
    "MLOPS-S3-002": (
        SAGEMAKER,
        edited(PUBLIC_ACCESS_BLOCK, "data", lambda i: i.update(blockPublicPolicy=False)),
        "blockPublicPolicy is not true",
    ),
    "MLOPS-S3-003": (
        SAGEMAKER,
        edited(BUCKET_POLICY, "artifacts", document("policy", lambda d: d.update(Statement=[]))),
        "no bucket policy statement denies",
    ),
    "MLOPS-S3-004": (
        SAGEMAKER,
        edited(VERSIONING, "data", lambda i: i["versioningConfiguration"].update(status="Suspended")),
        "versioning is 'Suspended'",
    ),
    "MLOPS-S3-005": (
        SAGEMAKER,
        edited(LIFECYCLE, "data", lambda i: i["rules"][0].pop("noncurrentVersionExpiration")),
        "expires noncurrent versions",
    ),
    "MLOPS-KMS-001": (SAGEMAKER, edited(KEY, "kms", lambda i: i.update(enableKeyRotation=False)), "enableKeyRotation"),
    "MLOPS-KMS-002": (
        SAGEMAKER,
        edited(
            KEY,
            "kms",
            document(
                "policy",
                lambda d: statement("AccountAdministersKeyThroughIam", d).update(
                    Principal={"AWS": "arn:aws:iam::123456789012:role/admin"}
                ),
            ),
        ),
        "grants kms:* to",
    ),
    "MLOPS-ECR-001": (
        SAGEMAKER,
        edited(REPOSITORY, "registry", lambda i: i.update(imageScanningConfiguration={"scanOnPush": False})),
        "scanOnPush",
    ),
    "MLOPS-ECR-002": (
        SAGEMAKER,
        edited(REPOSITORY, "registry", lambda i: i.update(imageTagMutability="MUTABLE")),
        "'MUTABLE'",
    ),
    "MLOPS-ECR-003": (
        SAGEMAKER,
        edited(REPOSITORY, "registry", lambda i: i.update(encryptionConfigurations=[{"encryptionType": "AES256"}])),
        "AES256",
    ),
    "MLOPS-IAM-001": (
        SAGEMAKER,
        edited(ROLE_POLICY, "ci-policy", add_statement(Sid="Everything", Action="*", Resource="*")),
        "'Everything' has Action '*'",
    ),
    "MLOPS-IAM-002": (
        SAGEMAKER,
        edited(ROLE_POLICY, "training", add_statement(Action="s3:*", Resource="arn:aws:s3:::x")),
        "allows s3:*",
    ),
    "MLOPS-IAM-003": (
        SAGEMAKER,
        edited(ROLE_POLICY, "serving", add_statement(Action=["s3:GetObject"], Resource="*")),
        "allows s3:GetObject on Resource '*'",
    ),
    "MLOPS-IAM-004": (
        SAGEMAKER,
        edited(ROLE, "training", document("assumeRolePolicy", lambda d: d["Statement"][0].pop("Condition"))),
        "without aws:SourceAccount",
    ),
    "MLOPS-IAM-005": (
        SAGEMAKER,
        edited(
            ROLE_POLICY, "ci-policy", document("policy", lambda d: statement("PassServingRole", d).pop("Condition"))
        ),
        "without an iam:PassedToService condition",
    ),
    "MLOPS-IAM-006": (
        SAGEMAKER,
        edited(
            ROLE,
            "ci-role",
            document(
                "assumeRolePolicy",
                lambda d: d["Statement"][0]["Condition"]["StringLike"].update(
                    {"token.actions.githubusercontent.com:sub": "repo:acme/*"}
                ),
            ),
        ),
        "token.actions.githubusercontent.com:sub must name one subject",
    ),
    "MLOPS-SM-001": (
        SAGEMAKER,
        edited("aws:sagemaker/notebookInstance:NotebookInstance", "notebook", lambda i: i.pop("kmsKeyId")),
        "kmsKeyId",
    ),
    "MLOPS-SM-002": (
        SAGEMAKER,
        edited("aws:sagemaker/notebookInstance:NotebookInstance", "notebook", lambda i: i.update(rootAccess="Enabled")),
        "rootAccess is 'Enabled'",
    ),
    "MLOPS-SM-003": (
        SAGEMAKER_PROD,
        edited("aws:sagemaker/endpointConfiguration:EndpointConfiguration", "serving", lambda i: i.pop("kmsKeyArn")),
        "kmsKeyArn",
    ),
    "MLOPS-SM-004": (SAGEMAKER, edited("aws:sagemaker/pipeline:Pipeline", "pipeline", training_step), "VolumeKmsKeyId"),
    "MLOPS-SM-005": (
        SAGEMAKER_PROD,
        edited(
            "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition",
            "data-quality",
            lambda i: i["dataQualityJobOutputConfig"].pop("kmsKeyId"),
        ),
        "dataQualityJobOutputConfig.kmsKeyId",
    ),
    "MLOPS-LOG-001": (
        SAGEMAKER,
        edited("aws:cloudwatch/logGroup:LogGroup", "logs", lambda i: i.pop("kmsKeyId")),
        "kmsKeyId",
    ),
    "MLOPS-SNS-001": (
        SAGEMAKER,
        edited("aws:sns/topic:Topic", "alarms", lambda i: i.update(kmsMasterKeyId="alias/aws/sns")),
        "kmsMasterKeyId",
    ),
    "MLOPS-STATE-001": (SAGEMAKER, edited(BUCKET, "data", lambda i: None, protect=False), "not protected"),
    "MLOPS-K8S-001": (
        KUBERNETES,
        edited(
            DEPLOYMENT, "model-server", lambda i: container(i)["securityContext"].update(allowPrivilegeEscalation=True)
        ),
        "allows privilege escalation",
    ),
    "MLOPS-K8S-002": (
        KUBERNETES,
        edited(DEPLOYMENT, "tracking", lambda i: container(i)["resources"].pop("limits")),
        "sets no limits.cpu",
    ),
    "MLOPS-K8S-003": (KUBERNETES, removed(NETWORK_POLICY, "default-deny"), "no default-deny NetworkPolicy"),
    "MLOPS-K8S-004": (
        KUBERNETES,
        edited(
            NAMESPACE,
            "namespace-namespace",
            lambda i: i["metadata"]["labels"].update({"pod-security.kubernetes.io/enforce": "baseline"}),
        ),
        "'baseline', not 'restricted'",
    ),
    "MLOPS-IMG-001": (
        KUBERNETES,
        edited(DEPLOYMENT, "model-server", lambda i: container(i).update(image="ghcr.io/acme/server:latest")),
        "'ghcr.io/acme/server:latest' is not pinned",
    ),
    "MLOPS-ENV-001": (
        SAGEMAKER_PROD,  # prod's CI role reads the primary's artifacts bucket to promote from it
        edited(
            ROLE_POLICY,
            "prod-ci-policy",
            document("policy", lambda d: statement("PromoteFromArtifacts", d).pop("Condition")),
        ),
        "without s3:ResourceAccount",
    ),
    "MLOPS-ENV-002": (
        SAGEMAKER,
        edited(
            ROLE_POLICY,
            "serving-policy",
            add_statement(
                Sid="AnyEndpoint",
                Action="sagemaker:InvokeEndpoint",
                Resource="arn:aws:sagemaker:us-east-1:123456789012:endpoint/fraud-detect-*",
            ),
        ),
        "which matches every environment",
    ),
    "MLOPS-ENV-003": (
        SAGEMAKER,
        edited(
            BUCKET_POLICY,
            "artifacts",
            add_statement(
                Sid="Partner",
                Principal={"AWS": "arn:aws:iam::444444444444:root"},
                Action="s3:GetObject",
                Resource="arn:aws:s3:::x/*",
            ),
        ),
        "not named roles",
    ),
}


def test_every_rule_has_a_case():
    assert set(CASES) == set(RULES)


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_rule_on_a_compliant_and_a_non_compliant_input(rule_id):
    args, mutate, says = CASES[rule_id]
    checked = RULES[rule_id]
    g = graph(*args)
    [before] = check_graph(g, rules=[checked]).results
    assert before.status is Status.COMPLIANT and before.findings, [(f.name, f.reason) for f in before.findings]
    [after] = check_graph(mutate(g), rules=[checked]).results
    assert after.status is Status.NON_COMPLIANT and after.blocking
    [found] = after.violations
    assert says in found.reason, found.reason


def test_rules_say_not_applicable_where_they_cannot_judge():
    # A serverless endpoint takes no KMS key; a namespace holding only a Helm chart runs none of
    # the stack's pods; a model served from a model package names no image of its own.
    serverless = graph(*SAGEMAKER).one("aws:sagemaker/endpointConfiguration:EndpointConfiguration")
    assert RULES["MLOPS-SM-003"].evaluate(serverless, graph(*SAGEMAKER)).status is Status.NOT_APPLICABLE
    report = check_graph(graph(*KUBERNETES))
    by_name = {f.name: f for f in report.result("MLOPS-K8S-003").findings}
    assert by_name["fraud-detect-dev-cluster-monitoring-namespace"].status is Status.NOT_APPLICABLE
    assert by_name["fraud-detect-dev-namespace-namespace"].status is Status.COMPLIANT
    # An asymmetric key cannot rotate.
    asymmetric = edited(KEY, "kms", lambda i: i.update(customerMasterKeySpec="RSA_2048", enableKeyRotation=False))
    assert check_graph(asymmetric(graph(*SAGEMAKER)), rules=[RULES["MLOPS-KMS-001"]]).results[0].status.value == (
        "not-applicable"
    )


def test_buckets_sharing_a_parent_are_matched_to_their_own_configuration():
    # Both buckets and their encryption moved to the stack's root: each bucket is judged by the
    # configuration whose `bucket` input names it.
    g = graph(*SAGEMAKER)
    root = f"urn:pulumi:{g.stack}::{g.project}::pulumi:pulumi:Stack::{g.project}-{g.stack}"
    changed = {}
    for role in ("data", "artifacts"):
        for type_ in (BUCKET, SSE):
            resource = g.one(type_, role)
            changed[resource.urn] = replace(resource, parent=root, inputs={**resource.inputs, "bucket": role})
    artifacts_sse = changed[g.one(SSE, "artifacts").urn]
    changed[artifacts_sse.urn] = replace(artifacts_sse, inputs={**artifacts_sse.inputs, "rules": []})
    shared = ResourceGraph(g.project, g.stack, [changed.get(r.urn, r) for r in g.resources])
    [result] = check_graph(shared, rules=[RULES["MLOPS-S3-001"]]).results
    assert {f.name.split("-")[3]: f.status for f in result.findings} == {
        "data": Status.COMPLIANT,
        "artifacts": Status.NON_COMPLIANT,
    }


def test_the_pack_is_the_list_the_spec_validates():
    assert [r.id for r in pack()] == list(RULE_IDS)
    for r in pack():
        assert r.description and "\n" not in r.description and len(r.description) <= 80, r.id
        assert r.applies_to and all(t.count(":") == 2 for t in r.applies_to), r.id
        assert isinstance(r.severity, Severity)


def test_a_rule_is_registered_once_and_only_under_a_known_id():
    with pytest.raises(ValueError, match="add it to mlops_bp.blueprints.models.RULE_IDS"):
        rule("MLOPS-NEW-001", "new", severity=Severity.LOW, applies_to={BUCKET})(lambda r, g: compliant())
    with pytest.raises(ValueError, match="registered twice"):
        rule("MLOPS-S3-001", "again", severity=Severity.LOW, applies_to={BUCKET})(lambda r, g: compliant())


def test_the_stateful_types_exist_once():
    assert RULES["MLOPS-STATE-001"].applies_to == STATEFUL_TYPES
    assert {t for t, kind in RESOURCE_KINDS.items() if kind.stateful} == STATEFUL_TYPES


def test_an_advisory_rule_reports_without_blocking():
    args, mutate, _ = CASES["MLOPS-S3-001"]
    broken = mutate(graph(*args))
    assert not check_graph(broken).passed
    report = check_graph(broken, {"MLOPS-S3-001": "the data bucket holds public data sets"})
    assert report.passed
    result = report.result("MLOPS-S3-001")
    assert result.violations and not result.blocking and result.advisory == "the data bucket holds public data sets"
    doc = json.loads(report.to_json())
    [entry] = [r for r in doc["rules"] if r["id"] == "MLOPS-S3-001"]
    assert entry["enforcement"] == "advisory" and entry["status"] == "non-compliant"
    assert {"urn", "name", "type", "status", "reason"} == set(entry["findings"][0])
    with pytest.raises(ValueError, match="unknown rule ids: MLOPS-NOPE-001"):
        check_graph(broken, {"MLOPS-NOPE-001": "x"})


def _blueprint(advisory: dict[str, str]):
    return blueprint_from_data({"name": "fraud-detect", "level": 1, "rules": {"advisory": advisory}})


def test_the_blueprint_marks_rules_advisory_with_a_reason():
    blueprint = _blueprint({"MLOPS-ECR-002": "images are re-tagged by the release process"})
    assert blueprint.rules.advisory == {"MLOPS-ECR-002": "images are re-tagged by the release process"}
    assert "MLOPS-ECR-002: images are re-tagged by the release process" in dump_blueprint(blueprint)
    assert _blueprint({}).rules.advisory == {}


@pytest.mark.parametrize(
    ("advisory", "message"),
    [
        ({"MLOPS-S3-01": "x"}, "rules.advisory: unknown rule 'MLOPS-S3-01'; did you mean MLOPS-S3-001?"),
        ({"mlops-ecr-002": "x"}, "did you mean MLOPS-ECR-002?"),
        ({"NOTHING-LIKE-IT": "x"}, "`mlops-bp plan --check` lists the rules"),
        ({"MLOPS-S3-001": "  "}, "rules.advisory: MLOPS-S3-001: say why the rule is advisory"),
    ],
)
def test_bad_advisory_settings_name_the_field(advisory, message):
    with pytest.raises(BlueprintError) as caught:
        _blueprint(advisory)
    assert message in str(caught.value)


def test_the_schema_lists_the_rule_ids():
    schema = json.loads(json_schema())
    assert "rules" in schema["properties"]
    advisory = schema["$defs"]["RuleSettings"]["properties"]["advisory"]
    assert advisory["propertyNames"] == {"enum": list(RULE_IDS)}
    assert advisory["additionalProperties"] == {"type": "string"}
