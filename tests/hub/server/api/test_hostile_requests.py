"""Hostile requests against the live hub: every one ends in a clear 4xx JSON error, never a 500."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.utils import get_session

from modelyard.hub.server.api.limits import MAX_BODY_BYTES, MAX_JSON_DEPTH, nests_too_deep
from modelyard.hub.server.settings import GIB, format_size, parse_size

# 30 times Python's recursion limit, and small enough for a commit line on the test hub.
DEEP = b"[" * 30_000 + b"]" * 30_000
TOO_DEEP = b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1)
OID = "ab" * 32
TB = 1024 * GIB


def _endpoints(repo: str) -> list[tuple[str, str]]:
    """Every route that takes a body (method, path), including the web forms."""
    return [
        ("POST", "/api/repos/create"),
        ("DELETE", "/api/repos/delete"),
        ("POST", f"/api/models/{repo}/preupload/main"),
        ("POST", f"/api/models/{repo}/commit/main"),
        ("POST", f"/{repo}.git/info/lfs/objects/batch"),
        ("POST", f"/datasets/{repo}.git/info/lfs/objects/batch"),
        ("POST", f"/api/models/{repo}/paths-info/main"),
        ("POST", f"/api/models/{repo}/branch/hostile"),
        ("POST", f"/api/models/{repo}/tag/main"),
        ("POST", f"/api/lfs/complete/{OID}?size=1&expires=1&sig=x"),
        ("POST", f"/api/lfs/verify/{OID}"),
        ("POST", "/api/validate-yaml"),
        ("POST", "/login"),
        ("POST", "/settings/tokens"),
    ]


def _send(api: HfApi, method: str, path: str, body: object, **headers: str):  # type: ignore[no-untyped-def]
    return get_session().request(
        method,
        f"{api.endpoint}{path}",
        content=body,
        headers={
            "Authorization": f"Bearer {api.token}",
            "Content-Type": "application/json",
            **headers,
        },
    )


def _assert_error(response, status: int, *words: str) -> None:  # type: ignore[no-untyped-def]
    """The hub's error shape: the status, a JSON ``error`` and ``X-Error-Message`` naming it."""
    assert response.status_code == status, response.text
    message = response.json()["error"]
    assert response.headers["X-Error-Message"]
    for word in words:
        assert word in message, message


@pytest.fixture
def repo(api: HfApi, repo_name: str) -> str:
    repo_id = f"alice/{repo_name}"
    api.create_repo(repo_id, exist_ok=True)
    api.create_repo(repo_id, repo_type="dataset", exist_ok=True)
    return repo_id


BAD_BODIES = {
    "nested 30,000 deep": (DEEP, "levels deep"),
    "one level too deep": (TOO_DEEP, "levels deep"),
    "truncated": (b'{"files": [{"path": "a.bin", "si', "not valid JSON"),
    "not UTF-8": (b'{"name": "\xff\xfe"}', "not valid JSON"),
    "5000-digit integer": (b'{"size": ' + b"9" * 5000 + b"}", "not valid JSON"),
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_hostile_json_bodies_get_400_at_every_endpoint(api: HfApi, repo: str, case: str) -> None:
    body, problem = BAD_BODIES[case]
    for method, path in _endpoints(repo):
        content = body
        if "/commit/" in path:  # NDJSON: the hostile document is one line
            content = b'{"key": "header", "value": {"summary": "x"}}\n' + body + b"\n"
        response = _send(api, method, path, content)
        assert response.status_code == 400, (path, response.status_code, response.text)
        assert problem in response.json()["error"], (path, response.text)
    assert api.repo_exists(repo)
    assert [ref.name for ref in api.list_repo_refs(repo).branches] == ["main"]


def test_json_up_to_the_depth_limit_is_accepted(api: HfApi, repo_name: str) -> None:
    nested = "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1)
    body = f'{{"name": "{repo_name}", "extra": {nested}}}'.encode()
    response = _send(api, "POST", "/api/repos/create", body)
    assert response.status_code == 200, response.text
    assert api.repo_exists(f"alice/{repo_name}")


def test_json_depth_is_measured_outside_strings() -> None:
    assert not nests_too_deep(b'{"text": "' + b"[{" * 1000 + b'"}')
    assert not nests_too_deep(b'{"a": "\\"[[[[", "b": [1, [2]]}' * 1000)
    assert nests_too_deep(b'{"a": ' * (MAX_JSON_DEPTH + 1) + b"1" + b"}" * (MAX_JSON_DEPTH + 1))


def test_oversized_bodies_get_413_whether_declared_or_streamed(api: HfApi, repo: str) -> None:
    big = b'{"name": "' + b"x" * MAX_BODY_BYTES + b'"}'
    declared = _send(api, "POST", "/api/repos/create", big)
    _assert_error(declared, 413, "limit", "nothing was stored")

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer encoding
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    streamed = _send(api, "POST", f"/api/models/{repo}/preupload/main", chunks())
    _assert_error(streamed, 413, "limit")


def test_a_body_cut_short_creates_nothing_and_the_hub_keeps_serving(
    hub, api: HfApi, repo_name: str
) -> None:
    body = json.dumps({"name": repo_name}).encode()
    head = (
        "POST /api/repos/create HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {api.token}\r\nContent-Length: {len(body) + 100}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", hub.port), timeout=10) as sock:
        sock.sendall(head.encode() + body)
        sock.shutdown(socket.SHUT_WR)
        sock.recv(65536)  # the server closes (or answers 4xx); either way nothing is created
    assert not api.repo_exists(f"alice/{repo_name}")
    assert api.whoami()["name"] == "alice"


