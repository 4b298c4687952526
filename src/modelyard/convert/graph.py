"""Building ONNX graphs by hand: nodes, constants, and pooling as Caffe and MXNet round it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class OnnxGraph:
    """The nodes and constants (initializers) of a graph being built."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []

    def const(self, name: str, array: Any) -> str:
        """Add a constant tensor called ``name``; returns the name."""
        import numpy as np
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op: str, inputs: list[str], outputs: list[str], **attributes: Any) -> None:
        from onnx import helper

        self.nodes.append(helper.make_node(op, inputs, outputs, **attributes))

    def pool(
        self,
        source: str,
        top: str,
        *,
        maximum: bool,
        extent: Sequence[int],
        kernel: Sequence[int],
        stride: Sequence[int],
        pad: Sequence[int],
        size: Sequence[int],
        count_pad: bool,
    ) -> None:
        """2-D pooling of ``source`` into ``top`` of spatial ``size`` (as rounded by the caller).

        The windows that rounding up adds past the end become explicit end pads, which never
        count in an average; the declared ``pad`` counts in an average when ``count_pad``.
        """
        geometry = zip(size, extent, kernel, stride, pad, strict=True)
        end = [max(0, (out - 1) * s + k - e - p) for out, e, k, s, p in geometry]
        attributes = {"kernel_shape": list(kernel), "strides": list(stride)}
        if maximum:
            self.node("MaxPool", [source], [top], pads=[*pad, *end], **attributes)
            return
        if count_pad and any(pad):
            # Zeros for the declared pads (counted), then pool without counting the rest.
            padded = f"{top}/padded"
            pads = self.const(f"{top}/pads", int64([0, 0, *pad, 0, 0, *pad]))
            self.node("Pad", [source, pads], [padded])
            end = [max(0, e - p) for e, p in zip(end, pad, strict=True)]
            self.node(
                "AveragePool", [padded], [top], pads=[0, 0, *end], count_include_pad=0, **attributes
            )
            return
        self.node(
            "AveragePool", [source], [top], pads=[*pad, *end], count_include_pad=0, **attributes
        )


def pooled_size(extent: int, kernel: int, stride: int, pad: int, *, ceil: bool) -> int:
    """The pooled size of one axis, rounded up (``ceil``) or down."""
    span = extent + 2 * pad - kernel
    return (-(-span // stride) if ceil else span // stride) + 1


def int64(values: list[int]) -> Any:
    import numpy as np

    return np.asarray(values, dtype=np.int64)
