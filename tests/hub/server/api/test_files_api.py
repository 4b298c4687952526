"""Downloads through the real client: resolve headers, ranges, revisions, scan quarantine."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from huggingface_hub import (
    HfApi,
    get_hf_file_metadata,
    hf_hub_download,
    hf_hub_url,
    snapshot_download,
)
from huggingface_hub.errors import HfHubHTTPError, RemoteEntryNotFoundError, RevisionNotFoundError
from huggingface_hub.utils import get_session

from tests.samples import save_onnx_with_external_data


class _Touch:
    """Pickles to a call of os.system that creates a marker file (a harmless payload)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.marker}",))


def _unsafe_pickle(tmp_path: Path) -> tuple[bytes, Path]:
    marker = tmp_path / "payload-ran"
    return pickle.dumps(_Touch(marker), protocol=2), marker


# A pickle that only references a global from a module nobody allow-lists (no call).
SUSPICIOUS_PICKLE = b"\x80\x02cunknown_vendor_module\nThing\nq\x00."


def test_unsafe_fixture_is_live(tmp_path: Path) -> None:
    data, marker = _unsafe_pickle(tmp_path)
    (tmp_path / "m.pkl").write_bytes(data)
    subprocess.run(
        [
            sys.executable,
            "-c",
            f"import pickle; pickle.load(open({str(tmp_path / 'm.pkl')!r}, 'rb'))",
        ],
        check=True,
    )
    assert marker.exists()


def test_resolve_headers_and_range_requests(api: HfApi, repo_name: str) -> None:
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    lfs = os.urandom(30_000)
    commit = api.upload_file(path_or_fileobj=lfs, path_in_repo="w.bin", repo_id=repo).oid
    api.upload_file(path_or_fileobj=b"regular", path_in_repo="r.txt", repo_id=repo)
    meta = get_hf_file_metadata(
        hf_hub_url(repo, "w.bin", endpoint=api.endpoint, revision=commit), token=api.token
    )
    assert meta.commit_hash == commit and meta.size == len(lfs)
    sha = api.model_info(repo, files_metadata=True).siblings
    assert meta.etag == next(s.lfs.sha256 for s in sha if s.rfilename == "w.bin")
    url = hf_hub_url(repo, "w.bin", endpoint=api.endpoint)
    head = get_session().head(url)
    assert (
        head.headers["X-Linked-Size"] == str(len(lfs)) and head.headers["X-Repo-Commit"] != commit
    )
    partial = get_session().get(url, headers={"Range": "bytes=100-199"})
    assert partial.status_code == 206 and partial.content == lfs[100:200]
    assert partial.headers["Content-Range"] == f"bytes 100-199/{len(lfs)}"
    regular = get_session().head(hf_hub_url(repo, "r.txt", endpoint=api.endpoint))
    assert "X-Linked-Etag" not in regular.headers and regular.headers["Content-Length"] == "7"


def test_downloads_at_branch_tag_and_commit(api: HfApi, repo_name: str, tmp_path: Path) -> None:
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    first = api.upload_file(path_or_fileobj=b"one", path_in_repo="v.txt", repo_id=repo).oid
    api.create_tag(repo, tag="v1")
    api.create_branch(repo, branch="old")
    api.upload_file(path_or_fileobj=b"two", path_in_repo="v.txt", repo_id=repo)
    cache = tmp_path / "cache"

    def get(revision: str | None) -> bytes:
        return Path(
            hf_hub_download(
                repo,
                "v.txt",
                revision=revision,
                endpoint=api.endpoint,
                token=api.token,
                cache_dir=cache,
            )
        ).read_bytes()

    assert get(None) == b"two"
    assert get("v1") == b"one"
    assert get("old") == b"one"
    assert get(first) == b"one"
    assert get(first[:10]) == b"one"
    snapshot = Path(
        snapshot_download(
            repo, revision="v1", endpoint=api.endpoint, token=api.token, cache_dir=cache
        )
    )
    assert (snapshot / "v.txt").read_bytes() == b"one"
    with pytest.raises(RevisionNotFoundError):
        get("nope")
    with pytest.raises(RemoteEntryNotFoundError):
        hf_hub_download(
            repo, "missing.txt", endpoint=api.endpoint, token=api.token, cache_dir=cache
        )
    assert api.file_exists(repo, "v.txt") and not api.file_exists(repo, "missing.txt")
    assert not api.file_exists(repo, "v.txt", revision="nope")


