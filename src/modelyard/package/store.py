"""Save a trained ``Model`` as a package, and load one back (hashes checked, scanned first)."""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelyard import __version__
from modelyard.package.card import render_card
from modelyard.package.errors import PackageError, UnsafePackageError
from modelyard.package.manifest import MANIFEST, Manifest, file_digest, verify_files
from modelyard.package.skops import load_skops, save_skops

if TYPE_CHECKING:
    from modelyard.learn.model import Model

logger = logging.getLogger(__name__)

_PREPROCESSOR = "preprocessor.skops"
_FRAMEWORK_DISTRIBUTIONS = {
    "sklearn": "scikit-learn",
    "xgboost": "xgboost-cpu",
    "lightgbm": "lightgbm",
    "keras": "keras",
    "onnx": "onnxruntime",
    "ensemble": "modelyard",
}


def framework_of(backend: str) -> dict[str, str]:
    distribution = _FRAMEWORK_DISTRIBUTIONS.get(backend, backend)
    try:
        version = metadata.version(distribution)
    except metadata.PackageNotFoundError:
        version = metadata.version(backend) if backend != distribution else "unknown"
    return {"name": distribution, "version": version}


def save(
    model: Model,
    directory: str | Path,
    *,
    metrics: dict[str, float] | None = None,
    evaluation: dict[str, Any] | None = None,
    target: str | None = None,
    title: str | None = None,
    dataset: str | None = None,
) -> Path:
    """Write ``model`` to ``directory`` (replaced as a whole, never left half-written).

    ``evaluation`` says what ``metrics`` describe (``HoldoutEvaluation.to_dict``);
    ``dataset`` names the data the model was trained on, for the model card.
    """
    model._check_fitted()
    manifest = _manifest(
        model, metrics=metrics, evaluation=evaluation, target=target, dataset=dataset
    )
    return write_package(
        directory, manifest, lambda staging: _write_model(model, staging), title=title
    )


def save_member(model: Model, directory: Path) -> list[str]:
    """Write ``model`` into the new folder ``directory`` inside a package being written: its
    files and a manifest hashing them, no card. Returns the paths written, relative to
    ``directory``; ``rebuild`` reads it back."""
    directory.mkdir(parents=True)
    _write_model(model, directory)
    manifest = _manifest(model)
    manifest.files = _digests(directory)
    manifest.write(directory)
    return [*manifest.files, MANIFEST]


def _manifest(
    model: Model,
    *,
    metrics: dict[str, float] | None = None,
    evaluation: dict[str, Any] | None = None,
    target: str | None = None,
    dataset: str | None = None,
) -> Manifest:
    schema = model.schema_.to_dict() if model.schema_ is not None else None
    return Manifest(
        model=model.model,
        backend=model.spec_.backend,
        framework=framework_of(model.spec_.backend),
        task=model.task_,
        target=target,
        input={
            "kind": model.input_kind_,
            "schema": schema,
            "feature_names": getattr(model, "feature_names_in_", None),
            "n_features": model.n_features_in_,
        },
        classes=list(model.classes_) if model.task_ == "classification" else [],
        metrics=dict(metrics or {}),
        evaluation=dict(evaluation or {}),
        diagnostics=model.diagnostics,
        seed=model.seed,
        params=dict(model.params or {}),
        dataset=dataset,
    )


def _write_model(model: Model, directory: Path) -> None:
    from modelyard.learn.models import backend_of

    if model.preprocessor_ is not None:
        save_skops(model.preprocessor_, directory / _PREPROCESSOR)
    backend_of(model.spec_).save_estimator(model.estimator_, directory)


