"""``modelyard export`` and ``modelyard import``: packages to ONNX, other formats to packages."""

from __future__ import annotations

import argparse
from pathlib import Path

from modelyard.cli.console import escape, stdout
from modelyard.cli.parsing import Commands, add_command

EXPORT_FORMATS = ("onnx",)


def export_command(args: argparse.Namespace) -> None:
    """Export a package to ONNX, preprocessing included (one named input per raw column).

    The ONNX model is checked against the package before it is written: the same labels, and
    probabilities (or values) within 1e-5, on rows of --data or on rows drawn from what the
    preprocessing learned.
    """
    from modelyard.convert.export import TOLERANCE, export_onnx

    result = export_onnx(args.package, args.out, data=args.data)
    stdout().print(
        f"checked on {result.rows} {result.sample} rows: labels identical, largest difference "
        f"{result.max_difference:.2g} (tolerance {TOLERANCE:g})"
    )
    inputs = ", ".join(result.inputs)
    stdout().print(f"wrote [bold]{escape(str(result.path))}[/] (inputs: {escape(inputs)})")


def register(commands: Commands) -> None:
    """Add ``export`` and ``import`` to the root command."""
    export = add_command(commands, "export", export_command)
    export.add_argument("package", metavar="PACKAGE", type=Path, help="a model package folder")
    export.add_argument("--format", choices=EXPORT_FORMATS, default="onnx", help="onnx")
    export.add_argument("-o", "--out", type=Path, required=True, help="the file to write")
    export.add_argument(
        "--data", type=Path, help="raw rows to check the export on (default: drawn at random)"
    )
