"""Start (or reuse) the Spark session a job runs on, with modelyard's settings.

Masters: ``local[*]`` (and ``local[N]``), ``spark://HOST:PORT`` (standalone cluster),
``sc://HOST:PORT`` (Spark Connect), and ``yarn`` / ``k8s://…`` passed through to Spark.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import socket
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from modelyard.learn.registry import DEFAULT_MASTER
from modelyard.learn.spark.errors import (
    JavaNotFoundError,
    MasterUnreachableError,
    SparkEngineError,
)
from modelyard.runtime import configure_spark

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

_CONNECT_DEFAULT_PORT = 15002
_STANDALONE_DEFAULT_PORT = 7077
_PROBE_TIMEOUT_SECONDS = 5.0

# Spark's own default profile prints INFO banners and a native-library warning on every start.
_LOG4J2_PROPERTIES = """\
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n%ex
logger.nativeio.name = org.apache.hadoop.util.NativeCodeLoader
logger.nativeio.level = error
"""


def is_connect_master(master: str) -> bool:
    """True for a Spark Connect address (``sc://…``)."""
    return master.startswith("sc://")


def is_local_master(master: str) -> bool:
    """True for ``local``, ``local[N]`` and ``local[*]``."""
    return master == "local" or master.startswith("local[")


def start(master: str = DEFAULT_MASTER, *, conf: Mapping[str, str] | None = None) -> SparkSession:
    """Return a Spark session on ``master``, reusing the active one if there is one.

    ``conf`` holds extra Spark settings (``spark.driver.memory`` …); they only apply when this
    call starts the session, not when it reuses one.

    Raises ``JavaNotFoundError`` without a Java runtime, ``MasterUnreachableError`` when nothing
    listens at a cluster or Spark Connect address, ``SparkEngineError`` for an unknown master.
    """
    _check_master(master)
    configure_spark(local=is_local_master(master))
    _quiet_python_warnings()
    from pyspark.sql import SparkSession

    settings = dict(conf or {})
    if is_connect_master(master):
        builder = SparkSession.builder.remote(master)
        for key, value in settings.items():
            builder = builder.config(key, value)
        remote = _get_or_create(builder, master)
        # Models a failed job still holds are released by their finalizers; at interpreter
        # exit those would wait forever on a half-closed channel unless the session is gone.
        atexit.unregister(remote.stop)
        atexit.register(remote.stop)
        return remote

    active = SparkSession.getActiveSession()
    if active is not None and active.sparkContext.master == master:
        return active
    _check_java()
    settings.setdefault("spark.ui.showConsoleProgress", "false")
    # Wide tables otherwise log a warning about truncated query plans on every job.
    settings.setdefault("spark.sql.debug.maxToStringFields", "1000")
    settings.setdefault(
        "spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={_log4j2_file().as_uri()}"
    )
    if is_local_master(master):
        # Several local jobs may share a machine; none of them needs the web UI's port. And
        # Spark's 200 shuffle partitions are 200 tiny tasks on one machine's few cores.
        settings.setdefault("spark.ui.enabled", "false")
        settings.setdefault("spark.sql.shuffle.partitions", "8")
    builder = SparkSession.builder.master(master).appName("modelyard")
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = _get_or_create(builder, master)
    session.sparkContext.setLogLevel("WARN")
    return session


def is_connect_session(spark: SparkSession) -> bool:
    """True when ``spark`` talks to a Spark Connect server rather than a local JVM."""
    from pyspark.sql.utils import is_remote

    return is_remote() or type(spark).__module__.startswith("pyspark.sql.connect")


def parallelism(spark: SparkSession) -> int:
    """How many tasks the cluster runs at once (1 when Spark Connect hides it)."""
    if is_connect_session(spark):
        return 1
    return max(1, spark.sparkContext.defaultParallelism)


def _get_or_create(builder: object, master: str) -> SparkSession:
    from pyspark.errors import PySparkException

    try:
        return builder.getOrCreate()  # type: ignore[attr-defined, no-any-return]
    except PySparkException as error:
        raise SparkEngineError(
            f"could not start Spark on {master}: {str(error).splitlines()[0]}",
            hint="run with --debug for Spark's full message",
        ) from error


def _check_master(master: str) -> None:
    if is_local_master(master) or master == "yarn" or master.startswith("k8s://"):
        return
    if master.startswith(("spark://", "sc://")):
        default_port = (
            _CONNECT_DEFAULT_PORT if is_connect_master(master) else _STANDALONE_DEFAULT_PORT
        )
        # A standalone master may be a list of hosts for high availability: any one will do.
        addresses = urlsplit(master).netloc.split(",")
        if not any(_answers(address, default_port) for address in addresses):
            raise MasterUnreachableError(
                f"nothing answers at Spark master {master}",
                hint="check the host and port, and that the master or Connect server is running",
            )
        return
    raise SparkEngineError(
        f"unknown Spark master {master!r}",
        hint="use local[*], local[N], spark://HOST:PORT, sc://HOST:PORT, yarn or k8s://…",
    )


def _answers(address: str, default_port: int) -> bool:
    host, _, port = address.partition(":")
    try:
        with socket.create_connection(
            (host, int(port.split("/")[0] or default_port)), timeout=_PROBE_TIMEOUT_SECONDS
        ):
            return True
    except (OSError, ValueError):
        return False


def _check_java() -> None:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return
    if not java_home and shutil.which("java"):
        return
    where = f"JAVA_HOME={java_home} has no bin/java" if java_home else "no java on PATH"
    raise JavaNotFoundError(
        f"Spark needs Java 17 or newer, but {where}",
        hint="install a JDK (e.g. apt-get install openjdk-17-jre-headless) or set JAVA_HOME",
    )


def _log4j2_file() -> Path:
    path = Path(tempfile.gettempdir()) / f"modelyard-spark-log4j2-{os.getuid()}.properties"
    if not path.is_file() or path.read_text() != _LOG4J2_PROPERTIES:
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(_LOG4J2_PROPERTIES)
        partial.replace(path)
    return path


def _quiet_python_warnings() -> None:
    # PySpark warns on every import that it does not fully support pandas 3; the data never
    # goes through pandas on our path, so the warning is noise to the user.
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    # xgboost.spark logs every training step at INFO unless its logger already has a level.
    logging.getLogger("XGBoost-PySpark").setLevel(logging.WARNING)
