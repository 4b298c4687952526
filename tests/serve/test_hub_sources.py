"""Models served by hub repo id, and ``modelyard.load`` of a hub model, with a real hub."""

from __future__ import annotations

import pytest

import modelyard
from modelyard.hub.cache import RepoRef
from modelyard.hub.errors import HubUnreachableError
from tests.hub.conftest import start_server


@pytest.fixture
def pushed(packages, tmp_path):  # type: ignore[no-untyped-def]
    """A hub holding ``alice/iris``, and the environment that reaches it with a fresh cache."""
    (tmp_path / "hub").mkdir()
    hub = start_server(tmp_path / "hub" / "data")
    token = hub.token("alice")
    result = modelyard.push(packages / "iris", "alice/iris", endpoint=hub.url, token=token)
    env = {
        "MODELYARD_HUB_URL": hub.url,
        "MODELYARD_TOKEN": token,
        "MODELYARD_CACHE_DIR": str(tmp_path / "cache"),
    }
    yield hub, result.commit, env
    hub.stop()


def test_repo_refs_are_parsed() -> None:
    assert RepoRef.parse("acme/iris@v1") == RepoRef("acme/iris", "v1")
    assert RepoRef.parse("acme/iris") == RepoRef("acme/iris")
    assert RepoRef.parse("iris") is None
    assert RepoRef.parse("a/b/c") is None


def test_serve_by_repo_id_then_restart_offline(serve, pushed) -> None:
    hub, commit, env = pushed
    running = serve("alice/iris", env=env)
    metadata = running.client.get("/v2/models/iris").json()
    assert metadata["versions"] == [commit]
    answer = running.client.post("/invocations", json={"instances": [[5.1, 3.5, 1.4, 0.2]]})
    assert answer.json() == {"predictions": [0]}
    running.stop()
    hub.stop()
    offline = serve("alice/iris@main", env=env)
    assert offline.client.get("/v2/models/iris").json()["versions"] == [commit]
    offline_by_commit = serve(f"alice/iris@{commit}", env=env)
    assert offline_by_commit.client.get("/v2/health/ready").status_code == 200


def test_load_a_hub_model_by_name(pushed, monkeypatch, iris_frame) -> None:
    hub, commit, env = pushed
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    model = modelyard.load("alice/iris")
    assert model.manifest_.model == "sklearn.linear"
    assert model.predict(iris_frame.drop(columns=["target"]).head(1)).tolist() == [0]
    hub.stop()
    assert modelyard.load(f"alice/iris@{commit}").manifest_.model == "sklearn.linear"
    with pytest.raises(HubUnreachableError):
        modelyard.load("alice/never-pulled")
