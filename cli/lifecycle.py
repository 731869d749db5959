"""Commands for repos that already exist: `diff`, `upgrade` and `update`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from mlops_bp.blueprints import BLUEPRINT_FILENAME, MlopsBpError, UserError

from .display import progress, short_type, shown_value, without_placeholders
from .errors import err_console, out_console
from .options import BlueprintFlags, JsonOpt, blueprint_flags, complete_levels, level_bounds

if TYPE_CHECKING:
    from mlops_bp.stacks.diff import GraphDiff
    from mlops_bp.templates.upgrade import ScaffoldChanges

app = typer.Typer()

LOWEST, HIGHEST = level_bounds()
LEVELS_SHOWN = f"{LOWEST}-{HIGHEST}"
DiffEnvOpt = Annotated[
    str | None,
    typer.Option("--env", "-e", help="Only this environment (stack); default: all.", show_default=False, metavar="ENV"),
]
RepoOpt = Annotated[Path, typer.Option("--repo", help="The generated repo (default: the current folder).")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking for confirmation.")]

_SYMBOL = {"create": "[green]+[/]", "update": "[yellow]~[/]", "replace": "[magenta]+-[/]", "delete": "[red]-[/]"}


def _short(value: Any, limit: int) -> str:
    text = shown_value(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _fits(*parts: str) -> bool:
    return sum(len(p) for p in parts) <= out_console.width


def _print_graph_diff(diff: GraphDiff) -> None:
    """One line per resource (symbol, type as `pulumi preview` shows it, name), the name on a
    line of its own when both do not fit; changed inputs below, old and new on lines of their
    own when one line would not fit."""
    counts = diff.counts()
    summary = ", ".join(f"{counts[a]} to {a}" for a in ("create", "update", "replace", "delete") if counts[a])
    status = {"new": " (new stack)", "dropped": " (no longer declared: `pulumi destroy` deletes it)"}.get(
        diff.status, ""
    )
    out_console.print(
        f"[bold]stack {diff.stack}[/]{status}: {summary or 'no changes'}, {counts['unchanged']} unchanged",
    )
    for change in diff.changes:
        symbol, type_ = _SYMBOL[change.action.value], short_type(change.type)
        notes = []
        if change.reason and change.action.value == "replace":
            notes.append(escape(change.reason))
        if change.stateful:
            notes.append("stateful")
        if change.protect and change.action.value == "delete":
            notes.append("protected: `pulumi up` stops here")
        if change.destroys_data:
            notes.append("DATA WOULD BE LOST")
        note = f"({'; '.join(notes)})" if notes else ""
        name = f"[bold]{escape(change.name)}[/]"
        # symbol, type, name and notes on one line; what does not fit goes below, indented
        parts = [(len(type_) + 4, f"  {symbol} {type_}"), (len(change.name) + 2, f"  {name}")]
        if note:
            parts.append((len(note) + 2, f"  {note}"))
        lines: list[str] = []
        used = out_console.width + 1
        for size, text in parts:
            if used + size > out_console.width:
                lines.append(text if not lines else "    " + text)
                used = size + (4 if len(lines) > 1 else 0)
            else:
                lines[-1] += text
                used += size
        out_console.print("\n".join(lines), style="bold red" if change.destroys_data else None)
        for item in change.inputs:
            forced = " [magenta](forces replacement)[/]" if item.forces_replacement else ""
            path = escape(item.path)
            old, new = _short(item.old, 70), _short(item.new, 70)
            if _fits("      ", item.path, ": ", old, " -> ", new, " (forces replacement)" if forced else ""):
                out_console.print(f"      {path}: {escape(old)} -> {escape(new)}{forced}")
                continue
            room = max(out_console.width - 10, 20)
            out_console.print(f"      {path}:{forced}")
            out_console.print(f"        - {escape(_short(item.old, room))}")
            out_console.print(f"        + {escape(_short(item.new, room))}")


def _print_infra(diffs: list[GraphDiff]) -> list[str]:
    """Show every stack's diff; return the resources whose data would be lost."""
    for diff in diffs:
        _print_graph_diff(diff)
    lost = [f"{d.stack}: {short_type(c.type)} {c.name} ({c.action.value})" for d in diffs for c in d.destroys_data]
    if lost:
        err_console.print(f"[bold red]{len(lost)} stateful resource(s) would be replaced or deleted:[/]")
        for item in lost:
            err_console.print(f"[red]  {escape(item)}[/]")
    return lost


