"""Bringing a generated repo to a new blueprint (level) or to newer templates, without losing
the team's work.

Every file the templates render is merged three ways, as cruft and copier do: the *base* is the
pristine render the repo was generated (or last upgraded) from, *yours* is the team's file,
*theirs* is the render for the new blueprint with the installed templates. The base is stored
in the repo itself, in `.mlops-bp/base.json`, written at `init` and at every upgrade: the
templates a repo came from ship inside an mlops-bp release that may no longer be installed, so
re-rendering them later is not possible in general. When the snapshot is missing (deleted, or
a repo from before snapshots), the base is re-rendered — but only when the recorded template
version is the installed one, since only then is that render the true base.

The files mlops-bp itself derives from the blueprint (`layout.GENERATED_FILES`: mlops-bp.yaml,
its schema and `.mlops-bp.json`) are rewritten, not merged; the blueprint keeps the team's
settings because the new one is made from the old one (`Blueprint.with_level`).

Changes are transactional. Everything is computed first (renders and merges in temporary
directories, results in memory), so an error before `apply_changes` writes nothing. Then the
results are swapped in file by file (each write atomic through `os.replace`), with a backup
of every file touched; any error or Ctrl-C while swapping restores the backups, so the repo is
byte-identical to before. This file-level swap is used rather than copying the whole repo and
renaming directories: the command runs inside the repo (renaming it would strand the user's
shell in a deleted directory) and a repo may hold a large virtualenv or data.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from importlib.metadata import version
from pathlib import Path

from mlops_bp.blueprints import BLUEPRINT_FILENAME, Blueprint, MlopsBpError, UserError, load_blueprint

from . import transaction
from .render import render_tree
from .snapshot import (
    BASE_SNAPSHOT,
    MANAGED_FILES,
    MARKER_FILES,
    RenderedFile,
    Tree,
    read_generator_record,
    read_snapshot,
    read_tree,
    snapshot_text,
)
from .transaction import Write, check_no_symlinks

__all__ = [
    "FileAction",
    "FileChange",
    "RepoState",
    "ScaffoldChanges",
    "apply_changes",
    "load_repo",
    "merge_trees",
    "plan_repo_change",
    "three_way_merge",
]

# --- three-way merge ------------------------------------------------------------------------


def _is_binary(data: bytes) -> bool:
    return b"\0" in data[:8192]


def three_way_merge(yours: bytes, base: bytes, theirs: bytes, labels: tuple[str, str, str]) -> tuple[bytes, int]:
    """`git merge-file`: the merged text and the number of conflicts (standard markers)."""
    with tempfile.TemporaryDirectory(prefix="mlops-bp-merge-") as tmp:
        paths = []
        for role, data in (("yours", yours), ("base", base), ("theirs", theirs)):
            path = Path(tmp, role)
            path.write_bytes(data)
            paths.append(str(path))
        command = ["git", "merge-file", "-p", "-L", labels[0], "-L", labels[1], "-L", labels[2], *paths]
        try:
            proc = subprocess.run(command, capture_output=True, check=False)
        except FileNotFoundError:
            raise UserError("git: not found on PATH; upgrades merge files with `git merge-file`") from None
    # The exit code is the number of conflicts (capped at 127), negative (>127 here) on error.
    if not 0 <= proc.returncode <= 127:
        raise MlopsBpError(f"git merge-file failed: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout, proc.returncode


# --- planning the changes -------------------------------------------------------------------


class FileAction(StrEnum):
    ADD = "add"  # a file the new templates have and the repo lacks
    UPDATE = "update"  # the team had not edited it: the new template version replaces it
    MERGE = "merge"  # the team's edits and the template's changes merged cleanly
    CONFLICT = "conflict"  # merged with conflict markers (or a binary file both sides changed)
    DELETE = "delete"  # the templates dropped it and the team had not edited it
    KEEP_EDITED = "keep-edited"  # the templates dropped it, the team edited it: kept
    KEEP_DELETED = "keep-deleted"  # the team deleted it, the templates changed it: not restored
    WRITE = "write"  # a managed file, rewritten from the blueprint


# Actions that write or delete; the others are only reported.
_CHANGING = {
    FileAction.ADD,
    FileAction.UPDATE,
    FileAction.MERGE,
    FileAction.CONFLICT,
    FileAction.DELETE,
    FileAction.WRITE,
}


@dataclass(frozen=True)
class FileChange:
    path: str
    action: FileAction
    data: bytes | None = None  # what the file becomes; None for a deletion or a report
    executable: bool = False
    current: bytes | None = None  # the repo's file when planned, checked again before writing
    conflicts: int = 0

    @property
    def changes_repo(self) -> bool:
        """A binary conflict keeps the team's file: listed, but nothing is written."""
        return self.action in _CHANGING and (self.data is not None or self.action is FileAction.DELETE)


