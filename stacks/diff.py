"""What `pulumi up` would do when a stack goes from one captured graph to another.

Two ResourceGraphs (from `mlops_bp.stacks.plan.plan`) are compared by URN, the identity the
Pulumi engine uses: a URN only in the new graph is a create, a URN that disappears is a delete,
and a URN in both whose inputs differ is an update — or a replacement when a changed input is
one the provider cannot change in place. Which inputs force replacement and which resource
types hold data is provider knowledge that no SDK exposes offline, so it is kept as data in the
tables below, the one place to extend when a component starts using a new resource type.

The upgrade invariant ("level N -> N+1 adds, never replaces or deletes a stateful resource")
is checked on this diff. Like the rest of `stacks/graph.py`'s readers, this module imports no
Pulumi.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from mlops_bp.blueprints import Blueprint, UserError

from .graph import CapturedResource, ResourceGraph

__all__ = [
    "ANY_INPUT",
    "GENERIC_REPLACE_ON",
    "RESOURCE_KINDS",
    "STATEFUL_TYPES",
    "Action",
    "GraphDiff",
    "InputChange",
    "ResourceChange",
    "ResourceKind",
    "diff_blueprints",
    "diff_graphs",
    "kind_of",
]

# A replace-on entry meaning "every input": the resource is immutable (e.g. a SageMaker
# endpoint configuration), any change creates a new one.
ANY_INPUT = "*"


@dataclass(frozen=True)
class ResourceKind:
    """What diff needs to know about one resource type.

    `replace_on` are input paths in the captured (camelCase) form, dotted for nested keys; a
    change at or below one of them forces replacement. `stateful` types hold data that a
    replacement or deletion destroys.
    """

    replace_on: tuple[str, ...] = ()
    stateful: bool = False


def _stateful(*replace_on: str) -> ResourceKind:
    return ResourceKind(replace_on=replace_on, stateful=True)


def _replace_on(*replace_on: str) -> ResourceKind:
    return ResourceKind(replace_on=replace_on)


# Inputs that force replacement for every resource of a provider package (identity of the
# cloud object), on top of the per-type entries below.
GENERIC_REPLACE_ON: dict[str, tuple[str, ...]] = {
    "aws": ("name", "namePrefix"),
    "kubernetes": ("metadata.name", "metadata.namespace"),
}

RESOURCE_KINDS: dict[str, ResourceKind] = {
    # --- stateful: data is lost when one of these is replaced or deleted -------------------
    "aws:s3/bucket:Bucket": _stateful("bucket", "bucketPrefix", "objectLockEnabled"),
    "aws:s3/bucketV2:BucketV2": _stateful("bucket", "bucketPrefix", "objectLockEnabled"),
    "aws:kms/key:Key": _stateful("customerMasterKeySpec", "keyUsage", "multiRegion", "customKeyStoreId", "xksKeyId"),
    "aws:ecr/repository:Repository": _stateful("name", "encryptionConfigurations"),
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": _stateful(
        "modelPackageGroupName", "modelPackageGroupDescription"
    ),
    "aws:cloudwatch/logGroup:LogGroup": _stateful("name", "namePrefix", "logGroupClass"),
    # The notebook's ML storage volume holds the data scientists' work.
    "aws:sagemaker/notebookInstance:NotebookInstance": _stateful(
        "name", "kmsKeyId", "subnetId", "securityGroups", "directInternetAccess", "platformIdentifier"
    ),
    "aws:eks/cluster:Cluster": _stateful("name", "roleArn", "encryptionConfig", "kubernetesNetworkConfig"),
    "aws:efs/fileSystem:FileSystem": _stateful("creationToken", "encrypted", "kmsKeyId", "performanceMode"),
    "aws:dynamodb/table:Table": _stateful("name", "hashKey", "rangeKey"),
    "kubernetes:core/v1:PersistentVolumeClaim": _stateful(
        "spec.storageClassName",
        "spec.accessModes",
        "spec.volumeName",
        "spec.volumeMode",
        "spec.selector",
        "spec.dataSource",
    ),
    "kubernetes:core/v1:PersistentVolume": _stateful(
        "spec.storageClassName", "spec.accessModes", "spec.persistentVolumeSource"
    ),
    # Deleting a namespace deletes every object in it, persistent volume claims included.
    "kubernetes:core/v1:Namespace": _stateful(),
    "kubernetes:apps/v1:StatefulSet": _stateful(
        "spec.selector", "spec.serviceName", "spec.volumeClaimTemplates", "spec.podManagementPolicy"
    ),
    # --- stateless: shown as replaced, never a data loss ----------------------------------
    "pulumi:providers:aws": _replace_on("region"),
    "pulumi:providers:kubernetes": _replace_on("kubeconfig", "context", "cluster"),
    "aws:iam/role:Role": _replace_on("path"),
    "aws:iam/rolePolicy:RolePolicy": _replace_on("role"),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": _replace_on("role", "policyArn"),
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": _replace_on("url"),
    "aws:kms/alias:Alias": _replace_on("targetKeyId"),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": _replace_on("bucket"),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": _replace_on("bucket"),
    "aws:s3/bucketVersioning:BucketVersioning": _replace_on("bucket", "expectedBucketOwner"),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": _replace_on(
        "bucket", "expectedBucketOwner"
    ),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": _replace_on("bucket", "expectedBucketOwner"),
    "aws:s3/bucketPolicy:BucketPolicy": _replace_on("bucket"),
    "aws:s3/bucketNotification:BucketNotification": _replace_on("bucket"),
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": _replace_on("repository"),
    "aws:ecr/repositoryPolicy:RepositoryPolicy": _replace_on("repository"),
    "aws:sagemaker/model:Model": _replace_on(ANY_INPUT),
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": _replace_on(ANY_INPUT),
    "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition": _replace_on(ANY_INPUT),
    "aws:sagemaker/pipeline:Pipeline": _replace_on("pipelineName"),
    "aws:sagemaker/monitoringSchedule:MonitoringSchedule": _replace_on("name"),
    "aws:sagemaker/notebookInstanceLifecycleConfiguration:NotebookInstanceLifecycleConfiguration": _replace_on("name"),
    "aws:cloudwatch/dashboard:Dashboard": _replace_on("dashboardName"),
    "aws:cloudwatch/eventRule:EventRule": _replace_on("eventBusName"),
    "aws:cloudwatch/eventTarget:EventTarget": _replace_on("rule", "targetId", "eventBusName"),
    "aws:sns/topic:Topic": _replace_on("fifoTopic"),
    "aws:sns/topicSubscription:TopicSubscription": _replace_on("topic", "protocol", "endpoint"),
    "aws:appautoscaling/target:Target": _replace_on("resourceId", "scalableDimension", "serviceNamespace"),
    "aws:appautoscaling/policy:Policy": _replace_on("resourceId", "scalableDimension", "serviceNamespace"),
    "aws:lambda/permission:Permission": _replace_on(ANY_INPUT),
    "aws:eks/nodeGroup:NodeGroup": _replace_on(
        "clusterName", "nodeRoleArn", "subnetIds", "amiType", "capacityType", "diskSize", "instanceTypes"
    ),
    "aws:eks/addon:Addon": _replace_on("clusterName", "addonName"),
    "kubernetes:apps/v1:Deployment": _replace_on("spec.selector"),
    "kubernetes:apps/v1:DaemonSet": _replace_on("spec.selector"),
    "kubernetes:batch/v1:Job": _replace_on("spec.selector", "spec.template", "spec.completions"),
    "kubernetes:core/v1:Service": _replace_on("spec.clusterIP", "spec.clusterIPs"),
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding": _replace_on("roleRef"),
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding": _replace_on("roleRef"),
    "kubernetes:helm.sh/v3:Release": _replace_on("name", "namespace"),
}


# The one list of resource types that hold data: the diff flags their replacement or deletion,
# and the rule pack (`mlops_bp.stacks.rules`, MLOPS-STATE-001) requires them to be protected.
STATEFUL_TYPES: frozenset[str] = frozenset(t for t, kind in RESOURCE_KINDS.items() if kind.stateful)


def kind_of(type_: str) -> ResourceKind:
    """The diff knowledge of `type_`: its table entry plus its provider's generic identity inputs."""
    kind = RESOURCE_KINDS.get(type_, ResourceKind())
    package = type_.split(":", 1)[0]
    generic = () if type_.startswith("pulumi:providers:") else GENERIC_REPLACE_ON.get(package, ())
    replace_on = tuple(dict.fromkeys((*kind.replace_on, *generic)))
    return ResourceKind(replace_on=replace_on, stateful=kind.stateful)


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"


