"""The two Rich consoles commands write to: results on stdout, messages on stderr.

Rich is imported on first use, so commands that print plain text (``scan``, ``--version``,
``--help``) start without it.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


@cache
def stdout() -> Console:
    """The console for results."""
    from rich.console import Console

    return Console(highlight=False)


@cache
def stderr() -> Console:
    """The console for progress, warnings and errors."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def escape(text: str) -> str:
    """``text`` with Rich markup characters escaped, to print user-supplied names verbatim."""
    from rich.markup import escape as escape_markup

    return escape_markup(text)