@dataclass
class ScaffoldChanges:
    """What an upgrade does to the repo's files, computed before anything is written."""

    changes: list[FileChange] = field(default_factory=list)

    def of(self, *actions: FileAction) -> list[FileChange]:
        return [c for c in self.changes if c.action in actions]

    @property
    def conflicts(self) -> list[FileChange]:
        return self.of(FileAction.CONFLICT)

    @property
    def writes(self) -> list[FileChange]:
        return [c for c in self.changes if c.changes_repo]

    def to_dict(self) -> dict[str, list[str]]:
        return {action.value: [c.path for c in self.of(action)] for action in FileAction if self.of(action)}


def _read_current(repo: Path, path: str) -> bytes | None:
    check_no_symlinks(repo, [path])  # a link's target (outside the repo, a secret) is never read
    target = repo / path
    if target.is_dir():
        raise UserError(f"{path}: is a directory in the repo, but the templates have a file there")
    return target.read_bytes() if target.is_file() else None


def _merge_one(
    path: str, base: bytes | None, new: RenderedFile | None, yours: bytes | None, labels: tuple[str, str, str]
) -> FileChange | None:
    theirs = new.data if new is not None else None
    executable = new.executable if new is not None else False
    if theirs in (base, yours):
        return None  # the templates did not change it, or the repo already has the new version
    if theirs is None:
        if yours is None:
            return None
        if yours == base:
            return FileChange(path, FileAction.DELETE, current=yours)
        return FileChange(path, FileAction.KEEP_EDITED, current=yours)
    if yours is None:
        if base is None:
            return FileChange(path, FileAction.ADD, theirs, executable)
        return FileChange(path, FileAction.KEEP_DELETED)
    if yours == base:
        return FileChange(path, FileAction.UPDATE, theirs, executable, current=yours)
    if _is_binary(yours) or _is_binary(theirs) or (base is not None and _is_binary(base)):
        return FileChange(path, FileAction.CONFLICT, current=yours)
    merged, conflicts = three_way_merge(yours, base or b"", theirs, labels)
    action = FileAction.CONFLICT if conflicts else FileAction.MERGE
    return FileChange(path, action, merged, current=yours, conflicts=conflicts)


def merge_trees(repo: Path, base: Mapping[str, bytes], new: Tree, labels: tuple[str, str, str]) -> ScaffoldChanges:
    """The changes that bring `repo` from the render `base` to the render `new`, keeping the
    team's edits. `labels` name yours / base / theirs in conflict markers. Managed files of
    `new` are written as they are; nothing is written here."""
    changes = ScaffoldChanges()
    for path in sorted(base.keys() | new.keys()):
        yours = _read_current(repo, path)
        if path in MANAGED_FILES:
            if path in new and new[path].data != yours:
                changes.changes.append(
                    FileChange(path, FileAction.WRITE, new[path].data, new[path].executable, current=yours)
                )
            continue
        change = _merge_one(path, base.get(path), new.get(path), yours, labels)
        if change is not None:
            changes.changes.append(change)
    return changes


