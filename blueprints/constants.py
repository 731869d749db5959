"""Names and versions of the spec (no pydantic here: the CLI's startup path imports them)."""

__all__ = ["BLUEPRINT_FILENAME", "SCHEMA_FILENAME", "SPEC_VERSION", "secrets_alias"]

SPEC_VERSION = 1
BLUEPRINT_FILENAME = "mlops-bp.yaml"
SCHEMA_FILENAME = "mlops-bp.schema.json"


def secrets_alias(project: str) -> str:
    """Alias of the KMS key that `mlops-bp bootstrap` makes the Pulumi secrets provider; the CI
    role of a bootstrapped project may use it."""
    return f"alias/{project}-pulumi-secrets"
