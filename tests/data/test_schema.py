"""Column kinds, and which columns are dropped and why."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench._tables import mixed_table
from modelyard.data import ColumnKind, infer_schema


def test_kinds_and_dropped_columns():
    rows = 40
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "row_id": np.arange(rows),
            "customer": [f"C{index:05d}" for index in range(rows)],
            "age": rng.integers(18, 90, rows).astype(float),
            "member": rng.integers(0, 2, rows).astype(bool),
            "city": rng.choice(["Oslo", "Lima", "Pune"], rows),
            "signup": pd.date_range("2024-01-01", periods=rows, freq="D").astype(str),
            "review": [f"the product number {index} was fine and arrived on time" for index in
                       range(rows)],
            "constant": ["same"] * rows,
            "empty": [None] * rows,
        }
    )  # fmt: skip
    schema = infer_schema(frame)
    assert schema.columns == {
        "age": ColumnKind.NUMERIC,
        "member": ColumnKind.BOOLEAN,
        "city": ColumnKind.CATEGORICAL,
        "signup": ColumnKind.DATETIME,
        "review": ColumnKind.TEXT,
    }
    assert set(schema.dropped) == {"row_id", "customer", "constant", "empty"}
    assert "ID" in schema.dropped["row_id"]


def test_names_and_ticket_codes_are_ids_notes_are_text_postcodes_categories():
    frame = mixed_table(500, "classification")
    schema = infer_schema(frame.drop(columns=["target"]))
    assert schema.dropped == {
        "name": "an ID (a distinct value on nearly every row)",
        "ticket": "an ID (a distinct value on nearly every row)",
    }
    assert schema.columns["notes"] is ColumnKind.TEXT
    assert schema.columns["postcode"] is ColumnKind.CATEGORICAL
    assert schema.columns["segment"] is ColumnKind.CATEGORICAL