# --- applying them as one transaction -------------------------------------------------------


def _new_file_mode(executable: bool) -> int:
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if executable else 0o666) & ~umask


def _check_unchanged(repo: Path, changes: list[FileChange]) -> None:
    for change in changes:
        if change.action is not FileAction.ADD and _read_current(repo, change.path) != change.current:
            raise UserError(f"{change.path}: changed while the upgrade was being prepared; run it again")
        if change.action is FileAction.ADD and (repo / change.path).exists():
            raise UserError(f"{change.path}: appeared while the upgrade was being prepared; run it again")


def apply_changes(repo: Path, changes: ScaffoldChanges) -> None:
    """Write all of `changes` into `repo`, or none of them: errors, Ctrl-C and SIGKILL alike
    (a killed run is rolled back by the next one, see templates/transaction.py). The marker
    files (base snapshot, blueprint, generator record) are written last."""
    writes = changes.writes
    _check_unchanged(repo, writes)  # reads each file, refusing symlinks, before anything is written
    transaction.apply(repo, [Write(c.path, c.data, _new_file_mode(c.executable)) for c in writes], MARKER_FILES)


# --- a generated repo ------------------------------------------------------------------------


@dataclass(frozen=True)
class RepoState:
    """A generated repo as recorded in it: its blueprint, CI choice and template version."""

    root: Path
    blueprint: Blueprint
    ci: str
    template_version: str

    @property
    def installed_version(self) -> str:
        """The version of the installed templates (they ship inside mlops-bp)."""
        return version("mlops-bp")


def load_repo(repo: Path) -> RepoState:
    """Read a generated repo's mlops-bp.yaml and `.mlops-bp.json`."""
    repo = Path(repo)
    if not repo.is_dir():
        raise UserError(f"repo: {repo} is not a directory")
    if not (repo / BLUEPRINT_FILENAME).is_file():
        raise UserError(f"repo: {repo} has no {BLUEPRINT_FILENAME}; run this inside a repo made by `mlops-bp init`")
    blueprint = load_blueprint(repo / BLUEPRINT_FILENAME)
    ci, template_version = read_generator_record(repo)
    return RepoState(root=repo, blueprint=blueprint, ci=ci, template_version=template_version)


def _render(blueprint: Blueprint, ci: str) -> dict[str, RenderedFile]:
    with tempfile.TemporaryDirectory(prefix="mlops-bp-render-") as tmp:
        render_tree(blueprint, ci, Path(tmp) / "repo")
        return read_tree(Path(tmp) / "repo")


def _merge_base(state: RepoState) -> dict[str, bytes]:
    snapshot = read_snapshot(state.root)
    if snapshot is not None:
        return snapshot[1]
    if state.template_version != state.installed_version:
        raise UserError(
            f"{BASE_SNAPSHOT}: missing, and the repo comes from mlops-bp {state.template_version} "
            f"(installed: {state.installed_version}), whose templates are the merge base; install "
            f"mlops-bp=={state.template_version}, run `mlops-bp update` to record them, then upgrade mlops-bp"
        )
    return {path: file.data for path, file in _render(state.blueprint, state.ci).items()}


def plan_repo_change(repo: Path, state: RepoState, blueprint: Blueprint) -> ScaffoldChanges:
    """The file changes that bring `repo` to the render of `blueprint` with the installed
    templates, merged with the team's edits; nothing is written."""
    base = _merge_base(state)
    new = _render(blueprint, state.ci)
    snapshot = snapshot_text(new, state.installed_version)
    new[BASE_SNAPSHOT] = RenderedFile(snapshot.encode("utf-8"))
    labels = (
        "yours",
        f"mlops-bp {state.template_version} level {int(state.blueprint.level)}",
        f"mlops-bp {state.installed_version} level {int(blueprint.level)}",
    )
    return merge_trees(Path(repo), base, new, labels)
