"""Two replicas (two real ``hub serve`` processes) on one PostgreSQL database and one S3 bucket
(moto): what one writes the other serves, concurrent commits through both are all kept, and a
replica killed mid-upload leaves everything committed intact."""

from __future__ import annotations

import hashlib
import os
import signal
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from huggingface_hub import CommitOperationAdd, HfApi, hf_hub_download
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.utils import get_session
from sqlalchemy import create_engine, text

from tests.hub.conftest import HubServer, Postgres, S3Endpoint
from tests.hub.server.test_storage import kill_mid_upload, lfs_upload_href, staging_started

EVIL = b"cos\nsystem\n(S'true'\ntR."


class Replicas:
    """Replicas of one hub: a new database on the test PostgreSQL server and a new bucket."""

    def __init__(self, postgres: Postgres, s3: S3Endpoint, hub_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
        name = f"replicas_{uuid.uuid4().hex[:12]}"
        admin = create_engine(postgres.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
        admin.dispose()
        self.database_url = postgres.url.rsplit("/", 1)[0] + f"/{name}"
        self.bucket = s3.new_bucket()
        self.s3 = s3
        self._factory = hub_factory
        self._root = tmp_path

    def start(self, name: str) -> HubServer:
        data_dir = self._root / name / "data"
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        return self._factory(  # type: ignore[no-any-return]
            data_dir,
            extra_env=self.s3.env,
            extra_args=["--storage-url", f"s3://{self.bucket}/hub"],
            database_url=self.database_url,
        )

    def blobs(self) -> dict[str, bytes]:
        """Every published blob in the bucket, by the name it is stored under."""
        objects = self.s3.objects(self.bucket, "hub/blobs/")
        return {key.rsplit("/", 1)[-1]: data for key, data in objects.items()}


@pytest.fixture
def replicas(postgres: Postgres, s3: S3Endpoint, hub_factory, tmp_path: Path) -> Replicas:  # type: ignore[no-untyped-def]
    return Replicas(postgres, s3, hub_factory, tmp_path)


def _download(server: HubServer, token: str, repo: str, name: str, cache: Path) -> bytes:
    path = hf_hub_download(repo, name, endpoint=server.url, token=token, cache_dir=cache)
    return Path(path).read_bytes()


def test_what_one_replica_writes_the_other_serves_and_quarantines(
    replicas: Replicas, tmp_path: Path
) -> None:
    first, second = replicas.start("a"), replicas.start("b")
    token = first.token("alice")  # made once, valid on both at once
    api_first = HfApi(endpoint=first.url, token=token)
    api_second = HfApi(endpoint=second.url, token=token)
    repo = "alice/shared"
    api_first.create_repo(repo)
    assert api_second.model_info(repo).sha == api_first.model_info(repo).sha

    # An upload URL one replica signs is good on the other (the signing secret is shared).
    weights = os.urandom(500_000)
    href = lfs_upload_href(first.url, token, repo, weights).replace(first.url, second.url)
    assert href.startswith(second.url)
    get_session().put(href, content=weights).raise_for_status()
    api_second.upload_file(path_or_fileobj=weights, path_in_repo="w.bin", repo_id=repo)
    assert _download(first, token, repo, "w.bin", tmp_path / "c1") == weights

    api_second.upload_file(path_or_fileobj=EVIL, path_in_repo="model.pkl", repo_id=repo)
    for api, server in ((api_first, first), (api_second, second)):
        (entry,) = api.get_paths_info(repo, ["model.pkl"], expand=True)
        assert entry.security["status"] == "unsafe"
        with pytest.raises(HfHubHTTPError) as refused:
            _download(server, token, repo, "model.pkl", tmp_path / "c2")
        assert refused.value.response.status_code == 403
        assert "quarantined" in str(refused.value)


def test_concurrent_commits_through_two_replicas_are_all_kept(replicas: Replicas) -> None:
    servers = [replicas.start("a"), replicas.start("b")]
    token = servers[0].token("alice")
    apis = [HfApi(endpoint=server.url, token=token) for server in servers]
    repo = "alice/busy"
    apis[0].create_repo(repo)
    initial = apis[0].model_info(repo).sha
    count = 12

    def commit(number: int) -> str:
        api = apis[number % 2]
        content = f"file {number}\n".encode()
        done = api.upload_file(path_or_fileobj=content, path_in_repo=f"f{number}.txt", repo_id=repo)
        return done.oid

    with ThreadPoolExecutor(max_workers=count) as pool:
        oids = set(pool.map(commit, range(count)))
    history = [entry.commit_id for entry in apis[1].list_repo_commits(repo)]
    assert len(oids) == count and oids <= set(history)
    assert len(history) == count + 1 and history[-1] == initial
    files = set(apis[1].list_repo_files(repo))
    assert {f"f{number}.txt" for number in range(count)} <= files

    stale = CommitOperationAdd(path_in_repo="late.txt", path_or_fileobj=b"late")
    with pytest.raises(HfHubHTTPError) as conflict:
        apis[1].create_commit(repo, [stale], commit_message="late", parent_commit=initial)
    assert conflict.value.response.status_code == 409
    assert "parentCommit" in str(conflict.value)


def test_kill_9_of_a_replica_mid_upload_leaves_every_commit_intact(
    replicas: Replicas, tmp_path: Path
) -> None:
    doomed, survivor = replicas.start("a"), replicas.start("b")
    token = doomed.token("alice")
    api = HfApi(endpoint=doomed.url, token=token)
    repo = "alice/crash"
    api.create_repo(repo)
    early = {"a.txt": b"regular content", "w.bin": os.urandom(60_000)}
    for name, data in early.items():
        api.upload_file(path_or_fileobj=data, path_in_repo=name, repo_id=repo)
    head = api.model_info(repo).sha

    big = os.urandom(40 * 1024 * 1024)  # beyond one 8 MiB part: a multipart staging upload
    href = lfs_upload_href(doomed.url, token, repo, big)
    started = staging_started(replicas.s3, replicas.bucket)
    kill_mid_upload(doomed, lambda body: get_session().put(href, content=body), big, started)
    assert doomed.process.returncode == -signal.SIGKILL

    api = HfApi(endpoint=survivor.url, token=token)
    assert api.model_info(repo).sha == head
    for name, data in early.items():
        assert _download(survivor, token, repo, name, tmp_path / "c") == data
    stored = replicas.blobs()
    for name, data in stored.items():  # every visible blob is complete and verified
        assert hashlib.sha256(data).hexdigest() == name
    assert hashlib.sha256(big).hexdigest() not in stored
    api.upload_file(path_or_fileobj=big, path_in_repo="big.bin", repo_id=repo)  # retry succeeds
    assert _download(survivor, token, repo, "big.bin", tmp_path / "c") == big
