"""Environment that third-party libraries read at import time, set by modelyard itself.

Users never have to export these: every code path that imports Keras or starts Spark calls the
matching function first. Values the user already set are left alone. Likewise the optional
packages a library would import without needing them are refused where modelyard knows better,
and a library's module can be adjusted as it is imported (``on_import``).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any


def configure_keras() -> None:
    """Make Keras 3 use the torch backend (call before the first ``import keras``)."""
    os.environ.setdefault("KERAS_BACKEND", "torch")


def configure_spark(*, local: bool = True) -> None:
    """Point PySpark's workers at this interpreter and, for local runs, at loopback."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    if local:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


def configure_pytensor() -> None:
    """Keep PyTensor's compiled C code in the user's cache, so later fits reuse it (call before
    the first ``import pytensor``)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    os.environ.setdefault("PYTENSOR_FLAGS", f"base_compiledir={cache / 'modelyard' / 'pytensor'}")


class _Refuse(importlib.abc.MetaPathFinder):
    """Refuses every module of ``packages`` (and their submodules) while on ``sys.meta_path``."""

    def __init__(self, packages: tuple[str, ...]) -> None:
        self.packages = packages

    def find_spec(self, name: str, path: Any, target: Any = None) -> None:
        if any(name == package or name.startswith(f"{package}.") for package in self.packages):
            raise ImportError(f"{name} is not needed here")


@contextmanager
def refusing_imports(*packages: str) -> Iterator[None]:
    """Within the block, importing a module of ``packages`` (``"torch"``, ``"sklearn.ensemble"``)
    not loaded yet raises ImportError (libraries treat that as "not installed")."""
    blocker = _Refuse(packages)
    sys.meta_path.insert(0, blocker)
    try:
        yield
    finally:
        sys.meta_path.remove(blocker)


class _AfterExec(importlib.abc.MetaPathFinder):
    """Calls ``then`` with module ``name`` as soon as it has run, before its importer goes on."""

    def __init__(self, name: str, then: Callable[[ModuleType], None]) -> None:
        self.name = name
        self.then = then

    def find_spec(
        self, name: str, path: Any, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name != self.name:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        loader = spec.loader if spec is not None else None
        if not isinstance(loader, importlib.machinery.SourceFileLoader):
            return spec
        run = loader.exec_module

        def run_then(module: ModuleType) -> None:
            run(module)
            self.then(module)

        loader.exec_module = run_then  # type: ignore[method-assign]
        return spec


@contextmanager
def on_import(name: str, then: Callable[[ModuleType], None]) -> Iterator[None]:
    """Within the block, module ``name`` (a source file, not loaded yet) is passed to ``then``
    right after it runs: to adjust a library's helper before its other modules use it."""
    hook = _AfterExec(name, then)
    sys.meta_path.insert(0, hook)
    try:
        yield
    finally:
        sys.meta_path.remove(hook)


def import_pandas_without_pyarrow() -> None:
    """Import pandas without pyarrow (call before the first ``import pandas``; the server only).

    pandas 3 imports pyarrow when it is installed, to store its strings (about 35 MB resident
    and 0.3 s). The server never asks pandas for Arrow: it reads Arrow and Parquet bodies with
    pyarrow itself, and pandas' strings behave the same in either storage.
    """
    if "pandas" not in sys.modules:
        with refusing_imports("pyarrow"):
            import pandas  # noqa: F401
