"""ONNX models made elsewhere (imported Caffe and MXNet models), run by onnxruntime.

They are never trained here: the one model, ``onnx``, is not ``trainable``.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from modelyard.learn.errors import LearnError
from modelyard.learn.registry import ModelSpec, Task

NAME = "onnx"
FILE = "model.onnx"
# The output names skl2onnx gives a classifier's labels and probabilities (zipmap off).
_LABEL, _PROBABILITIES = "label", "probabilities"
# The metadata key of an exported table's column names, a JSON list in the inputs' order
# (ONNX input names are sanitized: "bill length" becomes "bill_length").
COLUMNS_KEY = "modelyard.columns"
# The metadata key of an exported table's date columns, a JSON object of each one's encoding:
# the instant in seconds since the Unix epoch (UTC), a double, NaN when missing.
DATES_KEY = "modelyard.dates"


def available() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def _not_trainable(task: Task, seed: int) -> Any:
    raise LearnError(
        "onnx models are imported, not trained",
        hint="make one with `modelyard import` or `modelyard export`",
    )


def model_specs() -> list[ModelSpec]:
    return [
        ModelSpec(
            NAME,
            NAME,
            frozenset({"classification", "regression"}),
            _not_trainable,
            "an imported ONNX model, run by onnxruntime (not trainable)",
            data="array",
            trainable=False,
        )
    ]


def fit_estimator(estimator: Any, X: Any, y: Any, categorical: list[int]) -> Any:
    return _not_trainable("regression", 0)


def save_estimator(estimator: Any, directory: Path) -> list[str]:
    (directory / FILE).write_bytes(estimator.model_bytes)
    return [FILE]


def load_estimator(directory: Path, task: Task) -> Any:
    return OnnxModel((directory / FILE).read_bytes(), task)


class OnnxModel:
    """An ONNX model in an onnxruntime session, with the estimator's predict methods.

    ``outputs`` runs the model on one array (a model with one input), on named arrays, or on
    a frame whose columns are the model's inputs (one per column, as exported tables are;
    ``columns_`` are their names in the frame, from the model's metadata when it has them;
    ``dates_`` the date columns among them, parsed as the package's preprocessing parses them
    and passed as epoch seconds).
    ``predict`` gives the first output (regression) or the best class index (classification:
    the ``label`` output if there is one, else the argmax of the first output);
    ``predict_proba`` the ``probabilities`` output if there is one, else the first output.
    """

    def __init__(self, model_bytes: bytes, task: Task) -> None:
        import onnxruntime

        self.model_bytes = model_bytes
        self.task = task
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # the machines this runs on are small and shared
        options.inter_op_num_threads = 1
        self.session_ = onnxruntime.InferenceSession(
            model_bytes, options, providers=["CPUExecutionProvider"]
        )
        self.input_names_ = [node.name for node in self.session_.get_inputs()]
        self.output_names_ = [node.name for node in self.session_.get_outputs()]
        metadata = self.session_.get_modelmeta().custom_metadata_map
        columns = metadata.get(COLUMNS_KEY)
        self.columns_ = json.loads(columns) if columns else list(self.input_names_)
        self.dates_ = list(json.loads(metadata.get(DATES_KEY, "{}")))

    def outputs(self, X: Any) -> dict[str, Any]:
        """Every output of the model by name, for ``X`` as described in the class docstring."""
        feeds = {
            name: _as_tensor(value, node.type, name)
            for name, value, node in zip(
                self.input_names_, self._inputs(X), self.session_.get_inputs(), strict=True
            )
        }
        return dict(zip(self.output_names_, self.session_.run(None, feeds), strict=True))

    def _inputs(self, X: Any) -> list[Any]:
        import pandas as pd

        if isinstance(X, pd.DataFrame):
            if len(self.columns_) == 1 and self.columns_[0] not in X.columns:
                return [X.to_numpy()]
            missing = [name for name in self.columns_ if name not in X.columns]
            if missing:
                raise LearnError(f"the data lacks the model's input(s): {', '.join(missing)}")
            return [
                _epoch_seconds(X[name]) if name in self.dates_ else X[[name]].to_numpy()
                for name in self.columns_
            ]
        if isinstance(X, dict):
            missing = [name for name in self.input_names_ if name not in X]
            if missing:
                raise LearnError(
                    f"no array for the model's input(s): {', '.join(missing)}",
                    hint=f"its inputs are: {', '.join(self.input_names_)}",
                )
            return [X[name] for name in self.input_names_]
        if len(self.input_names_) != 1:
            raise LearnError(
                f"the model takes {len(self.input_names_)} inputs, not one array",
                hint=f"pass arrays named {', '.join(self.input_names_)}",
            )
        return [X]

    def predict_proba(self, X: Any) -> Any:
        outputs = self.outputs(X)
        return outputs.get(_PROBABILITIES, outputs[self.output_names_[0]])

    def predict(self, X: Any) -> Any:
        outputs = self.outputs(X)
        first = outputs[self.output_names_[0]]
        if self.task == "classification":
            return outputs[_LABEL] if _LABEL in outputs else first.argmax(axis=1)
        return first.ravel() if first.ndim == 2 and first.shape[1] == 1 else first


# onnxruntime's type names of the tensor types an input may have, as numpy dtypes.
_DTYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(bool)": "bool",
    "tensor(string)": "object",
}


def _epoch_seconds(values: Any) -> Any:
    """A date column as an exported model takes it: seconds since the Unix epoch (UTC), whole
    seconds (as the parts see them), NaN where missing or unparseable; one column."""
    import pandas as pd

    from modelyard.learn.preprocess import parse_datetimes

    stamps = parse_datetimes(values).dt.floor("s")
    seconds = (stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
    return seconds.to_numpy(dtype="float64", na_value=float("nan")).reshape(-1, 1)


def _as_tensor(value: Any, onnx_type: str, name: str) -> Any:
    import numpy as np
    import pandas as pd

    if onnx_type not in _DTYPES:
        raise LearnError(f"input {name!r} has a type modelyard cannot feed: {onnx_type}")
    array = np.asarray(value)
    if onnx_type == "tensor(string)":
        return np.where(pd.isna(array), "", array.astype(str)).astype(object)
    return array.astype(_DTYPES[onnx_type], copy=False)
