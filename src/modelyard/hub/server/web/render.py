"""Turning stored content into safe HTML: model cards, sizes, scan badges."""

from __future__ import annotations

from functools import cache
from typing import Any

from markupsafe import Markup


@cache
def _markdown() -> Any:
    from markdown_it import MarkdownIt

    # "js-default" escapes raw HTML in the card and refuses javascript: and data: links, so a
    # card cannot inject script into the page.
    return MarkdownIt("js-default").enable("table")


def card_html(readme: str) -> Markup:
    """The model card body (front matter removed) as sanitized HTML."""
    body = readme
    if readme.startswith("---"):
        end = readme.find("\n---", 3)
        if end >= 0:
            body = readme[end + 4 :]
    return Markup(_markdown().render(body))  # noqa: S704 - markdown-it escapes all raw HTML


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


def metric_value(value: object) -> str:
    """A metric as shown in the table: floats to four places, anything else as written."""
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


BADGES = {
    "safe": ("safe", "badge-safe"),
    "suspicious": ("suspicious", "badge-suspicious"),
    "error": ("not fully scanned", "badge-error"),
    "unsafe": ("unsafe · quarantined", "badge-unsafe"),
    "pending": ("scan pending", "badge-pending"),
}
