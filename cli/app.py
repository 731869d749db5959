"""The `mlops-bp` command line: thin commands over library functions.

The startup path imports neither pulumi nor pulumi_aws; commands that need them import them
when they run.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Annotated

import typer

from . import cost, init, lifecycle, ops, spec
from .errors import MlopsBpGroup

app = typer.Typer(
    name="mlops-bp",
    cls=MlopsBpGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Generate MLOps infrastructure (Pulumi) and team repos for MLOps maturity levels 0-4.",
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
    """Generate MLOps infrastructure (Pulumi) and team repos for MLOps maturity levels 0-4."""


def main() -> None:
    app()
