"""The Xet protocol with the real huggingface_hub client and hf_xet: uploads, downloads,
scan-on-push, access rules, and refusal of corrupted xorbs and dangling shards."""

from __future__ import annotations

import io
import os
import pickle
import struct
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
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.utils import get_session

from bench.hub import CountingProxy
from modelyard.hub.server.xet.formats import read_shard
from modelyard.hub.server.xet.hashing import chunk_hash, file_hash, from_hex, merkle_hash, to_hex
from tests.hub.server.test_storage import kill_mid_upload


class _Touch:
    """Pickles to a call of os.system that creates a marker file (a harmless payload), padded
    past the regular-upload size so that it travels through Xet."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.marker} # {'x' * 5000}",))


def _token(hub_url: str, repo: str, kind: str, user_token: str | None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {user_token}"} if user_token else {}
    response = get_session().get(
        f"{hub_url}/api/models/{repo}/xet-{kind}-token/main", headers=headers
    )
    response.raise_for_status()
    return response.json()


def _cas(info: dict[str, str]) -> tuple[str, dict[str, str]]:
    return info["casUrl"], {"Authorization": f"Bearer {info['accessToken']}"}


def test_token_endpoints_answer_in_body_and_headers(api: HfApi, repo_name: str, hub) -> None:
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    for kind in ("read", "write"):
        response = get_session().get(
            f"{hub.url}/api/models/{repo}/xet-{kind}-token/main",
            headers={"Authorization": f"Bearer {api.token}"},
        )
        assert response.status_code == 200
        body = response.json()
        assert body["casUrl"] == response.headers["X-Xet-Cas-Url"]
        assert body["accessToken"] == response.headers["X-Xet-Access-Token"]
        assert str(body["exp"]) == response.headers["X-Xet-Token-Expiration"]
    pr = get_session().get(
        f"{hub.url}/api/models/{repo}/xet-write-token/main?create_pr=1",
        headers={"Authorization": f"Bearer {api.token}"},
    )
    assert pr.status_code == 200


def test_upload_file_then_download_through_xet_and_plain_http(
    api: HfApi, repo_name: str, tmp_path: Path
) -> None:
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    content = os.urandom(3 * 1024 * 1024) + bytes(1024 * 1024)
    (tmp_path / "weights.bin").write_bytes(content)
    api.upload_file(path_or_fileobj=tmp_path / "weights.bin", path_in_repo="w.bin", repo_id=repo)
    url = hf_hub_url(repo, "w.bin", endpoint=api.endpoint)
    metadata = get_hf_file_metadata(url, token=api.token)
    assert metadata.xet_file_data is not None
    tree = {entry.path: entry for entry in api.list_repo_tree(repo)}
    assert tree["w.bin"].xet_hash == metadata.xet_file_data.file_hash
    local = hf_hub_download(
        repo, "w.bin", endpoint=api.endpoint, token=api.token, cache_dir=tmp_path / "c"
    )
    assert Path(local).read_bytes() == content
    plain = get_session().get(url, headers={"Authorization": f"Bearer {api.token}"})
    assert plain.status_code == 200 and plain.content == content
    part = get_session().get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == content[100:200]


def test_upload_file_of_50_mb_through_xet_downloads_byte_identical(
    api: HfApi, repo_name: str, tmp_path: Path
) -> None:
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    weights = tmp_path / "weights.bin"
    weights.write_bytes(os.urandom(50 * 1024 * 1024))
    api.upload_file(path_or_fileobj=weights, path_in_repo="weights.bin", repo_id=repo)
    entry = next(e for e in api.list_repo_tree(repo) if e.path == "weights.bin")
    assert entry.xet_hash and entry.size == weights.stat().st_size
    local = hf_hub_download(
        repo, "weights.bin", endpoint=api.endpoint, token=api.token, cache_dir=tmp_path / "c"
    )
    assert Path(local).read_bytes() == weights.read_bytes()


def test_reconstruction_with_range_and_signed_xorb_fetches(api: HfApi, repo_name: str, hub) -> None:
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    content = os.urandom(700_000)
    api.upload_file(path_or_fileobj=content, path_in_repo="r.bin", repo_id=repo)
    file_id = get_hf_file_metadata(hf_hub_url(repo, "r.bin", endpoint=api.endpoint)).xet_file_data
    assert file_id is not None
    cas, auth = _cas(_token(hub.url, repo, "read", api.token))
    whole = get_session().get(f"{cas}/v1/reconstructions/{file_id.file_hash}", headers=auth)
    assert whole.status_code == 200
    plan = whole.json()
    assert plan["offset_into_first_range"] == 0
    assert sum(term["unpacked_length"] for term in plan["terms"]) == len(content)
    fetch = plan["fetch_info"][plan["terms"][0]["hash"]][0]
    span = fetch["url_range"]
    data = get_session().get(
        fetch["url"], headers={"Range": f"bytes={span['start']}-{span['end']}"}
    )
    assert data.status_code == 206 and len(data.content) == span["end"] - span["start"] + 1
    forged = get_session().get(fetch["url"].replace("sig=", "sig=0"))
    assert forged.status_code == 403
    v2 = get_session().get(f"{cas}/v2/reconstructions/{file_id.file_hash}", headers=auth).json()
    assert v2["terms"] == plan["terms"]
    first = v2["xorbs"][plan["terms"][0]["hash"]][0]
    assert first["ranges"][0] == {"chunks": fetch["range"], "bytes": span}
    ranged = (
        get_session()
        .get(
            f"{cas}/v1/reconstructions/{file_id.file_hash}",
            headers={**auth, "Range": "bytes=300000-300099"},
        )
        .json()
    )
    kept = sum(term["unpacked_length"] for term in ranged["terms"])
    assert 0 < kept < len(content) and ranged["offset_into_first_range"] < kept
    beyond = get_session().get(
        f"{cas}/v1/reconstructions/{file_id.file_hash}",
        headers={**auth, "Range": f"bytes={len(content)}-{len(content) + 5}"},
    )
    assert beyond.status_code == 416


def test_upload_folder_with_regular_and_xet_files_and_snapshot_download(
    api: HfApi, repo_name: str, tmp_path: Path
) -> None:
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    files = {
        "config.json": b'{"small": "regular upload"}',
        "a.bin": os.urandom(600_000),
        "sub/b.bin": os.urandom(1_200_000),
        "sub/c.safetensors": os.urandom(90_000),
    }
    for path, content in files.items():
        (folder / path).write_bytes(content)
    api.upload_folder(folder_path=folder, repo_id=repo)
    tree = {entry.path: entry for entry in api.list_repo_tree(repo, recursive=True)}
    assert tree["config.json"].xet_hash is None
    assert all(tree[path].xet_hash for path in ("a.bin", "sub/b.bin", "sub/c.safetensors"))
    local = Path(
        snapshot_download(repo, endpoint=api.endpoint, token=api.token, cache_dir=tmp_path / "c")
    )
    for path, content in files.items():
        assert (local / path).read_bytes() == content


def test_a_malicious_pickle_sent_through_xet_is_quarantined_and_never_served(
    api: HfApi, repo_name: str, hub, tmp_path: Path
) -> None:
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    marker = tmp_path / "payload-ran"
    data = pickle.dumps(_Touch(marker), protocol=2)
    assert len(data) > 2000  # above the tests' regular-upload size: it goes through Xet
    api.upload_file(path_or_fileobj=data, path_in_repo="model.pkl", repo_id=repo)
    entry = next(e for e in api.list_repo_tree(repo) if e.path == "model.pkl")
    assert entry.security.status == "unsafe" and entry.xet_hash
    with pytest.raises(HfHubHTTPError) as error:
        hf_hub_download(
            repo, "model.pkl", endpoint=api.endpoint, token=api.token, cache_dir=tmp_path / "c"
        )
    assert error.value.response.status_code == 403
    assert "quarantined" in error.value.response.headers["X-Error-Message"]
    cas, auth = _cas(_token(hub.url, repo, "read", api.token))
    plan = get_session().get(f"{cas}/v1/reconstructions/{entry.xet_hash}", headers=auth)
    assert plan.status_code == 403 and "quarantined" in plan.headers["X-Error-Message"]
    assert not marker.exists()


def test_tokens_obey_repository_access_rules(api: HfApi, repo_name: str, hub, tokens) -> None:
    repo = f"alice/{repo_name}"
    api.create_repo(repo, private=True)
    content = os.urandom(50_000)
    api.upload_file(path_or_fileobj=content, path_in_repo="secret.bin", repo_id=repo)
    url = f"{hub.url}/api/models/{repo}"
    for token in (tokens.bob, None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        assert get_session().get(f"{url}/xet-read-token/main", headers=headers).status_code == 404
    bob = {"Authorization": f"Bearer {tokens.bob}"}
    assert get_session().get(f"{url}/xet-write-token/main", headers=bob).status_code == 404
    public = f"alice/{repo_name}-public"
    api.create_repo(public)
    assert (
        get_session()
        .get(f"{hub.url}/api/models/{public}/xet-write-token/main", headers=bob)
        .status_code
        == 403
    )
    # A read token for another repository does not reconstruct this one's files.
    secret = (
        get_session()
        .get(
            f"{hub.url}/api/models/{repo}/tree/main",
            headers={"Authorization": f"Bearer {api.token}"},
        )
        .json()
    )
    xet_hash = next(item["xetHash"] for item in secret if item["path"] == "secret.bin")
    cas, auth = _cas(_token(hub.url, public, "read", tokens.bob))
    assert (
        get_session().get(f"{cas}/v1/reconstructions/{xet_hash}", headers=auth).status_code == 404
    )
    # A read token cannot upload, and no token at all cannot read.
    assert get_session().post(f"{cas}/v1/shards", headers=auth, content=b"").status_code == 403
    assert get_session().get(f"{cas}/v1/reconstructions/{xet_hash}").status_code == 401


_SHARD_HEADER = b"HFRepoMetaData\x00UigEj{\x81W\x83\xa5\xbd\xd9\\\xcd\xd1J\xa9" + struct.pack(
    "<QQ", 2, 200
)
_BOOKEND = b"\xff" * 32 + bytes(16)


def _xorb(chunks: list[bytes]) -> tuple[str, bytes]:
    """A footer-less serialized xorb of uncompressed chunks, and its hash."""
    body = b"".join(
        bytes([0]) + len(c).to_bytes(3, "little") + bytes([0]) + len(c).to_bytes(3, "little") + c
        for c in chunks
    )
    return to_hex(merkle_hash([(chunk_hash(c), len(c)) for c in chunks])), body


def test_a_corrupted_xorb_is_refused_and_a_valid_one_stored_once(
    api: HfApi, repo_name: str, hub
) -> None:
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    cas, auth = _cas(_token(hub.url, repo, "write", api.token))
    xorb, body = _xorb([os.urandom(5000), os.urandom(7000)])
    corrupted = bytearray(body)
    corrupted[100] ^= 0xFF
    refused = get_session().post(
        f"{cas}/v1/xorbs/default/{xorb}", headers=auth, content=bytes(corrupted)
    )
    assert refused.status_code == 400
    assert "corrupted" in refused.headers["X-Error-Message"]
    first = get_session().post(f"{cas}/v1/xorbs/default/{xorb}", headers=auth, content=body)
    assert first.status_code == 200 and first.json() == {"was_inserted": True}
    again = get_session().post(f"{cas}/v1/xorbs/default/{xorb}", headers=auth, content=body)
    assert again.status_code == 200 and again.json() == {"was_inserted": False}


def test_a_full_xorb_of_incompressible_chunks_is_accepted(api: HfApi, repo_name: str, hub) -> None:
    """64 MiB of chunk data is the protocol's limit; headers and footer come on top of it."""
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    cas, auth = _cas(_token(hub.url, repo, "write", api.token))
    xorb, body = _xorb([os.urandom(128 * 1024) for _ in range(512)])
    assert len(body) > 64 * 1024 * 1024
    stored = get_session().post(f"{cas}/v1/xorbs/default/{xorb}", headers=auth, content=body)
    assert stored.status_code == 200 and stored.json() == {"was_inserted": True}


