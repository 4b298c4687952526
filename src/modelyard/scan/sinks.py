"""Callables from which a call path reaches a dangerous call, derived from source code.

``scripts/derive_sinks.py`` walks the source of the standard library and the installed ML stack
with ``ast`` and writes ``data/sinks.tsv``: one line per callable that reaches a sink, sorted,
with the sink's kind and the next callable on one shortest path to it. The table is mapped into
memory on the first lookup and searched by bisection, without reading or parsing every line, so
scans that meet only allowed globals never open it.
"""

from __future__ import annotations

import mmap
from functools import cache
from pathlib import Path
from typing import Literal, NamedTuple, get_args

# Most severe first.
SinkKind = Literal["process", "code", "native", "unpickle", "import", "network", "file"]
SINK_KINDS: tuple[SinkKind, ...] = get_args(SinkKind)
DATA_FILE = "sinks.tsv"
_KINDS: dict[str, SinkKind] = {kind: kind for kind in SINK_KINDS}


class SinkPath(NamedTuple):
    """How a callable reaches a sink: ``path`` runs from the callable to the sink it calls."""

    kind: SinkKind
    path: tuple[str, ...]

    @property
    def sink(self) -> str:
        return self.path[-1]


@cache
def _table() -> mmap.mmap:
    """The table: a few ``#`` lines of header, then ``callable\tkind\tnext callable`` lines
    sorted by callable (``#`` sorts before every name).

    Mapped from the package folder, not read: a lookup touches the few pages its bisection
    visits, where inflating a compressed copy of the 2 MB table took 5 ms, as long as the rest
    of a small file's scan.
    """
    with (Path(__file__).parent / "data" / DATA_FILE).open("rb") as file:
        return mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)


def _entry(qualname: str) -> tuple[SinkKind, str] | None:
    """``(kind, next callable)`` of a listed callable; a sink's next callable is empty."""
    table = _table()
    key = qualname.encode() + b"\t"
    # Bisect over line starts: lines before ``low`` sort before the key, lines from ``high`` on
    # do not.
    low, high = 0, len(table)
    while low < high:
        start = table.rfind(b"\n", 0, (low + high) // 2) + 1
        end = _line_end(table, start)
        if table[start:end] < key:
            low = end + 1
        else:
            high = start
    if table[low : low + len(key)] != key:
        return None
    _, kind, following = table[low : _line_end(table, low)].decode().split("\t")
    return _KINDS[kind], following


def _line_end(table: mmap.mmap, start: int) -> int:
    end = table.find(b"\n", start)
    return len(table) if end < 0 else end


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
