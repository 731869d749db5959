"""Commands about the spec itself: `levels`, `schema`, and the offline `plan`."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from mlops_bp.blueprints.catalog import CAPABILITIES, FEATURES, LEVELS

from .display import progress, short_type
from .errors import err_console, out_console
from .options import BlueprintFlags, EnvOpt, JsonOpt, blueprint_flags, note_missing_ci_repository

if TYPE_CHECKING:
    from mlops_bp.stacks.rules import Report

app = typer.Typer()


@app.command()
def levels() -> None:
    """Show the level catalog: what each MLOps maturity level adds."""
    from rich.table import Table

    table = Table(title="MLOps maturity levels (each includes the ones above it)")
    table.add_column("level", justify="right")
    table.add_column("name")
    table.add_column("capability")
    table.add_column("adds")
    for info in LEVELS:
        added = [f for f in FEATURES if f.level == info.number]
        for i, feature in enumerate(added):
            table.add_row(
                str(info.number) if i == 0 else "",
                info.title if i == 0 else "",
                feature.capability,
                feature.description,
                end_section=i == len(added) - 1,
            )
    out_console.print(table)


@app.command()
def schema(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write to this file instead of stdout.", show_default=False, metavar="FILE"
        ),
    ] = None,
    usage: Annotated[
        bool, typer.Option("--usage", help="The schema of the usage file of `mlops-bp cost --usage` instead.")
    ] = False,
) -> None:
    """Print the JSON schema of mlops-bp.yaml, or with --usage of the usage file that
    `mlops-bp cost --usage FILE` reads (both generated from the models).

    A usage file overrides the load a cost estimate assumes, section by section, e.g.
    `inference: {requests_per_month: 2000000}`; unset values keep their defaults.
    """
    if usage:
        from mlops_bp.stacks.cost.usage import usage_schema

        text = usage_schema()
    else:
        from mlops_bp.blueprints import json_schema

        text = json_schema()
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        err_console.print(f"wrote {output}")


@app.command()
@blueprint_flags()
def plan(
    flags: BlueprintFlags,
    env: EnvOpt = None,
    as_json: JsonOpt = False,
    after_deploy: Annotated[
        bool,
        typer.Option(
            "--deployed",
            help="Show the stack after its first deploy (serving, schedules, monitoring), with placeholder images "
            "and model package, instead of a fresh account's first `pulumi up`.",
        ),
    ] = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Run the rule pack on the plan instead: a table of the rules and what they found (--json: the "
            "report); exits with 1 when a mandatory rule is violated. Rules in `rules.advisory` only warn.",
        ),
    ] = False,
) -> None:
    """Preview offline every resource a blueprint declares (no cloud account, no Pulumi CLI).

    With --check, run the security and hygiene rules the repo's Pulumi policy pack enforces.
    """
    blueprint = flags.resolve()
    environment = blueprint.environment(env).name
    from rich.tree import Tree

    with progress(f"Planning {blueprint.name}, environment {environment} offline..."):
        from mlops_bp.stacks.plan import FIRST_DEPLOY_NOTE, deployed
        from mlops_bp.stacks.plan import plan as run_plan

        graph = run_plan(blueprint, environment, deployed(blueprint, environment) if after_deploy else None)
    note_missing_ci_repository(blueprint)
    if not after_deploy and "endpoint" in blueprint.features:
        err_console.print(f"note: {FIRST_DEPLOY_NOTE}.")
    if check:
        from mlops_bp.stacks.rules import check_graph

        report = check_graph(graph, blueprint.rules.advisory)
        if as_json:
            typer.echo(report.to_json())
        else:
            _print_report(report)
        if not report.passed:
            raise typer.Exit(1)
        return
    if as_json:
        typer.echo(graph.to_json())
        return
    title = (
        f"[bold]{blueprint.name}[/] level {int(blueprint.level)} on {blueprint.platform.value}, "
        f"environment {environment}, {blueprint.region}: {len(graph.custom)} resources"
    )
    tree = Tree(title)
    grouped: dict[str, Counter[str]] = defaultdict(Counter)
    for res in graph.custom:
        grouped[res.capability or "platform"][res.type] += 1
    for capability in (*CAPABILITIES, "platform"):
        if capability not in grouped:
            continue
        counts = grouped[capability]
        branch = tree.add(f"[bold cyan]{capability}[/] ({sum(counts.values())})")
        for type_, count in sorted(counts.items()):
            label = short_type(type_) + (f" x{count}" if count > 1 else "")
            if len(label) + 8 > out_console.width:  # too long for the line: break after the module
                module, _, kind = label.rpartition(":")
                label = f"{module}:\n{kind}"
            branch.add(label)
    out_console.print(tree)
    if graph.outputs:
        out_console.print("stack outputs: " + ", ".join(sorted(graph.outputs)))
    protected = sum(1 for r in graph.custom if r.protect)
    out_console.print(f"{protected} stateful resources are protected. Deploy with `pulumi up` (see README).")


_SEVERITY = {"critical": "crit", "high": "high", "medium": "med", "low": "low"}
_RESULT = {"compliant": "pass", "non-compliant": "[bold red]FAIL[/]", "not-applicable": "n/a"}
_SUMMARY = {"compliant": "pass", "non-compliant": "fail", "advisory": "advisory", "not-applicable": "n/a"}


def _print_report(report: Report) -> None:
    """The rules as a table (80 columns), then every violation and every advisory rule's reason."""
    from rich import box
    from rich.table import Table

    from mlops_bp.stacks.rules import Status

    counts = Counter("advisory" if r.advisory is not None and r.violations else r.status.value for r in report.results)
    summary = ", ".join(f"{counts[key]} {word}" for key, word in _SUMMARY.items() if counts[key])
    table = Table(
        title=f"rule pack on {report.project}, environment {report.stack}: {summary}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
    )
    table.add_column("rule", no_wrap=True)
    table.add_column("sev", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("#", justify="right")
    table.add_column("description", ratio=1)
    for result in report.results:
        shown = _RESULT[result.status.value]
        if result.advisory is not None:
            shown = "[yellow]advisory[/]" if result.violations else f"{shown} (adv.)"
        judged = sum(1 for f in result.findings if f.status is not Status.NOT_APPLICABLE)
        severity = _SEVERITY[result.rule.severity.value]
        table.add_row(result.rule.id, severity, shown, str(judged), result.rule.description)
    out_console.print(table)
    violations = [(r, f) for r in report.results for f in r.violations]
    if violations:
        found = Table(title="violations", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        found.add_column("rule", no_wrap=True)
        found.add_column("resource", ratio=1, overflow="fold")
        found.add_column("why", ratio=1, overflow="fold")
        for result, finding in violations:
            why = ("(advisory) " if result.advisory is not None else "") + finding.reason
            found.add_row(result.rule.id, escape(finding.name), escape(why))
        out_console.print(found)
    for result in report.results:
        if result.advisory is not None:
            out_console.print(f"advisory {result.rule.id}: {escape(result.advisory)}", soft_wrap=False)
    if report.blocking:
        ids = ", ".join(r.rule.id for r in report.blocking)
        err_console.print(f"[bold red]{len(report.blocking)} mandatory rule(s) violated:[/] {ids}")
