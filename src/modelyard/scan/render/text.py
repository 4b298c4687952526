"""A scan report for people: a table of files, every finding on one line, then the verdict."""

from __future__ import annotations

from modelyard.scan.report import ScanReport, Verdict

# Reports of more files than this list only the files that are not safe, so problems are not
# buried among thousands of clean files.
LIST_ALL = 50

# ANSI style per verdict (used when ``color`` is asked for).
_STYLE = {
    Verdict.SAFE: "\x1b[32m",
    Verdict.SUSPICIOUS: "\x1b[33m",
    Verdict.ERROR: "\x1b[35m",
    Verdict.UNSAFE: "\x1b[1;31m",
}
_RESET = "\x1b[0m"
_HEADER = ("file", "format", "verdict", "findings")


def to_text(report: ScanReport, *, color: bool = False) -> str:
    """The report as aligned plain text, with ANSI colours if ``color``."""

    def paint(text: str, verdict: Verdict) -> str:
        return f"{_STYLE[verdict]}{text}{_RESET}" if color else text

    lines: list[str] = []
    listed = [r for r in report.files if r.verdict != Verdict.SAFE or len(report.files) <= LIST_ALL]
    if listed:
        rows = [_HEADER, *((r.path, r.format, r.verdict, str(len(r.findings))) for r in listed)]
        widths = [max(len(row[column]) for row in rows) for column in range(len(_HEADER))]
        for index, row in enumerate(rows):
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
            cells[-1] = row[-1].rjust(widths[-1])
            if index:
                cells[2] = paint(cells[2], listed[index - 1].verdict)
            lines.append("  ".join(cells).rstrip())
    hidden = len(report.files) - len(listed)
    if hidden:
        note = paint(f"{hidden} safe file(s) not listed", Verdict.SAFE)
        lines.append(f"{note} (--format json lists all)")
    for result in report.files:
        for finding in result.findings:
            where = result.path + (f" [{finding.member}]" if finding.member else "")
            severity = paint(f"{finding.severity:>10}", finding.severity.verdict)
            lines.append(f"{severity} {finding.rule_id} {where}: {finding.message}")
    verdict = report.verdict
    lines.append("")
    lines.append(
        f"{paint(verdict.upper(), verdict)}: {len(report.files)} file(s) scanned in "
        f"{report.seconds:.2f} s"
    )
    return "\n".join(lines) + "\n"
