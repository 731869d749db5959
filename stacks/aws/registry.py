"""Container registry: the ECR repository of the project's training and serving images."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ..base import CapabilityComponent, policy_document
from . import policies

__all__ = ["ContainerRegistry", "ContainerRegistryArgs"]


@dataclass(frozen=True)
class ContainerRegistryArgs:
    repository_name: str
    kms_key_arn: pulumi.Input[str]
    keep_last_images: int
    # Roles of other accounts that pull images (the promotion path).
    readers: tuple[policies.Reader, ...] = ()


class ContainerRegistry(CapabilityComponent):
    """An ECR repository: scan on push, immutable tags, KMS encryption, bounded image count."""

    TYPE = "mlopsbp:aws:ContainerRegistry"
    CAPABILITY = "registry"

    repository: aws.ecr.Repository
    repository_url: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: ContainerRegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        self.repository = aws.ecr.Repository(
            f"{name}-repository",
            name=args.repository_name,
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": True},
            encryption_configurations=[{"encryption_type": "KMS", "kms_key": args.kms_key_arn}],
            force_delete=False,
            opts=self.stateful(),
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            repository=self.repository.name,
            policy=json.dumps(
                {
                    "rules": [
                        {
                            "rulePriority": 1,
                            "description": "Expire untagged images after a day",
                            "selection": {
                                "tagStatus": "untagged",
                                "countType": "sinceImagePushed",
                                "countUnit": "days",
                                "countNumber": 1,
                            },
                            "action": {"type": "expire"},
                        },
                        {
                            "rulePriority": 2,
                            "description": f"Keep the last {args.keep_last_images} images",
                            "selection": {
                                "tagStatus": "any",
                                "countType": "imageCountMoreThan",
                                "countNumber": args.keep_last_images,
                            },
                            "action": {"type": "expire"},
                        },
                    ]
                },
                sort_keys=True,
            ),
            opts=self.child(),
        )
        if args.readers:
            aws.ecr.RepositoryPolicy(
                f"{name}-promotion-readers",
                repository=self.repository.name,
                policy=policy_document(
                    [
                        policies.reader_statement(
                            "PromotionReadersPull",
                            args.readers,
                            [
                                "ecr:BatchGetImage",
                                "ecr:GetDownloadUrlForLayer",
                                "ecr:BatchCheckLayerAvailability",
                                "ecr:DescribeImages",
                            ],
                        )
                    ]
                ),
                opts=self.child(),
            )
        self.repository_url = self.repository.repository_url
        self.arn = self.repository.arn
        self.register_outputs({"repository_url": self.repository_url, "arn": self.arn})
