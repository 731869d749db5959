"""`mlops-bp cost`: the monthly cost of a blueprint, estimated offline from its captured graph."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mlops_bp.blueprints import CAPABILITIES

from .errors import err_console, out_console
from .options import ConfigOpt, EnvOpt, GithubOpt, JsonOpt, LevelOpt, NameOpt, PlatformOpt, RegionOpt, resolve_blueprint

if TYPE_CHECKING:
    from mlops_bp.stacks.cost import Estimate, LevelEstimate

app = typer.Typer()

UsageOpt = Annotated[
    Path | None,
    typer.Option("--usage", "-u", help="Usage YAML overriding the default usage profile.", show_default=False),
]
CompareOpt = Annotated[bool, typer.Option("--compare", help="Show all five levels side by side.")]

IDLE_MEANS = "idle = no traffic and no training (stored data of the usage profile still billed)"


def _usd(value: float) -> str:
    return f"${value:,.2f}"


def _qty(value: float) -> str:
    return f"{value:,.4g}" if value < 1000 else f"{value:,.0f}"


def _print_estimate(estimate: Estimate, title: str, prefix: str) -> None:
    from rich.table import Table

    out_console.print(title)
    for env in dict.fromkeys(line.environment for line in estimate.lines):
        table = Table(title=f"environment {env}", title_justify="left")
        table.add_column("resource", overflow="fold")
        table.add_column("charge", overflow="fold")
        table.add_column("quantity", justify="right")
        table.add_column("unit price")
        table.add_column("idle", justify="right", no_wrap=True)
        table.add_column("at usage", justify="right", no_wrap=True)
        previous = ""
        for line in (line for line in estimate.lines if line.environment == env):
            shown = line.resource.removeprefix(f"{prefix}-{env}-")
            table.add_row(
                shown if shown != previous else "",
                line.what,
                _qty(line.usage_quantity),
                f"${line.unit_price:.6g}/{line.unit}",
                _usd(line.idle_cost) if line.idle_quantity else "-",
                _usd(line.usage_cost),
            )
            previous = shown
        out_console.print(table)
    out_console.print(
        f"[bold]total per month: idle {_usd(estimate.idle_total)}, at usage {_usd(estimate.usage_total)}[/]"
    )
    free = Counter(r.type for r in estimate.free)
    if free:
        kinds = ", ".join(f"{t.rsplit(':', 1)[-1]} x{n}" for t, n in sorted(free.items()))
        out_console.print(f"free ({sum(free.values())} resources): {kinds}")
    if estimate.unpriced:
        out_console.print(f"[bold red]unpriced ({len(estimate.unpriced)}), not included in the totals:[/]")
        for r in estimate.unpriced:
            out_console.print(f"  {r.environment}/{r.resource} ({r.type}): {r.reason}")
    out_console.print(f"{IDLE_MEANS}; prices: {estimate.region}, on-demand list prices.")


def _print_compare(results: list[LevelEstimate], title: str) -> None:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("idle / at usage")
    for result in results:
        table.add_column(f"level {result.level}", justify="right")
    rows = [*CAPABILITIES, "platform"]
    costs = [r.estimate.by_capability() if r.estimate else {} for r in results]
    for capability in rows:
        if not any(capability in c for c in costs):
            continue
        cells = [f"{_usd(c[capability][0])} / {_usd(c[capability][1])}" if capability in c else "-" for c in costs]
        table.add_row(capability, *cells)
    table.add_section()
    table.add_row(
        "[bold]total[/]",
        *[f"{_usd(r.estimate.idle_total)} / {_usd(r.estimate.usage_total)}" if r.estimate else "n/a" for r in results],
    )
    table.add_row("unpriced resources", *[str(len(r.estimate.unpriced)) if r.estimate else "-" for r in results])
    out_console.print(table)
    for result in results:
        if result.error:
            out_console.print(f"level {result.level}: n/a, {result.error}")
    out_console.print(IDLE_MEANS)


@app.command()
def cost(
    level: LevelOpt = None,
    platform: PlatformOpt = None,
    config: ConfigOpt = None,
    name: NameOpt = None,
    region: RegionOpt = None,
    github: GithubOpt = None,
    env: EnvOpt = None,
    usage: UsageOpt = None,
    compare: CompareOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Estimate the monthly AWS cost of a blueprint offline, from its captured resource graph.

    Two columns: idle (no traffic, no training) and at a usage profile (defaults for a small
    team, overridable with --usage usage.yaml). Prices are us-east-1 on-demand list prices
    shipped with mlops-bp (each with its source and date); other regions use a multiplier
    table or are reported unpriced. Resources the table does not know are listed, never $0.
    Without --env, every environment of the blueprint is added up.
    """
    blueprint = resolve_blueprint(
        level=level, platform=platform, config=config, name=name, region=region, github=github
    )
    from mlops_bp.stacks.cost import compare_levels, estimate_blueprint, load_usage

    usage_data = load_usage(usage) if usage is not None else None
    scope = f"environment {env}" if env else "environments " + ", ".join(e.name for e in blueprint.environments)
    if compare:
        results = compare_levels(blueprint, usage_data, env)
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
