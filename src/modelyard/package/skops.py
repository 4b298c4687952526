"""scikit-learn objects in skops files: no pickle, and only recorded, expected types rebuilt."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

from modelyard.package.errors import PackageError
from modelyard.runtime import on_import, refusing_imports

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


# skops trusts a few scikit-learn internals by default, among them histogram gradient boosting's
# ``_BinMapper``, which it imports to list: that imports all of ``sklearn.ensemble`` (about 0.1 s).
# ``_skops_io`` refuses that import and adds the names skops gives them.
_ENSEMBLE_INTERNALS = ("sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",)


def _skops_io() -> ModuleType:
    """``skops.io``, imported without trusting any scikit-learn estimator by default.

    On import skops lists scikit-learn's estimators (``all_estimators``) as types it trusts in
    every file, which imports all of scikit-learn (about 0.25 s of CPU and 6 MB). Here that
    list is empty, so every type a file holds must be trusted explicitly: ``save_skops``
    records them and ``load_skops`` trusts only those. Its other default lists stay as skops
    makes them, only faster (``_quick_whichmodule``, ``_ENSEMBLE_INTERNALS``).
    """
    if "skops.io" not in sys.modules:
        import sklearn.utils

        listed = sklearn.utils.all_estimators
        sklearn.utils.all_estimators = _no_estimators
        try:
            with (
                refusing_imports("sklearn.ensemble"),
                on_import("skops.io._utils", _quick_whichmodule),
            ):
                import skops.io
        finally:
            sklearn.utils.all_estimators = listed
        from skops.io import _trusted_types

        internals = _trusted_types.SKLEARN_INTERNAL_TYPE_NAMES  # the list skops' nodes read
        internals.extend(name for name in _ENSEMBLE_INTERNALS if name not in internals)
    import skops.io

    return skops.io


def _quick_whichmodule(utils: ModuleType) -> None:
    """Give skops' ``whichmodule`` (``skops.io._utils``) a quicker loop with the same answers.

    skops names a ufunc (which has no ``__module__``) after the first loaded module holding it
    under its name, and on import it names every numpy and scipy ufunc so: one ``getattr`` per
    loaded module and ufunc, about 0.2 s with the server's 1,800 modules. For a plain module
    without a module-level ``__getattr__`` that ``getattr`` is a lookup in its ``__dict__``.
    """
    whichmodule = utils.whichmodule

    def quick(obj: Any, name: str) -> str:
        if getattr(obj, "__module__", None) is not None or "." in name or name.startswith("__"):
            return str(whichmodule(obj, name))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            for module_name, module in sys.modules.copy().items():
                if module_name in ("__main__", "__mp_main__") or module is None:
                    continue
                if type(module) is ModuleType and "__getattr__" not in module.__dict__:
                    found = module.__dict__.get(name)
                else:
                    try:
                        found = getattr(module, name, None)
                    except (AttributeError, ImportError):
                        continue
                if found is obj:
                    return module_name
        return "__main__"

    quick.__wrapped__ = whichmodule  # type: ignore[attr-defined]
    setattr(utils, "whichmodule", quick)  # noqa: B010 (mypy: ModuleType has no such attribute)


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
