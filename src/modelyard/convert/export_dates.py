"""Date columns in ONNX: each becomes one double input, the instant in seconds since the Unix
epoch (UTC, NaN when missing), whose year, month, day, weekday and hour the graph computes.

ONNX has no operator that parses dates, so ``OnnxModel`` parses a frame's dates as the
package's preprocessing does and passes the seconds. The parts come from the whole days
(floor division, also before 1970) by the civil-from-days algorithm of H. Hinnant, in int64
arithmetic with opset 15 operators; a missing instant gives missing (NaN) parts, which the
fitted imputer then fills.
"""

from __future__ import annotations

import re
from typing import Any

from modelyard.learn.preprocess import DATETIME_PARTS

CONVENTION = "seconds since 1970-01-01T00:00:00Z as a double (fractions ignored), NaN if missing"
_DAY, _HOUR = 86_400, 3_600
# Days from 0000-03-01 to 1970-01-01, and the days of a 400-year era.
_EPOCH_SHIFT, _ERA = 719_468, 146_097
_THURSDAY = 3  # 1970-01-01; weekdays count from Monday = 0, as pandas does


def part_names(column: str) -> list[str]:
    """The preprocessing's part columns of date ``column``, in order."""
    return [f"{column}__{part}" for part in DATETIME_PARTS]


class _Nodes:
    """Nodes computing one date column's parts, their intermediate names unique by ``prefix``."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.nodes: list[Any] = []
        self.constants: list[Any] = []

    def _name(self, what: str) -> str:
        return f"{self.prefix}_{what}_{len(self.nodes) + len(self.constants)}"

    def constant(self, value: int | float, element: int | None = None) -> str:
        """A one-value constant: int64 for an ``int``, else of ONNX type ``element`` (double)."""
        from onnx import TensorProto, helper

        if isinstance(value, int):
            element = TensorProto.INT64
        name = self._name("c")
        self.constants.append(helper.make_tensor(name, element or TensorProto.DOUBLE, [1], [value]))
        return name

    def node(self, op_type: str, *inputs: str, output: str = "", **attributes: Any) -> str:
        from onnx import helper

        output = output or self._name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [output], **attributes))
        return output

    def floor_div(self, value: str, divisor: int) -> tuple[str, str]:
        """``value // divisor`` and ``value % divisor`` as Python computes them (int64 ``Div``
        truncates towards zero; ``Mod`` with ``fmod=0`` takes the divisor's sign)."""
        constant = self.constant(divisor)
        remainder = self.node("Mod", value, constant, fmod=0)
        return self.node("Div", self.node("Sub", value, remainder), constant), remainder

    def div(self, value: str, divisor: int) -> str:
        """``value // divisor`` for ``value >= 0``."""
        return self.node("Div", value, self.constant(divisor))

    def affine(self, value: str, scale: int, offset: int) -> str:
        return self.node(
            "Add", self.node("Mul", value, self.constant(scale)), self.constant(offset)
        )


def _parts(nodes: _Nodes, seconds: str) -> dict[str, str]:
    """The int64 year, month, day, weekday and hour of the (NaN-free) double ``seconds``."""
    from onnx import TensorProto

    whole = nodes.node("Cast", nodes.node("Floor", seconds), to=TensorProto.INT64)
    days, in_day = nodes.floor_div(whole, _DAY)
    era, day_of_era = nodes.floor_div(nodes.node("Add", days, nodes.constant(_EPOCH_SHIFT)), _ERA)
    # year of era = (doe - doe/1460 + doe/36524 - doe/146096) / 365
    year_of_era = nodes.div(
        nodes.node(
            "Sub",
            nodes.node(
                "Add",
                nodes.node("Sub", day_of_era, nodes.div(day_of_era, 1460)),
                nodes.div(day_of_era, 36524),
            ),
            nodes.div(day_of_era, _ERA - 1),
        ),
        365,
    )
    # day of the year from March 1 = doe - (365 yoe + yoe/4 - yoe/100)
    day_of_year = nodes.node(
        "Sub",
        day_of_era,
        nodes.node(
            "Sub",
            nodes.node(
                "Add",
                nodes.node("Mul", year_of_era, nodes.constant(365)),
                nodes.div(year_of_era, 4),
            ),
            nodes.div(year_of_era, 100),
        ),
    )
    month_from_march = nodes.div(nodes.affine(day_of_year, 5, 2), 153)  # 0 = March
    day = nodes.node(
        "Add",
        nodes.node("Sub", day_of_year, nodes.div(nodes.affine(month_from_march, 153, 2), 5)),
        nodes.constant(1),
    )
    _, month_index = nodes.floor_div(nodes.node("Add", month_from_march, nodes.constant(2)), 12)
    month = nodes.node("Add", month_index, nodes.constant(1))
    # January and February belong to the next year; month_from_march is 10 or 11 for them.
    year = nodes.node(
        "Add",
        nodes.node("Add", year_of_era, nodes.node("Mul", era, nodes.constant(400))),
        nodes.div(month_from_march, 10),
    )
    _, weekday = nodes.floor_div(nodes.node("Add", days, nodes.constant(_THURSDAY)), 7)
    hour = nodes.div(in_day, _HOUR)
    return dict(zip(DATETIME_PARTS, (year, month, day, weekday, hour), strict=True))


