"""`mlops-bp cost`: the monthly cost of a blueprint, estimated offline from its captured graph."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box

from mlops_bp.blueprints import CAPABILITIES
from mlops_bp.blueprints.catalog import level_numbers

from .display import plain_number, progress
from .errors import err_console, out_console
from .options import BlueprintFlags, JsonOpt, blueprint_flags

if TYPE_CHECKING:
    from mlops_bp.stacks.cost import Estimate, LevelEstimate

app = typer.Typer()

UsageOpt = Annotated[
    Path | None,
    typer.Option(
        "--usage",
        "-u",
        help="Usage YAML overriding the default usage profile; its format: `mlops-bp schema --usage`.",
        show_default=False,
        metavar="FILE",
    ),
]
CompareOpt = Annotated[
    bool,
    typer.Option("--compare", help="Show every level side by side, from the blueprint's settings (no --level needed)."),
]
CostEnvOpt = Annotated[
    str | None,
    typer.Option(
        "--env",
        "-e",
        help="Only this environment; default: every environment of the blueprint, added up.",
        show_default=False,
        metavar="ENV",
    ),
]

IDLE_MEANS = "idle = no traffic and no training (stored data of the usage profile still billed)"


def _usd(value: float) -> str:
    return f"${value:,.2f}"


def _caveats(caveats: list[str]) -> None:
    for caveat in caveats:
        out_console.print(f"note: {caveat}.")


def _print_estimate(estimate: Estimate, title: str, prefix: str) -> None:
    """One table per environment: each resource on a row of its own, its charges below it as
    `what: quantity x unit price`, wrapped at spaces (no name or price is ever split), with the
    idle and at-usage amounts on the right: 80 columns suffice."""
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    out_console.print(title)
    for env in dict.fromkeys(line.environment for line in estimate.lines):
        table = Table(title=f"environment {env}", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
        table.add_column("resource: charge, quantity x unit price", ratio=1)
        table.add_column("idle", justify="right", no_wrap=True)
        table.add_column("at usage", justify="right", no_wrap=True)
        previous = ""
        for line in (line for line in estimate.lines if line.environment == env):
            shown = line.resource.removeprefix(f"{prefix}-{env}-")
            if shown != previous:
                table.add_row(Text(shown, style="bold"), "", "")
                previous = shown
            charge = (
                f"{line.what}: {plain_number(line.usage_quantity)} x ${plain_number(line.unit_price, 6)}/{line.unit}"
            )
            table.add_row(
                Padding(Text(charge), (0, 0, 0, 2)),
                _usd(line.idle_cost) if line.idle_quantity else "-",
                _usd(line.usage_cost),
            )
        out_console.print(table)
    out_console.print(
        f"[bold]total per month: idle {_usd(estimate.idle_total)}, at usage {_usd(estimate.usage_total)}[/]",
    )
    free = Counter(r.type for r in estimate.free)
    if free:
        kinds = ", ".join(f"{t.rsplit(':', 1)[-1]} x{n}" for t, n in sorted(free.items()))
        out_console.print(f"free ({sum(free.values())} resources): {kinds}")
    if estimate.unpriced:
        out_console.print(f"[bold red]unpriced ({len(estimate.unpriced)}), not included in the totals:[/]")
        for r in estimate.unpriced:
            out_console.print(f"  {r.environment}/{r.resource} ({r.type}): {r.reason}")
    _caveats(estimate.caveats)
    out_console.print(f"{IDLE_MEANS}; prices: {estimate.region}, on-demand list prices.")


def _print_compare(results: list[LevelEstimate], title: str) -> None:
    from rich.table import Table

    # One column per level: idle over at-usage in each cell, so five levels fit 80 columns.
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("idle\nat usage", no_wrap=True)
    for result in results:
        table.add_column(f"level {result.level}", justify="right", no_wrap=True)
    rows = [*CAPABILITIES, "platform"]
    costs = [r.estimate.by_capability() if r.estimate else {} for r in results]
    for capability in rows:
        if not any(capability in c for c in costs):
            continue
        cells = [f"{_usd(c[capability][0])}\n{_usd(c[capability][1])}" if capability in c else "-" for c in costs]
        table.add_row(capability, *cells)
    table.add_section()
    table.add_row(
        "[bold]total[/]",
        *[f"{_usd(r.estimate.idle_total)}\n{_usd(r.estimate.usage_total)}" if r.estimate else "n/a" for r in results],
    )
    table.add_row("unpriced", *[str(len(r.estimate.unpriced)) if r.estimate else "-" for r in results])
    out_console.print(table)
    for result in results:
        if result.error:
            out_console.print(f"level {result.level}: n/a, {result.error}")
    caveats = [c for r in results if r.estimate for c in r.estimate.caveats]
    _caveats(list(dict.fromkeys(caveats)))
    out_console.print(IDLE_MEANS)


def _lowest_level() -> int:
    return level_numbers()[0]


@app.command()
@blueprint_flags()
def cost(
    flags: BlueprintFlags,
    env: CostEnvOpt = None,
    usage: UsageOpt = None,
    compare: CompareOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Estimate the monthly AWS cost of a blueprint offline, from its captured resource graph.

    Two columns: idle (no traffic, no training) and at a usage profile (defaults for a small
    team, overridable with --usage usage.yaml, whose format `mlops-bp schema --usage` prints).
    Prices are us-east-1 on-demand list prices shipped with mlops-bp (each with its source and
    date); other regions use a multiplier table or are reported unpriced. Resources the table
    does not know are listed, never $0. Without --env, every environment of the blueprint is
    added up. --compare prices the blueprint at every level (its level, from --level or the
    file, does not matter then).
    """
    blueprint = flags.resolve(default_level=_lowest_level() if compare else None)
    from mlops_bp.stacks.cost import compare_levels, estimate_blueprint, load_usage

    usage_data = load_usage(usage) if usage is not None else None
    scope = f"environment {env}" if env else "environments " + ", ".join(e.name for e in blueprint.environments)
    if compare:
        with progress("Pricing every level...") as shown:
            results = compare_levels(
                blueprint, usage_data, env, on_level=lambda level: shown.update(f"Pricing level {level}...")
            )
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "levels": [
                            {"level": r.level, "error": r.error or None, **(r.estimate.to_dict() if r.estimate else {})}
                            for r in results
                        ]
                    },
                    indent=2,
                )
            )
            return
        _print_compare(
            results,
            f"[bold]{blueprint.name}[/] on {blueprint.platform.value}, {blueprint.region}: monthly cost per level",
        )
        return
    if env is not None:
        blueprint.environment(env)  # a clear error (and a close match) before any planning
    with progress(f"Pricing {blueprint.name}, {scope}..."):
        estimate = estimate_blueprint(blueprint, usage_data, env)
    if as_json:
        typer.echo(json.dumps({"level": int(blueprint.level), **estimate.to_dict()}, indent=2))
        return
    _print_estimate(
        estimate,
        f"[bold]{blueprint.name}[/] level {int(blueprint.level)} on {blueprint.platform.value}, {scope}, "
        f"{blueprint.region}: monthly cost",
        blueprint.name,
    )
    if estimate.unpriced:
        err_console.print(f"warning: {len(estimate.unpriced)} resources are unpriced; the totals leave them out.")