@dataclass(frozen=True)
class InputChange:
    """One changed input (or option, in brackets: `[provider]`, `[protect]`)."""

    path: str
    old: Any
    new: Any
    forces_replacement: bool


@dataclass(frozen=True)
class ResourceChange:
    action: Action
    urn: str
    type: str
    name: str
    stateful: bool
    protect: bool
    inputs: tuple[InputChange, ...] = ()
    reason: str = ""

    @property
    def destroys_data(self) -> bool:
        """A stateful resource that `pulumi up` would replace or delete."""
        return self.stateful and self.action in (Action.REPLACE, Action.DELETE)

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action.value,
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "stateful": self.stateful,
            "protect": self.protect,
            "destroys_data": self.destroys_data,
            "reason": self.reason,
            "inputs": [
                {"path": c.path, "old": c.old, "new": c.new, "forces_replacement": c.forces_replacement}
                for c in self.inputs
            ],
        }


@dataclass(frozen=True)
class GraphDiff:
    """Every change between two graphs of one stack; `unchanged` counts the rest.

    `status` is "existing", "new" (a stack to create) or "dropped" (no longer declared).
    """

    stack: str
    changes: tuple[ResourceChange, ...] = ()
    unchanged: int = 0
    status: str = "existing"

    def of(self, action: Action) -> list[ResourceChange]:
        return [c for c in self.changes if c.action is action]

    @property
    def destroys_data(self) -> list[ResourceChange]:
        return [c for c in self.changes if c.destroys_data]

    @property
    def is_empty(self) -> bool:
        return not self.changes

    def counts(self) -> dict[str, int]:
        return {action.value: len(self.of(action)) for action in Action} | {"unchanged": self.unchanged}

    def to_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "status": self.status,
            "counts": self.counts(),
            "destroys_data": [c.urn for c in self.destroys_data],
            "changes": [c.to_dict() for c in self.changes],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, default=str)


