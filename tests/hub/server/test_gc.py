"""``hub gc``: what no commit needs goes, after the grace period; nothing live ever does,
however many uploads are in flight (the data folder and a moto S3 bucket; SQLite and
PostgreSQL)."""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.lfs import UploadInfo, post_lfs_batch_info
from huggingface_hub.utils import get_session
from sqlalchemy import create_engine, text

from modelyard.hub.server.gc import collect_garbage
from modelyard.hub.server.hub import Hub
from modelyard.hub.server.settings import Settings
from tests.hub.conftest import HubServer, Postgres, S3Endpoint, run_cli

GRACE_SECONDS = 10


def _upload_without_commit(server: HubServer, token: str, repo: str, data: bytes) -> None:
    """Store ``data`` through the LFS batch API and never commit it."""
    info = UploadInfo(sha256=hashlib.sha256(data).digest(), size=len(data), sample=data[:512])
    actions, errors, _ = post_lfs_batch_info(
        upload_infos=[info], token=token, repo_type="model", repo_id=repo, endpoint=server.url
    )
    assert errors == []
    response = get_session().put(actions[0]["actions"]["upload"]["href"], content=data)
    assert response.status_code == 200


def _new_database(request: pytest.FixtureRequest, database: str) -> str | None:
    """None for SQLite; else the URL of a new, empty PostgreSQL database."""
    if database == "sqlite":
        return None
    postgres: Postgres = request.getfixturevalue("postgres")
    name = f"gc_{uuid.uuid4().hex[:12]}"
    engine = create_engine(postgres.url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return postgres.url.rsplit("/", 1)[0] + f"/{name}"


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_gc_under_concurrent_uploads_deletes_nothing_live(
    storage_hub, s3: S3Endpoint, tmp_path: Path, request: pytest.FixtureRequest, database: str
) -> None:
    database_url = _new_database(request, database)
    server = storage_hub(database_url=database_url)
    token = server.token("alice")
    api = HfApi(endpoint=server.url, token=token)
    api.create_repo("alice/live")
    committed = {"kept.bin": os.urandom(120_000), "notes.txt": b"kept small file"}
    for name, data in committed.items():
        api.upload_file(path_or_fileobj=data, path_in_repo=name, repo_id="alice/live")
    garbage = os.urandom(90_000)
    _upload_without_commit(server, token, "alice/live", garbage)
    api.create_repo("alice/gone")
    gone = os.urandom(70_000)  # through hf_xet: a blob, a Xet file and its xorbs
    api.upload_file(path_or_fileobj=gone, path_in_repo="gone.bin", repo_id="alice/gone")
    api.delete_repo("alice/gone")
    time.sleep(GRACE_SECONDS + 1)  # everything above is now older than the grace period

    storage_args = (
        [] if storage_hub.bucket is None else ["--storage-url", f"s3://{storage_hub.bucket}/hub"]
    )
    gc_args = ["hub", "gc", "--grace", f"{GRACE_SECONDS}s", "--data-dir", str(server.data_dir)]
    gc_args += server.db_args()
    failures: list[BaseException] = []

    def upload(worker: int) -> None:
        try:
            for round_ in range(3):
                data = os.urandom(100_000 + worker * 1000 + round_)
                name = f"w{worker}-{round_}.bin"
                api.upload_file(path_or_fileobj=data, path_in_repo=name, repo_id="alice/live")
                committed[name] = data
        except BaseException as error:
            failures.append(error)

    workers = [threading.Thread(target=upload, args=(worker,)) for worker in range(3)]
    for thread in workers:
        thread.start()
    runs = []
    while any(thread.is_alive() for thread in workers) or not runs:
        runs.append(run_cli(*gc_args, *storage_args, env=s3.env))
        assert runs[-1].returncode == 0, runs[-1].stderr
    for thread in workers:
        thread.join()
    assert failures == []

    removed = " ".join(run.stdout for run in runs)
    assert "removed 0 blob(s)" not in runs[0].stdout, removed  # the garbage went at once
    for name, data in committed.items():
        local = hf_hub_download(
            "alice/live", name, endpoint=server.url, token=token, cache_dir=tmp_path / "c"
        )
        assert Path(local).read_bytes() == data, name
    stored = _stored_names(storage_hub, server, s3)
    assert hashlib.sha256(garbage).hexdigest() not in stored
    assert hashlib.sha256(gone).hexdigest() not in stored
    assert {hashlib.sha256(data).hexdigest() for data in committed.values()} <= stored


def _stored_names(storage_hub, server: HubServer, s3: S3Endpoint) -> set[str]:  # type: ignore[no-untyped-def]
    if storage_hub.bucket is None:
        return {path.name for path in (server.data_dir / "blobs").rglob("*") if path.is_file()}
    return {key.rsplit("/", 1)[-1] for key in s3.objects(storage_hub.bucket, "hub/blobs/")}


def test_gc_keeps_a_blob_held_by_an_upload_until_the_hold_is_released(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    hub = Hub.open(settings)
    blob = hub.store.put_bytes(b"uploaded, not committed yet")
    hub.repos.register_blobs([blob])
    key = hub.store.key_for(blob.sha256)
    assert hub.store.holds.try_hold(key, "upload")  # another server publishes it again now

    assert collect_garbage(settings, timedelta(0)).blobs == 0
    assert hub.store.exists(blob.sha256) and hub.repos.blob_size(blob.sha256) == blob.size
    assert not hub.store.holds.try_hold(key, "delete")
    hub.store.holds.release(key)
    report = collect_garbage(settings, timedelta(0))
    assert report.blobs == 1 and report.freed_bytes == blob.size
    assert not hub.store.exists(blob.sha256) and hub.repos.blob_size(blob.sha256) is None


def test_gc_refuses_a_bad_grace_or_storage_url(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path)]
    bad_grace = run_cli("hub", "gc", "--grace", "soon", *data)
    assert bad_grace.returncode == 2 and "invalid duration 'soon'" in bad_grace.stderr
    bad_url = run_cli("hub", "gc", "--storage-url", "ftp://host/bucket", *data)
    assert bad_url.returncode != 0 and "expected s3://BUCKET" in bad_url.stderr
    empty = run_cli("hub", "gc", "--grace", "0s", *data)
    assert empty.returncode == 0, empty.stderr
    assert empty.stdout.startswith("removed 0 blob(s), 0 xorb(s)")
