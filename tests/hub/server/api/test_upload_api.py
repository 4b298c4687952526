"""Uploads through the real client: regular, LFS basic and multipart, commits, conflicts, limits."""

from __future__ import annotations

import base64
import json
import os
import threading
from pathlib import Path

import pytest
from huggingface_hub import (
    CommitOperationAdd,
    CommitOperationDelete,
    HfApi,
    hf_hub_download,
)
from huggingface_hub.errors import HfHubHTTPError, RemoteEntryNotFoundError
from huggingface_hub.utils import get_session


def _download(api: HfApi, repo: str, path: str, tmp_path: Path, **kwargs) -> bytes:
    local = hf_hub_download(
        repo, path, endpoint=api.endpoint, token=api.token, cache_dir=tmp_path / "cache", **kwargs
    )
    return Path(local).read_bytes()


def test_regular_lfs_and_multipart_uploads_round_trip(
    api: HfApi, repo_name: str, tmp_path: Path, classic_lfs: None
) -> None:
    """Clients that disable Xet (HF_HUB_DISABLE_XET=1) upload through the LFS batch API."""
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    small = b"small regular file"
    lfs = os.urandom(50_000)  # above the regular-upload threshold: LFS basic transfer
    multipart = os.urandom(350_001)  # above the multipart threshold: 4 parts of 100 kB
    (tmp_path / "multi.bin").write_bytes(multipart)
    api.upload_file(path_or_fileobj=small, path_in_repo="small.txt", repo_id=repo)
    api.upload_file(path_or_fileobj=lfs, path_in_repo="weights/lfs.bin", repo_id=repo)
    api.upload_file(
        path_or_fileobj=tmp_path / "multi.bin", path_in_repo="weights/multi.bin", repo_id=repo
    )
    info = api.model_info(repo, files_metadata=True)
    by_name = {s.rfilename: s for s in info.siblings}
    assert by_name["small.txt"].lfs is None
    assert by_name["weights/lfs.bin"].lfs is not None
    assert by_name["weights/multi.bin"].lfs.size == len(multipart)
    tree = {entry.path: entry for entry in api.list_repo_tree(repo, recursive=True)}
    assert tree["weights/lfs.bin"].xet_hash is None  # stored through LFS, not Xet
    assert _download(api, repo, "small.txt", tmp_path) == small
    assert _download(api, repo, "weights/lfs.bin", tmp_path) == lfs
    assert _download(api, repo, "weights/multi.bin", tmp_path) == multipart


def test_upload_folder_and_create_commit_with_deletes(
    api: HfApi, repo_name: str, tmp_path: Path
) -> None:
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    folder = tmp_path / "model"
    (folder / "sub" / "deeper").mkdir(parents=True)
    (folder / "config.json").write_text('{"a": 1}')
    (folder / "sub" / "x.bin").write_bytes(os.urandom(10_000))
    (folder / "sub" / "deeper" / "y.txt").write_text("y")
    api.upload_folder(folder_path=folder, repo_id=repo)
    assert sorted(api.list_repo_files(repo)) == [
        ".gitattributes",
        "config.json",
        "sub/deeper/y.txt",
        "sub/x.bin",
    ]
    api.create_commit(
        repo,
        [
            CommitOperationAdd("new.txt", b"new"),
            CommitOperationDelete("config.json"),
            CommitOperationDelete("sub/deeper/"),
        ],
        commit_message="mixed",
    )
    assert sorted(api.list_repo_files(repo)) == [".gitattributes", "new.txt", "sub/x.bin"]
    api.delete_file("new.txt", repo)
    api.delete_folder("sub", repo)
    assert api.list_repo_files(repo) == [".gitattributes"]
    with pytest.raises(RemoteEntryNotFoundError):
        api.delete_file("never-there.txt", repo)
    assert api.list_repo_commits(repo)[0].title.startswith("Delete folder sub")


