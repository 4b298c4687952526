"""A loaded package as the server sees it: its name and version, rows in, predictions out."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelyard.data.schema import ColumnKind, Schema
from modelyard.serve.errors import InvalidInputError, ModelFailedError
from modelyard.serve.fast import (
    FeatureTransform,
    LinearEstimator,
    compile_estimator,
    compile_features,
)
from modelyard.serve.inputs import check_columns, check_rows, numbers
from modelyard.serve.protocol import Datatype, MetadataTensor, ModelMetadata, OutputName

if TYPE_CHECKING:
    from modelyard.learn.model import Model

logger = logging.getLogger(__name__)

_COLUMN_DATATYPES: dict[ColumnKind, Datatype] = {
    ColumnKind.NUMERIC: "FP64",
    ColumnKind.BOOLEAN: "BOOL",
    ColumnKind.CATEGORICAL: "BYTES",
    ColumnKind.TEXT: "BYTES",
    ColumnKind.DATETIME: "BYTES",
}
_NUMPY_KINDS: dict[str, Datatype] = {"b": "BOOL", "i": "INT64", "u": "UINT64", "f": "FP64"}
_TENSOR_DTYPES: dict[Datatype, str] = {
    "BOOL": "bool",
    "UINT8": "uint8",
    "UINT16": "uint16",
    "UINT32": "uint32",
    "UINT64": "uint64",
    "INT8": "int8",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "FP16": "float16",
    "FP32": "float32",
    "FP64": "float64",
}


def datatype_of(values: Any) -> Datatype:
    """The v2 datatype of a numpy array (strings and objects are ``BYTES``)."""
    return _NUMPY_KINDS.get(values.dtype.kind, "BYTES")


@dataclass(frozen=True)
class Rows:
    """Checked rows of one request: named columns (tables) or one array (arrays, sparse)."""

    count: int
    columns: Mapping[str, Any] | None = None
    array: Any = None


@dataclass(frozen=True)
class Prediction:
    """``predict`` for every row, and ``predict_proba`` when it was asked for."""

    labels: Any
    proba: Any = None

    def rows(self, start: int, stop: int) -> Prediction:
        proba = None if self.proba is None else self.proba[start:stop]
        return Prediction(self.labels[start:stop], proba)


@dataclass(frozen=True)
class ServedModel:
    """A package being served under ``name``; ``version`` is its hub commit or manifest hash."""

    name: str
    version: str
    model: Model
    features: FeatureTransform | None = None
    """The compiled preprocessing (``serve.fast``), when it reproduces the package's."""
    linear: LinearEstimator | None = None
    """The estimator as numpy (``serve.fast``), when it is linear and answers as it does."""

    @property
    def kind(self) -> str:
        return str(self.model.input_kind_)

    @property
    def schema(self) -> Schema | None:
        return self.model.schema_

    @property
    def is_classifier(self) -> bool:
        return self.model.task_ == "classification"

    @property
    def classes(self) -> list[Any]:
        return self.model.classes_.tolist() if self.is_classifier else []

    @property
    def feature_names(self) -> list[str]:
        schema = self.schema
        return list(schema.columns) if schema is not None else []

    def outputs(self) -> tuple[OutputName, ...]:
        return ("predict", "predict_proba") if self.is_classifier else ("predict",)

    def table_rows(
        self, columns: Mapping[str, Sequence[Any]], *, max_rows: int, from_text: bool = False
    ) -> Rows:
        """Rows given column by column (JSON values, or CSV text with ``from_text``)."""
        schema = self.schema
        if schema is None:
            raise InvalidInputError(
                f"model {self.name!r} takes an array, not named columns",
                hint="send one np tensor",
            )
        checked = check_columns(columns, schema, max_rows=max_rows, from_text=from_text)
        return Rows(len(next(iter(checked.values()))), columns=checked)

    def tensor_rows(
        self, data: list[Any], shape: list[int], datatype: Datatype, *, max_rows: int
    ) -> Rows:
        """Rows given as one tensor of ``shape`` (flat or nested ``data``), first axis the rows."""
        import numpy as np

        if len(shape) < 2 or any(size < 0 for size in shape):
            raise InvalidInputError("a tensor needs a shape of at least [rows, features]")
        check_rows(shape[0], max_rows)
        if self.kind == "table":
            names = self.feature_names
            if len(shape) != 2 or shape[1] != len(names):
                raise InvalidInputError(
                    f"a tensor for model {self.name!r} must have shape [rows, {len(names)}], "
                    f"its columns in this order: {', '.join(names)}"
                )
            if not data or len(data) != shape[0] * shape[1]:
                raise InvalidInputError("the tensor's data does not match its shape")
            block = numbers(data)
            if block is None:
                block = np.asarray(data, dtype=object)
            block = block.reshape(shape)
            return self.table_rows(
                {name: block[:, i] for i, name in enumerate(names)}, max_rows=max_rows
            )
        if datatype == "BYTES":
            raise InvalidInputError(f"model {self.name!r} takes numbers, not BYTES")
        try:
            array = np.asarray(data, dtype=_TENSOR_DTYPES[datatype])
            array = array.reshape(shape)
        except (ValueError, TypeError):
            raise InvalidInputError(
                f"the tensor's data does not match its shape {shape} and datatype {datatype}"
            ) from None
        features = int(np.prod(shape[1:]))
        if features != self.model.n_features_in_:
            raise InvalidInputError(
                f"model {self.name!r} takes {self.model.n_features_in_} values per row, "
                f"got {features}"
            )
        if self.kind == "sparse":
            import scipy.sparse

            array = scipy.sparse.csr_matrix(array.reshape(shape[0], -1))
        return Rows(shape[0], array=array)

    def predict(self, batch: Sequence[Rows], proba: bool) -> Prediction:
        """Predict for several requests' rows at once (in request order).

        Raises ``ModelFailedError`` if the model raises; its message stays in the log.
        """
        try:
            if self.features is not None:
                return self._predict_fast(batch, proba)
            inputs = self._join(batch)
            labels = self.model.predict(inputs)
            probabilities = self.model.predict_proba(inputs) if proba else None
        except Exception:
            logger.exception("model %s failed to predict", self.name)
            raise ModelFailedError(f"model {self.name!r} failed to predict") from None
        return Prediction(labels, probabilities)

    def _predict_fast(self, batch: Sequence[Rows], proba: bool) -> Prediction:
        """``Model.predict`` and ``predict_proba`` with the compiled preprocessing."""
        import numpy as np
        import sklearn

        assert self.features is not None
        features = self.features(self._columns(batch))
        if self.linear is not None:
            predicted = self.linear.predict(features)
            probabilities = self.linear.predict_proba(features) if proba else None
        else:
            estimator = self.model.estimator_
            # The compiled preprocessing already gives finite, validated features.
            with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
                predicted = estimator.predict(features)
                probabilities = estimator.predict_proba(features) if proba else None
        if self.is_classifier:
            predicted = self.model.classes_[np.asarray(predicted).astype(int).ravel()]
        return Prediction(predicted, probabilities)

    def _columns(self, batch: Sequence[Rows]) -> Mapping[str, Any]:
        import numpy as np

        tables = [rows.columns for rows in batch]
        if len(tables) == 1 and tables[0] is not None:
            return tables[0]
        return {
            name: np.concatenate([table[name] for table in tables if table is not None])
            for name in self.feature_names
        }

    def _join(self, batch: Sequence[Rows]) -> Any:
        import numpy as np
        import pandas as pd

        if self.kind == "table":
            return pd.DataFrame(dict(self._columns(batch)), copy=False)
        if len(batch) == 1:
            return batch[0].array
        if self.kind == "sparse":
            import scipy.sparse

            return scipy.sparse.vstack([rows.array for rows in batch], format="csr")
        return np.concatenate([rows.array for rows in batch])

    def warm_up(self) -> None:
        """Predict once on a row of missing values (tables) so first requests run warm."""
        schema = self.schema
        if schema is None:
            return
        empty = {name: [None] for name in schema.columns}
        try:
            self.predict([self.table_rows(empty, max_rows=1)], proba=self.is_classifier)
        except ModelFailedError:
            logger.warning("model %s could not warm up on a row of missing values", self.name)

    def metadata(self) -> ModelMetadata:
        """Inputs (one per column, or the array) and outputs, filled from the manifest."""
        schema = self.schema
        if schema is not None:
            inputs = [
                MetadataTensor(
                    name=name,
                    datatype=_COLUMN_DATATYPES[kind],
                    shape=[-1],
                    parameters={"content_type": "pd", "kind": str(kind)},
                )
                for name, kind in schema.columns.items()
            ]
        else:
            inputs = [
                MetadataTensor(
                    name="input-0",
                    datatype="FP32",
                    shape=[-1, int(self.model.n_features_in_)],
                    parameters={"content_type": "np"},
                )
            ]
        label_type = datatype_of(self.model.classes_) if self.is_classifier else "FP64"
        outputs = [MetadataTensor(name="predict", datatype=label_type, shape=[-1])]
        if self.is_classifier:
            outputs.append(
                MetadataTensor(
                    name="predict_proba",
                    datatype="FP64",
                    shape=[-1, len(self.classes)],
                    parameters={"classes": self.classes},
                )
            )
        manifest = self.model.manifest_
        return ModelMetadata(
            name=self.name,
            versions=[self.version],
            platform=f"{manifest.framework['name']}=={manifest.framework['version']}",
            inputs=inputs,
            outputs=outputs,
            parameters={"model": manifest.model, "task": manifest.task},
        )


def load_served(path: Path, *, name: str | None = None, version: str | None = None) -> ServedModel:
    """Load the package at ``path`` (hashes checked, scanned) to serve it.

    ``name`` defaults to the folder's name, ``version`` to the start of the manifest's sha256.
    """
    from modelyard.package.manifest import MANIFEST
    from modelyard.package.store import load

    model = load(path)
    if version is None:
        version = hashlib.sha256((path / MANIFEST).read_bytes()).hexdigest()[:12]
    features = compile_features(model)
    linear = compile_estimator(model) if features is not None else None
    return ServedModel(name or path.resolve().name, version, model, features, linear)
