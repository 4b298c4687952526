"""Reading tables with Spark: formats by extension or by the part files of a folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.learn.spark.errors import SparkDataError
from modelyard.learn.spark.reading import read_table, table_format


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("a.csv", "csv"), ("a.TSV", "tsv"), ("a.parquet", "parquet"), ("a.jsonl", "json")],
)
def test_format_comes_from_the_extension(name: str, fmt: str) -> None:
    assert table_format(f"hdfs://cluster/data/{name}") == fmt


def test_a_folder_of_part_files_reads_as_their_format(tmp_path: Path) -> None:
    (tmp_path / "part-00000.parquet").write_bytes(b"")
    (tmp_path / "_SUCCESS").write_bytes(b"")

    assert table_format(str(tmp_path)) == "parquet"


def test_an_unknown_format_says_which_names_work(tmp_path: Path) -> None:
    with pytest.raises(SparkDataError, match=r"cannot tell the format.*\.csv"):
        table_format(str(tmp_path / "data.xlsx"))


@pytest.mark.spark
def test_a_missing_path_is_one_clear_error(master: str, tmp_path: Path) -> None:
    from modelyard.learn.spark import start

    with pytest.raises(SparkDataError, match=r"cannot read .*missing\.csv"):
        read_table(start(master), str(tmp_path / "missing.csv"))


@pytest.mark.spark
def test_csv_types_are_inferred(master: str, penguins_csv: Path) -> None:
    from modelyard.learn.spark import start

    frame = read_table(start(master), str(penguins_csv))

    assert dict(frame.dtypes)["bill_length_mm"] == "double"
    assert dict(frame.dtypes)["species"] == "string"
    assert dict(frame.dtypes)["year"] == "int"
