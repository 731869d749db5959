"""RBAC of the CI deploy identity: what the deploy workflow may do, in its own namespace only,
and a ValidatingAdmissionPolicy that keeps those rights from being turned into others.

The Role lets CI roll the model server (patch Deployments), retag CronJobs and start training
(create Jobs). RBAC cannot say *which* service account or image such a pod runs with, so CI could
otherwise create a Job under any ServiceAccount of the namespace (MLflow's, the notebook's) or
with any image. The policy, for requests of the CI group only, admits:
- Deployments (and KServe InferenceServices) that run as the model server's ServiceAccount;
- Jobs that run as the training ServiceAccount; CronJobs as training or drift-check;
- images of the environment's own repository only (CI pushes them), and an API token only for
  the drift check;
- HTTPRoutes whose backends are the model server's Services.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from ..base import CapabilityComponent

__all__ = ["DEPLOY_RULES", "DeployAccess", "DeployAccessArgs", "admission_validations"]

_READ = ["get", "list", "watch"]
_ROLL = [*_READ, "patch", "update"]

# Roll a new model image out and watch it; never Secrets, RBAC or wildcards.
DEPLOY_RULES: tuple[dict, ...] = (
    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": _ROLL},
    {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": _READ},
    {"apiGroups": [""], "resources": ["pods", "services", "configmaps", "events"], "verbs": _READ},
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
    {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": _ROLL},
    {"apiGroups": ["batch"], "resources": ["cronjobs"], "verbs": _ROLL},
    {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": [*_READ, "create"]},
    {"apiGroups": ["serving.kserve.io"], "resources": ["inferenceservices"], "verbs": _ROLL},
    {"apiGroups": ["gateway.networking.k8s.io"], "resources": ["httproutes"], "verbs": _ROLL},
)

# What the policy looks at: everything the Role lets CI create or change that runs a pod or
# routes traffic.
_ADMITTED = (
    ("apps", "deployments"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
    ("serving.kserve.io", "inferenceservices"),
    ("gateway.networking.k8s.io", "httproutes"),
)
_POD = (
    "object.kind == 'CronJob' ? object.spec.jobTemplate.spec.template.spec"
    " : (object.kind == 'InferenceService' ? object.spec.predictor : object.spec.template.spec)"
)
_CONTAINERS = "variables.pod.containers + (has(variables.pod.initContainers) ? variables.pod.initContainers : [])"


def _cel_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


def admission_validations(
    repository_url: str, service_accounts: Mapping[str, Sequence[str]], api_clients: Sequence[str], backend_prefix: str
) -> tuple[list[dict], list[dict]]:
    """(variables, validations) of the policy: CEL over the admitted object.

    `service_accounts` maps a kind to the ServiceAccounts its pods may run as; `api_clients` are
    the ServiceAccounts that may mount an API token."""
    variables = [{"name": "pod", "expression": _POD}, {"name": "containers", "expression": _CONTAINERS}]
    validations = [
        {
            "expression": f"object.kind != '{kind}' || variables.pod.serviceAccountName in {_cel_list(accounts)}",
            "message": f"CI may run {kind} pods only as {', '.join(accounts)}",
            "reason": "Forbidden",
        }
        for kind, accounts in service_accounts.items()
    ]
    validations += [
        {
            "expression": (
                "object.kind == 'HTTPRoute' || variables.containers.all(c, "
                f"c.image.startsWith('{repository_url}:') || c.image.startsWith('{repository_url}@'))"
            ),
            "message": f"CI may run images of {repository_url} only",
            "reason": "Forbidden",
        },
        {
            "expression": (
                "object.kind == 'HTTPRoute' || !has(variables.pod.automountServiceAccountToken)"
                " || !variables.pod.automountServiceAccountToken"
                f" || variables.pod.serviceAccountName in {_cel_list(api_clients)}"
            ),
            "message": f"only {', '.join(api_clients)} may mount an API token",
            "reason": "Forbidden",
        },
        {
            "expression": (
                "object.kind != 'HTTPRoute' || object.spec.rules.all(r, !has(r.backendRefs) || "
                f"r.backendRefs.all(b, b.name.startsWith('{backend_prefix}')))"
            ),
            "message": f"CI may route only to the {backend_prefix} Services",
            "reason": "Forbidden",
        },
    ]
    return variables, validations


@dataclass(frozen=True)
class DeployAccessArgs:
    namespace: pulumi.Input[str]
    labels: Mapping[str, str]
    group: str
    ci_role_arn: pulumi.Input[str]
    # The environment's image repository: the only images CI may run.
    repository_url: pulumi.Input[str]
    # {kind: ServiceAccounts its pods may run as} and who may mount an API token.
    service_accounts: Mapping[str, Sequence[str]]
    api_clients: Sequence[str]
    route_backend_prefix: str
    # Set when mlops-bp manages the EKS cluster: the role is mapped to the group by an access
    # entry. On another cluster its admin maps the role to the group.
    eks_cluster_name: str | None = None


class DeployAccess(CapabilityComponent):
    """A Role with the deploy workflow's verbs in one namespace, bound to the CI group, and the
    ValidatingAdmissionPolicy (with its binding) that limits what those verbs may produce."""

    TYPE = "mlopsbp:k8s:DeployAccess"
    CAPABILITY = "iam"

    def __init__(self, name: str, args: DeployAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        if args.group.startswith("system:"):
            raise ValueError(f"{name}: the group must not be a system: group")
        metadata = {"name": "ci-deploy", "namespace": args.namespace, "labels": dict(args.labels)}
        role = k8s.rbac.v1.Role(
            f"{name}-role", metadata=metadata, rules=[dict(rule) for rule in DEPLOY_RULES], opts=self.child()
        )
        k8s.rbac.v1.RoleBinding(
            f"{name}-binding",
            metadata=metadata,
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role.metadata.name},
            subjects=[{"kind": "Group", "name": args.group, "apiGroup": "rbac.authorization.k8s.io"}],
            opts=self.child(),
        )
        self._admission_policy(name, args)
        if args.eks_cluster_name:
            aws.eks.AccessEntry(
                f"{name}-access-entry",
                cluster_name=args.eks_cluster_name,
                principal_arn=args.ci_role_arn,
                kubernetes_groups=[args.group],
                type="STANDARD",
                opts=self.child(),
            )
        self.register_outputs({"group": args.group})

    def _admission_policy(self, name: str, args: DeployAccessArgs) -> None:
        # Cluster-scoped: named after the group, which names the project and environment.
        policy_name = args.group.replace(":", "-")
        namespace_selector = pulumi.Output.from_input(args.namespace).apply(
            lambda ns: {"matchLabels": {"kubernetes.io/metadata.name": ns}}
        )
        rules = pulumi.Output.from_input(args.repository_url).apply(
            lambda url: admission_validations(url, args.service_accounts, args.api_clients, args.route_backend_prefix)
        )
        labels = {k: v for k, v in args.labels.items() if k != "mlops-bp/environment"}
        policy = k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
            f"{name}-admission-policy",
            metadata={"name": policy_name, "labels": labels},
            spec={
                "failurePolicy": "Fail",
                "matchConstraints": {
                    "namespaceSelector": namespace_selector,
                    "resourceRules": [
                        {
                            "apiGroups": [group],
                            "apiVersions": ["*"],
                            "operations": ["CREATE", "UPDATE"],
                            "resources": [resource],
                        }
                        for group, resource in _ADMITTED
                    ],
                },
                "matchConditions": [
                    {"name": "ci-deploy-group", "expression": f"request.userInfo.groups.exists(g, g == '{args.group}')"}
                ],
                "variables": rules.apply(lambda r: r[0]),
                "validations": rules.apply(lambda r: r[1]),
            },
            opts=self.child(),
        )
        k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
            f"{name}-admission-binding",
            metadata={"name": policy_name, "labels": labels},
            spec={
                "policyName": policy.metadata.name,
                "validationActions": ["Deny"],
                "matchResources": {"namespaceSelector": namespace_selector},
            },
            opts=self.child(),
        )