def test_unchanged_content_is_not_uploaded_twice(api: HfApi, repo_name: str) -> None:
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    data = os.urandom(20_000)
    api.upload_file(path_or_fileobj=data, path_in_repo="a.bin", repo_id=repo)
    api.upload_file(path_or_fileobj=data, path_in_repo="b.bin", repo_id=repo)  # same blob, new path
    files = {s.rfilename: s for s in api.model_info(repo, files_metadata=True).siblings}
    assert files["a.bin"].lfs.sha256 == files["b.bin"].lfs.sha256


def test_stale_parent_commit_is_rejected_with_a_conflict(api: HfApi, repo_name: str) -> None:
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    base = api.model_info(repo).sha
    api.upload_file(path_or_fileobj=b"1", path_in_repo="one.txt", repo_id=repo, parent_commit=base)
    with pytest.raises(HfHubHTTPError) as error:
        api.upload_file(
            path_or_fileobj=b"2", path_in_repo="two.txt", repo_id=repo, parent_commit=base
        )
    assert error.value.response.status_code == 409
    assert "parentCommit" in error.value.response.headers["X-Error-Message"]
    assert api.list_repo_files(repo) == [".gitattributes", "one.txt"]


def test_concurrent_commits_to_one_branch_are_serialized(api: HfApi, repo_name: str) -> None:
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    errors: list[BaseException] = []

    def upload(index: int) -> None:
        try:
            api.upload_file(
                path_or_fileobj=f"{index}".encode(), path_in_repo=f"f{index}.txt", repo_id=repo
            )
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(api.list_repo_files(repo)) == sorted(
        [".gitattributes", *(f"f{i}.txt" for i in range(8))]
    )
    assert len(api.list_repo_commits(repo)) == 9


def _raw_commit(api: HfApi, repo: str, lines: list[dict]) -> object:
    body = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    return get_session().post(
        f"{api.endpoint}/api/models/{repo}/commit/main",
        content=body,
        headers={"Authorization": f"Bearer {api.token}", "Content-Type": "application/x-ndjson"},
    )


@pytest.mark.parametrize(
    "path", ["../escape.txt", "/abs.txt", "a\\b.txt", "a//b.txt", "a/./b.txt", "nul\x00.txt", "a/"]
)
def test_invalid_paths_are_rejected_and_nothing_is_committed(
    api: HfApi, repo_name: str, path: str
) -> None:
    repo = f"alice/{repo_name}"
    api.create_repo(repo, exist_ok=True)
    head = api.model_info(repo).sha
    header = {"key": "header", "value": {"summary": "bad"}}
    content = base64.b64encode(b"x").decode()
    response = _raw_commit(
        api,
        repo,
        [
            header,
            {"key": "file", "value": {"path": path, "content": content, "encoding": "base64"}},
        ],
    )
    assert response.status_code == 400
    assert "invalid file path" in response.headers["X-Error-Message"]
    assert api.model_info(repo).sha == head


def test_size_limits_are_enforced_before_upload(api: HfApi, repo_name: str) -> None:
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    response = get_session().post(
        f"{api.endpoint}/api/models/{repo}/preupload/main",
        json={"files": [{"path": "huge.bin", "size": 10 * 1024**3, "sample": ""}]},
        headers={"Authorization": f"Bearer {api.token}"},
    )
    assert response.status_code == 413
    assert "limit" in response.headers["X-Error-Message"]
    too_big_regular = base64.b64encode(b"x" * 5000).decode()  # regular limit is 2000 bytes
    header = {"key": "header", "value": {"summary": "big"}}
    response = _raw_commit(
        api, repo, [header, {"key": "file", "value": {"path": "r.bin", "content": too_big_regular}}]
    )
    assert response.status_code == 413


def test_lfs_file_must_be_uploaded_before_it_is_committed(api: HfApi, repo_name: str) -> None:
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    header = {"key": "header", "value": {"summary": "ghost"}}
    ghost = {
        "key": "lfsFile",
        "value": {"path": "g.bin", "algo": "sha256", "oid": "ab" * 32, "size": 5},
    }
    response = _raw_commit(api, repo, [header, ghost])
    assert response.status_code == 400 and "never uploaded" in response.headers["X-Error-Message"]
