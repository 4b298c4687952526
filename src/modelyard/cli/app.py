"""The root command: global options, command registration and the one error handler.

Built on ``argparse`` so that start-up stays light: ``modelyard scan`` runs in CI jobs and
pre-commit hooks many times a day, and each command imports its libraries only when it runs.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from modelyard import __version__
from modelyard.cli import convert as convert_cli
from modelyard.cli import hub as hub_cli
from modelyard.cli import learn as learn_cli
from modelyard.cli import scan as scan_cli
from modelyard.cli import serve as serve_cli
from modelyard.cli.parsing import new_parser
from modelyard.errors import ModelyardError


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree; each command stores its function as ``run``."""
    parser = new_parser("modelyard", "Train, scan, share and serve machine-learning models.")
    parser.add_argument("--version", action="version", version=f"modelyard {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show full tracebacks and debug logging"
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    learn_cli.register(commands)
    scan_cli.register(commands)
    hub_cli.register(commands)
    serve_cli.register(commands)
    convert_cli.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Run the CLI; a ``ModelyardError`` becomes one line on stderr and its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING)
    try:
        code = args.run(args)
    except ModelyardError as error:
        if args.debug:
            raise
        from modelyard.cli.console import escape, stderr

        stderr().print(f"[bold red]error:[/] {escape(str(error))}", soft_wrap=True)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:  # the reader went away (``modelyard scan DIR | head``)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    sys.exit(code or 0)
