"""Callables from which a call path reaches a dangerous call, derived from source code.

``scripts/derive_sinks.py`` walks the source of the standard library and the installed ML stack
with ``ast`` and writes ``data/sinks.tsv.gz``: one line per callable that reaches a sink, sorted,
with the sink's kind and the next callable on one shortest path to it. The table is read once, on
the first lookup (and looked up by bisection, without parsing every line), so scans that meet
only allowed globals never read it.
"""

from __future__ import annotations

import zlib
from bisect import bisect_left
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal, get_args

# Most severe first.
SinkKind = Literal["process", "code", "native", "unpickle", "import", "network", "file"]
SINK_KINDS: tuple[SinkKind, ...] = get_args(SinkKind)
DATA_FILE = "sinks.tsv.gz"
_KINDS: dict[str, SinkKind] = {kind: kind for kind in SINK_KINDS}


@dataclass(frozen=True)
class SinkPath:
    """How a callable reaches a sink: ``path`` runs from the callable to the sink it calls."""

    kind: SinkKind
    path: tuple[str, ...]

    @property
    def sink(self) -> str:
        return self.path[-1]


@cache
def _lines() -> list[str]:
    """The table's lines, ``callable\tkind\tnext callable``, sorted by callable.

    Read straight from the package folder and inflated with ``zlib`` (``wbits=31``: the gzip
    container): ``importlib.resources`` and ``gzip`` would double the time it takes.
    """
    raw = (Path(__file__).parent / "data" / DATA_FILE).read_bytes()
    text = zlib.decompress(raw, wbits=31).decode()
    return [line for line in text.split("\n") if line[:1] not in ("#", "")]


def _entry(qualname: str) -> tuple[SinkKind, str] | None:
    """``(kind, next callable)`` of a listed callable; a sink's next callable is empty."""
    lines = _lines()
    key = qualname + "\t"
    index = bisect_left(lines, key)
    if index == len(lines) or not lines[index].startswith(key):
        return None
    _, kind, following = lines[index].split("\t")
    return _KINDS[kind], following


def reaches_sink(qualname: str) -> SinkPath | None:
    """The shortest known path from ``qualname`` (``module.name``) to a sink, or None."""
    entry = _entry(qualname)
    if entry is None:
        return None
    kind, following = entry
    path = [qualname]
    while following:
        path.append(following)
        step = _entry(following)
        following = step[1] if step else ""
    return SinkPath(kind, tuple(path))
