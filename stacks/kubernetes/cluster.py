"""The cluster: an EKS cluster this stack creates, or an existing one; and the explicit
Kubernetes provider every Kubernetes resource of the stack uses."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from ..base import CapabilityComponent, policy_document, static_policy

__all__ = ["ClusterAccess", "EksCluster", "EksClusterArgs", "connect_cluster", "kubeconfig"]

_MANAGED = "arn:aws:iam::aws:policy/"
NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly")
CONTROL_PLANE_LOGS = ("api", "audit", "authenticator", "controllerManager", "scheduler")


def _assumed_by(service: str) -> str:
    return static_policy([{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}])


def kubeconfig(
    cluster_name: pulumi.Input[str], endpoint: pulumi.Input[str], ca_data: pulumi.Input[str], region: str
) -> pulumi.Output[str]:
    """A kubeconfig that authenticates with `aws eks get-token` (short-lived, no stored secret)."""

    def render(values: list[str]) -> str:
        name, server, ca = values
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": {"server": server, "certificate-authority-data": ca}}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
            "current-context": name,
            "users": [
                {
                    "name": name,
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "aws",
                            "args": ["eks", "get-token", "--cluster-name", name, "--region", region],
                        }
                    },
                }
            ],
        }
        return json.dumps(config, sort_keys=True)

    return pulumi.Output.all(cluster_name, endpoint, ca_data).apply(render)


@dataclass(frozen=True)
class EksClusterArgs:
    cluster_name: str
    version: str
    subnet_ids: tuple[str, ...]
    instance_types: tuple[str, ...]
    min_size: int
    desired_size: int
    max_size: int
    private_endpoint: bool
    public_access_cidrs: tuple[str, ...]
    kms_key_arn: pulumi.Input[str]
    log_retention_days: int
    region: str


class EksCluster(CapabilityComponent):
    """An EKS cluster: control-plane logs to an encrypted log group, Secrets encrypted with the
    stack's KMS key, a managed node group whose role holds only node permissions, and the IAM
    OIDC provider that IRSA roles trust."""

    TYPE = "mlopsbp:k8s:EksCluster"
    # The cluster is the compute that training (and serving) run on.
    CAPABILITY = "training"

    cluster: aws.eks.Cluster
    oidc_provider: aws.iam.OpenIdConnectProvider
    oidc_issuer: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        if len(args.subnet_ids) < 2:
            raise ValueError(f"{name}: EKS needs subnets in at least two availability zones")
        # EKS writes to this group by name; creating it first sets retention and encryption.
        logs = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/eks/{args.cluster_name}/cluster",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.kms_key_arn,
            opts=self.stateful(),
        )
        account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        cluster_role = aws.iam.Role(
            f"{name}-cluster-role",
            description=f"EKS control plane of {args.cluster_name}",
            # Confused-deputy guard (EKS user guide, "Amazon EKS cluster IAM role"): only EKS
            # acting for this account's cluster assumes it.
            assume_role_policy=policy_document(
                [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "eks.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                        "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
                    }
                ]
            ),
            opts=self.child(),
        )
        cluster_policy = aws.iam.RolePolicyAttachment(
            f"{name}-cluster-policy",
            role=cluster_role.name,
            policy_arn=f"{_MANAGED}AmazonEKSClusterPolicy",
            opts=self.child(),
        )
        self.cluster = aws.eks.Cluster(
            f"{name}-cluster",
            name=args.cluster_name,
            version=args.version,
            role_arn=cluster_role.arn,
            vpc_config={
                "subnet_ids": list(args.subnet_ids),
                "endpoint_private_access": True,
                "endpoint_public_access": not args.private_endpoint,
                "public_access_cidrs": None if args.private_endpoint else list(args.public_access_cidrs),
            },
            enabled_cluster_log_types=list(CONTROL_PLANE_LOGS),
            encryption_config={"provider": {"key_arn": args.kms_key_arn}, "resources": ["secrets"]},
            access_config={
                "authentication_mode": "API_AND_CONFIG_MAP",
                "bootstrap_cluster_creator_admin_permissions": True,
            },
            # Protected: every workload, volume and namespace lives on it.
            opts=self.stateful(depends_on=[logs, cluster_policy]),
        )
        node_role = aws.iam.Role(
            f"{name}-node-role",
            description=f"Nodes of {args.cluster_name}: node permissions only, workloads use IRSA",
            assume_role_policy=_assumed_by("ec2.amazonaws.com"),
            opts=self.child(),
        )
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-node-{policy.lower().replace('_', '-')}",
                role=node_role.name,
                policy_arn=f"{_MANAGED}{policy}",
                opts=self.child(),
            )
            for policy in NODE_POLICIES
        ]
        aws.eks.NodeGroup(
            f"{name}-nodes",
            cluster_name=self.cluster.name,
            node_role_arn=node_role.arn,
            subnet_ids=list(args.subnet_ids),
            instance_types=list(args.instance_types),
            scaling_config={"min_size": args.min_size, "desired_size": args.desired_size, "max_size": args.max_size},
            update_config={"max_unavailable": 1},
            opts=self.child(depends_on=attachments, ignore_changes=["scalingConfig.desiredSize"]),
        )
        issuer_url = self.cluster.identities.apply(lambda ids: ids[0].oidcs[0].issuer)
        self.oidc_provider = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc",
            url=issuer_url,
            client_id_lists=["sts.amazonaws.com"],
            opts=self.child(),
        )
        self.oidc_issuer = issuer_url.apply(lambda url: url.removeprefix("https://"))
        self.kubeconfig = kubeconfig(
            self.cluster.name, self.cluster.endpoint, self.cluster.certificate_authority.data, args.region
        )
        self.register_outputs({"cluster_name": self.cluster.name, "oidc_provider_arn": self.oidc_provider.arn})


@dataclass(frozen=True)
class ClusterAccess:
    """How the stack reaches its cluster and how IRSA roles trust it."""

    cluster_name: str
    provider: k8s.Provider
    oidc_provider_arn: pulumi.Output[str]
    oidc_issuer: pulumi.Output[str]
    eks: EksCluster | None = None


def connect_cluster(
    *,
    resource_prefix: str,
    cluster_name: str,
    region: str,
    account_id: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
    create: EksClusterArgs | None = None,
    created_elsewhere: bool = False,
    kubeconfig_path: str | None = None,
    context: str | None = None,
) -> ClusterAccess:
    """Create the EKS cluster (`create`), or reach an existing one: built by another environment's
    stack (`created_elsewhere`: credentials from EKS), or any EKS cluster through a kubeconfig.
    IRSA needs the cluster's OIDC issuer, which EKS reports for an existing cluster too."""
    if create is not None:
        eks = EksCluster(f"{resource_prefix}-eks", create, opts)
        provider = k8s.Provider(
            f"{resource_prefix}-k8s", kubeconfig=eks.kubeconfig, opts=pulumi.ResourceOptions(depends_on=[eks])
        )
        return ClusterAccess(cluster_name, provider, eks.oidc_provider.arn, eks.oidc_issuer, eks)
    aws_provider = opts.providers["aws"] if isinstance(opts.providers, dict) else None
    found = aws.eks.get_cluster_output(name=cluster_name, opts=pulumi.InvokeOutputOptions(provider=aws_provider))
    issuer = found.identities.apply(lambda ids: ids[0].oidcs[0].issuer.removeprefix("https://"))
    provider_arn = pulumi.Output.concat("arn:aws:iam::", account_id, ":oidc-provider/", issuer)
    if created_elsewhere:
        ca_data = found.certificate_authorities.apply(lambda cas: cas[0].data)
        provider = k8s.Provider(
            f"{resource_prefix}-k8s", kubeconfig=kubeconfig(cluster_name, found.endpoint, ca_data, region)
        )
    else:
        provider = k8s.Provider(f"{resource_prefix}-k8s", kubeconfig=kubeconfig_path, context=context)
    return ClusterAccess(cluster_name, provider, provider_arn, issuer)
