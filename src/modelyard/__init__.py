"""modelyard: train, scan, share and serve machine-learning models.

The public API mirrors the CLI. Names are imported lazily so that ``import modelyard`` stays
fast and pulls in no machine-learning framework until one is used; type checkers see them
through the ``TYPE_CHECKING`` imports below.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelyard.convert.caffe import import_caffe
    from modelyard.convert.export import export_onnx
    from modelyard.convert.mxnet import import_mxnet
    from modelyard.hub.client import pull, push
    from modelyard.learn.api import compare, train
    from modelyard.package.store import load
    from modelyard.scan.api import scan
    from modelyard.serve.server import serve

__version__ = "0.1.0"

_PUBLIC: dict[str, str] = {
    "train": "modelyard.learn.api",
    "compare": "modelyard.learn.api",
    "load": "modelyard.package.store",
    "scan": "modelyard.scan.api",
    "push": "modelyard.hub.client",
    "pull": "modelyard.hub.client",
    "serve": "modelyard.serve",
    "export_onnx": "modelyard.convert.export",
    "import_caffe": "modelyard.convert.caffe",
    "import_mxnet": "modelyard.convert.mxnet",
}

__all__ = [
    "__version__",
    "compare",
    "export_onnx",
    "import_caffe",
    "import_mxnet",
    "load",
    "pull",
    "push",
    "scan",
    "serve",
    "train",
]


def __getattr__(name: str) -> Any:
    module_name = _PUBLIC.get(name)
    if module_name is None:
        raise AttributeError(f"module 'modelyard' has no attribute {name!r}")
    module = importlib.import_module(module_name)
    # Importing ``modelyard.scan.api`` makes the ``modelyard.scan`` package an attribute here
    # (and ``modelyard.serve`` is a package itself); each is callable like its function, and
    # must stay a package for its own names.
    value = globals().get(name) or getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return list(__all__)
