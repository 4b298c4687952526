"""modelyard sets the environment Keras and Spark read, without overriding the user's choice."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

from modelyard import runtime


def test_keras_gets_the_torch_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    runtime.configure_keras()

    assert os.environ["KERAS_BACKEND"] == "torch"


def test_a_backend_the_user_chose_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    runtime.configure_keras()

    assert os.environ["KERAS_BACKEND"] == "jax"


def test_local_spark_uses_this_interpreter_and_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON", "SPARK_LOCAL_IP"):
        monkeypatch.delenv(name, raising=False)
    runtime.configure_spark(local=True)

    assert os.environ["PYSPARK_PYTHON"] == sys.executable
    assert os.environ["SPARK_LOCAL_IP"] == "127.0.0.1"


def test_remote_spark_leaves_the_bind_address_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPARK_LOCAL_IP", raising=False)
    runtime.configure_spark(local=False)

    assert "SPARK_LOCAL_IP" not in os.environ


@pytest.fixture
def made_up_package(tmp_path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A package ``yardtest_pkg`` with a submodule ``part`` (``VALUE = 1``), not imported yet."""
    package = tmp_path / "yardtest_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "part.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "yardtest_pkg"
    for name in ("yardtest_pkg.part", "yardtest_pkg"):
        sys.modules.pop(name, None)


def test_a_submodule_can_be_refused_alone(made_up_package: str) -> None:
    import importlib

    with runtime.refusing_imports(f"{made_up_package}.part"):
        importlib.import_module(made_up_package)
        with pytest.raises(ImportError, match="not needed here"):
            importlib.import_module(f"{made_up_package}.part")
    assert importlib.import_module(f"{made_up_package}.part").VALUE == 1


def test_a_module_is_adjusted_right_after_it_runs(made_up_package: str) -> None:
    import importlib

    def double(module: object) -> None:
        module.VALUE *= 2  # type: ignore[attr-defined]

    with runtime.on_import(f"{made_up_package}.part", double):
        assert importlib.import_module(f"{made_up_package}.part").VALUE == 2
