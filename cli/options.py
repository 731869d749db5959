"""Options several commands share, declared once, and turning them into a Blueprint.

Every command that builds a blueprint takes the same flags (`BLUEPRINT_FLAGS`, added by
`blueprint_flags`) with the same precedence: the blueprint file (`--config`, or
./mlops-bp.yaml when present), then the flags on top, `--level` included (it moves the file's
blueprint to that level as `upgrade` would).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from mlops_bp.blueprints.catalog import level_numbers, level_range
from mlops_bp.blueprints.constants import BLUEPRINT_FILENAME
from mlops_bp.blueprints.enums import Platform

if TYPE_CHECKING:
    from mlops_bp.blueprints import Blueprint

__all__ = [
    "BLUEPRINT_FLAGS",
    "DEMO_NAME",
    "BlueprintFlags",
    "ConfigOpt",
    "EnvOpt",
    "GithubOpt",
    "GitlabOpt",
    "JsonOpt",
    "LevelOpt",
    "NameOpt",
    "PlatformOpt",
    "RegionOpt",
    "blueprint_flags",
    "complete_levels",
    "complete_regions",
    "level_bounds",
    "note_missing_ci_repository",
    "parse_level",
]

DEMO_NAME = "mlops-demo"

F = TypeVar("F", bound=Callable[..., Any])


def complete_levels(incomplete: str) -> list[tuple[str, str]]:
    from mlops_bp.blueprints.catalog import LEVELS

    return [(str(i.number), i.title) for i in LEVELS if str(i.number).startswith(incomplete)]


def complete_regions(incomplete: str) -> list[str]:
    from mlops_bp.blueprints.regions import AWS_REGIONS

    return sorted(r for r in AWS_REGIONS if r.startswith(incomplete))


def _level_option(*decls: str, help: str) -> Any:
    return typer.Option(*decls, help=help, show_default=False, autocompletion=complete_levels, metavar="LEVEL")


# A string, so that `--level three` is reported by the blueprint like any other bad level.
LevelOpt = Annotated[str | None, _level_option("--level", "-l", help=f"MLOps maturity level {level_range()}.")]
PlatformOpt = Annotated[
    Platform | None,
    typer.Option("--platform", "-p", help="Compute platform.", show_default=False, case_sensitive=False),
]


def _config_option(help: str) -> Any:
    return typer.Option("--config", "-c", help=help, show_default=False, metavar="FILE")


ConfigOpt = Annotated[Path | None, _config_option(f"Blueprint file (default: ./{BLUEPRINT_FILENAME} when present).")]
# On the blueprint commands, the other blueprint flags apply on top of the file.
BlueprintConfigOpt = Annotated[
    Path | None,
    _config_option(f"Blueprint file (default: ./{BLUEPRINT_FILENAME} when present); the flags below apply on top."),
]
NameOpt = Annotated[str | None, typer.Option("--name", "-n", help="Project name.", show_default=False, metavar="NAME")]
GithubOpt = Annotated[
    str | None,
    typer.Option(
        "--github", help="GitHub OWNER/REPO trusted by the CI deploy role.", show_default=False, metavar="OWNER/REPO"
    ),
]
GitlabOpt = Annotated[
    str | None,
    typer.Option(
        "--gitlab",
        help="GitLab GROUP/PROJECT trusted by the CI deploy role (instead of --github).",
        show_default=False,
        metavar="GROUP/PROJECT",
    ),
]
RegionOpt = Annotated[
    str | None,
    typer.Option("--region", help="AWS region.", show_default=False, autocompletion=complete_regions, metavar="REGION"),
]
EnvOpt = Annotated[
    str | None,
    typer.Option(
        "--env", "-e", help="Environment (stack) to plan; default: the first one.", show_default=False, metavar="ENV"
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]


@dataclass(frozen=True)
class BlueprintFlags:
    """The blueprint flags a command was given (None: not given)."""

    config: Path | None = None
    level: str | int | None = None
    platform: Platform | None = None
    name: str | None = None
    region: str | None = None
    github: str | None = None
    gitlab: str | None = None

    def overrides(self) -> dict[str, Any]:
        """The flags as blueprint data (None: not given)."""
        return {
            "level": parse_level(self.level),
            "platform": self.platform.value if self.platform else None,
            "name": self.name,
            "region": self.region,
            "github": self.github,
            "gitlab": self.gitlab,
        }

    def config_file(self) -> Path | None:
        """The blueprint file in use: --config, or ./mlops-bp.yaml when present."""
        if self.config is not None:
            return self.config
        return Path(BLUEPRINT_FILENAME) if Path(BLUEPRINT_FILENAME).is_file() else None

    def resolve(self, default_level: int | None = None) -> Blueprint:
        """The blueprint a command works on: the file with the flags on top, or, with no file,
        a blueprint of the flags alone (`default_level` when --level is not given)."""
        from mlops_bp.blueprints import blueprint_from_data, load_blueprint

        config = self.config_file()
        if config is not None:
            return load_blueprint(config, overrides=self.overrides())
        data = {k: v for k, v in self.overrides().items() if v is not None}
        if "level" not in data:
            if default_level is None:
                from mlops_bp.blueprints import UserError

                raise UserError(f"--level: give --level N ({level_range()}) or --config {BLUEPRINT_FILENAME}")
            data["level"] = default_level
        data.setdefault("name", DEMO_NAME)
        return blueprint_from_data(data)


# The flags every blueprint command takes, in help order: parameter name -> annotation.
BLUEPRINT_FLAGS: dict[str, Any] = {
    "config": BlueprintConfigOpt,
    "level": LevelOpt,
    "platform": PlatformOpt,
    "name": NameOpt,
    "region": RegionOpt,
    "github": GithubOpt,
    "gitlab": GitlabOpt,
}
assert list(BLUEPRINT_FLAGS) == [f.name for f in fields(BlueprintFlags)]


def blueprint_flags(level_decls: tuple[str, ...] = (), level_help: str = "") -> Callable[[F], F]:
    """Give a command the blueprint flags: it declares `flags: BlueprintFlags` and receives
    them gathered there. `level_decls`/`level_help` rename --level where a command calls the
    level something else (`diff --from`)."""
    annotations = dict(BLUEPRINT_FLAGS)
    if level_decls:
        annotations["level"] = Annotated[str | None, _level_option(*level_decls, help=level_help)]

    def decorate(command: F) -> F:
        own = inspect.signature(command, eval_str=True)
        params = [p for p in own.parameters.values() if p.name != "flags"]
        added = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)
            for name, annotation in annotations.items()
        ]
        keyword_only = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in params]

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> Any:
            flags = BlueprintFlags(**{name: kwargs.pop(name) for name in annotations})
            return command(flags=flags, **kwargs)

        signature = own.replace(parameters=[*added, *keyword_only])
        wrapper.__signature__ = signature  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()}
        del wrapper.__wrapped__  # typer reads the signature above, not the command's
        return wrapper  # type: ignore[return-value]

    return decorate


def parse_level(raw: str | int | None) -> int | str | None:
    """`--level` as a number when it is one; anything else goes to the blueprint to reject."""
    if isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
        return int(raw)
    return raw


def level_bounds() -> tuple[int, int]:
    """The lowest and highest level of the catalog (for options that take a level number)."""
    numbers = level_numbers()
    return numbers[0], numbers[-1]


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