def test_a_truncated_commit_commits_nothing(api: HfApi, repo: str) -> None:
    head = api.model_info(repo).sha
    body = b'{"key": "header", "value": {"summary": "cut"}}\n{"key": "file", "value": {"path": "a'
    response = _send(api, "POST", f"/api/models/{repo}/commit/main", body)
    _assert_error(response, 400, "commit line", "not valid JSON")
    assert api.model_info(repo).sha == head


@pytest.mark.parametrize(
    "header", ["bytes=5-2", "bytes=abc", "bytes=", "items=0-1", "bytes=1000000-", "bytes=-0", "x"]
)
def test_invalid_ranges_get_416_with_the_file_size(api: HfApi, repo: str, header: str) -> None:
    api.upload_file(path_or_fileobj=b"0123456789", path_in_repo="ten.txt", repo_id=repo)
    url = f"{api.endpoint}/{repo}/resolve/main/ten.txt"
    response = get_session().get(url, headers={"Range": header})
    _assert_error(response, 416, "range")
    assert response.headers["Content-Range"] == "bytes */10"
    assert get_session().get(url, headers={"Range": "bytes=2-4"}).content == b"234"


def _raw_get(hub, path: str, token: str) -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    """GET ``path`` exactly as written: no client-side normalization of ``..`` or escapes."""
    connection = http.client.HTTPConnection("127.0.0.1", hub.port, timeout=30)
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@pytest.mark.parametrize(
    "tail",
    [
        "resolve/main/../../../../etc/passwd",
        "resolve/main/%2e%2e/%2e%2e/etc/passwd",
        "resolve/main/%2Fetc%2Fpasswd",
        "resolve/main//etc/passwd",
        "resolve/main/a%00b",
        "resolve/ma%00in/ten.txt",
        "resolve/..%2F..%2Fmain/ten.txt",
    ],
)
def test_path_tricks_in_file_urls_get_4xx_json(hub, api: HfApi, repo: str, tail: str) -> None:
    status, body = _raw_get(hub, f"/{repo}/{tail}", api.token)
    assert 400 <= status < 500 and body["error"], (status, body)


@pytest.mark.parametrize(
    "path",
    [
        "/api/models/alice/..%2F..%2Fetc",
        "/api/models/%2e%2e/passwd",
        "/api/models/alice/a%00b",
        "/api/models?search=a%00b",
        "/api/models/alice/x/tree/main/%2e%2e/%2e%2e",
        "/api/models?cursor=%C2%B2",
        "/api/models?cursor=" + "9" * 5000,
        "/no/such/route/at/all",
    ],
)
def test_path_tricks_in_repo_urls_get_4xx_json(hub, api: HfApi, path: str) -> None:
    status, body = _raw_get(hub, path, api.token)
    assert 400 <= status < 500 and body["error"], (status, body)


@pytest.mark.parametrize("name", ["..", "../x", "a\u0000b", "/abs", "x" * 200, "a/b"])
def test_tricky_repo_names_are_refused(api: HfApi, name: str) -> None:
    body = json.dumps({"name": name}).encode()
    _assert_error(_send(api, "POST", "/api/repos/create", body), 400)


def _blob_files(hub) -> list[Path]:  # type: ignore[no-untyped-def]
    return [path for path in (hub.data_dir / "blobs").rglob("*") if path.is_file()]


def test_huge_declared_sizes_get_413_and_no_upload_url(hub, api: HfApi, repo: str) -> None:
    blobs = _blob_files(hub)
    preupload = {"files": [{"path": "huge.bin", "size": TB, "sample": ""}]}
    response = _send(api, "POST", f"/api/models/{repo}/preupload/main", json.dumps(preupload))
    _assert_error(response, 413, "'huge.bin'", "1TB", format_size(400 * 1024 * 1024), "per file")
    batch = {
        "operation": "upload",
        "transfers": ["basic", "multipart"],
        "objects": [{"oid": "cd" * 32, "size": 10}, {"oid": OID, "size": TB}],
    }
    response = _send(api, "POST", f"/{repo}.git/info/lfs/objects/batch", json.dumps(batch))
    _assert_error(response, 413, OID, "per file")
    assert "objects" not in response.json()
    negative = {"operation": "upload", "objects": [{"oid": OID, "size": -1}]}
    response = _send(api, "POST", f"/{repo}.git/info/lfs/objects/batch", json.dumps(negative))
    _assert_error(response, 400, "invalid size")
    assert _blob_files(hub) == blobs


