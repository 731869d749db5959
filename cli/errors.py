"""The one place where errors become what a user sees: a single line on stderr, an exit code."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup, _main

from mlops_bp.blueprints import MlopsBpError

__all__ = ["MlopsBpGroup", "err_console", "out_console"]

# Typer may vendor click (typer._click) or use click itself: take the exception classes from
# wherever its BadParameter lives.
_click_exceptions = importlib.import_module(typer.BadParameter.__module__)
ClickException = _click_exceptions.ClickException
NoArgsIsHelpError = _click_exceptions.NoArgsIsHelpError
ClickAbort = typer.Abort


class _Console(Console):
    """Text wraps at word boundaries on a terminal; piped or captured, a line stays one line
    (for grep, and so that one error is one line)."""

    @property  # type: ignore[override]
    def soft_wrap(self) -> bool:
        return not self.is_terminal

    @soft_wrap.setter
    def soft_wrap(self, value: bool) -> None:
        pass  # decided by the stream, above


err_console = _Console(stderr=True, highlight=False)
out_console = _Console(highlight=False)


def _fail(message: str, code: int) -> None:
    first_line = message.strip().splitlines()[0] if message.strip() else "failed"
    err_console.print(f"[bold red]error:[/] {escape(first_line)}")
    sys.exit(code)


def _os_error(exc: OSError) -> str:
    """`path: what the system says`, on one line."""
    where = exc.filename if exc.filename is not None else ""
    what = exc.strerror or type(exc).__name__
    return f"{where}: {what}" if where else what


def _is_plain_string(param: Any) -> bool:
    descriptor = getattr(param, "type_descriptor", None)
    return descriptor is not None and not descriptor.is_choice and param.bare_type() == "str"


def _plain_flags(params: list[Any]) -> list[Any]:
    """Help shows what to give, not Python types: nothing for a flag (no `<bool>`), the
    option's name for a string (`--profile PROFILE`, not `<str>`)."""
    for param in params:
        if param.metavar is not None or getattr(param, "param_type_name", "") != "option":
            continue
        if getattr(param, "is_flag", False):
            param.metavar = ""
        elif _is_plain_string(param):
            long = max(param.opts, key=len).lstrip("-")
            param.metavar = long.upper().replace("-", "_")
    return params


class MlopsBpGroup(TyperGroup):
    """Root command group: mlops-bp's own errors, click's usage errors and Ctrl-C all end as
    one line on stderr and a non-zero exit code, never a traceback."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_flags(super().get_params(ctx))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _plain_flags(command.params)
            help_option = command.get_help_option(ctx)
            if help_option is not None:
                _plain_flags([help_option])
        return command

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except MlopsBpError as exc:
            _fail(str(exc), exc.exit_code)
        except OSError as exc:
            # A path the user named that cannot be read or written (a folder, a missing parent,
            # a dangling link, a read-only or full disk): the user's to fix, exit 2.
            _fail(_os_error(exc), 2)
        except KeyboardInterrupt:
            _fail("interrupted; nothing was changed", 130)

    def main(
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            rv = _main(
                self,
                args=args,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                rich_markup_mode=self.rich_markup_mode,
                **extra,
            )
        except NoArgsIsHelpError as exc:
            if not standalone_mode:
                raise
            typer.echo(exc.ctx.get_help() if exc.ctx else str(exc), err=True)
            sys.exit(exc.exit_code)
        except ClickException as exc:
            if not standalone_mode:
                raise
            _fail(exc.format_message(), exc.exit_code)
        except ClickAbort:
            if not standalone_mode:
                raise
            _fail("aborted; nothing was changed", 1)
        if standalone_mode:
            sys.exit(rv if isinstance(rv, int) else 0)
        return rv
