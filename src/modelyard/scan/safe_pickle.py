"""Loading pickles when modelyard itself must: only allow-listed globals are ever imported."""

from __future__ import annotations

import _compat_pickle
import io
import pickle
from typing import IO, Any

from modelyard.scan.errors import ForbiddenGlobalError
from modelyard.scan.pickle.values import Global
from modelyard.scan.policy import Judgement, judge


class _AllowListUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        # Judge the Python 3 name that an old (protocol < 3) pickle's name maps to.
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        else:
            module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        decision = judge(Global(module, name))
        if decision.judgement is not Judgement.ALLOWED:
            why = f": it {decision.reason}" if decision.reason else ""
            raise ForbiddenGlobalError(
                f"refusing to load {module}.{name}, which is not on the allow list{why}",
                hint="scan the file with `modelyard scan` and load it only if you trust it",
            )
        return super().find_class(module, name)


def safe_load(file: IO[bytes]) -> Any:
    """Unpickle from a binary file, importing only allow-listed globals."""
    return _AllowListUnpickler(file).load()


def safe_loads(data: bytes) -> Any:
    """Unpickle ``data``, importing only allow-listed globals."""
    return safe_load(io.BytesIO(data))
