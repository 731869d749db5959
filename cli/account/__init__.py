"""Account operations with boto3: `bootstrap`, `doctor` and `assess`.

Library code the thin commands in `mlops_bp.cli.ops` call. Importing any module here imports
boto3, so the CLI imports them only inside the commands."""
