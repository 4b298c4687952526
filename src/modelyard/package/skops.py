"""scikit-learn objects in skops files: no pickle, and only recorded, expected types rebuilt."""

from __future__ import annotations

import importlib.abc
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from modelyard.package.errors import PackageError

# Types skops may rebuild on load: only from the libraries modelyard trains with.
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.", "collections.", "modelyard.")


_NOT_NEEDED = ("torch", "pytest", "_pytest")


class _Refuse(importlib.abc.MetaPathFinder):
    """Refuses the ``_NOT_NEEDED`` packages while it is on ``sys.meta_path``."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> None:
        if name.split(".", 1)[0] in _NOT_NEEDED:
            raise ImportError(f"{name} is not needed to read or write skops files")


def _skops_io() -> ModuleType:
    """``skops.io``, imported without torch and pytest when they are not loaded yet.

    skops lists scikit-learn's estimator types on import, and walking scikit-learn's packages
    imports ``sklearn.externals.array_api_compat.torch``, hence torch (about 180 MB and
    seconds), and ``sklearn.utils._testing``, hence pytest when it is installed (about 0.2 s);
    reading a skops file needs neither (the walk skips packages that fail to import, and
    ``sklearn.utils._testing`` does without pytest).
    """
    if "skops.io" not in sys.modules and "torch" not in sys.modules:
        blocker = _Refuse()
        sys.meta_path.insert(0, blocker)
        try:
            import skops.io
        finally:
            sys.meta_path.remove(blocker)
    import skops.io

    return skops.io


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
    unexpected = sorted(needed - recorded) + sorted(
        name for name in needed if not name.startswith(TRUSTED_PREFIXES)
    )
    if unexpected:
        raise PackageError(
            f"{path.name} holds types modelyard did not write: {', '.join(unexpected[:5])}",
            hint="the package was modified; do not load it",
        )
    return skops_io.load(path, trusted=sorted(needed))
