"""scikit-learn objects in skops files: no pickle, and only recorded, expected types rebuilt."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from modelyard.package.errors import PackageError

# Types skops may rebuild on load: only from the libraries modelyard trains with.
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.", "collections.", "modelyard.")


def save_skops(obj: Any, path: Path) -> list[str]:
    """Write ``obj`` with skops and, next to it, the list of types it holds."""
    import skops.io

    skops.io.dump(obj, path)
    types = sorted(skops.io.get_untrusted_types(file=path))
    types_path = path.with_name(path.name.removesuffix(".skops") + ".types.json")
    types_path.write_text(json.dumps(types, indent=1) + "\n", encoding="utf-8")
    return [path.name, types_path.name]


def load_skops(path: Path) -> Any:
    """Read a skops file, trusting only the recorded types from the libraries we train with."""
    import skops.io

    types_path = path.with_name(path.name.removesuffix(".skops") + ".types.json")
    recorded = set(json.loads(types_path.read_text(encoding="utf-8")))
    needed = set(skops.io.get_untrusted_types(file=path))
    unexpected = sorted(needed - recorded) + sorted(
        name for name in needed if not name.startswith(TRUSTED_PREFIXES)
    )
    if unexpected:
        raise PackageError(
            f"{path.name} holds types modelyard did not write: {', '.join(unexpected[:5])}",
            hint="the package was modified; do not load it",
        )
    return skops.io.load(path, trusted=sorted(needed))
