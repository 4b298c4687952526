"""The root Typer app: global options, command registration and the one error handler."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer
from rich.markup import escape

from modelyard import __version__
from modelyard.cli import hub as hub_cli
from modelyard.cli import learn as learn_cli
from modelyard.cli import scan as scan_cli
from modelyard.cli.console import stderr
from modelyard.errors import ModelyardError

app = typer.Typer(
    name="modelyard",
    help="Train, scan, share and serve machine-learning models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

_state = {"debug": False}


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"modelyard {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show full tracebacks and debug logging.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    _state["debug"] = debug
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING)


learn_cli.register(app)
hub_cli.register(app)
scan_cli.register(app)


def main() -> None:
    """Run the CLI; a ``ModelyardError`` becomes one line on stderr and its exit code."""
    try:
        app()
    except ModelyardError as error:
        if _state["debug"]:
            raise
        stderr.print(f"[bold red]error:[/] {escape(str(error))}", soft_wrap=True)
        sys.exit(error.exit_code)
