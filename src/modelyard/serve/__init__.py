"""The prediction server: ``modelyard serve`` for packages and hub models.

``modelyard.serve(*sources)`` (this package is callable) runs ``server.serve``; ``app`` holds
the ASGI app (Open Inference Protocol v2 and MLflow scoring on one port), ``settings`` the
limits and batching knobs. Nothing heavy is imported until the server runs, so the CLI's
``--help`` stays fast.
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallableModule(types.ModuleType):
    """Lets ``modelyard.serve(...)`` work as well as ``modelyard.serve.server.serve(...)``."""

    def __call__(self, *sources: Any, **kwargs: Any) -> None:
        from modelyard.serve.server import serve

        serve(*sources, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
