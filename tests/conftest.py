"""Small real datasets shared by the learn, package and CLI tests (bundled with packages)."""

from __future__ import annotations

import pandas as pd
import pytest
from palmerpenguins import load_penguins
from sklearn.datasets import load_diabetes


@pytest.fixture(scope="session")
def penguins() -> pd.DataFrame:
    """344 rows: numbers, categories, missing values and a string target (species)."""
    return load_penguins()


@pytest.fixture(scope="session")
def diabetes() -> pd.DataFrame:
    return load_diabetes(as_frame=True).frame