def test_snapshot_download_fetches_every_file(api: HfApi, repo_name: str, tmp_path: Path) -> None:
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    folder = tmp_path / "src"
    (folder / "a" / "b").mkdir(parents=True)
    files = {"x.txt": b"x", "a/y.bin": os.urandom(9000), "a/b/z.json": b"{}"}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    api.upload_folder(folder_path=folder, repo_id=repo)
    out = Path(
        snapshot_download(repo, endpoint=api.endpoint, token=api.token, local_dir=tmp_path / "out")
    )
    for name, data in files.items():
        assert (out / name).read_bytes() == data


def test_unsafe_files_are_quarantined_listed_but_never_served(
    api: HfApi, repo_name: str, tmp_path: Path
) -> None:
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    data, marker = _unsafe_pickle(tmp_path)
    api.upload_file(path_or_fileobj=data, path_in_repo="model.pkl", repo_id=repo)
    info = api.model_info(repo, securityStatus=True)
    issues = {f["path"]: f for f in info.security_repo_status["filesWithIssues"]}
    assert issues["model.pkl"]["level"] == "unsafe" and issues["model.pkl"]["quarantined"]
    assert "model.pkl" in api.list_repo_files(repo)
    entry = next(e for e in api.list_repo_tree(repo) if e.path == "model.pkl")
    assert entry.security.status == "unsafe" and not entry.security.safe
    with pytest.raises(HfHubHTTPError) as error:
        hf_hub_download(
            repo, "model.pkl", endpoint=api.endpoint, token=api.token, cache_dir=tmp_path / "c"
        )
    assert error.value.response.status_code == 403
    message = error.value.response.headers["X-Error-Message"]
    assert "quarantined" in message and "unsafe" in message
    report = get_session().get(f"{api.endpoint}/api/models/{repo}/scan/main/model.pkl").json()
    assert report["status"] == "unsafe" and report["report"] and report["summary"] in message
    assert not marker.exists()


def test_every_pickle_import_is_listed_with_its_safety_as_huggingface_co_lists_them(
    api: HfApi, repo_name: str, tmp_path: Path
) -> None:
    import torch

    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    torch.save(torch.nn.Linear(2, 2).state_dict(), tmp_path / "model.pt")
    data, _ = _unsafe_pickle(tmp_path)
    api.upload_file(path_or_fileobj=tmp_path / "model.pt", path_in_repo="model.pt", repo_id=repo)
    api.upload_file(path_or_fileobj=data, path_in_repo="evil.pkl", repo_id=repo)
    api.upload_file(path_or_fileobj=b"{}", path_in_repo="config.json", repo_id=repo)

    tree = {entry.path: entry for entry in api.list_repo_tree(repo, expand=True)}
    checkpoint = tree["model.pt"].security["pickle_import_scan"]
    assert checkpoint["highestSafetyLevel"] == "innocuous"
    assert {"module": "torch._utils", "name": "_rebuild_tensor_v2", "safety": "innocuous"} in (
        checkpoint["imports"]
    )
    assert tree["config.json"].security["pickle_import_scan"] is None
    (evil,) = api.get_paths_info(repo, ["evil.pkl"], expand=True)
    dangerous = {"module": "posix", "name": "system", "safety": "dangerous"}
    assert evil.security["pickle_import_scan"] == {
        "highestSafetyLevel": "dangerous",
        "imports": [dangerous],
    }
    issues = api.model_info(repo, securityStatus=True).security_repo_status["filesWithIssues"]
    assert [issue["pickleImportScan"]["imports"] for issue in issues] == [[dangerous]]


