"""modelyard sets the environment Keras and Spark read, without overriding the user's choice."""

from __future__ import annotations

import os
import sys

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