def test_a_shard_naming_an_unknown_xorb_is_refused(api: HfApi, repo_name: str, hub) -> None:
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    cas, auth = _cas(_token(hub.url, repo, "write", api.token))
    unknown = os.urandom(32)
    shard = (
        _SHARD_HEADER
        + struct.pack("<32sIIQ", os.urandom(32), 0, 1, 0)
        + struct.pack("<32sIIII", unknown, 0, 5000, 0, 1)
        + _BOOKEND
        + _BOOKEND
    )
    refused = get_session().post(f"{cas}/v1/shards", headers=auth, content=shard)
    assert refused.status_code == 400
    message = refused.headers["X-Error-Message"]
    assert "not stored here" in message and to_hex(unknown) in message
    garbage = get_session().post(f"{cas}/v1/shards", headers=auth, content=b"not a shard" * 10)
    assert garbage.status_code == 400 and "shard" in garbage.headers["X-Error-Message"]


def test_the_dedup_lookup_answers_with_every_xorb_of_the_files_holding_the_chunk(
    api: HfApi, repo_name: str, hub
) -> None:
    """A client asks about few chunks of a file; the answer must cover the file's other xorbs
    too, or a multi-xorb file pushed again from another machine is mostly sent again."""
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    cas, auth = _cas(_token(hub.url, repo, "write", api.token))
    parts = [[os.urandom(9000) for _ in range(3)], [os.urandom(7000) for _ in range(2)]]
    xorbs = []
    for chunks in parts:
        xorb, body = _xorb(chunks)
        stored = get_session().post(f"{cas}/v1/xorbs/default/{xorb}", headers=auth, content=body)
        assert stored.status_code == 200
        xorbs.append(from_hex(xorb))
    hashed = [[(chunk_hash(c), len(c)) for c in chunks] for chunks in parts]
    digest = file_hash([pair for pairs in hashed for pair in pairs])
    shard = (
        _SHARD_HEADER
        + struct.pack("<32sIIQ", digest, 0, 2, 0)
        + b"".join(
            struct.pack("<32sIIII", xorb, 0, sum(n for _, n in pairs), 0, len(pairs))
            for xorb, pairs in zip(xorbs, hashed, strict=True)
        )
        + _BOOKEND
        + _BOOKEND
    )
    registered = get_session().post(f"{cas}/v1/shards", headers=auth, content=shard)
    assert registered.status_code == 200, registered.headers.get("X-Error-Message")
    for asked, pairs in enumerate(hashed):
        answer = get_session().get(
            f"{cas}/v1/chunks/default-merkledb/{to_hex(pairs[-1][0])}", headers=auth
        )
        assert answer.status_code == 200
        listed = read_shard(io.BytesIO(answer.content)).xorbs
        assert listed[0].hash == xorbs[asked]
        assert {x.hash for x in listed} == set(xorbs)
        assert [len(x.chunks) for x in listed] == [len(hashed[xorbs.index(x.hash)]) for x in listed]


