"""Weighted ensembles built by ``compare``: each member saved as a package of its own (safe
formats, no pickle) in ``members/NN/``, their weights in ``ensemble.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from modelyard.learn.ensemble import WeightedEnsemble
from modelyard.learn.errors import LearnError
from modelyard.learn.registry import ModelSpec, Task
from modelyard.package.errors import PackageError

NAME = "ensemble"
_FILE = "ensemble.json"
_MEMBERS = "members"


def available() -> bool:
    return True


def _not_trainable(task: Task, seed: int) -> Any:
    raise LearnError(
        "ensembles are built by compare from the candidates it measured",
        hint="run `modelyard compare --time-budget SECONDS --out PACKAGE`",
    )


def model_specs() -> list[ModelSpec]:
    return [
        ModelSpec(
            NAME,
            NAME,
            frozenset({"classification", "regression"}),
            _not_trainable,
            "weighted average of models (built by compare --time-budget --out)",
            accepts_sparse=True,
            trainable=False,
        )
    ]


def fit_estimator(estimator: Any, X: Any, y: Any, categorical: list[int]) -> Any:
    return _not_trainable("regression", 0)


def save_estimator(estimator: WeightedEnsemble, directory: Path) -> list[str]:
    from modelyard.package.store import save_member

    written = [_FILE]
    folders = []
    for index, member in enumerate(estimator.members):
        folder = f"{_MEMBERS}/{index:02d}"
        folders.append(folder)
        written += [f"{folder}/{path}" for path in save_member(member, directory / folder)]
    text = json.dumps({"members": folders, "weights": estimator.weights}, indent=2)
    (directory / _FILE).write_text(text + "\n", encoding="utf-8")
    return written


def load_estimator(directory: Path, task: Task) -> WeightedEnsemble:
    import numpy as np

    from modelyard.package.manifest import Manifest
    from modelyard.package.store import rebuild

    try:
        description = json.loads((directory / _FILE).read_text(encoding="utf-8"))
        folders, weights = description["members"], description["weights"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise PackageError(f"{directory / _FILE} is damaged: {error}") from None
    members = []
    for folder in folders:
        path = directory / folder
        if path.resolve().parent.parent != directory.resolve():
            raise PackageError(f"{directory / _FILE} names a member outside the package")
        members.append(rebuild(path, Manifest.read(path)))
    classes = np.asarray(Manifest.read(directory).classes) if task == "classification" else None
    return WeightedEnsemble(members, [float(weight) for weight in weights], classes)
