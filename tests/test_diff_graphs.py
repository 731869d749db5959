"""The graph diff on small hand-built graphs: what is a create, update, replace and delete."""

from __future__ import annotations

import json

import pytest

from mlops_bp.stacks.diff import ANY_INPUT, RESOURCE_KINDS, Action, diff_graphs, kind_of
from mlops_bp.stacks.graph import CapturedResource, ResourceGraph

BUCKET = "aws:s3/bucket:Bucket"
PROVIDER_URN = "urn:pulumi:dev::proj::pulumi:providers:aws::proj-dev-aws"


def res(type_: str, name: str, parent: str = "", provider: str = f"{PROVIDER_URN}::id", **kwargs) -> CapturedResource:
    """A captured custom resource; its URN derives from type and name like the engine's."""
    return CapturedResource(
        type=type_,
        name=name,
        urn=f"urn:pulumi:dev::proj::{type_}::{name}",
        parent=parent,
        inputs=kwargs.pop("inputs", {}),
        custom=kwargs.pop("custom", True),
        provider=provider,
        **kwargs,
    )


def provider(region: str = "us-east-1") -> CapturedResource:
    return CapturedResource(
        type="pulumi:providers:aws",
        name="proj-dev-aws",
        urn=PROVIDER_URN,
        parent="",
        inputs={"region": region},
        custom=True,
    )


def graph(*resources: CapturedResource) -> ResourceGraph:
    return ResourceGraph(project="proj", stack="dev", resources=[provider(), *resources])


def bucket(prefix: str = "proj-dev-data-", name: str = "proj-dev-data-bucket", **inputs) -> CapturedResource:
    return res(BUCKET, name, inputs={"bucketPrefix": prefix, "forceDestroy": False, **inputs}, protect=True)


def only(diff, action: Action):
    changes = diff.of(action)
    assert len(changes) == 1, changes
    return changes[0]


def test_identical_graphs_have_no_changes():
    diff = diff_graphs(graph(bucket()), graph(bucket()))
    assert diff.is_empty
    assert diff.unchanged == 2
    assert diff.counts() == {"create": 0, "update": 0, "replace": 0, "delete": 0, "unchanged": 2}


def test_new_urn_is_a_create_and_vanished_urn_is_a_delete():
    role = res("aws:iam/role:Role", "proj-dev-role", inputs={"name": "r"})
    diff = diff_graphs(graph(bucket()), graph(role))
    assert only(diff, Action.CREATE).urn == role.urn
    deleted = only(diff, Action.DELETE)
    assert deleted.urn == bucket().urn
    assert deleted.stateful and deleted.protect
    assert diff.destroys_data == [deleted]


def test_renamed_bucket_resource_is_a_delete_of_stateful_data():
    diff = diff_graphs(graph(bucket()), graph(bucket(name="proj-dev-data-v2-bucket")))
    assert [c.action for c in diff.changes] == [Action.DELETE, Action.CREATE]
    assert [c.name for c in diff.destroys_data] == ["proj-dev-data-bucket"]


def test_changing_bucket_prefix_forces_replacement():
    diff = diff_graphs(graph(bucket()), graph(bucket(prefix="proj-dev-lake-")))
    change = only(diff, Action.REPLACE)
    assert change.destroys_data
    assert change.reason == "changes bucketPrefix"
    [item] = change.inputs
    assert (item.path, item.old, item.new, item.forces_replacement) == (
        "bucketPrefix",
        "proj-dev-data-",
        "proj-dev-lake-",
        True,
    )


def test_in_place_input_change_is_an_update_that_keeps_data():
    diff = diff_graphs(graph(bucket()), graph(bucket(forceDestroy=True)))
    change = only(diff, Action.UPDATE)
    assert not change.destroys_data
    assert [(i.path, i.forces_replacement) for i in change.inputs] == [("forceDestroy", False)]
    assert diff.destroys_data == []


