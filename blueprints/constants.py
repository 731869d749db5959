"""Names and versions of the spec (no pydantic here: the CLI's startup path imports them)."""

__all__ = ["BLUEPRINT_FILENAME", "SCHEMA_FILENAME", "SPEC_VERSION"]

SPEC_VERSION = 1
BLUEPRINT_FILENAME = "mlops-bp.yaml"
SCHEMA_FILENAME = "mlops-bp.schema.json"
