"""ONNX models made elsewhere, written as packages of the ``onnx`` backend."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelyard.learn.backends import onnx as onnx_backend
from modelyard.learn.registry import Task
from modelyard.package.manifest import Manifest, file_digest
from modelyard.package.store import framework_of, write_package

if TYPE_CHECKING:
    import onnx


def save_onnx_package(
    model: onnx.ModelProto,
    directory: str | Path,
    *,
    task: Task,
    classes: list[Any],
    origin: dict[str, Any],
    title: str | None = None,
) -> Path:
    """Write ``model`` as a package in ``directory`` (replaced whole, never half-written).

    ``origin`` says where the model came from (see ``Manifest.origin``); the inputs' names and
    shapes are recorded from the graph.
    """
    inputs = {
        value.name: [
            dim.dim_value or dim.dim_param or None for dim in value.type.tensor_type.shape.dim
        ]
        for value in model.graph.input
    }
    first = next(iter(inputs.values()))
    n_features = 1
    for size in first[1:]:
        n_features *= size if isinstance(size, int) else 1
    manifest = Manifest(
        model=onnx_backend.NAME,
        backend=onnx_backend.NAME,
        framework=framework_of(onnx_backend.NAME),
        task=task,
        target=None,
        input={
            "kind": "array",
            "schema": None,
            "feature_names": None,
            "n_features": n_features,
            "inputs": inputs,
        },
        classes=classes,
        origin=origin,
    )
    model_bytes = model.SerializeToString()

    def write_files(staging: Path) -> None:
        (staging / onnx_backend.FILE).write_bytes(model_bytes)

    return write_package(directory, manifest, write_files, title=title)


def source_files(*paths: Path) -> dict[str, str]:
    """File name -> sha256 of the files a model was converted from, for ``Manifest.origin``."""
    return {path.name: file_digest(path)["sha256"] for path in paths}
