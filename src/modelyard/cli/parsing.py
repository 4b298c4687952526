"""Small helpers over ``argparse`` so every command is declared the same way."""

from __future__ import annotations

import argparse
import inspect
import sys
from collections.abc import Callable
from typing import TypeAlias

Command: TypeAlias = Callable[[argparse.Namespace], int | None]
"""A command's function: gets the parsed arguments, returns the exit code (``None``: 0)."""
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def new_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """A parser that prints ``description`` as written and its help when run without a command."""
    parser = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.set_defaults(run=_help_of(parser))
    return parser


def add_group(commands: Commands, name: str, summary: str) -> Commands:
    """A command group (``modelyard hub ...``); run alone, it prints its help."""
    parser = commands.add_parser(
        name,
        help=summary,
        description=summary,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(run=_help_of(parser))
    return parser.add_subparsers(title="commands", metavar="COMMAND")


def add_command(commands: Commands, name: str, run: Command) -> argparse.ArgumentParser:
    """A command documented by ``run``'s docstring (its first line is the summary)."""
    doc = inspect.getdoc(run) or ""
    parser = commands.add_parser(
        name,
        help=doc.split("\n", 1)[0],
        description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(run=run)
    return parser


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
