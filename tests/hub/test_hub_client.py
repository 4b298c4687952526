"""``modelyard push`` / ``pull`` (and the Python functions) against the live hub."""

from __future__ import annotations

import os
import pickle
import socket
from pathlib import Path

import pytest
from huggingface_hub import HfApi

import modelyard
from modelyard.hub.errors import UnsafeModelError


class _Touch:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.marker}",))


def _model_folder(root: Path) -> Path:
    folder = root / "model"
    (folder / "weights").mkdir(parents=True)
    (folder / "README.md").write_text("---\nlibrary_name: sklearn\n---\n# demo\n")
    (folder / "weights" / "w.bin").write_bytes(os.urandom(40_000))
    return folder


def test_cli_push_then_pull_round_trips_a_folder(
    hub, tokens, cli, tmp_path: Path, repo_name: str
) -> None:
    folder = _model_folder(tmp_path)
    env = {"MODELYARD_HUB_URL": hub.url, "MODELYARD_TOKEN": tokens.alice}
    pushed = cli("push", str(folder), f"alice/{repo_name}", "--private", env=env)
    assert pushed.returncode == 0, pushed.stderr
    commit = pushed.stdout.strip().splitlines()[-1]
    assert (
        HfApi(endpoint=hub.url, token=tokens.alice).model_info(f"alice/{repo_name}").sha == commit
    )
    out = tmp_path / "pulled"
    pulled = cli("pull", f"alice/{repo_name}", "--out", str(out), env=env)
    assert pulled.returncode == 0, pulled.stderr
    for name in ("README.md", "weights/w.bin"):
        assert (out / name).read_bytes() == (folder / name).read_bytes()
    assert not any(p.name.startswith(".modelyard-pull-") for p in tmp_path.iterdir())
    anonymous = cli(
        "pull",
        f"alice/{repo_name}",
        "--out",
        str(tmp_path / "anon"),
        env={"MODELYARD_HUB_URL": hub.url, "MODELYARD_TOKEN": ""},
    )
    assert anonymous.returncode != 0 and "404" in anonymous.stderr


def test_push_to_a_branch_and_pull_that_revision(
    hub, tokens, tmp_path: Path, repo_name: str
) -> None:
    folder = _model_folder(tmp_path)
    repo = f"alice/{repo_name}"
    main = modelyard.push(folder, repo, endpoint=hub.url, token=tokens.alice)
    (folder / "extra.txt").write_text("dev only")
    dev = modelyard.push(folder, repo, revision="dev", endpoint=hub.url, token=tokens.alice)
    assert dev.commit != main.commit and dev.revision == "dev"
    pulled = modelyard.pull(
        repo, revision="dev", out=tmp_path / "dev", endpoint=hub.url, token=tokens.alice
    )
    assert (pulled.path / "extra.txt").read_text() == "dev only"
    assert pulled.commit == dev.commit and pulled.verdicts["extra.txt"] == "safe"
    at_main = modelyard.pull(repo, out=tmp_path / "main", endpoint=hub.url, token=tokens.alice)
    assert not (at_main.path / "extra.txt").exists()


def test_push_refuses_unsafe_files_before_sending(
    hub, tokens, cli, tmp_path: Path, repo_name: str
) -> None:
    folder = _model_folder(tmp_path)
    (folder / "model.pkl").write_bytes(pickle.dumps(_Touch(tmp_path / "ran"), protocol=2))
    env = {"MODELYARD_HUB_URL": hub.url, "MODELYARD_TOKEN": tokens.alice}
    result = cli("push", str(folder), f"alice/{repo_name}", env=env)
    assert result.returncode == UnsafeModelError.exit_code
    assert "refusing to push" in result.stderr and "model.pkl" in result.stderr
    assert not HfApi(endpoint=hub.url, token=tokens.alice).repo_exists(f"alice/{repo_name}")


def test_pull_refuses_a_repo_with_quarantined_files(
    hub, tokens, tmp_path: Path, repo_name: str
) -> None:
    repo = f"alice/{repo_name}"
    api = HfApi(endpoint=hub.url, token=tokens.alice)
    api.create_repo(repo)
    api.upload_file(
        path_or_fileobj=pickle.dumps(_Touch(tmp_path / "ran"), protocol=2),
        path_in_repo="model.pkl",
        repo_id=repo,
    )
    out = tmp_path / "out"
    with pytest.raises(UnsafeModelError, match="quarantined"):
        modelyard.pull(repo, out=out, endpoint=hub.url, token=tokens.alice)
    assert not out.exists() or not any(out.iterdir())
    assert not (tmp_path / "ran").exists()


def test_pull_from_an_unreachable_hub_says_so(cli, tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {"MODELYARD_HUB_URL": f"http://127.0.0.1:{port}", "MODELYARD_TOKEN": ""}
    result = cli("pull", "alice/anything", "--out", str(tmp_path / "out"), env=env)
    assert result.returncode == 1
    assert "cannot reach the hub" in result.stderr and "modelyard hub serve" in result.stderr


def test_an_ensemble_package_round_trips_through_the_hub(
    hub, tokens, tmp_path: Path, repo_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from palmerpenguins import load_penguins

    from modelyard.learn.ensemble import ensemble_model
    from modelyard.learn.model import Model
    from modelyard.package import load, save

    penguins = load_penguins()
    X, y = penguins.drop(columns=["species"]), penguins["species"]
    members = [Model(name).fit(X, y) for name in ("sklearn.tree", "sklearn.linear")]
    package = save(ensemble_model(members, [0.25, 0.75], 0), tmp_path / "ensemble")
    modelyard.push(package, f"alice/{repo_name}", endpoint=hub.url, token=tokens.alice)
    monkeypatch.setenv("MODELYARD_HUB_URL", hub.url)
    monkeypatch.setenv("MODELYARD_TOKEN", tokens.alice)
    monkeypatch.setenv("MODELYARD_CACHE_DIR", str(tmp_path / "cache"))
    pulled = load(f"alice/{repo_name}")
    assert pulled.model == "ensemble" and len(pulled.estimator_.members) == 2
    assert (pulled.predict_proba(X) == load(package).predict_proba(X)).all()
