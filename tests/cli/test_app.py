"""The root CLI, run as a user runs it: the installed ``modelyard`` entry point in a subprocess."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import modelyard
from modelyard.cli.app import COMMAND_MODULES, build_parser

MODELYARD = str(Path(sys.executable).with_name("modelyard"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MODELYARD, *args], capture_output=True, text=True, timeout=120)


def test_version_prints_the_package_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"modelyard {modelyard.__version__}"


def test_help_lists_the_command_groups() -> None:
    result = run("--help")
    assert result.returncode == 0
    assert "Train, scan, share and serve" in result.stdout


def test_no_arguments_shows_help_and_fails() -> None:
    result = run()
    assert result.returncode == 2
    assert "usage:" in result.stderr


def test_unknown_command_is_a_usage_error() -> None:
    result = run("no-such-command")
    assert result.returncode == 2
    assert "no-such-command" in result.stderr


def test_the_cli_imports_no_engine_or_framework_until_a_command_runs() -> None:
    """Every command, ``scan`` included, starts with only the argument parser's imports."""
    code = (
        "import sys\n"
        "import modelyard.cli.app\n"
        "heavy = ('modelyard.learn.spark', 'modelyard.package', 'modelyard.scan.api',\n"
        "         'modelyard.hub.server', 'modelyard.serve.server', 'pyspark', 'sklearn',\n"
        "         'numpy', 'torch', 'rich')\n"
        "print([name for name in heavy if name in sys.modules])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stderr


def _commands(parser: argparse.ArgumentParser) -> list[str]:
    (subcommands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return list(subcommands.choices)


def test_a_command_is_registered_by_the_module_listed_for_it() -> None:
    """The root command imports only the module of the command given, found by its name."""
    for names in COMMAND_MODULES.values():
        for name in names:
            assert _commands(build_parser(name)) == list(names)
    everything = [name for names in COMMAND_MODULES.values() for name in names]
    assert _commands(build_parser()) == everything
    assert _commands(build_parser("no-such-command")) == everything
