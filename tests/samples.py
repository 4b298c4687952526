"""Model files built by the real libraries, shared by the scanner and hub tests."""

from __future__ import annotations

from pathlib import Path


def save_onnx_with_external_data(path: Path, location: str) -> None:
    """An ONNX model whose one weight the onnx package writes to ``location`` beside it."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    weight = numpy_helper.from_array(np.ones(4, dtype=np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [4])],
        initializer=[weight],
    )
    onnx.save_model(
        helper.make_model(graph), path, save_as_external_data=True, location=location,
        size_threshold=0,
    )  # fmt: skip
