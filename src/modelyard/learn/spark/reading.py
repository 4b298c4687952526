"""Read a table with Spark itself: CSV (header, inferred types), TSV, Parquet, JSON lines.

Paths may be local or anything Hadoop understands (``hdfs://``, ``s3a://``, ``file://``); a
folder of part files, as Spark writes them, reads as one table.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from modelyard.learn.spark.errors import SparkDataError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "json",
    ".json": "json",
}


def spark_path(path: str | Path) -> str:
    """``path`` as Spark should see it: URIs unchanged, local paths made absolute.

    A Spark Connect server or a cluster would otherwise resolve a relative path against its
    own working directory, not the user's.
    """
    text = str(path)
    return text if "://" in text else str(Path(text).resolve())


def table_format(path: str) -> str:
    """The reader for ``path``: from its extension, or from the part files of a local folder."""
    suffix = Path(path.rstrip("/")).suffix.lower()
    if suffix in FORMATS:
        return FORMATS[suffix]
    local = Path(path.removeprefix("file://"))
    if "://" not in path.removeprefix("file://") and local.is_dir():
        found = {FORMATS[p.suffix.lower()] for p in local.iterdir() if p.suffix.lower() in FORMATS}
        if len(found) == 1:
            return found.pop()
    raise SparkDataError(
        f"cannot tell the format of {path}",
        hint=f"name it with one of {', '.join(sorted(FORMATS))} or point at a folder of such files",
    )


def read_table(spark: SparkSession, path: str) -> DataFrame:
    """A lazy DataFrame over ``path``; ``SparkDataError`` when it is missing or unreadable."""
    from pyspark.errors import PySparkException

    fmt = table_format(path)
    reader = spark.read
    if fmt in ("csv", "tsv"):
        reader = reader.option("header", True).option("inferSchema", True)
        reader = reader.option("sep", "\t" if fmt == "tsv" else ",").format("csv")
    else:
        reader = reader.format(fmt)
    try:
        frame = reader.load(spark_path(path))
        columns = frame.columns
    except PySparkException as error:
        raise SparkDataError(
            f"cannot read {path}: {_first_line(error)}",
            hint="check the path and that the file is a valid " + fmt.upper(),
        ) from error
    if not columns or columns == ["_corrupt_record"]:
        raise SparkDataError(f"{path} holds no columns Spark can read as {fmt.upper()}")
    return frame


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
