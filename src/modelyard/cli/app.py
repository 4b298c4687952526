"""The root command: global options, command registration and the one error handler.

Built on ``argparse`` so that start-up stays light: ``modelyard scan`` runs in CI jobs and
pre-commit hooks many times a day, so only the module of the command being run is imported,
and each command imports its libraries only when it runs.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from modelyard import __version__
from modelyard.cli.parsing import new_parser
from modelyard.errors import ModelyardError

# The module that registers each command (its ``register(commands)``) and the commands it adds,
# in the order ``--help`` lists them.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "modelyard.cli.learn": ("train", "compare", "predict", "evaluate", "models"),
    "modelyard.cli.scan": ("scan",),
    "modelyard.cli.hub": ("hub", "push", "pull"),
    "modelyard.cli.serve": ("serve",),
    "modelyard.cli.convert": ("export", "import"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command tree; each command stores its function as ``run``.

    Given the ``command`` about to run, only the module that registers it is imported; the
    whole tree is built otherwise (for the help, or to reject an unknown command).
    """
    parser = new_parser("modelyard", "Train, scan, share and serve machine-learning models.")
    parser.add_argument("--version", action="version", version=f"modelyard {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show full tracebacks and debug logging"
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    wanted = [module for module, names in COMMAND_MODULES.items() if command in names]
    for module in wanted or COMMAND_MODULES:
        importlib.import_module(module).register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Run the CLI; a ``ModelyardError`` becomes one line on stderr and its exit code."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(next((a for a in arguments if not a.startswith("-")), None))
    args = parser.parse_args(arguments)
    if args.debug or args.configure_logging:
        import logging

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
