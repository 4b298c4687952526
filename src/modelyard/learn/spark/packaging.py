"""A Spark model package: the PipelineModel in Spark's own format plus manifest and card.

Spark writes JSON metadata and Parquet data, nothing pickled. Loading still checks every
stage before Spark sees it: only pyspark.ml and xgboost.spark classes, no pickled XGBoost
callbacks, and a first SQL stage exactly as modelyard writes it (Spark SQL can call Java
methods, so a foreign statement is refused).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelyard import __version__
from modelyard.learn.backends import spark as backend
from modelyard.learn.spark import session
from modelyard.learn.spark.errors import SparkPackageError
from modelyard.learn.spark.schema import FeatureColumn, Task
from modelyard.package.manifest import MANIFEST

if TYPE_CHECKING:
    from pyspark.ml import PipelineModel

CARD = "README.md"
MODEL_DIR = "spark-model"
FRAMEWORK = "spark"

_ALLOWED_CLASS_PREFIXES = ("org.apache.spark.ml.", "pyspark.ml.", "xgboost.spark.")
# xgboost.spark keeps these outside its booster: callbacks are cloudpickled, and an initial
# booster is a second model we never write.
_REFUSED_METADATA = ("serialized_callbacks", "init_booster")


@dataclass(frozen=True)
class SparkPackageInfo:
    """What the manifest records about a Spark model."""

    model: str
    task: Task
    target: str | None
    inputs: list[FeatureColumn]
    target_dtype: str | None = None
    classes: list[str] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)
    """What ``metrics`` describe (``HoldoutEvaluation.to_dict``)."""
    seed: int = 0

    @property
    def prediction_column(self) -> str:
        return self.target or "cluster"


def save(pipeline: PipelineModel, info: SparkPackageInfo, folder: str | Path) -> Path:
    """Write the package to ``folder`` (created; an earlier package there is replaced)."""
    import pyspark

    root = Path(folder)
    if root.exists() and any(root.iterdir()) and not (root / MANIFEST).is_file():
        raise SparkPackageError(
            f"{root} exists and is not a model package", hint="choose an empty or new folder"
        )
    root.mkdir(parents=True, exist_ok=True)
    backend.save_estimator(pipeline, root)
    (root / CARD).write_text(_card(info))
    files = {
        path.relative_to(root).as_posix(): _sha256(path)
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name != MANIFEST
    }
    manifest = {
        "modelyard_version": __version__,
        "framework": FRAMEWORK,
        "framework_version": pyspark.__version__,
        "backend": "spark",
        "model": info.model,
        "task": info.task,
        "target": info.target,
        "target_dtype": info.target_dtype,
        "classes": info.classes,
        "input_signature": [asdict(column) for column in info.inputs],
        "dropped_columns": info.dropped,
        "metrics": info.metrics,
        "evaluation": info.evaluation,
        "seed": info.seed,
        "weights": MODEL_DIR,
        "files": files,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return root


def read_info(folder: str | Path, *, verify_hashes: bool = True) -> SparkPackageInfo:
    """The manifest of a Spark package, after checking every file against its hash (unless
    ``verify_hashes`` is false: the caller has just checked them)."""
    root = Path(folder)
    try:
        manifest = json.loads((root / MANIFEST).read_text())
    except FileNotFoundError:
        raise SparkPackageError(f"{root} is not a model package: no {MANIFEST}") from None
    except json.JSONDecodeError as error:
        raise SparkPackageError(f"{root / MANIFEST} is not valid JSON: {error}") from None
    if manifest.get("framework") != FRAMEWORK:
        raise SparkPackageError(
            f"{root} holds a {manifest.get('framework')} model, not a Spark one",
            hint="run it without --engine spark",
        )
    if verify_hashes:
        _verify_hashes(root, manifest.get("files", {}))
    try:
        return SparkPackageInfo(
            model=manifest["model"],
            task=manifest["task"],
            target=manifest["target"],
            target_dtype=manifest["target_dtype"],
            inputs=[FeatureColumn(**column) for column in manifest["input_signature"]],
            classes=list(manifest["classes"]),
            dropped=dict(manifest["dropped_columns"]),
            metrics=dict(manifest["metrics"]),
            evaluation=dict(manifest.get("evaluation", {})),
            seed=int(manifest["seed"]),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise SparkPackageError(f"{root / MANIFEST} is incomplete: {error!r}") from None


def load(
    folder: str | Path, *, master: str = session.DEFAULT_MASTER
) -> tuple[PipelineModel, SparkPackageInfo]:
    """Check a Spark package, then load it on the session for ``master`` (started if needed)."""
    info = read_info(folder)
    session.start(master)
    return backend.load_estimator(Path(folder), info.task), info


def check_stages(model_dir: Path, expected_sql: str) -> None:
    """Refuse stage metadata that would import, unpickle or run something we did not write."""
    metadata_files = sorted(model_dir.glob("**/metadata/part-*"))
    if not metadata_files:
        raise SparkPackageError(f"{model_dir} holds no Spark pipeline metadata")
    for path in metadata_files:
        metadata = _json(path)
        where = path.parent.parent.relative_to(model_dir.parent).as_posix()
        class_name = str(metadata.get("class", ""))
        if not class_name.startswith(_ALLOWED_CLASS_PREFIXES):
            raise SparkPackageError(
                f"{where} names class {class_name!r}, which is not a Spark ML or XGBoost stage",
                hint="modelyard only loads pyspark.ml and xgboost.spark stages",
            )
        refused = [key for key in _REFUSED_METADATA if key in metadata]
        if refused:
            raise SparkPackageError(
                f"{where} carries {refused[0]}, which modelyard refuses to load"
            )
        if class_name.endswith(".SQLTransformer"):
            statement = metadata.get("paramMap", {}).get("statement")
            if statement != expected_sql:
                raise SparkPackageError(
                    f"{where} holds a SQL statement modelyard did not write for this manifest"
                )


def _verify_hashes(root: Path, files: dict[str, str]) -> None:
    on_disk = {
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and path.name != MANIFEST
    }
    if on_disk != set(files):
        extra, missing = sorted(on_disk - set(files)), sorted(set(files) - on_disk)
        raise SparkPackageError(
            f"{root} does not match its manifest: "
            + "; ".join(
                part
                for part in (
                    f"unlisted {', '.join(extra)}" if extra else "",
                    f"missing {', '.join(missing)}" if missing else "",
                )
                if part
            )
        )
    for name, digest in files.items():
        if _sha256(root / name) != digest:
            raise SparkPackageError(f"{root / name} does not match its sha256 in the manifest")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SparkPackageError(f"{path} is not JSON stage metadata: {error}") from None
    if not isinstance(value, dict):
        raise SparkPackageError(f"{path} is not JSON stage metadata")
    return value


def _card(info: SparkPackageInfo) -> str:
    names = "".join(f"\n  - {name}" for name in info.metrics) or " []"
    rows = "\n".join(f"| {name} | {value:.4f} |" for name, value in info.metrics.items())
    inputs = ", ".join(f"`{column.name}` ({column.dtype})" for column in info.inputs)
    goal = f"to predict `{info.target}`" if info.target else "to assign rows to clusters"
    classes = f"Classes: {', '.join(f'`{c}`' for c in info.classes)}.\n" if info.classes else ""
    measured = f"\n{info.evaluation['summary']}\n" if info.evaluation.get("summary") else ""
    return f"""---
library_name: pyspark
tags:
  - modelyard
  - spark
  - {info.task}
metrics:{names}
---

# {info.model}

A {info.task} model trained by modelyard on Apache Spark {goal}. The whole pipeline,
preprocessing included, is a Spark `PipelineModel` in `{MODEL_DIR}/` (JSON metadata and
Parquet, no pickle).

Inputs: {inputs}.
{classes}
## Metrics (hold-out)
{measured}
| metric | value |
|---|---|
{rows}

## Use it

```bash
modelyard predict --engine spark PACKAGE new.parquet --out predictions.parquet
```

```python
import modelyard.learn.spark as spark_engine
spark_engine.predict("PACKAGE", "new.parquet", out="predictions.parquet")
```
"""
