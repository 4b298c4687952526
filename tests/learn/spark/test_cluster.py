"""Real remote Spark: a standalone master and worker, and a Spark Connect server.

All are started from pyspark's own launcher (``bin/spark-class``) on loopback.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.spark, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"exited early:\n{log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"nothing listens on {port}:\n{log.read_text()}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``spark://127.0.0.1:PORT`` of a master with one two-core worker, on loopback only."""
    import pyspark

    spark_class = Path(pyspark.__file__).parent / "bin" / "spark-class"
    work = tmp_path_factory.mktemp("cluster")
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_WORKER_DIR": str(work / "worker")}
    started: list[subprocess.Popen[bytes]] = []

    def start(name: str, main_class: str, port: int, *args: str) -> None:
        log = work / f"{name}.log"
        command = [str(spark_class), main_class, "--host", "127.0.0.1", "--port", str(port)]
        command += ["--webui-port", str(_free_port()), *args]
        with log.open("wb") as out:
            started.append(subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT))
        _wait_for_port(port, started[-1], log)

    master_url = f"spark://127.0.0.1:{(port := _free_port())}"
    try:
        start("master", "org.apache.spark.deploy.master.Master", port)
        start(
            "worker",
            "org.apache.spark.deploy.worker.Worker",
            _free_port(),
            *("--cores", "2", "--memory", "2g", master_url),
        )
        yield master_url
    finally:
        for process in reversed(started):
            process.terminate()
            process.wait(timeout=60)


@pytest.fixture(scope="module")
def connect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``sc://127.0.0.1:PORT`` of a Spark Connect server running Spark on ``local[2]``."""
    import pyspark

    spark_class = Path(pyspark.__file__).parent / "bin" / "spark-class"
    log = tmp_path_factory.mktemp("connect") / "server.log"
    port = _free_port()
    command = [str(spark_class), "org.apache.spark.deploy.SparkSubmit", "--master", "local[2]"]
    command += ["--class", "org.apache.spark.sql.connect.service.SparkConnectServer"]
    command += ["--conf", f"spark.connect.grpc.binding.port={port}"]
    command += ["--conf", "spark.connect.grpc.binding.address=127.0.0.1"]
    command += ["--conf", "spark.ui.enabled=false", "spark-internal"]
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}
    with log.open("wb") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port, server, log)
        yield f"sc://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=60)


def _run(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_train_and_predict_run_on_the_cluster(
    cluster: str, penguins_csv: Path, tmp_path: Path
) -> None:
    package, out = tmp_path / "package", tmp_path / "predictions.parquet"
    script = f"""
        import json
        from modelyard.learn import spark
        conf = {{"spark.executor.memory": "1g"}}
        session = spark.start({cluster!r}, conf=conf)
        result = spark.train({str(penguins_csv)!r}, target="species", model="spark.random_forest",
                             master={cluster!r}, out={str(package)!r})
        spark.predict({str(package)!r}, {str(penguins_csv)!r}, out={str(out)!r}, master={cluster!r})
        print(json.dumps({{"master": session.sparkContext.master, "metrics": result.metrics}}))
        """

    done = _run(script)

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["master"] == cluster
    assert report["metrics"]["accuracy"] > 0.9
    assert any(out.glob("part-*.parquet"))


def test_train_predict_and_evaluate_over_spark_connect(
    connect_server: str, penguins_csv: Path, tmp_path: Path
) -> None:
    package, out = tmp_path / "package", tmp_path / "predictions.csv"
    data = str(penguins_csv)
    script = f"""
        import json
        from modelyard.learn import spark
        from modelyard.learn.spark.session import is_connect_session
        result = spark.train({data!r}, target="species", master={connect_server!r},
                             out={str(package)!r})
        spark.predict({str(package)!r}, {data!r}, out={str(out)!r}, master={connect_server!r})
        metrics = spark.evaluate({str(package)!r}, {data!r}, master={connect_server!r})
        connect = is_connect_session(spark.start({connect_server!r}))
        print(json.dumps({{"model": result.model, "metrics": metrics, "connect": connect}}))
        """

    done = _run(script)

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    # XGBoost on Spark needs the classic API, so the default over Connect is the forest.
    assert report["model"] == "spark.random_forest"
    assert report["connect"] is True
    assert report["metrics"]["accuracy"] > 0.9
    assert any(out.glob("part-*.csv"))


def test_xgboost_over_spark_connect_is_one_clear_error(
    connect_server: str, penguins_csv: Path
) -> None:
    script = f"""
        from modelyard.learn import spark
        spark.train({str(penguins_csv)!r}, target="sex", model="spark.xgboost",
                    master={connect_server!r})
        """

    done = _run(script)

    assert done.returncode != 0
    assert "SparkModelError: spark.xgboost cannot run over Spark Connect" in done.stderr