def _upload_from_a_new_machine(endpoint: str, token: str, repo: str, path: Path) -> None:
    """Upload with a fresh client process and an empty Xet cache, as another machine would."""
    script = (
        "import sys\n"
        "from huggingface_hub import HfApi\n"
        "api = HfApi(endpoint=sys.argv[1], token=sys.argv[2])\n"
        "api.create_repo(sys.argv[3], exist_ok=True)\n"
        "api.upload_file(path_or_fileobj=sys.argv[4], path_in_repo='w.bin', repo_id=sys.argv[3])\n"
    )
    env = {**os.environ, "HF_XET_CACHE": str(path.parent / f"cache-{repo.replace('/', '-')}")}
    subprocess.run(
        [sys.executable, "-c", script, endpoint, token, repo, str(path)],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )


def test_content_stored_once_is_not_sent_again_from_another_machine(
    api: HfApi, repo_name: str, hub, tmp_path: Path
) -> None:
    weights = tmp_path / "weights.bin"
    weights.write_bytes(os.urandom(12 * 1024 * 1024))
    proxy = CountingProxy(hub.port)
    _upload_from_a_new_machine(proxy.endpoint, api.token, f"alice/{repo_name}", weights)
    first = proxy.sent
    assert first > weights.stat().st_size
    _upload_from_a_new_machine(proxy.endpoint, api.token, f"alice/{repo_name}-copy", weights)
    assert proxy.sent - first < weights.stat().st_size // 100
    local = hf_hub_download(
        f"alice/{repo_name}-copy",
        "w.bin",
        endpoint=api.endpoint,
        token=api.token,
        cache_dir=tmp_path / "c",
    )
    assert Path(local).read_bytes() == weights.read_bytes()


