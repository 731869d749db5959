"""`mlops-bp init`: generate a team repo for a blueprint."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from mlops_bp.blueprints import Platform

from .errors import err_console, out_console
from .options import (
    DEMO_NAME,
    ConfigOpt,
    GithubOpt,
    GitlabOpt,
    LevelOpt,
    NameOpt,
    PlatformOpt,
    RegionOpt,
    note_missing_ci_repository,
    parse_level,
    resolve_blueprint,
)

app = typer.Typer()


class CiChoice(StrEnum):
    GITHUB = "github"
    GITLAB = "gitlab"


def _interactive(no_input: bool) -> bool:
    return not no_input and sys.stdin.isatty()


@app.command()
def init(
    level: LevelOpt = None,
    name: NameOpt = None,
    platform: PlatformOpt = None,
    region: RegionOpt = None,
    github: GithubOpt = None,
    gitlab: GitlabOpt = None,
    ci: Annotated[
        CiChoice, typer.Option("--ci", help="CI system of the generated repo.", case_sensitive=False)
    ] = CiChoice.GITHUB,
    output_dir: Annotated[
        Path, typer.Option("--output-dir", "-o", help="Directory in which the repo folder <name> is created.")
    ] = Path("."),
    config: ConfigOpt = None,
    no_input: Annotated[
        bool, typer.Option("--no-input", help="Never prompt; use flags, the config file and defaults.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Write into a non-empty repo folder (replaces the template's files, deletes nothing)."
        ),
    ] = False,
    stack_builder_req: Annotated[
        str | None,
        typer.Option(
            "--stack-builder",
            metavar="REQUIREMENT",
            help="How the repo installs mlops-bp (infra/requirements.txt), e.g. 'mlops-bp==0.2.0' or "
            "'mlops-bp @ git+https://github.com/OWNER/mlops-bp@COMMIT'. Default: as this mlops-bp was installed.",
        ),
    ] = None,
) -> None:
    """Generate a team repo (ML code, tests, Dockerfile, CI, Pulumi project) for a maturity level."""
    if _interactive(no_input):
        if config is None:
            name = name or typer.prompt("Project name", default=DEMO_NAME)
            level = (
                parse_level(level)
                if level is not None
                else typer.prompt("MLOps maturity level (0-4)", default=1, type=int)
            )
            platform = platform or Platform(
                typer.prompt("Platform (sagemaker, kubernetes)", default=Platform.SAGEMAKER.value)
            )
            region = region or typer.prompt("AWS region", default="us-east-1")
            wants_repo = isinstance(level, int) and level >= 1 and github is None and gitlab is None
            if wants_repo and ci is CiChoice.GITLAB:
                gitlab = (
                    typer.prompt("GitLab GROUP/PROJECT allowed to deploy (empty: none)", default="", show_default=False)
                    or None
                )
            elif wants_repo:
                github = (
                    typer.prompt("GitHub OWNER/REPO allowed to deploy (empty: none)", default="", show_default=False)
                    or None
                )
    elif config is None and level is None:
        level = 1
    blueprint = resolve_blueprint(
        level=level, platform=platform, config=config, name=name, region=region, github=github, gitlab=gitlab
    )
    from mlops_bp.templates.render import init_repo
    from mlops_bp.templates.stack_builder import stack_builder

    with err_console.status(
        f"Rendering {blueprint.name} (level {int(blueprint.level)}, {blueprint.platform.value}, {ci.value})..."
    ):
        result = init_repo(blueprint, ci.value, output_dir, force=force, builder=stack_builder(stack_builder_req))
    replaced = f", {len(result.overwritten)} replaced" if result.overwritten else ""
    out_console.print(
        f"[bold green]Created[/] {result.path} with {len(result.files)} files{replaced}: "
        f"level {int(blueprint.level)} on {blueprint.platform.value}, CI on {ci.value}, "
        f"environments {', '.join(e.name for e in blueprint.environments)}."
    )
    note_missing_ci_repository(blueprint)
    if not result.builder.reproducible:
        err_console.print(
            f"note: this mlops-bp was installed from {result.builder.source}, which CI cannot install; "
            f"infra/requirements.txt pins {result.builder.requirement}. Publish that version, or run init "
            "again with --stack-builder 'mlops-bp @ git+https://...@COMMIT' (or a wheel's URL).",
            markup=False,
        )
    out_console.print("Next (the README has the whole runbook):")
    for command in (
        f"cd {result.path}",
        'git init && git add -A && git commit -m "Start from mlops-bp"',
        'python -m venv .venv && . .venv/bin/activate && python -m pip install -e ".[test]" && make test',
    ):
        out_console.print(f"  {command}", markup=False)