def _decoded(value: Any) -> Any:
    """A JSON document held in a string input (IAM policies, provider default tags) as data, so
    a change shows as the statement that changed rather than as two long strings."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


_MISSING = object()


def _changed_paths(old: Any, new: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """The smallest subtrees where `old` and `new` differ, as (path, old, new); a subtree only
    on one side is one change (None on the other side), not one change per leaf."""
    old, new = _decoded(old), _decoded(new)
    if old == new:
        return []
    if old is _MISSING or new is _MISSING:
        return [(path, None if old is _MISSING else old, None if new is _MISSING else new)]
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        keys = sorted(old.keys() | new.keys(), key=str)
        pairs = [(f"{path}.{k}" if path else str(k), old.get(k, _MISSING), new.get(k, _MISSING)) for k in keys]
    elif isinstance(old, list | tuple) and isinstance(new, list | tuple):
        longest = max(len(old), len(new))
        pairs = [
            (f"{path}[{i}]", old[i] if i < len(old) else _MISSING, new[i] if i < len(new) else _MISSING)
            for i in range(longest)
        ]
    else:
        return [(path, old, new)]
    return [change for sub_path, a, b in pairs for change in _changed_paths(a, b, sub_path)]


def _under(path: str, field_path: str) -> bool:
    """`path` is `field_path` or lies below it (`spec.accessModes[0]` under `spec.accessModes`)."""
    return path == field_path or path.startswith((f"{field_path}.", f"{field_path}["))


def _forces(path: str, replace_on: Iterable[str]) -> bool:
    """A change at `path` touches a replacement-forcing input: at, below or above it (a whole
    `spec` that appears carries `spec.accessModes`)."""
    return any(f == ANY_INPUT or _under(path, f) or _under(f, path) for f in replace_on)


def _input_changes(old: CapturedResource, new: CapturedResource, replace_on: Iterable[str]) -> list[InputChange]:
    ignored = new.ignore_changes
    return [
        InputChange(path, before, after, _forces(path, replace_on))
        for path, before, after in _changed_paths(old.inputs, new.inputs)
        if not any(_under(path, i) for i in ignored)
    ]


def _provider_urn(reference: str) -> str:
    """A provider reference is `<urn>::<id>`; the URN is what identifies the provider."""
    return reference.rsplit("::", 1)[0] if reference else ""


def _update_or_replace(
    old: CapturedResource, new: CapturedResource, replaced_providers: set[str]
) -> ResourceChange | None:
    kind = kind_of(new.type)
    replace_on = (*kind.replace_on, *new.replace_on_changes)
    inputs = _input_changes(old, new, replace_on)
    reason = ""
    old_provider, new_provider = _provider_urn(old.provider), _provider_urn(new.provider)
    if old_provider != new_provider:
        inputs.append(InputChange("[provider]", old_provider, new_provider, True))
        reason = "moves to another provider"
    elif new_provider in replaced_providers:
        reason = "its provider is replaced"
    if old.protect != new.protect:
        inputs.append(InputChange("[protect]", old.protect, new.protect, False))
    if not inputs and not reason:
        return None
    forced = [c.path for c in inputs if c.forces_replacement]
    if forced and not reason:
        reason = "changes " + ", ".join(forced)
    return ResourceChange(
        action=Action.REPLACE if reason else Action.UPDATE,
        urn=new.urn,
        type=new.type,
        name=new.name,
        stateful=kind.stateful,
        protect=new.protect or old.protect,
        inputs=tuple(inputs),
        reason=reason,
    )


def _appearing(resource: CapturedResource, action: Action, reason: str) -> ResourceChange:
    return ResourceChange(
        action=action,
        urn=resource.urn,
        type=resource.type,
        name=resource.name,
        stateful=kind_of(resource.type).stateful,
        protect=resource.protect,
        reason=reason,
    )


def _diffed(graph: ResourceGraph | None) -> dict[str, CapturedResource]:
    """Resources the engine diffs: custom resources and providers (components hold no state)."""
    return {r.urn: r for r in graph.resources if not r.is_component} if graph is not None else {}


def diff_graphs(old: ResourceGraph | None, new: ResourceGraph | None) -> GraphDiff:
    """What `pulumi up` of `new` does to a stack holding `old`.

    None stands for "no such stack": a None `old` is a new stack (everything created), a None
    `new` a stack that is no longer declared (everything deleted by `pulumi destroy`).
    """
    if old is None and new is None:
        raise ValueError("diff_graphs needs at least one graph")
    stack = (new or old).stack  # type: ignore[union-attr]
    before, after = _diffed(old), _diffed(new)
    # Replaced providers replace everything they manage: resolve them first.
    replaced_providers: set[str] = set()
    changes: list[ResourceChange] = []
    for urn in sorted(before.keys() & after.keys(), key=lambda u: not after[u].is_provider):
        change = _update_or_replace(before[urn], after[urn], replaced_providers)
        if change is None:
            continue
        if after[urn].is_provider and change.action is Action.REPLACE:
            replaced_providers.add(urn)
        changes.append(change)
    unchanged = len(before.keys() & after.keys()) - len(changes)
    stack_gone = "the stack is no longer declared" if new is None else "no longer declared"
    changes += [_appearing(after[u], Action.CREATE, "") for u in after.keys() - before.keys()]
    changes += [_appearing(before[u], Action.DELETE, stack_gone) for u in before.keys() - after.keys()]
    order = {Action.DELETE: 0, Action.REPLACE: 1, Action.UPDATE: 2, Action.CREATE: 3}
    changes.sort(key=lambda c: (order[c.action], c.urn))
    status = "new" if old is None else "dropped" if new is None else "existing"
    return GraphDiff(stack=stack, changes=tuple(changes), unchanged=unchanged, status=status)


def diff_blueprints(old: Blueprint, new: Blueprint, environment: str | None = None) -> list[GraphDiff]:
    """One GraphDiff per environment (stack) of either blueprint, captured offline.

    An environment only `new` declares is a new stack; one only `old` declares is a stack whose
    every resource `pulumi destroy` would delete. `environment` limits the diff to one stack.
    """
    from .plan import plan

    old_envs = [e.name for e in old.environments]
    new_envs = [e.name for e in new.environments]
    names = list(dict.fromkeys((*old_envs, *new_envs)))
    if environment is not None:
        if environment not in names:
            raise UserError(f"env: {environment!r} is in neither blueprint (one of {', '.join(names)})")
        names = [environment]
    return [
        diff_graphs(
            plan(old, name) if name in old_envs else None,
            plan(new, name) if name in new_envs else None,
        )
        for name in names
    ]
