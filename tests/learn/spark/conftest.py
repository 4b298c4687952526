"""One local Spark session for the whole test run, and small tables written as files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def master() -> Iterator[str]:
    """The master every engine call in these tests uses; its session lives for the whole run."""
    from modelyard.learn.spark import start

    session = start("local[2]")
    yield "local[2]"
    session.stop()


@pytest.fixture(scope="session")
def penguins_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """344 penguins: strings (species, island, sex), numbers with gaps, an integer year."""
    import palmerpenguins

    path = tmp_path_factory.mktemp("data") / "penguins.csv"
    palmerpenguins.load_penguins().to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def diabetes_parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """442 rows, ten numeric features and a numeric target."""
    from sklearn.datasets import load_diabetes

    path = tmp_path_factory.mktemp("data") / "diabetes.parquet"
    load_diabetes(as_frame=True).frame.to_parquet(path)
    return path