def test_nested_replacement_path_matches_below_and_above():
    pvc = "kubernetes:core/v1:PersistentVolumeClaim"
    old = res(
        pvc,
        "mlflow-db",
        inputs={"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}}},
    )
    wider = res(
        pvc,
        "mlflow-db",
        inputs={"spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "10Gi"}}}},
    )
    bigger = res(
        pvc,
        "mlflow-db",
        inputs={"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "20Gi"}}}},
    )
    replaced = only(diff_graphs(graph(old), graph(wider)), Action.REPLACE)
    assert replaced.destroys_data
    assert [i.path for i in replaced.inputs] == ["spec.accessModes[0]"]
    resized = only(diff_graphs(graph(old), graph(bigger)), Action.UPDATE)
    assert [i.path for i in resized.inputs] == ["spec.resources.requests.storage"]
    # A whole `spec` appearing carries the forcing fields inside it.
    bare = res(pvc, "mlflow-db", inputs={})
    assert only(diff_graphs(graph(bare), graph(old)), Action.REPLACE).inputs[0].path == "spec"


def test_generic_identity_inputs_force_replacement():
    old = res("kubernetes:apps/v1:Deployment", "server", inputs={"metadata": {"name": "a", "labels": {"x": "1"}}})
    renamed = res("kubernetes:apps/v1:Deployment", "server", inputs={"metadata": {"name": "b", "labels": {"x": "1"}}})
    relabelled = res(
        "kubernetes:apps/v1:Deployment", "server", inputs={"metadata": {"name": "a", "labels": {"x": "2"}}}
    )
    assert only(diff_graphs(graph(old), graph(renamed)), Action.REPLACE).reason == "changes metadata.name"
    assert only(diff_graphs(graph(old), graph(relabelled)), Action.UPDATE)
    role = res("aws:iam/role:Role", "role", inputs={"name": "a", "description": "x"})
    assert only(
        diff_graphs(graph(role), graph(res("aws:iam/role:Role", "role", inputs={"name": "b", "description": "x"}))),
        Action.REPLACE,
    )


def test_immutable_type_is_replaced_on_any_change():
    config = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
    assert kind_of(config).replace_on[0] == ANY_INPUT
    old = res(config, "cfg", inputs={"productionVariants": [{"variantName": "blue"}]})
    new = res(
        config,
        "cfg",
        inputs={"productionVariants": [{"variantName": "blue"}], "dataCaptureConfig": {"enableCapture": True}},
    )
    change = only(diff_graphs(graph(old), graph(new)), Action.REPLACE)
    assert not change.destroys_data  # an endpoint configuration holds no data


def test_json_string_inputs_are_compared_as_documents():
    doc = {"Version": "2012-10-17", "Statement": [{"Sid": "A", "Effect": "Allow", "Action": "s3:GetObject"}]}
    grown = {**doc, "Statement": [*doc["Statement"], {"Sid": "B", "Effect": "Allow", "Action": "ecr:BatchGetImage"}]}
    old = res("aws:iam/rolePolicy:RolePolicy", "p", inputs={"policy": json.dumps(doc), "role": "r"})
    new = res("aws:iam/rolePolicy:RolePolicy", "p", inputs={"policy": json.dumps(grown), "role": "r"})
    [item] = only(diff_graphs(graph(old), graph(new)), Action.UPDATE).inputs
    assert item.path == "policy.Statement[1]"
    assert item.old is None and item.new["Sid"] == "B"


def test_replaced_provider_replaces_everything_it_manages():
    old = ResourceGraph("proj", "dev", [provider("us-east-1"), bucket()])
    new = ResourceGraph("proj", "dev", [provider("eu-west-1"), bucket()])
    diff = diff_graphs(old, new)
    assert {c.urn for c in diff.of(Action.REPLACE)} == {PROVIDER_URN, bucket().urn}
    assert [c.reason for c in diff.destroys_data] == ["its provider is replaced"]


def test_moving_to_another_provider_forces_replacement():
    moved = bucket()
    moved = CapturedResource(**{**moved.__dict__, "provider": "urn:pulumi:dev::proj::pulumi:providers:aws::other::id"})
    change = only(diff_graphs(graph(bucket()), graph(moved)), Action.REPLACE)
    assert change.inputs[0].path == "[provider]"
    assert change.destroys_data


def test_resource_options_are_honoured():
    old = res("aws:sns/topic:Topic", "t", inputs={"displayName": "a", "tags": {"x": "1"}})
    forced = res(
        "aws:sns/topic:Topic", "t", inputs={"displayName": "b", "tags": {"x": "1"}}, replace_on_changes=("displayName",)
    )
    assert only(diff_graphs(graph(old), graph(forced)), Action.REPLACE)
    ignored = res("aws:sns/topic:Topic", "t", inputs={"displayName": "a", "tags": {"x": "2"}}, ignore_changes=("tags",))
    assert diff_graphs(graph(old), graph(ignored)).is_empty


def test_losing_protection_is_shown_but_is_not_a_replacement():
    unprotected = CapturedResource(**{**bucket().__dict__, "protect": False})
    change = only(diff_graphs(graph(bucket()), graph(unprotected)), Action.UPDATE)
    assert [(i.path, i.old, i.new) for i in change.inputs] == [("[protect]", True, False)]


def test_components_are_not_diffed():
    component = res("mlopsbp:aws:SecureBucket", "proj-dev-data", custom=False, provider="")
    diff = diff_graphs(graph(bucket()), graph(bucket(), component))
    assert diff.is_empty


def test_new_stack_creates_and_dropped_stack_deletes_everything():
    created = diff_graphs(None, graph(bucket()))
    assert [c.action for c in created.changes] == [Action.CREATE, Action.CREATE]
    assert created.stack == "dev"
    dropped = diff_graphs(graph(bucket()), None)
    assert {c.action for c in dropped.changes} == {Action.DELETE}
    assert [c.reason for c in dropped.destroys_data] == ["the stack is no longer declared"]
    with pytest.raises(ValueError):
        diff_graphs(None, None)


def test_to_dict_is_json_and_names_the_data_loss():
    diff = diff_graphs(graph(bucket()), graph(bucket(prefix="other-")))
    doc = json.loads(diff.to_json())
    assert doc["destroys_data"] == [bucket().urn]
    assert doc["counts"]["replace"] == 1
    [change] = doc["changes"]
    assert change["inputs"] == [
        {"path": "bucketPrefix", "old": "proj-dev-data-", "new": "other-", "forces_replacement": True}
    ]


@pytest.mark.parametrize(
    ("type_", "field"),
    [
        (BUCKET, "bucket"),
        (BUCKET, "bucketPrefix"),
        ("aws:kms/key:Key", "customerMasterKeySpec"),
        ("aws:kms/key:Key", "keyUsage"),
        ("aws:ecr/repository:Repository", "name"),
        ("aws:sagemaker/modelPackageGroup:ModelPackageGroup", "modelPackageGroupName"),
        ("aws:cloudwatch/logGroup:LogGroup", "name"),
        ("kubernetes:core/v1:PersistentVolumeClaim", "metadata.name"),
        ("kubernetes:core/v1:PersistentVolumeClaim", "spec.storageClassName"),
        ("kubernetes:core/v1:PersistentVolumeClaim", "spec.accessModes"),
    ],
)
def test_design_stateful_types_and_their_identity_inputs(type_, field):
    kind = kind_of(type_)
    assert kind.stateful
    assert field in kind.replace_on


def test_stateful_table_entries_name_known_packages():
    for type_ in RESOURCE_KINDS:
        assert type_.split(":")[0] in {"aws", "kubernetes", "pulumi"}, type_
        assert type_.count(":") == 2, type_
