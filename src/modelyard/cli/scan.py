"""``modelyard scan``: judge model files and folders, for people (text) and for CI (JSON, SARIF).

Only the scanner is imported, and only when the command runs: a scan prints plain text, so
it starts without Rich or any machine-learning library.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from modelyard.cli.parsing import Commands, add_command, at_least
from modelyard.errors import UsageError

FORMATS = ("text", "json", "sarif")


def scan_command(args: argparse.Namespace) -> int:
    """Scan model files for code they would run when loaded, without running anything.

    Folders are walked fully, files without an extension included. Exit codes:
    0 safe, 1 unsafe (or suspicious with --strict), 2 not fully scanned (error).
    """
    from modelyard.scan import ScanOptions, explain, render, scan

    if args.explain:
        rule = explain(args.explain)
        sys.stdout.write(f"{rule.id} {rule.title} ({rule.severity})\n\n{rule.explanation}\n")
        return 0
    if not args.paths:
        raise UsageError("give at least one file or folder to scan (or --explain RULE)")
    options = ScanOptions() if args.timeout is None else ScanOptions(timeout=args.timeout or None)
    report = scan(*args.paths, options=options, jobs=args.jobs)
    if args.format == "json":
        rendered = render.to_json(report) + "\n"
    elif args.format == "sarif":
        rendered = render.to_sarif(report) + "\n"
    else:
        rendered = render.to_text(report, color=args.output is None and _colour_wanted())
    if args.output is None:
        sys.stdout.write(rendered)
    else:
        args.output.write_text(rendered, encoding="utf-8")
    return report.exit_code(strict=args.strict)


def _colour_wanted() -> bool:
    """Colour on a terminal, unless NO_COLOR is set (https://no-color.org)."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def register(commands: Commands) -> None:
    """Add ``modelyard scan`` to the root command."""
    # The scanner logs only debug messages (a reader that failed on hostile input).
    parser = add_command(commands, "scan", scan_command, configure_logging=False)
    parser.add_argument(
        "paths", nargs="*", type=Path, metavar="PATH", help="files or folders to scan"
    )
    parser.add_argument(
        "-f", "--format", choices=FORMATS, default="text", help="how to print the report"
    )
    parser.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="write the report to this file"
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 for suspicious files too, not only unsafe"
    )
    parser.add_argument(
        "-j",
        "--jobs",
        type=at_least(0),
        default=0,
        help="processes to scan with (default 0: one per CPU when the input is large)",
    )
    parser.add_argument(
        "--timeout",
        type=at_least(0, float),
        metavar="SECONDS",
        help="most time one file may take; past it the file is an error "
        "(default: 300, ScanOptions.timeout; 0: no limit)",
    )
    parser.add_argument("--explain", metavar="RULE", help="explain a rule ID (e.g. MY-PKL-001)")
