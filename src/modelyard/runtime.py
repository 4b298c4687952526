"""Environment that third-party libraries read at import time, set by modelyard itself.

Users never have to export these: every code path that imports Keras or starts Spark calls the
matching function first. Values the user already set are left alone.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


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
