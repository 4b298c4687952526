"""Starting Spark: clear one-line errors before anything slow happens."""

from __future__ import annotations

import socket

import pytest

from modelyard.learn.spark.errors import JavaNotFoundError, MasterUnreachableError, SparkEngineError
from modelyard.learn.spark.session import parallelism, start


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("scheme", ["spark", "sc"])
def test_an_unreachable_master_is_one_clear_error(scheme: str) -> None:
    master = f"{scheme}://127.0.0.1:{_closed_port()}"

    with pytest.raises(MasterUnreachableError, match=f"nothing answers at Spark master {master}"):
        start(master)


def test_an_unknown_master_lists_the_accepted_forms() -> None:
    with pytest.raises(SparkEngineError, match=r"local\[\*\].*spark://HOST:PORT.*sc://HOST:PORT"):
        start("mesos://somewhere:5050")


def test_no_java_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)

    with pytest.raises(JavaNotFoundError, match="no java on PATH"):
        start("local[1]")


def test_a_java_home_without_java_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))

    with pytest.raises(JavaNotFoundError, match=f"JAVA_HOME={tmp_path} has no bin/java"):
        start("local[1]")


@pytest.mark.spark
def test_the_running_session_is_reused_with_its_parallelism(master: str) -> None:
    session = start(master)

    assert start(master) is session
    assert parallelism(session) == 2
