"""Argument checks run before any work, with one message shape that lists the valid values.

As scikit-learn's ``validate_params``: "The 'cv' parameter of compare must be an int in
[2, inf). Got 1 instead."
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Literal, NoReturn, get_args

from modelyard.learn.errors import LearnError
from modelyard.learn.registry import Clustering, Engine, Inference, TaskOrAuto


@dataclass(frozen=True)
class Interval:
    """Numbers between ``low`` and ``high``; ``integer`` accepts whole numbers only."""

    low: float
    high: float = math.inf
    integer: bool = False
    closed: Literal["both", "left", "right", "neither"] = "both"

    def accepts(self, value: object) -> bool:
        kind = Integral if self.integer else Real
        if isinstance(value, bool) or not isinstance(value, kind):
            return False
        number = float(value)
        above = number >= self.low if self.closed in ("both", "left") else number > self.low
        below = number <= self.high if self.closed in ("both", "right") else number < self.high
        return above and below

    def __str__(self) -> str:
        left = "[" if self.closed in ("both", "left") and self.low != -math.inf else "("
        right = "]" if self.closed in ("both", "right") and self.high != math.inf else ")"
        kind = "an int" if self.integer else "a float"
        return f"{kind} in {left}{_bound(self.low)}, {_bound(self.high)}{right}"


@dataclass(frozen=True)
class Options:
    """One of a closed set of strings (a ``Literal`` alias's ``get_args``)."""

    values: Collection[str]

    def accepts(self, value: object) -> bool:
        return isinstance(value, str) and value in self.values

    def __str__(self) -> str:
        return "one of {" + ", ".join(repr(value) for value in self.values) + "}"


Constraint = Interval | Options | None
"""``None`` admits ``None`` itself."""


TASKS = Options(get_args(TaskOrAuto))
SPARK_TASKS = Options(get_args(TaskOrAuto) + get_args(Clustering))
ENGINES = Options(get_args(Engine))
INFERENCES = Options(get_args(Inference))
SEEDS = Interval(0, 2**32 - 1, integer=True)


def check_param(caller: str, name: str, value: object, *constraints: Constraint) -> None:
    """Raise ``LearnError`` unless ``value`` satisfies one of ``constraints``."""
    for constraint in constraints:
        if value is None if constraint is None else constraint.accepts(value):
            return
    reject_param(caller, name, value, *constraints)


def reject_param(
    caller: str, name: str, value: object, *constraints: Constraint, hint: str | None = None
) -> NoReturn:
    """Raise the ``LearnError`` that says ``value`` is none of ``constraints``."""
    expected = " or ".join("None" if c is None else str(c) for c in constraints)
    raise LearnError(
        f"The {name!r} parameter of {caller} must be {expected}. Got {value!r} instead.",
        hint=hint,
    )


def _bound(number: float) -> str:
    if math.isinf(number):
        return "inf" if number > 0 else "-inf"
    return str(int(number)) if number == int(number) else str(number)
