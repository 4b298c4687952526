"""Packages: safe formats only, hashes verified, and scanned before anything is loaded."""

from __future__ import annotations

import json
import pickle

import pytest

from modelyard.learn.model import Model
from modelyard.package import PackageError, UnsafePackageError, load, save
from modelyard.package.manifest import MANIFEST, file_digest


@pytest.fixture
def package(tmp_path, penguins):
    model = Model(model="sklearn.random_forest").fit(
        penguins.drop(columns=["species"]), penguins["species"]
    )
    return save(model, tmp_path / "pkg", target="species", metrics={"accuracy": 0.9})


def test_a_package_holds_no_pickle(package):
    from modelyard.scan import scan

    report = scan(package)
    assert report.verdict == "safe"
    assert {result.format for result in report.files} <= {"text", "zip"}


def test_changed_file_is_refused(package):
    weights = package / "estimator.skops"
    weights.write_bytes(weights.read_bytes() + b"\0")
    with pytest.raises(PackageError, match="changed after the package was made"):
        load(package)


def test_unsafe_file_is_refused_even_with_a_matching_hash(package, tmp_path):
    marker = tmp_path / "ran"
    evil = package / "extra.pkl"
    evil.write_bytes(f"cos\nsystem\n(S'touch {marker}'\ntR.".encode())
    manifest = json.loads((package / MANIFEST).read_text())
    manifest["files"]["extra.pkl"] = file_digest(evil)
    (package / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(UnsafePackageError, match=r"extra\.pkl"):
        load(package)
    assert not marker.exists()


def _record_types(package, names):
    """Rewrite the estimator's recorded types, and its hash in the manifest."""
    types = package / "estimator.types.json"
    types.write_text(json.dumps(names))
    manifest = json.loads((package / MANIFEST).read_text())
    manifest["files"]["estimator.types.json"] = file_digest(types)
    (package / MANIFEST).write_text(json.dumps(manifest))


def test_types_not_written_by_modelyard_are_refused(package):
    recorded = json.loads((package / "estimator.types.json").read_text())
    _record_types(package, recorded[:-1])
    with pytest.raises(PackageError, match="did not write"):
        load(package)


def test_every_type_is_recorded_estimators_too(package):
    recorded = json.loads((package / "estimator.types.json").read_text())
    assert "sklearn.ensemble._forest.RandomForestClassifier" in recorded
    assert "sklearn.tree._classes.DecisionTreeClassifier" in recorded


def test_a_package_written_before_estimators_were_recorded_loads(package):
    """skops used to trust scikit-learn's estimators by default, so they were not recorded."""
    recorded = json.loads((package / "estimator.types.json").read_text())
    estimators = ("RandomForestClassifier", "DecisionTreeClassifier")
    _record_types(package, [name for name in recorded if not name.endswith(estimators)])
    assert load(package).model == "sklearn.random_forest"


def test_saving_replaces_an_old_package_and_refuses_other_folders(package, tmp_path, penguins):
    model = Model(model="sklearn.tree").fit(penguins.drop(columns=["species"]), penguins["species"])
    save(model, package, target="species")
    assert load(package).model == "sklearn.tree"
    other = tmp_path / "photos"
    other.mkdir()
    (other / "cat.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(PackageError, match="not a model package"):
        save(model, other)
    assert (other / "cat.jpg").exists()


def test_not_a_package(tmp_path):
    with pytest.raises(PackageError, match=r"no modelyard\.json"):
        load(tmp_path)


def test_pickle_is_never_written(package):
    for path in package.iterdir():
        with pytest.raises((pickle.UnpicklingError, EOFError, ValueError, KeyError, IndexError)):
            pickle.loads(path.read_bytes())


def test_loading_a_scikit_learn_package_does_not_import_torch(package):
    """skops lists scikit-learn's types by importing its packages, one of which imports torch
    (hundreds of MB); reading a package never needs it, and torch still imports afterwards."""
    import subprocess
    import sys

    code = (
        "import sys, modelyard\n"
        f"modelyard.load({str(package)!r})\n"
        "print('torch' in sys.modules)\n"
        "import torch\n"
        "print(torch.ones(1).item())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.split() == ["False", "1.0"], done.stderr


def test_skops_names_every_ufunc_as_its_own_whichmodule_does():
    """modelyard gives skops a quicker ``whichmodule``; it must answer as skops' own."""
    import numpy as np
    import scipy.special

    from modelyard.package.skops import _skops_io

    quick = _skops_io()._utils.whichmodule
    ufuncs = [
        (module, name)
        for module in (np, scipy.special)
        for name in dir(module)
        if isinstance(getattr(module, name), np.ufunc)
    ]
    assert len(ufuncs) > 100
    for module, name in ufuncs:
        obj = getattr(module, name)
        assert quick(obj, obj.__name__) == quick.__wrapped__(obj, obj.__name__), name


def test_a_histogram_gradient_boosting_package_loads_in_a_new_process(tmp_path, penguins):
    """skops trusts its binning type by default; modelyard names it without importing
    ``sklearn.ensemble``, so a package needing it still loads (and it is not recorded)."""
    import subprocess
    import sys

    model = Model(model="sklearn.hist_gradient_boosting").fit(
        penguins.drop(columns=["species"]), penguins["species"]
    )
    package = save(model, tmp_path / "hgb", target="species")
    recorded = json.loads((package / "estimator.types.json").read_text())
    assert not any(name.endswith("._BinMapper") for name in recorded)
    rows = penguins.head(3).drop(columns=["species"])
    code = (
        "import io, modelyard, pandas as pd\n"
        f"rows = pd.read_json(io.StringIO({rows.to_json()!r}))\n"
        f"print(*modelyard.load({str(package)!r}).predict(rows))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    expected = model.predict(rows)
    assert done.stdout.split() == [str(label) for label in expected], done.stderr


def test_loading_a_linear_package_does_not_import_sklearn_ensemble(tmp_path, penguins):
    import subprocess
    import sys

    model = Model(model="sklearn.linear").fit(
        penguins.drop(columns=["species"]), penguins["species"]
    )
    package = save(model, tmp_path / "linear", target="species")
    code = (
        "import sys, modelyard\n"
        f"modelyard.load({str(package)!r})\n"
        "print('sklearn.ensemble' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.split() == ["False"], done.stderr
