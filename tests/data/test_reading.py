"""Reading every supported data format, and the errors for bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import dump_svmlight_file, load_iris

from modelyard.data import read_dataset
from modelyard.data.errors import MissingColumnError, UnreadableDataError


@pytest.fixture
def iris_frame() -> pd.DataFrame:
    return load_iris(as_frame=True).frame


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", ".jsonl", ".json"])
def test_tables(tmp_path, iris_frame, suffix):
    path = tmp_path / f"iris{suffix}"
    if suffix == ".csv":
        iris_frame.to_csv(path, index=False)
    elif suffix == ".tsv":
        iris_frame.to_csv(path, sep="\t", index=False)
    elif suffix == ".parquet":
        iris_frame.to_parquet(path)
    elif suffix == ".jsonl":
        iris_frame.to_json(path, orient="records", lines=True)
    else:
        iris_frame.to_json(path, orient="records")
    dataset = read_dataset(path, "target")
    assert dataset.kind == "table"
    assert list(dataset.X.columns) == list(iris_frame.columns[:-1])
    assert dataset.y.tolist() == iris_frame["target"].tolist()


def test_libsvm_stays_sparse(tmp_path):
    X, y = load_iris(return_X_y=True)
    dump_svmlight_file(X, y, str(tmp_path / "iris.libsvm"))
    dataset = read_dataset(tmp_path / "iris.libsvm", "label")
    assert dataset.kind == "sparse" and dataset.X.format == "csr"
    assert dataset.X.shape == (150, 4)


def test_npz_arrays(tmp_path):
    np.savez(tmp_path / "images.npz", X=np.zeros((10, 8, 8)), y=np.arange(10) % 2)
    dataset = read_dataset(tmp_path / "images.npz", "y")
    assert dataset.kind == "array" and dataset.X.shape == (10, 8, 8)
    with pytest.raises(MissingColumnError, match="labels"):
        read_dataset(tmp_path / "images.npz", "labels")


def test_missing_target_names_the_columns(tmp_path, iris_frame):
    iris_frame.to_csv(tmp_path / "iris.csv", index=False)
    with pytest.raises(MissingColumnError) as error:
        read_dataset(tmp_path / "iris.csv", "species")
    assert "'species'" in str(error.value) and "sepal length (cm)" in str(error.value)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("data.xyz", b"a,b\n1,2\n", "cannot tell the format"),
        ("empty.csv", b"", "not a readable csv"),
        ("broken.parquet", b"not parquet at all", "not a readable parquet"),
        ("bad.libsvm", b"1 x:y\n", "not a valid libsvm"),
        ("header.csv", b"a,b\n", "no rows"),
    ],
)
def test_bad_files_give_clear_errors(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UnreadableDataError, match=message):
        read_dataset(path)


def test_missing_file(tmp_path):
    with pytest.raises(UnreadableDataError, match="does not exist"):
        read_dataset(tmp_path / "absent.csv")


@pytest.mark.parametrize(("sep", "decimal"), [(";", ","), (";", "."), ("|", "."), (",", ".")])
def test_the_delimiter_and_decimal_mark_are_sniffed(tmp_path, iris_frame, sep, decimal):
    frame = iris_frame.assign(note=["good, then; worse"] * len(iris_frame))
    frame.to_csv(tmp_path / "iris.csv", sep=sep, decimal=decimal, index=False)
    dataset = read_dataset(tmp_path / "iris.csv", "target")
    pd.testing.assert_frame_equal(dataset.X, frame.drop(columns=["target"]), check_dtype=False)
    assert dataset.X["sepal length (cm)"].dtype == "float64"
