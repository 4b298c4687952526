"""The symbolic values the pickle machine puts on its stack instead of real objects.

Plain classes with ``__slots__``, not named tuples: the machine's tuples are real tuples, so no
symbol may be one.
"""

from __future__ import annotations

from typing import Any


class Global:
    """An object a pickle imports: ``module`` and ``name`` as the loader would resolve them."""

    __slots__ = ("module", "name")

    def __init__(self, module: str, name: str) -> None:
        self.module = module
        self.name = name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Global) and self.module == other.module and self.name == other.name

    def __hash__(self) -> int:
        return hash((self.module, self.name))

    def __repr__(self) -> str:
        return f"Global({self.module!r}, {self.name!r})"

    @property
    def qualname(self) -> str:
        return f"{self.module}.{self.name}"


class Call:
    """The result of calling ``func`` at load time (REDUCE, NEWOBJ, OBJ, INST)."""

    __slots__ = ("args", "func", "offset", "state")

    def __init__(self, func: Any, args: Any, offset: int, state: Any = None) -> None:
        self.func = func
        self.args = args
        self.offset = offset
        self.state = state

    def __repr__(self) -> str:
        return f"Call({self.func!r}, {self.args!r}, offset={self.offset})"


class PersistentRef:
    """What a loader's ``persistent_load`` returns for ``pid`` (for PyTorch, a storage)."""

    __slots__ = ("pid",)

    def __init__(self, pid: Any) -> None:
        self.pid = pid

    def __repr__(self) -> str:
        return f"PersistentRef({self.pid!r})"


class DictItems(list):  # type: ignore[type-arg]
    """A dict being built, as its keys and values in turn (keys may be unhashable symbols)."""

    __slots__ = ()


class SetItems(list):  # type: ignore[type-arg]
    """A set or frozenset being built."""

    __slots__ = ()


class Blob:
    """A large bytes value, kept as a slice of the input instead of a copy."""

    __slots__ = ("end", "start")

    def __init__(self, start: int, end: int) -> None:
        self.start = start
        self.end = end

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Blob) and (self.start, self.end) == (other.start, other.end)

    def __hash__(self) -> int:
        return hash((self.start, self.end))

    def __repr__(self) -> str:
        return f"Blob({self.start}, {self.end})"


class Unknown:
    """A value the scanner cannot know statically (an out-of-band buffer, an EXT global)."""

    __slots__ = ("origin",)

    def __init__(self, origin: str) -> None:
        self.origin = origin


def describe(value: Any) -> str:
    """A short human description of a symbolic value for findings."""
    if isinstance(value, Global):
        return value.qualname
    if isinstance(value, Call):
        return f"result of calling {describe(value.func)}"
    if isinstance(value, PersistentRef):
        return "a persistent reference"
    if isinstance(value, Unknown):
        return value.origin
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
