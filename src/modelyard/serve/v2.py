"""Open Inference Protocol v2: a request's tensors in, the response's tensors out.

Tables come as MLServer's ``pd`` content type, one input per column (``null`` for missing);
arrays as one ``np`` tensor of shape ``[rows, ...]``, its data flat or nested.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from modelyard.serve.errors import InvalidInputError
from modelyard.serve.model import Prediction, Rows, ServedModel, datatype_of
from modelyard.serve.protocol import InferenceRequest, OutputName, RequestInput


def _flat(data: list[Any]) -> list[Any]:
    """Nested ``data`` in row-major order; each level of regular nesting in one C call."""
    while list in (kinds := set(map(type, data))):
        if len(kinds) > 1:
            flat: list[Any] = []
            for value in data:
                flat.extend(_flat(value) if isinstance(value, list) else [value])
            return flat
        data = list(itertools.chain.from_iterable(data))
    return data


def _column(tensor: RequestInput) -> list[Any]:
    values = _flat(tensor.data)
    if len(tensor.shape) not in (1, 2) or math.prod(tensor.shape) != len(values):
        raise InvalidInputError(
            f"input {tensor.name!r}: a column needs shape [rows] or [rows, 1] matching its data"
        )
    return values


def _is_table(served: ServedModel, request: InferenceRequest) -> bool:
    content = request.parameters.content_type if request.parameters else None
    if content is not None:
        return content == "pd"
    columns = served.schema.columns if served.schema is not None else {}
    return len(request.inputs) > 1 or request.inputs[0].name in columns


def decode(served: ServedModel, request: InferenceRequest, *, max_rows: int) -> Rows:
    """The checked rows of a v2 request for ``served``."""
    if _is_table(served, request):
        columns = {tensor.name: _column(tensor) for tensor in request.inputs}
        return served.table_rows(columns, max_rows=max_rows)
    if len(request.inputs) != 1:
        raise InvalidInputError(
            "send one tensor, or one input per column with parameters.content_type 'pd'"
        )
    tensor = request.inputs[0]
    return served.tensor_rows(_flat(tensor.data), tensor.shape, tensor.datatype, max_rows=max_rows)


def requested_outputs(served: ServedModel, request: InferenceRequest) -> tuple[OutputName, ...]:
    """The outputs asked for (``predict`` when none are named)."""
    if not request.outputs:
        return ("predict",)
    names = tuple(dict.fromkeys(output.name for output in request.outputs))
    unknown = [name for name in names if name not in served.outputs()]
    if unknown:
        raise InvalidInputError(
            f"model {served.name!r} has no output {unknown[0]!r}; it has "
            + ", ".join(served.outputs())
        )
    return names


def encode(
    served: ServedModel, prediction: Prediction, outputs: tuple[OutputName, ...], request_id: str
) -> dict[str, Any]:
    """The v2 response holding ``outputs`` of ``prediction``, shaped as ``InferenceResponse``
    (plain data: building the pydantic models would cost more than the prediction)."""
    tensors: list[dict[str, Any]] = []
    for name in outputs:
        if name == "predict":
            labels = prediction.labels
            datatype = datatype_of(labels)
            values = labels.tolist() if datatype != "BYTES" else [str(v) for v in labels]
            content = "str" if datatype == "BYTES" else "np"
            tensors.append(
                {
                    "name": name,
                    "shape": [len(values)],
                    "datatype": datatype,
                    "parameters": {"content_type": content},
                    "data": values,
                }
            )
        else:
            proba = prediction.proba
            tensors.append(
                {
                    "name": name,
                    "shape": list(proba.shape),
                    "datatype": "FP64",
                    "parameters": {"content_type": "np", "classes": served.classes},
                    "data": proba.ravel().tolist(),
                }
            )
    return {
        "model_name": served.name,
        "model_version": served.version,
        "id": request_id,
        "outputs": tensors,
    }
