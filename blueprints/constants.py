"""Names and versions of the spec (no pydantic here: the CLI's startup path imports them)."""

import re
from dataclasses import dataclass

__all__ = [
    "IMAGE_TAG",
    "MODEL_PACKAGE_ARN",
    "SHA256_HEX",
    "BLUEPRINT_FILENAME",
    "CI_SYSTEMS",
    "MODEL_DIGEST_KEY",
    "MODEL_FILE",
    "PROMOTED_PREFIX",
    "ARCHIVE_DIGEST_KEY",
    "SCHEMA_FILENAME",
    "SPEC_VERSION",
    "StateKeys",
    "ci_role_pattern",
    "image_repository",
    "model_package_group",
    "secrets_alias",
]

SPEC_VERSION = 1
BLUEPRINT_FILENAME = "mlops-bp.yaml"
SCHEMA_FILENAME = "mlops-bp.schema.json"
# The CI systems a generated repo can use (its workflows, and the OIDC trust of its deploy role).
CI_SYSTEMS = ("github", "gitlab")


def secrets_alias(project: str) -> str:
    """Alias of the KMS key that `mlops-bp bootstrap` makes the Pulumi secrets provider; the CI
    role of a bootstrapped project may use it."""
    return f"alias/{project}-pulumi-secrets"


# Registration record of a model package (CustomerMetadataProperties): sha256 of the model file
# the serving container loads, and of the model.tar.gz holding it. Promotion and deploys check
# them; nothing else may stand in for them.
MODEL_DIGEST_KEY = "ModelSha256"
ARCHIVE_DIGEST_KEY = "ArchiveSha256"
# The model file in a model.tar.gz (the team's model_io.py writes it; serving loads it).
MODEL_FILE = "model.skops"
# What a deploy pins, checked wherever it is read (stack config, `mlops-bp promote`).
MODEL_PACKAGE_ARN = re.compile(
    r"arn:aws[a-z-]*:sagemaker:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"model-package/(?P<group>[A-Za-z0-9-]+)/(?P<version>\d+)"
)
# A commit CI built images for; `train-<tag>` must stay within ECR's 128 characters.
IMAGE_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,121}")
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
# Where promotion puts the copies in an environment's artifacts bucket.
PROMOTED_PREFIX = "promoted"


def model_package_group(project: str, environment: str) -> str:
    """The model registry of an environment: the primary's pipeline registers into its own;
    every other environment holds the packages promoted into it."""
    return f"{project}-{environment}-models"


def ci_role_pattern(project: str, environment: str, *, preview: bool = False) -> str:
    """The name of an environment's CI role (or its pull-request preview role) as an IAM
    pattern: the stacks name it `<project>-<env>-ci-role-<suffix Pulumi appends>`; policies
    of other accounts and the state bucket name it by this."""
    return f"{project}-{environment}-ci-{'preview-role' if preview else 'role'}-*"


def image_repository(project: str, environment: str) -> str:
    """The ECR repository of an environment: CI pushes to the primary's, promotion copies into
    the others'."""
    return f"{project}-{environment}"


@dataclass(frozen=True)
class StateKeys:
    """The object ARNs of one stack in a Pulumi DIY S3 backend (pkg/backend/diy):
    .pulumi/stacks/<project>/<stack>.json, .pulumi/history/<project>/<stack>/,
    .pulumi/backups/<project>/<stack>/, .pulumi/locks/organization/<project>/<stack>/."""

    bucket: str
    project: str
    stack: str

    @property
    def _root(self) -> str:
        return f"arn:aws:s3:::{self.bucket}/.pulumi"

    @property
    def meta(self) -> str:
        return f"{self._root}/meta.yaml"

    @property
    def checkpoint(self) -> str:
        return f"{self._root}/stacks/{self.project}/{self.stack}.json*"

    @property
    def locks(self) -> str:
        return f"{self._root}/locks/organization/{self.project}/{self.stack}/*"

    @property
    def history(self) -> list[str]:
        return [
            f"{self._root}/history/{self.project}/{self.stack}/*",
            f"{self._root}/backups/{self.project}/{self.stack}/*",
        ]

    @property
    def all(self) -> list[str]:
        return [self.checkpoint, self.locks, *self.history]
