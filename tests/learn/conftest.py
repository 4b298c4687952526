"""Fixtures for the learn tests (the datasets themselves are in tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def penguins_csv(tmp_path, penguins):
    path = tmp_path / "penguins.csv"
    penguins.to_csv(path, index=False)
    return path
