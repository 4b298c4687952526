"""scikit-learn objects in skops files: no pickle, and only recorded, expected types rebuilt."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from modelyard.package.errors import PackageError
from modelyard.runtime import refusing_imports

# Types skops may rebuild on load: only from the libraries modelyard trains with.
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.", "collections.", "modelyard.")


# Walking scikit-learn's packages imports ``sklearn.externals.array_api_compat.torch``, hence
# torch (about 180 MB and seconds), and ``sklearn.utils._testing``, hence pytest when it is
# installed (about 0.2 s); reading a skops file needs neither (the walk skips packages that fail
# to import, and ``sklearn.utils._testing`` does without pytest).
_NOT_NEEDED = ("torch", "pytest", "_pytest")


def _no_estimators(type_filter: object = None) -> list[tuple[str, type]]:
    """``all_estimators`` while skops is imported: none."""
    return []


def _skops_io() -> ModuleType:
    """``skops.io``, imported without trusting any scikit-learn estimator by default.

    On import skops lists scikit-learn's estimators (``all_estimators``) as types it trusts in
    every file, which imports all of scikit-learn (about 0.25 s of CPU and 6 MB). Here that
    list is empty, so every type a file holds must be trusted explicitly: ``save_skops``
    records them and ``load_skops`` trusts only those.
    """
    if "skops.io" not in sys.modules:
        import sklearn.utils

        listed = sklearn.utils.all_estimators
        sklearn.utils.all_estimators = _no_estimators
        try:
            import skops.io
        finally:
            sklearn.utils.all_estimators = listed
    import skops.io

    return skops.io


def _estimator_names() -> set[str]:
    """What skops trusted by default before ``_skops_io``: every scikit-learn estimator."""
    from sklearn.utils import all_estimators

    with refusing_imports(*_NOT_NEEDED):
        estimators = all_estimators()
    return {f"{cls.__module__}.{cls.__name__}" for _, cls in estimators}


def save_skops(obj: Any, path: Path) -> list[str]:
    """Write ``obj`` with skops and, next to it, the list of types it holds."""
    skops_io = _skops_io()

    skops_io.dump(obj, path)
    types = sorted(skops_io.get_untrusted_types(file=path))
    types_path = path.with_name(path.name.removesuffix(".skops") + ".types.json")
    types_path.write_text(json.dumps(types, indent=1) + "\n", encoding="utf-8")
    return [path.name, types_path.name]


def load_skops(path: Path) -> Any:
    """Read a skops file, trusting only the recorded types from the libraries we train with."""
    skops_io = _skops_io()

    types_path = path.with_name(path.name.removesuffix(".skops") + ".types.json")
    recorded = set(json.loads(types_path.read_text(encoding="utf-8")))
    needed = set(skops_io.get_untrusted_types(file=path))
    if needed - recorded:  # written before estimators were recorded: skops trusted them then
        recorded |= _estimator_names() & needed
    unexpected = sorted(needed - recorded) + sorted(
        name for name in needed if not name.startswith(TRUSTED_PREFIXES)
    )
    if unexpected:
        raise PackageError(
            f"{path.name} holds types modelyard did not write: {', '.join(unexpected[:5])}",
            hint="the package was modified; do not load it",
        )
    return skops_io.load(path, trusted=sorted(needed))
