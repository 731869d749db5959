"""`mlops-bp init`: generate a team repo for a blueprint."""

from __future__ import annotations

import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mlops_bp.blueprints.catalog import LEVELS, feature_level, level_range
from mlops_bp.blueprints.constants import CI_SYSTEMS
from mlops_bp.blueprints.enums import Platform

from .display import progress
from .errors import err_console, out_console
from .options import DEMO_NAME, BlueprintFlags, blueprint_flags, note_missing_ci_repository, parse_level

if TYPE_CHECKING:
    from mlops_bp.blueprints import Blueprint

app = typer.Typer()

CiChoice = StrEnum("CiChoice", {name.upper(): name for name in CI_SYSTEMS})  # type: ignore[misc]

# Without --level, a new repo starts at the first level with CI (a repo's reason to exist).
DEFAULT_LEVEL = feature_level("ci_oidc_role")
DEFAULT_REGION = "us-east-1"
# What people answer for a platform, and what it means.
PLATFORM_ALIASES = {"k8s": Platform.KUBERNETES.value, "eks": Platform.KUBERNETES.value}
PLATFORM_HINTS = {
    "aws": "both platforms run on AWS: sagemaker runs everything on AWS managed services, kubernetes runs "
    "training, serving and monitoring on a cluster",
}


def _interactive(no_input: bool) -> bool:
    return not no_input and sys.stdin.isatty()


class _Answers:
    """The blueprint being asked for: flags and answers so far, every answer checked by the
    Blueprint as it is given (a bad one is asked again with the Blueprint's reason)."""

    def __init__(self, given: dict[str, Any]) -> None:
        self.data = {k: v for k, v in given.items() if v is not None}
        self.validate()  # bad flags fail before any question is asked

    def validate(self, extra: dict[str, Any] | None = None) -> Blueprint:
        from mlops_bp.blueprints import blueprint_from_data

        data = {"level": DEFAULT_LEVEL, "name": DEMO_NAME, **self.data, **(extra or {})}
        return blueprint_from_data(data)

    def ask(self, key: str | None, text: str, default: Any, normalize: Callable[[str], Any] = str.strip) -> Any:
        """Ask until the answer is accepted: `normalize` may refuse it (ValueError), and for a
        blueprint setting `key` the Blueprint judges it with everything given so far."""
        from mlops_bp.blueprints import BlueprintError

        def check(raw: Any) -> Any:
            try:
                value = normalize(str(raw))
                if key is not None and value not in (None, ""):
                    self.validate({key: value})
            except (BlueprintError, ValueError) as exc:
                raise typer.BadParameter(str(exc)) from None
            return value

        value = typer.prompt(text, default=default, value_proc=check, show_default=default not in (None, ""))
        if key is not None and value not in (None, ""):
            self.data[key] = value
        return value


def _choice(choices: tuple[str, ...], aliases: dict[str, str], hints: dict[str, str]) -> Callable[[str], str]:
    """An answer among `choices`, case-insensitive; a hint or the closest choice otherwise."""

    def normalize(raw: str) -> str:
        from mlops_bp.blueprints.validators import close_match

        answer = raw.strip().lower()
        answer = aliases.get(answer, answer)
        if answer in choices:
            return answer
        why = hints.get(answer) or f"one of {', '.join(choices)}{close_match(answer, choices)}"
        raise ValueError(f"{raw.strip()!r}: {why}")

    return normalize


def _level(raw: str) -> Any:
    return parse_level(raw.strip())


def _prompt(flags: BlueprintFlags, ci: str | None) -> tuple[BlueprintFlags, str | None]:
    """Ask for every blueprint setting the flags left open; return the completed flags and CI."""
    answers = _Answers(flags.overrides())
    data = answers.data
    if "level" not in data:
        levels = ", ".join(f"{i.number} {i.title}" for i in LEVELS)
        out_console.print(f"MLOps maturity levels: {levels}.", markup=False)
        answers.ask("level", f"MLOps maturity level ({level_range()})", DEFAULT_LEVEL, _level)
    if "platform" not in data:
        platforms = tuple(p.value for p in Platform)
        answers.ask(
            "platform",
            f"Platform ({', '.join(platforms)})",
            Platform.SAGEMAKER.value,
            _choice(platforms, PLATFORM_ALIASES, PLATFORM_HINTS),
        )
    if "name" not in data:
        answers.ask("name", "Project name", DEMO_NAME)
    if "region" not in data:
        answers.ask("region", "AWS region", DEFAULT_REGION)
    if ci is None and "github" not in data and "gitlab" not in data:
        ci = answers.ask(None, f"CI system ({', '.join(CI_SYSTEMS)})", CI_SYSTEMS[0], _choice(CI_SYSTEMS, {}, {}))
    wants_repo = "ci_oidc_role" in answers.validate().features
    if wants_repo and "github" not in data and "gitlab" not in data:
        if (ci or CI_SYSTEMS[0]) == "gitlab":
            answers.ask("gitlab", "GitLab GROUP/PROJECT allowed to deploy (empty: none)", "")
        else:
            answers.ask("github", "GitHub OWNER/REPO allowed to deploy (empty: none)", "")
    platform = data.get("platform")
    completed = BlueprintFlags(
        config=flags.config,
        level=data.get("level"),
        platform=Platform(platform) if platform else None,
        name=data.get("name"),
        region=data.get("region"),
        github=data.get("github"),
        gitlab=data.get("gitlab"),
    )
    return completed, ci


def _ci_of(blueprint: Blueprint, ci: str | None) -> str:
    """The repo's CI system: --ci, else the one the blueprint trusts, else the first."""
    if ci is not None:
        return ci
    return "gitlab" if blueprint.gitlab else CI_SYSTEMS[0]


@app.command()
@blueprint_flags()
def init(
    flags: BlueprintFlags,
    ci: Annotated[
        CiChoice | None,
        typer.Option(
            "--ci",
            help="CI system of the generated repo (default: the one --github/--gitlab names, else github).",
            case_sensitive=False,
            show_default=False,
        ),
    ] = None,
    output_dir: Annotated[
        Path,
        typer.Option("--output-dir", "-o", help="Directory in which the repo folder <name> is created.", metavar="DIR"),
    ] = Path("."),
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
    """Generate a team repo (ML code, tests, Dockerfile, CI, Pulumi project) for a maturity level.

    In a terminal, asks for every setting the flags leave open (each answer is checked at
    once and asked again when the blueprint refuses it); --no-input never asks.
    """
    chosen = ci.value if ci is not None else None
    if _interactive(no_input) and flags.config_file() is None:
        flags, chosen = _prompt(flags, chosen)
    blueprint = flags.resolve(default_level=DEFAULT_LEVEL)
    repo_ci = _ci_of(blueprint, chosen)
    blueprint.check_ci(repo_ci)
    from mlops_bp.templates.render import init_repo
    from mlops_bp.templates.stack_builder import stack_builder

    with progress(
        f"Rendering {blueprint.name} (level {int(blueprint.level)}, {blueprint.platform.value}, {repo_ci})..."
    ):
        result = init_repo(blueprint, repo_ci, output_dir, force=force, builder=stack_builder(stack_builder_req))
    replaced = f", {len(result.overwritten)} replaced" if result.overwritten else ""
    out_console.print(
        f"[bold green]Created[/] {result.path} with {len(result.files)} files{replaced}: "
        f"level {int(blueprint.level)} on {blueprint.platform.value}, CI on {repo_ci}, "
        f"environments {', '.join(e.name for e in blueprint.environments)}.",
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
        out_console.print(f"  {command}", markup=False, soft_wrap=True)  # commands stay whole, to copy
