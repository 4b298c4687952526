"""The symbolic values the pickle machine puts on its stack instead of real objects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Global:
    """An object a pickle imports: ``module`` and ``name`` as the loader would resolve them."""

    module: str
    name: str

    @property
    def qualname(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass(slots=True, eq=False)
class Call:
    """The result of calling ``func`` at load time (REDUCE, NEWOBJ, OBJ, INST)."""

    func: Any
    args: Any
    offset: int
    state: Any = None


@dataclass(slots=True, eq=False)
class PersistentRef:
    """What a loader's ``persistent_load`` returns for ``pid`` (for PyTorch, a storage)."""

    pid: Any


class DictItems(list):  # type: ignore[type-arg]
    """A dict being built, as its keys and values in turn (keys may be unhashable symbols)."""

    __slots__ = ()


class SetItems(list):  # type: ignore[type-arg]
    """A set or frozenset being built."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Blob:
    """A large bytes value, kept as a slice of the input instead of a copy."""

    start: int
    end: int


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
