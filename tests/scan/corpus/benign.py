"""Real benign models, made by the real libraries with their default settings."""

from __future__ import annotations

import collections
import datetime
import decimal
import pickle
from pathlib import Path

from tests.scan.corpus.model_formats import format_benign
from tests.scan.corpus.sample import Sample


def build_benign(dest: Path) -> list[Sample]:
    """Write at least 30 real model files into ``dest``."""
    import joblib
    import lightgbm
    import numpy as np
    import pandas as pd
    import torch
    import xgboost
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import load_diabetes, load_iris
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from sklearn.svm import SVC

    dest.mkdir(parents=True, exist_ok=True)
    samples: list[Sample] = []
    X, y = load_iris(return_X_y=True)
    Xr, yr = load_diabetes(return_X_y=True)

    def add(name: str, family: str, technique: str, loader: str) -> None:
        samples.append(Sample(dest / name, False, family, technique, loader))

    def dump_pickle(obj: object, name: str, family: str, technique: str) -> None:
        with (dest / name).open("wb") as handle:
            pickle.dump(obj, handle)
        add(name, family, technique, "pickle")

    forest = RandomForestClassifier(n_estimators=20, random_state=0).fit(X, y)
    dump_pickle(forest, "random_forest.pkl", "sklearn", "RandomForestClassifier pickle")
    dump_pickle(SVC().fit(X, y), "svc.pkl", "sklearn", "SVC pickle")
    dump_pickle(Ridge().fit(Xr, yr), "ridge.pkl", "sklearn", "Ridge pickle")
    boosting = GradientBoostingClassifier(n_estimators=10).fit(X, y)
    joblib.dump(boosting, dest / "gradient_boosting.joblib")
    add("gradient_boosting.joblib", "sklearn", "GradientBoosting joblib", "joblib")
    pipeline = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())]).fit(X, y)
    joblib.dump(pipeline, dest / "pipeline.joblib")
    add("pipeline.joblib", "sklearn", "Pipeline joblib", "joblib")
    frame = pd.DataFrame({"city": ["a", "b", "c"] * 10, "size": np.arange(30.0)})
    mixed = Pipeline(
        [
            (
                "columns",
                ColumnTransformer(
                    [("one_hot", OneHotEncoder(), ["city"])], remainder="passthrough"
                ),
            ),
            ("model", LogisticRegression()),
        ]
    ).fit(frame, np.arange(30) % 2)
    dump_pickle(mixed, "column_transformer.pkl", "sklearn", "ColumnTransformer pipeline pickle")
    for method in ("zlib", "gzip", "bz2", "lzma", "xz", "lz4"):
        joblib.dump(forest, dest / f"forest_{method}.joblib", compress=(method, 3))
        add(f"forest_{method}.joblib", "joblib", f"joblib {method} compression", "joblib")

    xgb = xgboost.XGBClassifier(n_estimators=5).fit(X, y)
    dump_pickle(xgb, "xgboost.pkl", "xgboost", "XGBClassifier pickle")
    joblib.dump(xgb, dest / "xgboost.joblib")
    add("xgboost.joblib", "xgboost", "XGBClassifier joblib", "joblib")
    lgbm = lightgbm.LGBMRegressor(n_estimators=5, verbose=-1).fit(Xr, yr)
    dump_pickle(lgbm, "lightgbm.pkl", "lightgbm", "LGBMRegressor pickle")
    joblib.dump(lgbm, dest / "lightgbm.joblib")
    add("lightgbm.joblib", "lightgbm", "LGBMRegressor joblib", "joblib")

    network = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    optimizer = torch.optim.Adam(network.parameters())
    torch.save(network.state_dict(), dest / "state_dict.pt")
    add("state_dict.pt", "pytorch", "state dict (zip)", "torch")
    torch.save(
        {"model": network.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 3},
        dest / "checkpoint.pt",
    )
    add("checkpoint.pt", "pytorch", "checkpoint with optimizer state (zip)", "torch")
    torch.save(network, dest / "module.pt")
    add("module.pt", "pytorch", "whole nn.Module (zip)", "torch")
    torch.save(
        network.state_dict(), dest / "pytorch_model.bin", _use_new_zipfile_serialization=False
    )
    add("pytorch_model.bin", "pytorch", "state dict (legacy format)", "torch")
    torch.save(network, dest / "module_legacy.pt", _use_new_zipfile_serialization=False)
    add("module_legacy.pt", "pytorch", "whole nn.Module (legacy format)", "torch")
    torch.save({"embeddings": torch.randn(10, 4, dtype=torch.float16)}, dest / "half.pt")
    add("half.pt", "pytorch", "float16 tensors", "torch")

    np.save(dest / "array.npy", np.random.default_rng(0).normal(size=(20, 5)))
    add("array.npy", "numpy", "float array", "numpy")
    np.savez_compressed(dest / "arrays.npz", a=np.arange(10), b=np.eye(3))
    add("arrays.npz", "numpy", "compressed npz", "numpy-npz")

    table = pd.DataFrame(
        {
            "when": pd.date_range("2024-01-01", periods=4, tz="UTC"),
            "kind": pd.Categorical(["x", "y", "x", "z"]),
            "value": [1.5, None, 3.0, 4.0],
            "count": pd.array([1, None, 3, 4], dtype="Int64"),
        }
    )
    table.to_pickle(dest / "frame.pkl")
    add("frame.pkl", "pandas", "DataFrame with categoricals and datetimes", "pandas")
    table.to_pickle(dest / "frame.pkl.gz")
    add("frame.pkl.gz", "pandas", "DataFrame pickle, gzip", "pandas")

    plain = {
        "ordered": collections.OrderedDict(a=1),
        "counts": collections.Counter("model"),
        "when": datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC),
        "price": decimal.Decimal("1.25"),
        "sets": ({1, 2}, frozenset({3})),
    }
    for protocol in (0, 2, 5):
        dump_pickle_protocol = dest / f"plain_protocol{protocol}.pkl"
        dump_pickle_protocol.write_bytes(pickle.dumps(plain, protocol=protocol))
        add(
            dump_pickle_protocol.name,
            "pickle",
            f"standard library types, protocol {protocol}",
            "pickle",
        )

    from modelyard.runtime import configure_keras

    configure_keras()
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.save(dest / "mlp.keras")
    add("mlp.keras", "keras", "Keras MLP (.keras)", "keras")
    (dest / "config.json").write_text('{"architectures": ["BertModel"], "hidden_size": 32}\n')
    add("config.json", "text", "JSON configuration", "json")
    format_benign(dest, add)
    return samples
