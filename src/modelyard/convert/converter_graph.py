"""Nodes and constants added to the graph skl2onnx builds, for our own converters."""

from __future__ import annotations

from typing import Any


class ConverterGraph:
    """One skl2onnx converter call's scope and container, with unique names for what it adds."""

    def __init__(self, scope: Any, container: Any) -> None:
        self.scope = scope
        self.container = container

    def name(self, what: str) -> str:
        """A variable name not used yet in the graph."""
        return str(self.scope.get_unique_variable_name(what))

    def constant(self, what: str, value: Any) -> str:
        """A constant tensor of ``value`` (strings, integers as int64, or numpy's float dtype)."""
        import numpy as np
        from onnx import TensorProto

        array = np.asarray(value)
        if array.dtype.kind in "OUS":
            kind = TensorProto.STRING
            content: list[Any] = [str(item).encode() for item in array.ravel()]
        else:
            if array.dtype.kind in "iub":
                array = array.astype(np.int64)
            kind = {"int64": TensorProto.INT64, "float64": TensorProto.DOUBLE}.get(
                array.dtype.name, TensorProto.FLOAT
            )
            content = array.ravel().tolist()
        variable = self.name(what)
        self.container.add_initializer(variable, kind, list(array.shape), content)
        return variable

    def node(
        self, op_type: str, inputs: list[str], output: str | None = None, **attributes: Any
    ) -> str:
        """Add one node; returns its output (``output``, or a new name)."""
        output = output or self.name(op_type.lower())
        operator = self.scope.get_unique_operator_name(op_type)
        self.container.add_node(op_type, inputs, [output], name=operator, **attributes)
        return output

    def labels(self, scores: str, classes: Any, output: str) -> None:
        """``output``: the label of the best-scoring class of each row."""
        best = self.node("ArgMax", [scores], axis=1, keepdims=0)
        self.node("Gather", [self.constant("classes", classes), best], output)

    def cast_to_output(self, value: str, output: Any) -> None:
        """``value`` cast to the type skl2onnx declared for ``output`` (float or double)."""
        from skl2onnx.common.data_types import guess_proto_type

        self.node("Cast", [value], output.full_name, to=guess_proto_type(output.type))
