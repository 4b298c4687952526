"""``modelyard scan``: judge model files and folders, for people (text) and for CI (JSON, SARIF)."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from modelyard.cli.console import stdout

if TYPE_CHECKING:
    from modelyard.scan import ScanReport

# Rich style per verdict. The scanner itself is imported inside the commands, so that
# `modelyard --help` and other commands do not pay for it.
_STYLE = {"safe": "green", "suspicious": "yellow", "error": "magenta", "unsafe": "bold red"}


# Larger reports list only the files that are not safe, so problems are not buried.
_LIST_ALL = 50


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"


def _print_text(report: ScanReport, console: Console) -> None:
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    table.add_column("file", overflow="fold")
    table.add_column("format")
    table.add_column("verdict")
    table.add_column("findings", justify="right")
    listed = [r for r in report.files if r.verdict != "safe" or len(report.files) <= _LIST_ALL]
    for result in listed:
        style = _STYLE[result.verdict]
        table.add_row(
            escape(result.path),
            result.format,
            f"[{style}]{result.verdict}[/]",
            str(len(result.findings)),
        )
    if listed:
        console.print(table)
    if len(listed) < len(report.files):
        hidden = len(report.files) - len(listed)
        console.print(f"[green]{hidden} safe file(s) not listed[/] (--format json lists all)")
    for result in report.files:
        for finding in result.findings:
            where = escape(result.path + (f" [{finding.member}]" if finding.member else ""))
            style = _STYLE[finding.severity.verdict]
            console.print(
                f"[{style}]{finding.severity:>10}[/] {finding.rule_id} {where}: "
                f"{escape(finding.message)}",
                soft_wrap=True,
            )
    verdict = report.verdict
    console.print(
        f"\n[{_STYLE[verdict]}]{verdict.upper()}[/]: {len(report.files)} file(s) scanned in "
        f"{report.seconds:.2f} s"
    )


def _explain(rule_id: str) -> None:
    from modelyard.scan import explain

    rule = explain(rule_id)
    stdout.print(f"[bold]{rule.id}[/] {escape(rule.title)} ({rule.severity})\n")
    stdout.print(escape(rule.explanation), soft_wrap=False)


def scan_command(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Files or folders to scan (folders recursively).")
    ] = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="How to print the report.")
    ] = OutputFormat.TEXT,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report to this file.")
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 1 for suspicious files too, not only unsafe.")
    ] = False,
    jobs: Annotated[
        int,
        typer.Option(
            "--jobs", "-j", min=0, help="Processes to scan with (0: one per CPU for large inputs)."
        ),
    ] = 0,
    explain_rule: Annotated[
        str | None,
        typer.Option("--explain", metavar="RULE", help="Explain a rule ID (e.g. MY-PKL-001)."),
    ] = None,
) -> None:
    """Scan model files for code they would run when loaded, without running anything.

    Exit codes: 0 safe, 1 unsafe (or suspicious with --strict), 2 not fully scanned (error).
    """
    if explain_rule:
        _explain(explain_rule)
        return
    if not paths:
        raise typer.BadParameter("give at least one file or folder", param_hint="PATHS")
    from modelyard.scan import scan
    from modelyard.scan.render import to_json, to_sarif

    report = scan(*paths, jobs=jobs)
    if output_format is OutputFormat.TEXT:
        if output is None:
            _print_text(report, stdout)
        else:
            with output.open("w", encoding="utf-8") as handle:
                _print_text(report, Console(file=handle, width=120, no_color=True))
    else:
        rendered = to_json(report) if output_format is OutputFormat.JSON else to_sarif(report)
        if output is None:
            sys.stdout.write(rendered + "\n")
        else:
            output.write_text(rendered + "\n", encoding="utf-8")
    raise typer.Exit(report.exit_code(strict=strict))


def register(app: typer.Typer) -> None:
    """Add ``modelyard scan`` to the root app."""
    app.command("scan")(scan_command)