def _digests(directory: Path) -> dict[str, dict[str, Any]]:
    """Every file under ``directory`` (subfolders too) by relative POSIX path: its hash."""
    return {
        path.relative_to(directory).as_posix(): file_digest(path)
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def write_package(
    directory: str | Path,
    manifest: Manifest,
    write_files: Callable[[Path], object],
    *,
    title: str | None = None,
) -> Path:
    """Write a package to ``directory`` (replaced as a whole, never left half-written).

    ``write_files(staging)`` writes the model's files into the staging folder; the card, the
    manifest (with its date, version and file hashes filled in) are added, then the folder is
    swapped in. If ``write_files`` raises, nothing is written.
    """
    directory = Path(directory)
    if directory.exists() and not (directory / MANIFEST).is_file() and any(directory.iterdir()):
        raise PackageError(
            f"{directory} exists and is not a model package", hint="choose another --out folder"
        )
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        write_files(staging)
        manifest.created_at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        manifest.modelyard_version = __version__
        (staging / "README.md").write_text(
            render_card(manifest, title or directory.name), encoding="utf-8"
        )
        manifest.files = _digests(staging)
        manifest.write(staging)
        _replace(staging, directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return directory


def _replace(staging: Path, directory: Path) -> None:
    """Swap the finished package in; the old one is removed only once the new one is there."""
    if directory.exists():
        previous = directory.with_name(f".{directory.name}.previous")
        shutil.rmtree(previous, ignore_errors=True)
        directory.rename(previous)
        staging.rename(directory)
        shutil.rmtree(previous, ignore_errors=True)
    else:
        staging.rename(directory)


def load(directory: str | Path) -> Model:
    """Load a package: verify every file's hash, scan the folder, then rebuild the model.

    Args:
        directory: a package folder written by ``save`` (``modelyard train``, or pulled), or
            a hub model ``NAMESPACE/NAME[@REVISION]`` when no such folder exists: pulled from
            ``$MODELYARD_HUB_URL`` with ``$MODELYARD_TOKEN`` into the cache of
            ``modelyard.hub.cache`` (once per commit; offline afterwards), then loaded.

    Raises:
        PackageError: the folder is not a package, its manifest is damaged or from a newer
            modelyard, a file is missing or changed, or it holds a Spark model (load those
            with ``modelyard.learn.spark.load``). Nothing is loaded.
        UnsafePackageError: the scanner judged a file unsafe or could not read it. Nothing
            is loaded.
        UnknownModelError: the package's model needs a framework that is not installed.
        HubError: a hub model cannot be pulled (see ``modelyard.hub.cache.fetch``).
    """
    from modelyard.scan import Verdict, scan

    directory = _local(directory)
    manifest = Manifest.read(directory)
    verify_files(directory, manifest)
    report = scan(*(directory / name for name in manifest.files))
    if report.verdict in (Verdict.UNSAFE, Verdict.ERROR):
        problems = "; ".join(
            f"{Path(result.path).name}: {finding.rule_id} {finding.message}"
            for result in report.files
            for finding in result.findings[:1]
            if result.verdict in (Verdict.UNSAFE, Verdict.ERROR)
        )
        raise UnsafePackageError(
            f"refusing to load {directory}: {problems}",
            hint="see `modelyard scan` for the full report",
        )
    if report.verdict is Verdict.SUSPICIOUS:
        logger.warning("package %s has suspicious files; loading anyway", directory)
    return rebuild(directory, manifest)


def rebuild(directory: Path, manifest: Manifest) -> Model:
    """The model whose files ``manifest`` describes in ``directory``, once they are checked."""
    import numpy as np

    from modelyard.data.schema import Schema
    from modelyard.learn.model import Model
    from modelyard.learn.models import backend_of, get_spec

    spec = get_spec(manifest.model)
    model = Model(
        model=manifest.model, task=manifest.task, seed=manifest.seed, params=manifest.params or None
    )
    model.task_ = manifest.task
    model.spec_ = spec
    model.input_kind_ = manifest.input["kind"]
    model.n_features_in_ = manifest.input["n_features"]
    if manifest.input.get("feature_names"):
        model.feature_names_in_ = manifest.input["feature_names"]
    schema = manifest.input.get("schema")
    model.schema_ = Schema.from_dict(schema) if schema else None
    if model.task_ == "classification":
        model.classes_ = np.asarray(manifest.classes)
    preprocessor = directory / _PREPROCESSOR
    model.preprocessor_ = load_skops(preprocessor) if preprocessor.is_file() else None
    model.estimator_ = backend_of(spec).load_estimator(directory, model.task_)
    model.manifest_ = manifest
    return model


def _local(source: str | Path) -> Path:
    """The package folder ``source`` names: itself, or a hub model's cached copy."""
    path = Path(source)
    if isinstance(source, str) and not path.exists():
        from modelyard.hub.cache import RepoRef, fetch

        ref = RepoRef.parse(source)
        if ref is not None:
            return fetch(ref).path
    return path
