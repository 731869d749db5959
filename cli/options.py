"""Options several commands share, and turning them into a Blueprint."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mlops_bp.blueprints.constants import BLUEPRINT_FILENAME
from mlops_bp.blueprints.enums import Platform

if TYPE_CHECKING:
    from mlops_bp.blueprints import Blueprint

__all__ = [
    "ConfigOpt",
    "EnvOpt",
    "GithubOpt",
    "GitlabOpt",
    "JsonOpt",
    "LevelOpt",
    "NameOpt",
    "PlatformOpt",
    "RegionOpt",
    "parse_level",
    "resolve_blueprint",
]

DEMO_NAME = "mlops-demo"

# A string, so that `--level three` is reported by the blueprint like any other bad level.
LevelOpt = Annotated[str | None, typer.Option("--level", "-l", help="MLOps maturity level 0-4.", show_default=False)]
PlatformOpt = Annotated[
    Platform | None,
    typer.Option("--platform", "-p", help="Compute platform.", show_default=False, case_sensitive=False),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help=f"Blueprint file (default: ./{BLUEPRINT_FILENAME} when present).", show_default=False
    ),
]
NameOpt = Annotated[str | None, typer.Option("--name", "-n", help="Project name.", show_default=False)]
GithubOpt = Annotated[
    str | None, typer.Option("--github", help="GitHub OWNER/REPO trusted by the CI deploy role.", show_default=False)
]
GitlabOpt = Annotated[
    str | None,
    typer.Option(
        "--gitlab", help="GitLab GROUP/PROJECT trusted by the CI deploy role (with --ci gitlab).", show_default=False
    ),
]
RegionOpt = Annotated[str | None, typer.Option("--region", help="AWS region.", show_default=False)]
EnvOpt = Annotated[
    str | None,
    typer.Option("--env", "-e", help="Environment (stack) to plan; default: the first one.", show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]


def parse_level(raw: str | int | None) -> int | str | None:
    """`--level` as a number when it is one; anything else goes to the blueprint to reject."""
    if isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
        return int(raw)
    return raw


def resolve_blueprint(
    *,
    level: str | int | None = None,
    platform: Platform | None = None,
    config: Path | None = None,
    name: str | None = None,
    region: str | None = None,
    github: str | None = None,
    gitlab: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Blueprint:
    """The blueprint a command works on: the config file (explicit, or ./mlops-bp.yaml) with
    flags on top, or, with neither, a demo blueprint built from the flags alone."""
    from mlops_bp.blueprints import blueprint_from_data, load_blueprint

    flags: dict[str, Any] = {
        "level": parse_level(level),
        "platform": platform.value if platform else None,
        "name": name,
        "region": region,
        "github": github,
        "gitlab": gitlab,
        **(extra or {}),
    }
    if config is None and Path(BLUEPRINT_FILENAME).is_file() and level is None:
        config = Path(BLUEPRINT_FILENAME)
    if config is not None:
        return load_blueprint(config, overrides=flags)
    if level is None:
        raise typer.BadParameter("give --level N (0-4) or --config mlops-bp.yaml", param_hint="--level")
    data = {k: v for k, v in flags.items() if v is not None}
    data.setdefault("name", DEMO_NAME)
    return blueprint_from_data(data, "flags")


def note_missing_ci_repository(blueprint: Blueprint) -> None:
    """Say on stderr that a level with CI has no repository to trust, and what to do."""
    if blueprint.ci_repository is None and "ci_oidc_role" in blueprint.features:
        from .errors import err_console

        err_console.print(
            "note: no `github` (or `gitlab`) repository set, so the CI deploy role is not declared and the "
            "workflows cannot reach AWS; add `github: OWNER/REPO` (or `gitlab: GROUP/PROJECT`) to mlops-bp.yaml "
            "and run `pulumi up`.",
            markup=False,
        )