def _grant_upload(api: HfApi, repo: str, content: bytes) -> str:
    batch = {
        "operation": "upload",
        "objects": [{"oid": hashlib.sha256(content).hexdigest(), "size": len(content)}],
    }
    response = _send(api, "POST", f"/{repo}.git/info/lfs/objects/batch", json.dumps(batch))
    assert response.status_code == 200, response.text
    return str(response.json()["objects"][0]["actions"]["upload"]["href"])


def test_upload_bodies_beyond_the_granted_size_are_cut_off(hub, api: HfApi, repo: str) -> None:
    content = os.urandom(5000)
    url = _grant_upload(api, repo, content)
    declared = get_session().put(url, content=content + b"extra")
    _assert_error(declared, 413, "nothing was stored")

    def chunks() -> Iterator[bytes]:
        yield content
        yield b"extra"

    streamed = get_session().put(url, content=chunks())
    _assert_error(streamed, 413, "nothing was stored")
    sha256 = hashlib.sha256(content).hexdigest()
    assert not any(path.name == sha256 for path in _blob_files(hub))
    assert not any((hub.data_dir / "tmp").rglob("blob-*"))


def test_an_upload_over_max_file_size_fails_in_the_client_and_changes_nothing(
    hub_factory, cli, tmp_path: Path
) -> None:
    server = hub_factory(extra_args=["--max-file-size", "100KB"])
    api = HfApi(endpoint=server.url, token=server.token("alice"))
    api.create_repo("alice/limited")
    before = api.model_info("alice/limited").sha
    (tmp_path / "big.bin").write_bytes(os.urandom(150 * 1024))
    with pytest.raises(HfHubHTTPError) as raised:
        api.upload_file(
            path_or_fileobj=tmp_path / "big.bin", path_in_repo="big.bin", repo_id="alice/limited"
        )
    assert raised.value.response.status_code == 413
    assert "'big.bin' has 150KB" in str(raised.value)
    assert "limit of 100KB per file" in str(raised.value)
    assert "--max-file-size" in str(raised.value)
    assert api.model_info("alice/limited").sha == before
    assert api.list_repo_files("alice/limited") == [".gitattributes"]
    assert not any((server.data_dir / "tmp").rglob("blob-*"))


def test_max_repo_size_counts_each_distinct_file_once(hub_factory) -> None:
    server = hub_factory(extra_env={"MODELYARD_HUB_MAX_REPO_SIZE": "60KB"})
    api = HfApi(endpoint=server.url, token=server.token("alice"))
    api.create_repo("alice/quota")
    first = os.urandom(40 * 1024)
    api.upload_file(path_or_fileobj=first, path_in_repo="a.bin", repo_id="alice/quota")
    api.upload_file(path_or_fileobj=first, path_in_repo="copy.bin", repo_id="alice/quota")
    with pytest.raises(HfHubHTTPError) as raised:
        api.upload_file(
            path_or_fileobj=os.urandom(30 * 1024), path_in_repo="b.bin", repo_id="alice/quota"
        )
    assert raised.value.response.status_code == 413
    assert "limit of 60KB per repository" in str(raised.value)
    assert "--max-repo-size" in str(raised.value)
    assert sorted(api.list_repo_files("alice/quota")) == [".gitattributes", "a.bin", "copy.bin"]


def test_a_full_repo_gets_no_xet_write_token(hub_factory) -> None:
    """Nothing of a Xet upload reaches the CAS once the repo has no room left."""
    server = hub_factory(extra_env={"MODELYARD_HUB_MAX_REPO_SIZE": "200"})
    api = HfApi(endpoint=server.url, token=server.token("alice"))
    api.create_repo("alice/full")  # its .gitattributes alone (261 bytes) fills it
    token = get_session().get(
        f"{api.endpoint}/api/models/alice/full/xet-write-token/main",
        headers={"Authorization": f"Bearer {api.token}"},
    )
    _assert_error(token, 413, "limit of 200 bytes per repository")


def test_serve_help_states_the_limits_and_sizes_read_like_people_write_them(cli) -> None:
    result = cli("hub", "serve", "--help")
    assert result.returncode == 0
    for flag in ("--max-file-size", "--max-repo-size", "--max-concurrent-scans"):
        assert flag in result.stdout
    assert "50GB" in result.stdout and "300GB" in result.stdout
    assert parse_size("10GB") == 10 * GIB and parse_size("500mb") == 500 * 1024**2
    assert parse_size("1048576") == 1024**2 and format_size(50 * GIB) == "50GB"
    refused = cli("hub", "serve", "--max-file-size", "ten gigs")
    assert refused.returncode != 0 and "invalid size 'ten gigs'" in refused.stderr


def test_nul_characters_are_refused_on_every_database(api: HfApi, repo: str) -> None:
    head = api.model_info(repo).sha
    branch = json.dumps({"startingPoint": "ma\u0000in"})
    _assert_error(_send(api, "POST", f"/api/models/{repo}/branch/b", branch), 400, "NUL")
    header = json.dumps({"key": "header", "value": {"summary": "a\u0000b"}}).encode()
    commit = _send(api, "POST", f"/api/models/{repo}/commit/main", header + b"\n")
    _assert_error(commit, 400, "NUL")
    assert api.model_info(repo).sha == head
