"""The preprocessing's own parts: number imputation and column coercion."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelyard.learn.preprocess import ColumnCoercer, MeanImputer


def test_missing_numbers_become_the_fitted_means_and_an_empty_column_zero():
    fitted = pd.DataFrame({"a": [1.0, np.nan, 3.0], "b": [np.nan] * 3, "c": [2.0, 4.0, 9.0]})
    imputer = MeanImputer().fit(fitted)

    rows = np.array([[np.nan, np.nan, np.nan], [5.0, 6.0, 7.0]])
    np.testing.assert_array_equal(imputer.transform(rows), [[2.0, 0.0, 5.0], [5.0, 6.0, 7.0]])
    np.testing.assert_array_equal(imputer.statistics_, [2.0, 0.0, 5.0])
    assert list(imputer.get_feature_names_out()) == ["a", "b", "c"]  # no column dropped


def test_complete_rows_pass_the_imputer_uncopied_and_keep_float32():
    rows = np.arange(12, dtype="float32").reshape(4, 3)
    imputer = MeanImputer().fit(rows)

    assert imputer.transform(rows) is rows
    rows[1, 2] = np.nan
    imputed = imputer.transform(rows)
    assert imputed.dtype == np.float32 and imputed[1, 2] == np.float32(6.5)
    assert np.isnan(rows[1, 2])  # the caller's rows are left as they were


def test_an_imputer_refuses_rows_of_another_width():
    imputer = MeanImputer().fit(np.ones((3, 2)))
    with pytest.raises(ValueError, match="X has 4 features, but MeanImputer is expecting 2"):
        imputer.transform(np.ones((3, 4)))


def test_float_columns_are_coerced_as_they_are_and_others_become_float64():
    frame = pd.DataFrame(
        {
            "small": np.array([1.5, np.nan], dtype="float32"),
            "wide": [0.25, 2.0],
            "count": [3, 4],
            "extra": ["ignored", "too"],
        }
    )
    floats = ColumnCoercer({"wide": "numeric", "small": "numeric"}).fit_transform(frame)
    assert list(floats.columns) == ["wide", "small"]
    assert floats.dtypes.tolist() == [np.float64, np.float32]
    pd.testing.assert_frame_equal(floats, frame[["wide", "small"]])

    mixed = ColumnCoercer({"small": "numeric", "count": "numeric"}).fit_transform(frame)
    assert mixed.dtypes.tolist() == [np.float32, np.float64]
    np.testing.assert_array_equal(mixed["count"], [3.0, 4.0])
