"""Make the CatBoost fixtures of tests/scan/formats (run once, by real CatBoost; the tests never
import it).

CatBoost is too heavy for the project's environment, so it runs in a venv of its own:

    python3 -m venv /tmp/catboostvenv
    /tmp/catboostvenv/bin/pip install catboost pandas
    /tmp/catboostvenv/bin/python scripts/catboost_fixtures.py tests/scan/formats/fixtures/catboost

Writes a multiclass classifier on numeric features (``classifier.cbm``) and a regressor with a
categorical feature (``categorical.cbm``), as ``save_model`` writes them by default, and loads
each back.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from catboost import CatBoost, CatBoostClassifier, CatBoostRegressor


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    options = {"depth": 2, "verbose": False, "random_seed": 0, "train_dir": tempfile.mkdtemp()}
    x = rng.random((60, 4))
    CatBoostClassifier(iterations=5, **options).fit(x, np.arange(60) % 3).save_model(
        str(out / "classifier.cbm")
    )
    frame = pd.DataFrame({"city": ["a", "b", "c"] * 10, "size": np.arange(30.0)})
    CatBoostRegressor(iterations=3, **options).fit(
        frame, np.arange(30.0), cat_features=["city"]
    ).save_model(str(out / "categorical.cbm"))
    for name in ("classifier.cbm", "categorical.cbm"):
        CatBoost().load_model(str(out / name))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
