"""The root CLI, run as a user runs it: the installed ``modelyard`` entry point in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import modelyard

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
