"""The two Rich consoles every command writes to: results on stdout, messages on stderr."""

from __future__ import annotations

from rich.console import Console

stdout = Console(highlight=False)
stderr = Console(stderr=True, highlight=False)
