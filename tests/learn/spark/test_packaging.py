"""Spark packages: Spark's own format only, hashes verified, foreign stages refused."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from modelyard.learn.spark import load, train
from modelyard.learn.spark.errors import SparkPackageError

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def xgboost_package(
    master: str, penguins_csv: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    package = tmp_path_factory.mktemp("packages") / "xgboost"
    train(
        str(penguins_csv),
        target="sex",
        model="spark.xgboost",
        master=master,
        out=package,
        params={"n_estimators": 5},
    )
    return package


@pytest.fixture
def copy(xgboost_package: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(xgboost_package, tmp_path / "package"))


def _rehash(package: Path) -> None:
    """Make the manifest match the files again, as an attacker who rewrote both would."""
    manifest = json.loads((package / "modelyard.json").read_text())
    manifest["files"] = {
        name: hashlib.sha256((package / name).read_bytes()).hexdigest()
        for name in manifest["files"]
    }
    (package / "modelyard.json").write_text(json.dumps(manifest))


def _stage_metadata(package: Path, class_suffix: str) -> Path:
    for path in package.glob("spark-model/stages/*/metadata/part-*"):
        if json.loads(path.read_text())["class"].endswith(class_suffix):
            return path
    raise AssertionError(f"no {class_suffix} stage")


def test_every_file_is_json_text_or_parquet(xgboost_package: Path) -> None:
    files = [path for path in xgboost_package.rglob("*") if path.is_file()]
    assert any(path.suffix == ".parquet" for path in files)
    for path in files:
        head = path.read_bytes()[:4]
        if path.suffix == ".parquet":
            assert head == b"PAR1", path
        elif path.suffix != ".md":
            json.loads(path.read_text())  # the booster too: xgboost.spark saves it as JSON


def test_the_card_has_front_matter(xgboost_package: Path) -> None:
    card = (xgboost_package / "README.md").read_text()

    assert card.startswith("---\nlibrary_name: pyspark\n")
    assert "  - roc_auc\n" in card


def test_a_package_round_trips(master: str, xgboost_package: Path) -> None:
    pipeline, info = load(xgboost_package)

    assert (info.model, info.target, info.classes) == ("spark.xgboost", "sex", ["female", "male"])
    assert pipeline.stages[-2].__class__.__name__ == "SparkXGBClassifierModel"


def test_a_changed_file_fails_its_hash(copy: Path) -> None:
    booster = next(copy.glob("spark-model/stages/*SparkXGB*/model/part-00000"))
    booster.write_text(booster.read_text().replace('"num_trees"', '"num_trees" '))

    with pytest.raises(SparkPackageError, match="does not match its sha256"):
        load(copy)


def test_an_unlisted_file_is_refused(copy: Path) -> None:
    (copy / "spark-model" / "extra.py").write_text("print('hi')\n")

    with pytest.raises(SparkPackageError, match=r"unlisted spark-model/extra\.py"):
        load(copy)


def test_a_foreign_stage_class_is_refused(copy: Path) -> None:
    path = _stage_metadata(copy, "VectorAssembler")
    metadata = json.loads(path.read_text())
    metadata["class"] = "os.system"
    path.write_text(json.dumps(metadata))
    _rehash(copy)

    with pytest.raises(SparkPackageError, match=r"names class 'os\.system'"):
        load(copy)


def test_a_rewritten_sql_stage_is_refused(copy: Path) -> None:
    path = _stage_metadata(copy, "SQLTransformer")
    metadata = json.loads(path.read_text())
    metadata["paramMap"]["statement"] = (
        "SELECT *, java_method('java.lang.System', 'getProperty', 'user.home') AS x FROM __THIS__"
    )
    path.write_text(json.dumps(metadata))
    _rehash(copy)

    with pytest.raises(SparkPackageError, match="SQL statement modelyard did not write"):
        load(copy)


def _plant_callbacks(package: Path, marker: Path) -> None:
    """What a hostile xgboost.spark model looks like: a cloudpickled 'callback' that runs."""
    from pyspark import cloudpickle

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    path = _stage_metadata(package, "SparkXGBClassifierModel")
    metadata = json.loads(path.read_text())
    metadata["serialized_callbacks"] = base64.encodebytes(cloudpickle.dumps(Payload())).decode()
    path.write_text(json.dumps(metadata))
    _rehash(package)


def test_pickled_xgboost_callbacks_are_refused(copy: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    _plant_callbacks(copy, marker)

    with pytest.raises(SparkPackageError, match="carries serialized_callbacks"):
        load(copy)
    assert not marker.exists()


@pytest.mark.slow
def test_planted_callbacks_do_run_under_spark_own_loader(copy: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    _plant_callbacks(copy, marker)
    script = textwrap.dedent(
        f"""
        from pyspark.ml import PipelineModel
        from modelyard.learn.spark import start
        start("local[1]")
        PipelineModel.load({str(copy / "spark-model")!r})
        """
    )

    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, timeout=300)

    assert marker.exists()


def test_a_non_spark_package_points_to_the_other_engine(copy: Path) -> None:
    manifest = json.loads((copy / "modelyard.json").read_text())
    manifest["framework"] = "xgboost"
    (copy / "modelyard.json").write_text(json.dumps(manifest))

    with pytest.raises(SparkPackageError, match="holds a xgboost model, not a Spark one"):
        load(copy)