@app.command()
@blueprint_flags(
    level_decls=("--from", "--level", "-l"),
    level_help=f"Level to compare from ({LEVELS_SHOWN}; default: the blueprint file's level).",
)
def diff(
    flags: BlueprintFlags,
    to_level: Annotated[
        int,
        typer.Option(
            "--to",
            min=LOWEST,
            max=HIGHEST,
            help=f"Level to compare to ({LEVELS_SHOWN}).",
            show_default=False,
            autocompletion=complete_levels,
            metavar="LEVEL",
        ),
    ],
    env: DiffEnvOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show offline what moving a blueprint to another level does to its stacks.

    Lists the resources created, updated, replaced and deleted in every stack, with the changed
    inputs. Exits with 1 when a stateful resource (bucket, key, registry, log group, volume...)
    would be replaced or deleted.
    """
    if flags.level is None and flags.config_file() is None:
        raise UserError(
            f"--from: give the level to compare from ({LEVELS_SHOWN}), or a --config / ./{BLUEPRINT_FILENAME}"
        )
    old = flags.resolve()
    new = old.with_level(to_level)
    with progress(f"Planning {old.name} at levels {int(old.level)} and {to_level} offline..."):
        from mlops_bp.stacks.diff import diff_blueprints

        diffs = diff_blueprints(old, new, env)
    lost = [c for d in diffs for c in d.destroys_data]
    if as_json:
        doc = {
            "from": int(old.level),
            "to": int(new.level),
            "platform": new.platform.value,
            "stacks": [d.to_dict() for d in diffs],
            "destroys_data": [c.urn for c in lost],
        }
        typer.echo(without_placeholders(json.dumps(doc, indent=2, sort_keys=True, default=str)))
    else:
        out_console.print(f"[bold]{new.name}[/] on {new.platform.value}: level {int(old.level)} -> {int(new.level)}")
        _print_infra(diffs)
    if lost:
        raise typer.Exit(1)


def _interactive() -> bool:
    return sys.stdin.isatty()


def _confirm(yes: bool, question: str) -> None:
    if yes:
        return
    if not _interactive():
        raise UserError("--yes: no terminal to ask for confirmation; review the changes above and pass --yes")
    if not typer.confirm(question, default=False):
        raise typer.Abort()


_FILE_HEADINGS = {
    "add": ("[green]added[/]", "new template files"),
    "update": ("[yellow]updated[/]", "not edited by the team: new template version"),
    "merge": ("[yellow]merged[/]", "the team's edits and the template's changes merged cleanly"),
    "conflict": ("[bold red]conflicts[/]", "both changed the same lines: resolve the <<<<<<< markers"),
    "delete": ("[red]deleted[/]", "dropped by the templates, not edited by the team"),
    "keep-edited": ("[cyan]kept[/]", "dropped by the templates but edited by the team: review"),
    "keep-deleted": ("[cyan]not restored[/]", "deleted by the team, changed by the templates"),
    "write": ("[yellow]rewritten[/]", "derived from the blueprint"),
}


def _print_scaffold(changes: ScaffoldChanges) -> None:
    listing = changes.to_dict()
    if not listing:
        out_console.print("[bold]files[/]: no changes")
        return
    out_console.print("[bold]files[/]:")
    for action, paths in listing.items():
        heading, meaning = _FILE_HEADINGS[action]
        out_console.print(f"  {heading} ({meaning}):")
        for path in paths:
            out_console.print(f"    {escape(path)}")


# The exit code of an upgrade/update that left conflicts to resolve (documented in --help).
CONFLICTS_EXIT_CODE = 3

ForceOpt = Annotated[
    bool,
    typer.Option("--force", help="Proceed even though the repo's git tree has uncommitted changes."),
]


def _report_conflicts(changes: ScaffoldChanges) -> None:
    """List the conflicts and exit with CONFLICTS_EXIT_CODE when there are any."""
    conflicts = changes.conflicts
    if conflicts:
        err_console.print(f"[bold yellow]{len(conflicts)} file(s) have conflicts to resolve:[/]")
        for change in conflicts:
            what = f"{change.conflicts} conflict(s)" if change.conflicts else "binary file, kept the team's version"
            err_console.print(f"  {escape(change.path)}: {what}")
        err_console.print(f"resolve the markers, then commit (exit code {CONFLICTS_EXIT_CODE}: conflicts remain)")
        raise typer.Exit(CONFLICTS_EXIT_CODE)


def _say_recovered(recovered: str | None) -> None:
    if recovered:
        err_console.print(f"note: {recovered}", markup=False)


def _check_clean_git_tree(repo: Path, force: bool) -> None:
    """Refuse to merge into uncommitted work (it could not be told apart from the merge)."""
    if force or shutil.which("git") is None:
        return
    done = subprocess.run(
        ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode == 0 and done.stdout.strip():
        raise UserError(f"{repo}: the git tree has uncommitted changes; commit or stash them first (or pass --force)")


@app.command()
def upgrade(
    to_level: Annotated[
        int,
        typer.Option(
            "--to",
            min=LOWEST,
            max=HIGHEST,
            help=f"Level to move the repo to ({LEVELS_SHOWN}).",
            show_default=False,
            autocompletion=complete_levels,
            metavar="LEVEL",
        ),
    ],
    yes: YesOpt = False,
    allow_downgrade: Annotated[
        bool, typer.Option("--allow-downgrade", help="Allow a lower level (its diff names every resource deleted).")
    ] = False,
    repo: RepoOpt = Path("."),
    force: ForceOpt = False,
) -> None:
    """Move a generated repo to another maturity level.

    Shows the infrastructure diff of every stack and the file changes, asks for confirmation,
    then updates mlops-bp.yaml, the Pulumi stack files and the scaffold. Files the team edited
    are merged three-way; conflicts keep standard markers and are listed, and the exit code is
    3. Nothing is written if anything fails; a run killed half-way is rolled back by the next
    one, and one run at a time holds the repo (.mlops-bp/lock). A git tree with uncommitted
    changes is refused unless --force.
    """
    from mlops_bp.templates.transaction import locked

    with locked(repo) as recovered:
        _upgrade(repo, to_level, yes, allow_downgrade, force, recovered)


def _upgrade(repo: Path, to_level: int, yes: bool, allow_downgrade: bool, force: bool, recovered: str | None) -> None:
    from mlops_bp.templates.upgrade import load_repo, plan_repo_change

    _say_recovered(recovered)
    _check_clean_git_tree(repo, force)
    state = load_repo(repo)
    current = int(state.blueprint.level)
    if to_level == current:
        raise UserError(f"--to: the repo is already at level {current}; `mlops-bp update` brings newer templates")
    downgrade = to_level < current
    if downgrade and not allow_downgrade:
        raise UserError(
            f"--to: {to_level} is below the repo's level {current}; a downgrade deletes resources, "
            "pass --allow-downgrade to see them and confirm"
        )
    new = state.blueprint.with_level(to_level)
    with progress(f"Planning {new.name} at levels {current} and {to_level} offline..."):
        from mlops_bp.stacks.diff import Action, diff_blueprints

        diffs = diff_blueprints(state.blueprint, new)
        changes = plan_repo_change(repo, state, new)
    out_console.print(f"[bold]{new.name}[/]: level {current} -> {to_level}")
    lost = _print_infra(diffs)
    if downgrade:
        deleted = [f"{d.stack}: {short_type(c.type)} {c.name}" for d in diffs for c in d.of(Action.DELETE)]
        err_console.print(f"[bold red]`pulumi up` would delete {len(deleted)} resource(s):[/]")
        for item in deleted:
            err_console.print(f"[red]  {escape(item)}[/]")
    elif lost:
        raise MlopsBpError(
            f"level {current} -> {to_level} would replace or delete stateful resources ({lost[0]}...); "
            "this breaks mlops-bp's upgrade guarantee, please report it"
        )
    _print_scaffold(changes)
    _confirm(yes, f"Move {repo.resolve().name} to level {to_level}?")
    from mlops_bp.templates.upgrade import apply_changes

    apply_changes(repo, changes)
    err_console.print(f"level {to_level}: {len(changes.writes)} file(s) changed. Run `pulumi up` in infra/ per stack.")
    _report_conflicts(changes)


@app.command()
def update(yes: YesOpt = False, repo: RepoOpt = Path("."), force: ForceOpt = False) -> None:
    """Bring a generated repo to the templates of the installed mlops-bp (same level).

    Files are merged three-way with the team's edits, as for `upgrade` (exit code 3 when
    conflicts remain); nothing is written if anything fails, even if the run is killed.
    """
    from mlops_bp.templates.transaction import locked

    with locked(repo) as recovered:
        _update(repo, yes, force, recovered)


def _update(repo: Path, yes: bool, force: bool, recovered: str | None) -> None:
    from mlops_bp.templates.upgrade import apply_changes, load_repo, plan_repo_change

    _say_recovered(recovered)
    _check_clean_git_tree(repo, force)
    state = load_repo(repo)
    changes = plan_repo_change(repo, state, state.blueprint)
    out_console.print(
        f"[bold]{state.blueprint.name}[/]: templates {state.template_version} -> {state.installed_version}"
    )
    if not changes.writes:
        _print_scaffold(changes)
        err_console.print("already up to date")
        return
    _print_scaffold(changes)
    err_console.print(
        "infra: the stacks come from the installed mlops-bp; run `pulumi preview` in infra/ for each stack"
    )
    _confirm(yes, f"Update {repo.resolve().name} to templates {state.installed_version}?")
    apply_changes(repo, changes)
    err_console.print(f"{len(changes.writes)} file(s) changed.")
    _report_conflicts(changes)
