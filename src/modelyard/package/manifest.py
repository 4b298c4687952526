"""``modelyard.json``: what a package holds and how to load it, with a hash of every file."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, get_args

from modelyard.learn.registry import Task
from modelyard.package.errors import PackageError

MANIFEST = "modelyard.json"
FORMAT_VERSION = 1


@dataclass
class Manifest:
    """The package's description; ``files`` maps each file name to its sha256 and size.

    ``origin`` is set for models made elsewhere: ``format`` (``Caffe``, ``MXNet``), ``files`` (the
    source files' names and sha256) and ``check`` (how the conversion was verified).
    """

    model: str
    backend: str
    framework: dict[str, str]
    task: Task
    target: str | None
    input: dict[str, Any]
    classes: list[Any] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)
    """What ``metrics`` describe (``HoldoutEvaluation.to_dict``): rows, hold-out rows, whether
    the saved model was refitted on all rows, and a one-sentence ``summary``."""
    diagnostics: dict[str, float] = field(default_factory=dict)
    """Convergence of Bayesian models' posterior draws: ``r_hat_max``, ``ess_bulk_min``..."""
    seed: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    """Hyperparameters set on the model's estimator (``Model(params=...)``)."""
    dataset: str | None = None
    created_at: str = ""
    modelyard_version: str = ""
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    origin: dict[str, Any] | None = None

    def write(self, directory: Path) -> None:
        text = json.dumps(asdict(self), indent=2, default=_jsonable) + "\n"
        (directory / MANIFEST).write_text(text, encoding="utf-8")

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        path = directory / MANIFEST
        if not path.is_file():
            raise PackageError(
                f"{directory} is not a modelyard package: it has no {MANIFEST}",
                hint="train one with `modelyard train`, or pull one with `modelyard pull`",
            )
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("backend") == "spark":
                raise PackageError(
                    f"{directory} holds a Spark model, which runs through Spark",
                    hint="use `modelyard predict --engine spark` or modelyard.learn.spark",
                )
            manifest = cls(**data)
            if manifest.task not in get_args(Task):
                raise ValueError(f"unknown task {manifest.task!r}")
        except (ValueError, TypeError) as error:
            raise PackageError(f"{path} is damaged: {error}") from None
        if manifest.format_version > FORMAT_VERSION:
            raise PackageError(
                f"{directory} uses package format {manifest.format_version}",
                hint="upgrade modelyard to load it",
            )
        return manifest


def manifest_backend(directory: Path) -> str | None:
    """The backend a package's manifest names, or ``None`` if ``directory`` holds no readable
    manifest. Unlike ``Manifest.read``, this also reads the manifests of Spark packages."""
    try:
        data = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    backend = data.get("backend") if isinstance(data, dict) else None
    return backend if isinstance(backend, str) else None


def file_digest(path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return {"sha256": digest.hexdigest(), "size": path.stat().st_size}


def verify_files(directory: Path, manifest: Manifest) -> None:
    """Raise ``PackageError`` if any listed file is missing or differs from its hash."""
    for name, expected in manifest.files.items():
        path = directory / name
        if not path.is_file():
            raise PackageError(f"{directory} is incomplete: {name} is missing")
        if file_digest(path)["sha256"] != expected["sha256"]:
            raise PackageError(
                f"{name} in {directory} was changed after the package was made",
                hint="get the package again from its source",
            )


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
