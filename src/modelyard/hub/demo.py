"""Demo content for a fresh hub: models trained by modelyard on bundled datasets, pushed through
the normal push path, and one deliberately unsafe upload that the hub quarantines.

The demo user's token is kept in ``demo.json`` in the hub's data folder so that a second start
reuses everything; it is meant for a local demo only.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from modelyard.hub.server.accounts import Accounts

logger = logging.getLogger(__name__)

DEMO_USER = "demo"
_STATE_FILE = "demo.json"


@dataclass(frozen=True)
class DemoModel:
    """One demo repository: a bundled dataset, its target and the model trained on it."""

    repo: str
    dataset: str
    target: str
    model: str


DEMO_MODELS = (
    DemoModel("penguins-species-lightgbm", "penguins", "species", "lightgbm"),
    DemoModel("breast-cancer-xgboost", "breast_cancer", "target", "xgboost"),
    DemoModel("iris-random-forest", "iris", "target", "sklearn.random_forest"),
    DemoModel("diabetes-ridge", "diabetes", "target", "sklearn.linear"),
    DemoModel("wine-keras-mlp", "wine", "target", "keras.mlp"),
    DemoModel("digits-keras-cnn", "digits", "y", "keras.cnn"),
)
UNSAFE_REPO = "quarantine-example"


@dataclass
class DemoState:
    """What a previous start created: the token and the repositories."""

    token: str
    repos: list[str] = field(default_factory=list)


def _write_dataset(name: str, folder: Path) -> Path:
    """A bundled dataset as a file modelyard trains from (no downloads)."""
    import numpy as np
    from sklearn import datasets

    if name == "penguins":
        from palmerpenguins import load_penguins

        path = folder / "penguins.csv"
        load_penguins().to_csv(path, index=False)
        return path
    if name == "digits":
        digits = datasets.load_digits()
        path = folder / "digits.npz"
        # A share of the images keeps the first start quick; the CNN still learns them well.
        np.savez(path, X=digits.images[:800], y=digits.target[:800])
        return path
    loader = getattr(datasets, f"load_{name}")
    path = folder / f"{name}.csv"
    loader(as_frame=True).frame.to_csv(path, index=False)
    return path


def _unsafe_file(folder: Path) -> Path:
    """A hand-written pickle that would run a shell command if loaded (the hub only scans it)."""
    path = folder / "model.pkl"
    stream = b"cos\nsystem\n(S'echo this would have run on your machine'\ntR."
    path.write_bytes(stream)
    return path


def seed(
    data_dir: Path,
    accounts: Accounts,
    endpoint: str,
    progress: Callable[[str], None] = logger.info,
) -> DemoState:
    """Create the demo content once (later starts reuse it); returns the demo token."""
    state_file = data_dir / _STATE_FILE
    if state_file.is_file():
        return DemoState(**json.loads(state_file.read_text(encoding="utf-8")))
    from huggingface_hub import HfApi

    from modelyard.hub.client import push
    from modelyard.learn.api import train

    state = DemoState(token=accounts.create_token(DEMO_USER))
    with tempfile.TemporaryDirectory(prefix="modelyard-demo-") as scratch:
        folder = Path(scratch)
        for demo in DEMO_MODELS:
            progress(f"training {demo.model} on {demo.dataset}")
            data = _write_dataset(demo.dataset, folder)
            package = folder / demo.repo
            train(data, demo.target, model=demo.model, out=package, seed=0)
            repo_id = f"{DEMO_USER}/{demo.repo}"
            push(package, repo_id, endpoint=endpoint, token=state.token)
            state.repos.append(repo_id)
            progress(f"pushed {repo_id}")
        # The push command refuses unsafe files, so this one goes through the plain client:
        # the hub scans it on arrival and quarantines it.
        repo_id = f"{DEMO_USER}/{UNSAFE_REPO}"
        api = HfApi(endpoint=endpoint, token=state.token)
        api.create_repo(repo_id, exist_ok=True)
        (folder / "README.md").write_text(
            "---\ntags: [demo, quarantine]\n---\n# Quarantine example\n\n"
            "`model.pkl` runs a shell command when unpickled. The hub scanned it on upload and "
            "quarantined it: it is listed with its scan report but never served.\n",
            encoding="utf-8",
        )
        api.upload_file(
            path_or_fileobj=folder / "README.md", path_in_repo="README.md", repo_id=repo_id
        )
        api.upload_file(
            path_or_fileobj=_unsafe_file(folder), path_in_repo="model.pkl", repo_id=repo_id
        )
        state.repos.append(repo_id)
        progress(f"uploaded {repo_id} (quarantined)")
    state_file.write_text(json.dumps(asdict(state), indent=2) + "\n", encoding="utf-8")
    return state
