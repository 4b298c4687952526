"""Small helpers over ``argparse`` so every command is declared the same way."""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from collections.abc import Callable
from typing import TypeAlias

Command: TypeAlias = Callable[[argparse.Namespace], int | None]
"""A command's function: gets the parsed arguments, returns the exit code (``None``: 0)."""
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Prints descriptions as written, as wide as the terminal.

    ``argparse`` makes a formatter for every argument it adds, help or not, and its own finds
    the width with ``shutil``, whose import costs more than parsing a command line; this one
    asks the operating system as ``shutil.get_terminal_size`` does.
    """

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        if width is None:
            width = _terminal_columns() - 2
        super().__init__(prog, indent_increment, max_help_position, width)


def _terminal_columns() -> int:
    """``$COLUMNS`` if set, else the width of the terminal on stdout, else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):  # no stdout, or not a terminal
        return 80


def new_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """A parser that prints ``description`` as written and its help when run without a command."""
    parser = argparse.ArgumentParser(prog=prog, description=description, formatter_class=Formatter)
    parser.set_defaults(run=_help_of(parser), configure_logging=False)
    return parser


def add_group(commands: Commands, name: str, summary: str) -> Commands:
    """A command group (``modelyard hub ...``); run alone, it prints its help."""
    parser = commands.add_parser(
        name,
        help=summary,
        description=summary,
        formatter_class=Formatter,
    )
    parser.set_defaults(run=_help_of(parser), configure_logging=False)
    return parser.add_subparsers(title="commands", metavar="COMMAND")


def add_command(
    commands: Commands, name: str, run: Command, *, configure_logging: bool = True
) -> argparse.ArgumentParser:
    """A command documented by ``run``'s docstring (its first line is the summary).

    The root command sets up logging before ``run`` (warnings formatted, ``--debug`` shows
    debug messages); a command that logs nothing above debug can do without it unless
    ``--debug`` is given (``configure_logging=False``), and start without importing ``logging``.
    """
    doc = _docstring(run)
    parser = commands.add_parser(
        name,
        help=doc.split("\n", 1)[0],
        description=doc,
        formatter_class=Formatter,
    )
    parser.set_defaults(run=run, configure_logging=configure_logging)
    return parser


def _docstring(function: Callable[..., object]) -> str:
    """``function``'s docstring without its indentation, as ``inspect.getdoc`` gives it (whose
    module would be a tenth of the start-up of ``modelyard scan``)."""
    summary, _, body = (function.__doc__ or "").partition("\n")
    return f"{summary.strip()}\n{textwrap.dedent(body)}".strip()


def at_least(minimum: float, kind: type[int] | type[float] = int) -> Callable[[str], float]:
    """An argument type: a number of ``kind`` no smaller than ``minimum``."""

    def convert(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text} is smaller than {minimum}")
        return value

    return convert


def _help_of(parser: argparse.ArgumentParser) -> Command:
    def print_help(args: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return 2

    return print_help