def test_kill_9_mid_xorb_upload_loses_no_commit_and_shows_no_partial_xorb(
    hub_factory, tmp_path: Path
) -> None:
    server = hub_factory()
    token = server.token("alice")
    api = HfApi(endpoint=server.url, token=token)
    repo = "alice/xet-crash"
    api.create_repo(repo)
    early = os.urandom(300_000)
    api.upload_file(path_or_fileobj=early, path_in_repo="early.bin", repo_id=repo)
    head = api.model_info(repo).sha
    cas, auth = _cas(_token(server.url, repo, "write", token))
    xorb, body = _xorb([os.urandom(64 * 1024) for _ in range(128)])
    url = f"{cas}/v1/xorbs/default/{xorb}"
    kill_mid_upload(
        server,
        lambda chunks: get_session().post(url, headers=auth, content=chunks),
        body,
        "xet-xorb-*.part",
    )
    assert xorb not in {p.name for p in (server.data_dir / "xet" / "xorbs").rglob("*")}

    restarted = hub_factory(server.data_dir)
    api = HfApi(endpoint=restarted.url, token=token)
    assert api.model_info(repo).sha == head
    local = hf_hub_download(
        repo, "early.bin", endpoint=restarted.url, token=token, cache_dir=tmp_path / "c"
    )
    assert Path(local).read_bytes() == early
    cas, auth = _cas(_token(restarted.url, repo, "write", token))
    retry = get_session().post(f"{cas}/v1/xorbs/default/{xorb}", headers=auth, content=body)
    assert retry.status_code == 200 and retry.json() == {"was_inserted": True}


