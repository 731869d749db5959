"""The `kubernetes` platform: training, serving and monitoring on a cluster (pulumi-kubernetes),
with storage, registry and IAM on AWS (pulumi-aws, IRSA)."""
