"""Render the team-repo template for a blueprint: `render_tree` (pure rendering) and
`init_repo` (the safe path behind `mlops-bp init`).

Cookiecutter renders templates/team-repo with a context derived from the Blueprint; its
post-generation hook applies the layout (templates/layout.py). The blueprint files
(`mlops-bp.yaml`, its schema, `.mlops-bp.json`) are written from the Blueprint itself.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from mlops_bp.blueprints import BLUEPRINT_FILENAME, SCHEMA_FILENAME, Blueprint, UserError, dump_blueprint, json_schema
from mlops_bp.blueprints.schedules import five_field_cron, five_field_cron_error

from .snapshot import GENERATOR_FILENAME, MARKER_FILES, write_base_snapshot
from .stack_builder import StackBuilder, installed_stack_builder

__all__ = [
    "GENERATOR_FILENAME",
    "TEMPLATE_DIR",
    "InitResult",
    "init_repo",
    "readme_schedule",
    "render_tree",
    "template_context",
]

TEMPLATE_DIR = Path(__file__).resolve().parent / "team-repo"


@dataclass(frozen=True)
class InitResult:
    """What `init_repo` did: the repo path and the files it wrote (relative to it)."""

    path: Path
    files: tuple[Path, ...]
    overwritten: tuple[Path, ...]
    builder: StackBuilder


def readme_schedule(schedule: str) -> str:
    """training.schedule as the README shows it: five-field cron where one is exact, else the
    AWS expression itself (SageMaker runs AWS expressions natively)."""
    return schedule if five_field_cron_error(schedule) else five_field_cron(schedule)


def template_context(blueprint: Blueprint, ci: str, builder: StackBuilder | None = None) -> dict[str, Any]:
    """The cookiecutter context of the team-repo template for `blueprint` and `ci`; `builder`
    is how the repo installs mlops-bp (default: as the running one was installed). The
    Blueprint judges whether `ci` fits it (`Blueprint.check_ci`)."""
    blueprint.check_ci(ci)
    return {
        "project_name": blueprint.name,
        "package_name": blueprint.package,
        "level": str(int(blueprint.level)),
        "platform": blueprint.platform.value,
        "ci": ci,
        "region": blueprint.region,
        "github": blueprint.github or "",
        "gitlab": blueprint.gitlab or "",
        "mlops_bp_version": version("mlops-bp"),
        "stack_builder": (builder or installed_stack_builder()).requirement,
        "metric_name": blueprint.training.metric_name,
        "metric_threshold": str(blueprint.training.metric_threshold),
        "drift_threshold": str(blueprint.monitoring.drift_threshold),
        "training_cron": readme_schedule(blueprint.training.schedule),
        "pulumi_backend": f"s3://{blueprint.state_bucket}" if blueprint.state_bucket else "",
        "_environments": [{"name": e.name, "approval": e.requires_approval} for e in blueprint.environments],
    }


def generator_record(ci: str, builder: StackBuilder) -> str:
    """`.mlops-bp.json`: how the repo was generated (read by `mlops-bp upgrade`)."""
    record = {"ci": ci, "stack_builder": builder.requirement, "template_version": version("mlops-bp")}
    return json.dumps(record, indent=2, sort_keys=True) + "\n"


def _files_under(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())


def render_tree(blueprint: Blueprint, ci: str, destination: Path, builder: StackBuilder | None = None) -> list[Path]:
    """Render the repo of `blueprint` with `ci` into `destination` (new or empty); return the
    relative paths written. Deterministic: the same input gives byte-identical files."""
    from cookiecutter.generate import generate_files

    builder = builder or installed_stack_builder()
    context = template_context(blueprint, ci, builder)
    destination = Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".mlops-bp-render-", dir=destination) as scratch:
        project = Path(
            generate_files(repo_dir=str(TEMPLATE_DIR), context={"cookiecutter": context}, output_dir=scratch)
        )
        for entry in sorted(project.iterdir()):
            os.replace(entry, destination / entry.name)
    (destination / BLUEPRINT_FILENAME).write_text(dump_blueprint(blueprint, SCHEMA_FILENAME), encoding="utf-8")
    (destination / SCHEMA_FILENAME).write_text(json_schema(), encoding="utf-8")
    (destination / GENERATOR_FILENAME).write_text(generator_record(ci, builder), encoding="utf-8")
    return _files_under(destination)


def _target_dir(blueprint: Blueprint, output_dir: Path) -> Path:
    name = blueprint.name
    if Path(name).is_absolute() or Path(name).name != name or name in (".", ".."):
        raise UserError(f"name: {name!r} would leave the output directory")
    output_dir = Path(output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise UserError(f"output-dir: {output_dir} is a file, not a directory")
    target = output_dir / name
    if target.is_symlink():
        raise UserError(f"output: {target} is a symbolic link; give a real directory")
    if target.exists() and not target.is_dir():
        raise UserError(f"output: {target} is a file, not a directory")
    return target


def _nearest_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists():
        path = path.parent
    return path


def _check_overwrite(target: Path, files: list[Path]) -> None:
    """Before anything moves: every rendered file must be placeable as a file."""
    for rel in files:
        dest = target / rel
        if dest.is_dir() and not dest.is_symlink():
            raise UserError(f"output: {dest} is a directory, but the template writes a file there")
        for parent in rel.parents:
            if parent != Path(".") and ((target / parent).is_file() or (target / parent).is_symlink()):
                raise UserError(f"output: {target / parent} is a file, but the template needs a directory there")


def _write_into_existing(target: Path, staged: Path, files: list[Path]) -> None:
    """`init --force`: the rendered files replace the repo's as one crash-safe transaction
    (a killed run is rolled back by the next `init --force`, `upgrade` or `update`); the
    blueprint and records last, so the repo never claims what it does not hold."""
    from .transaction import Write, apply, locked

    writes = [
        Write(rel.as_posix(), (staged / rel).read_bytes(), (staged / rel).stat().st_mode & 0o7777) for rel in files
    ]
    with locked(target):
        apply(target, writes, MARKER_FILES)


def init_repo(
    blueprint: Blueprint, ci: str, output_dir: Path, *, force: bool = False, builder: StackBuilder | None = None
) -> InitResult:
    """Generate the repo of `blueprint` in `output_dir/<name>`, safely.

    A non-empty target is refused unless `force`; with `force` the template's files replace
    existing ones and no other file is deleted. Everything is rendered in a temporary directory
    and moved into place at the end, so an error or Ctrl-C leaves nothing half-written.
    """
    builder = builder or installed_stack_builder()
    template_context(blueprint, ci, builder)  # validates choices before any work
    target = _target_dir(blueprint, Path(output_dir))
    existing = target.is_dir() and any(target.iterdir())
    if existing and not force:
        raise UserError(f"output: {target} exists and is not empty; use --force to write the template's files into it")
    staging_root = tempfile.mkdtemp(prefix=f".{blueprint.name}.mlops-bp-", dir=_nearest_existing(target.parent))
    try:
        staged = Path(staging_root) / "repo"
        files = render_tree(blueprint, ci, staged, builder)
        files = sorted([*files, write_base_snapshot(staged)])  # the merge base of later upgrades
        overwritten = tuple(rel for rel in files if (target / rel).exists())
        if not existing:
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_dir():
                target.rmdir()  # empty: replaced by the rendered tree in one rename
            os.replace(staged, target)
        else:
            _check_overwrite(target, files)
            _write_into_existing(target, staged, files)
    finally:
        shutil.rmtree(staging_root, ignore_errors=True)
    return InitResult(path=target, files=tuple(files), overwritten=overwritten, builder=builder)