def _stored_xorb_bytes(data_dir: Path) -> int:
    return sum(p.stat().st_size for p in (data_dir / "xet" / "xorbs").rglob("*") if p.is_file())


def test_a_second_commit_with_one_changed_tensor_sends_and_stores_only_its_chunks(
    api: HfApi, repo_name: str, hub, tmp_path: Path
) -> None:
    import numpy as np
    from safetensors.numpy import save_file

    tensor_bytes = 512 * 1024
    tensors = {
        f"layers.{n:02d}.weight": np.frombuffer(os.urandom(tensor_bytes), dtype=np.float32)
        for n in range(20)
    }
    model = tmp_path / "model.safetensors"
    save_file(tensors, str(model))
    repo = f"alice/{repo_name}"
    proxy = CountingProxy(hub.port)
    _upload_from_a_new_machine(proxy.endpoint, api.token, repo, model)
    assert proxy.sent > model.stat().st_size

    tensors["layers.10.weight"] = np.frombuffer(os.urandom(tensor_bytes), dtype=np.float32)
    save_file(tensors, str(model))
    sent, stored = proxy.sent, _stored_xorb_bytes(hub.data_dir)
    _upload_from_a_new_machine(proxy.endpoint, api.token, repo, model)
    # The changed tensor and at most a chunk (<= 128 KiB) either side of it, from a machine
    # with an empty Xet cache: the rest is found stored through the global dedup lookup.
    assert tensor_bytes < proxy.sent - sent < 2 * tensor_bytes
    assert tensor_bytes <= _stored_xorb_bytes(hub.data_dir) - stored < 2 * tensor_bytes
    local = hf_hub_download(
        repo, "w.bin", endpoint=api.endpoint, token=api.token, cache_dir=tmp_path / "c"
    )
    assert Path(local).read_bytes() == model.read_bytes()