def test_suspicious_files_are_served_with_a_warning_header(api: HfApi, repo_name: str) -> None:
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    api.upload_file(path_or_fileobj=SUSPICIOUS_PICKLE, path_in_repo="odd.pkl", repo_id=repo)
    response = get_session().get(hf_hub_url(repo, "odd.pkl", endpoint=api.endpoint))
    assert response.status_code == 200 and response.content == SUSPICIOUS_PICKLE
    assert response.headers["X-Modelyard-Scan"] == "suspicious"
    assert "odd.pkl is suspicious" in response.headers["X-HF-Warning"]
    safe = get_session().head(hf_hub_url(repo, ".gitattributes", endpoint=api.endpoint))
    assert safe.headers["X-Modelyard-Scan"] == "safe" and "X-HF-Warning" not in safe.headers


def test_code_is_judged_by_its_name_even_when_the_same_bytes_came_first_as_text(
    api: HfApi, repo_name: str
) -> None:
    """Blobs are stored by content, but ``trust_remote_code`` imports a file for its name."""
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    code = b"import subprocess\nsubprocess.run(['id'])\n"
    api.upload_file(path_or_fileobj=code, path_in_repo="notes.txt", repo_id=repo)
    api.upload_file(path_or_fileobj=code, path_in_repo="modeling_tiny.py", repo_id=repo)
    verdicts = {
        name: get_session()
        .head(hf_hub_url(repo, name, endpoint=api.endpoint))
        .headers["X-Modelyard-Scan"]
        for name in ("notes.txt", "modeling_tiny.py")
    }
    assert verdicts == {"notes.txt": "safe", "modeling_tiny.py": "suspicious"}
    issues = api.model_info(repo, securityStatus=True).security_repo_status["filesWithIssues"]
    assert [issue["path"] for issue in issues] == ["modeling_tiny.py"]


def test_onnx_external_data_is_the_models_data(api: HfApi, repo_name: str, tmp_path: Path) -> None:
    (tmp_path / "onnx").mkdir()
    save_onnx_with_external_data(tmp_path / "onnx" / "model.onnx", "model.onnx_data")
    (tmp_path / "stray.bin").write_bytes(bytes(range(64)))
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    api.upload_folder(folder_path=tmp_path, repo_id=repo)
    status = {
        name: get_session()
        .head(hf_hub_url(repo, name, endpoint=api.endpoint))
        .headers["X-Modelyard-Scan"]
        for name in ("onnx/model.onnx", "onnx/model.onnx_data", "stray.bin")
    }
    assert status == {
        "onnx/model.onnx": "safe",
        "onnx/model.onnx_data": "safe",
        "stray.bin": "error",
    }


def test_the_report_of_adopted_data_names_its_model(
    api: HfApi, repo_name: str, tmp_path: Path
) -> None:
    save_onnx_with_external_data(tmp_path / "model.onnx", "model.onnx_data")
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    api.upload_folder(folder_path=tmp_path, repo_id=repo)
    url = f"{api.endpoint}/api/models/{repo}/scan/main/model.onnx_data"
    answer = get_session().get(url).json()
    report = answer["report"]
    assert (answer["status"], "summary" in answer) == ("safe", False)
    assert report["verdict"] == "safe"
    assert {key: value for key, value in report["summary"].items() if key != "seconds"} == {
        "files": 1,
        "safe": 1,
        "suspicious": 0,
        "error": 0,
        "unsafe": 0,
    }
    assert report["files"] == [
        {
            "path": "<file>",
            "format": "tensor-data",
            "size": answer["size"],
            "verdict": "safe",
            "findings": [
                {
                    "rule_id": "MY-SCN-005",
                    "severity": "info",
                    "message": "read as raw tensor data by model.onnx",
                }
            ],
        }
    ]
