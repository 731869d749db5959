"""The `mlops-bp` command line: thin commands over library functions.

The startup path imports neither pulumi nor pulumi_aws; commands that need them import them
when they run.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Annotated

import typer

from mlops_bp.blueprints.catalog import level_range

from . import cost, init, lifecycle, ops, spec
from .errors import MlopsBpGroup

HELP = (
    f"Generate MLOps infrastructure (Pulumi) and team repos for MLOps maturity levels {level_range()}.\n\n"
    "Shell completion of commands, flags, levels and regions: `mlops-bp --install-completion` "
    "(bash, zsh, fish, PowerShell; then open a new shell), or `--show-completion` for the script."
)

app = typer.Typer(
    name="mlops-bp",
    cls=MlopsBpGroup,
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    help=HELP,
)
app.add_typer(spec.app)
app.add_typer(init.app)
app.add_typer(cost.app)
app.add_typer(lifecycle.app)
app.add_typer(ops.app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mlops-bp {version('mlops-bp')}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """The root of the command line (its help is HELP)."""


def main() -> None:
    app()