def take_epoch_seconds(model: Any, dates: dict[str, int]) -> None:
    """Replace the part inputs of each of ``dates`` (the column and the position of its first
    part input; ``DATETIME_PARTS`` in order from there) by one double input of epoch seconds in
    the same place, named as the column (sanitized as skl2onnx does).

    The parts keep the type their inputs had (float or double), NaN where the instant is NaN.
    """
    from onnx import TensorProto, helper

    graph = model.graph
    taken = {value.name for value in graph.input} | {
        output for node in graph.node for output in node.output
    }
    added: list[Any] = []
    for column, position in sorted(dates.items(), key=lambda item: -item[1]):
        inputs = list(graph.input)[position : position + len(DATETIME_PARTS)]
        name = re.sub(r"[^\w+]", "_", column)
        while name in taken:
            name += "_"
        taken.add(name)
        nodes = _Nodes(f"{name}_date")
        missing = nodes.node("IsNaN", name)
        parts = _parts(nodes, nodes.node("Where", missing, nodes.constant(0.0), name))
        for value, part in zip(inputs, DATETIME_PARTS, strict=True):
            element = value.type.tensor_type.elem_type
            nan = nodes.constant(float("nan"), element)
            cast = nodes.node("Cast", parts[part], to=element)
            nodes.node("Where", missing, nan, cast, output=value.name)
            graph.input.remove(value)
        seconds = helper.make_tensor_value_info(name, TensorProto.DOUBLE, [None, 1])
        seconds.doc_string = f"column {column!r}: {CONVENTION}"
        graph.input.insert(position, seconds)
        graph.initializer.extend(nodes.constants)
        added = nodes.nodes + added
    existing = list(graph.node)
    del graph.node[:]
    graph.node.extend([*added, *existing])


# Instants the parts get wrong with truncating division or a wrong leap rule: before 1970,
# leap days, the ends of years and days, time zones that move the date; and missing values.
EDGE_CASES = (
    "1969-12-31T23:59:59Z",
    "1970-01-01 00:00:00",
    "1900-02-28 23:00",
    "1960-03-01T00:30:00+01:00",
    "2000-02-29",
    "2024-02-29T23:30:00-05:00",
    "2023-12-31T22:00:00-03:00",
    "1999-12-31 23:59:59+00:00",
    "2100-03-01T05:00:00+14:00",
    "not a date",
    "",
    None,
)


def draw(rng: Any, rows: int) -> list[str | None]:
    """``rows`` date strings: the ``EDGE_CASES``, then instants from 1900 to 2100 written in
    time zones from UTC-12 to UTC+14 (or without one), some missing."""
    import numpy as np

    seconds = rng.integers(-2_208_988_800, 4_102_444_800, rows)
    offsets = rng.integers(-48, 57, rows) * 15  # minutes
    drawn: list[str | None] = []
    for second, offset in zip(seconds, offsets, strict=True):
        local = str(np.datetime64(int(second + offset * 60), "s"))
        sign = "+" if offset >= 0 else "-"
        zone = f"{sign}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"
        drawn.append(local if offset == 0 else local + zone)
    drawn[::17] = [None] * len(drawn[::17])
    return [*EDGE_CASES, *drawn][:rows]
