"""What deploying a plan needs in IAM: the actions `pulumi up` calls to create each AWS resource
type, beside the resource-kind table of stacks/diff.py. `mlops-bp doctor` derives a blueprint's
list from the types its plans declare, so a new resource type cannot be forgotten: a test
requires an entry for every AWS type any plan declares.

Tag actions are listed where the provider tags on create (default tags reach every resource);
iam:PassRole where the resource hands a role to a service.
"""

from __future__ import annotations

from collections.abc import Iterable

from .graph import ResourceGraph

__all__ = ["CREATE_ACTIONS", "required_actions"]

_BUCKET_CONFIG = ("s3:GetBucketPolicy",)  # the provider reads back what it set

CREATE_ACTIONS: dict[str, tuple[str, ...]] = {
    # storage
    "aws:kms/key:Key": ("kms:CreateKey", "kms:EnableKeyRotation", "kms:PutKeyPolicy", "kms:TagResource"),
    "aws:kms/alias:Alias": ("kms:CreateAlias",),
    "aws:s3/bucket:Bucket": ("s3:CreateBucket", "s3:PutBucketTagging"),
    "aws:s3/bucketVersioning:BucketVersioning": ("s3:PutBucketVersioning",),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "s3:PutEncryptionConfiguration",
    ),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": ("s3:PutBucketPublicAccessBlock",),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": ("s3:PutBucketOwnershipControls",),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": ("s3:PutLifecycleConfiguration",),
    "aws:s3/bucketPolicy:BucketPolicy": ("s3:PutBucketPolicy", *_BUCKET_CONFIG),
    "aws:s3/bucketObjectv2:BucketObjectv2": ("s3:PutObject",),
    # registry
    "aws:ecr/repository:Repository": ("ecr:CreateRepository", "ecr:TagResource"),
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": ("ecr:PutLifecyclePolicy",),
    "aws:ecr/repositoryPolicy:RepositoryPolicy": ("ecr:SetRepositoryPolicy",),
    # iam
    "aws:iam/role:Role": ("iam:CreateRole", "iam:TagRole"),
    "aws:iam/rolePolicy:RolePolicy": ("iam:PutRolePolicy",),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ("iam:AttachRolePolicy",),
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": (
        "iam:CreateOpenIDConnectProvider",
        "iam:TagOpenIDConnectProvider",
    ),
    # training
    "aws:sagemaker/notebookInstance:NotebookInstance": (
        "sagemaker:CreateNotebookInstance",
        "sagemaker:AddTags",
        "iam:PassRole",
    ),
    "aws:sagemaker/notebookInstanceLifecycleConfiguration:NotebookInstanceLifecycleConfiguration": (
        "sagemaker:CreateNotebookInstanceLifecycleConfig",
    ),
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": ("sagemaker:CreateModelPackageGroup", "sagemaker:AddTags"),
    "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy": ("sagemaker:PutModelPackageGroupPolicy",),
    "aws:sagemaker/pipeline:Pipeline": ("sagemaker:CreatePipeline", "sagemaker:AddTags", "iam:PassRole"),
    "aws:scheduler/schedule:Schedule": ("scheduler:CreateSchedule", "iam:PassRole"),
    # serving
    "aws:sagemaker/model:Model": ("sagemaker:CreateModel", "sagemaker:AddTags", "iam:PassRole"),
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": (
        "sagemaker:CreateEndpointConfig",
        "sagemaker:AddTags",
        "kms:CreateGrant",
        "kms:DescribeKey",
    ),
    "aws:sagemaker/endpoint:Endpoint": ("sagemaker:CreateEndpoint", "sagemaker:UpdateEndpoint", "sagemaker:AddTags"),
    "aws:appautoscaling/target:Target": (
        "application-autoscaling:RegisterScalableTarget",
        "application-autoscaling:TagResource",
        "iam:CreateServiceLinkedRole",
    ),
    "aws:appautoscaling/policy:Policy": ("application-autoscaling:PutScalingPolicy",),
    "aws:cloudwatch/eventConnection:EventConnection": ("events:CreateConnection", "secretsmanager:CreateSecret"),
    "aws:cloudwatch/eventApiDestination:EventApiDestination": ("events:CreateApiDestination",),
    # monitoring
    "aws:cloudwatch/logGroup:LogGroup": (
        "logs:CreateLogGroup",
        "logs:PutRetentionPolicy",
        "logs:AssociateKmsKey",
        "logs:TagResource",
    ),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("cloudwatch:PutMetricAlarm", "cloudwatch:TagResource"),
    "aws:cloudwatch/dashboard:Dashboard": ("cloudwatch:PutDashboard",),
    "aws:cloudwatch/eventRule:EventRule": ("events:PutRule", "events:TagResource"),
    "aws:cloudwatch/eventTarget:EventTarget": ("events:PutTargets", "iam:PassRole"),
    "aws:sns/topic:Topic": ("sns:CreateTopic", "sns:TagResource", "sns:SetTopicAttributes"),
    "aws:sns/topicPolicy:TopicPolicy": ("sns:SetTopicAttributes",),
    "aws:sns/topicSubscription:TopicSubscription": ("sns:Subscribe",),
    "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition": (
        "sagemaker:CreateDataQualityJobDefinition",
        "sagemaker:AddTags",
        "iam:PassRole",
    ),
    "aws:sagemaker/monitoringSchedule:MonitoringSchedule": ("sagemaker:CreateMonitoringSchedule", "sagemaker:AddTags"),
    # the Kubernetes platform's cluster
    "aws:eks/cluster:Cluster": ("eks:CreateCluster", "eks:TagResource", "iam:PassRole"),
    "aws:eks/nodeGroup:NodeGroup": ("eks:CreateNodegroup", "eks:TagResource", "iam:PassRole"),
    "aws:eks/accessEntry:AccessEntry": ("eks:CreateAccessEntry",),
    "aws:eks/addon:Addon": ("eks:CreateAddon",),
}


def required_actions(graphs: Iterable[ResourceGraph]) -> tuple[str, ...]:
    """The IAM actions deploying these stacks needs, sorted. A type without an entry is an
    error: the table must grow with the stacks."""
    types = {r.type for graph in graphs for r in graph.custom if r.type.startswith("aws:")}
    missing = sorted(types - set(CREATE_ACTIONS))
    if missing:
        raise KeyError(f"stacks/permissions.py: no create actions for {', '.join(missing)}")
    return tuple(sorted({action for type_ in types for action in CREATE_ACTIONS[type_]}))
