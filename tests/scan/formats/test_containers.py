"""Compression, tar, NumPy and PyTorch's legacy formats."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import pickle
import tarfile
import zipfile
import zlib

import lz4.frame
import numpy as np
import pytest
import torch

from modelyard.scan import ScanOptions, scan
from tests.scan.conftest import rule_ids, zipped

EVIL = b"cos\nsystem\n(S'true'\ntR."


@pytest.mark.parametrize(
    "compress",
    [
        gzip.compress,
        bz2.compress,
        lzma.compress,
        zlib.compress,
        lz4.frame.compress,
        lambda data: lzma.compress(data, format=lzma.FORMAT_ALONE),
    ],
    ids=["gzip", "bzip2", "xz", "zlib", "lz4", "lzma"],
)
def test_every_compression_is_unwrapped(scan_bytes, compress):
    assert scan_bytes(compress(EVIL)).verdict == "unsafe"
    assert scan_bytes(compress(pickle.dumps({"a": 1}))).verdict == "safe"


def test_truncated_compression_scans_what_came_out(scan_bytes):
    data = gzip.compress(EVIL + b"\x00" * 100_000)
    result = scan_bytes(data[: len(data) // 2])
    assert "MY-SCN-002" in rule_ids(result)


def test_decompression_bomb_is_limited(tmp_path):
    path = tmp_path / "bomb.gz"
    path.write_bytes(gzip.compress(b"\0" * 10_000_000))
    result = scan(path, options=ScanOptions(max_decompressed_bytes=1_000_000)).files[0]
    assert "MY-SCN-003" in rule_ids(result)


BOMB_OPTIONS = ScanOptions(bomb_min_bytes=1 << 20)


BOMB_WRAPPERS = [gzip.compress, lambda data: zipped({"data.pkl": data})]


@pytest.mark.parametrize("wrap", BOMB_WRAPPERS, ids=["gzip", "zip"])
def test_expansion_ratio_of_a_bomb_stops_decompression(tmp_path, wrap):
    path = tmp_path / "model.bin"
    path.write_bytes(wrap(pickle.dumps(b"\0" * (4 << 20))))
    result = scan(path, options=BOMB_OPTIONS).files[0]
    assert result.verdict == "error" and {"MY-ARC-004", "MY-SCN-003"} <= rule_ids(result)
    assert "times, from" in result.findings[0].message
    assert "stopped there" in result.findings[0].message


@pytest.mark.parametrize("wrap", BOMB_WRAPPERS, ids=["gzip", "zip"])
def test_code_behind_a_bomb_fails_closed(tmp_path, wrap):
    """Bytes that compress a thousandfold hide a call the scan never reaches: never exit 0."""
    hidden = pickle.dumps(b"\0" * (4 << 20))[:-1] + b"0" + EVIL
    path = tmp_path / "model.bin"
    path.write_bytes(wrap(hidden))
    result = scan(path, options=BOMB_OPTIONS).files[0]
    assert result.verdict == "error"


def test_real_compressed_models_are_not_bombs(tmp_path):
    rng = np.random.default_rng(0)
    np.savez_compressed(tmp_path / "weights.npz", w=rng.random((512, 512)), b=np.zeros(512))
    with gzip.open(tmp_path / "model.pkl.gz", "wb") as handle:
        pickle.dump({"w": rng.random(300_000).tolist()}, handle)
    report = scan(tmp_path, options=BOMB_OPTIONS)
    assert [(r.verdict, r.findings) for r in report.files] == [("safe", [])] * 2


def test_the_budget_is_shared_by_nested_archives(tmp_path):
    """Each layer alone stays under the limit; together they exceed it, as nested bombs do."""
    inner = zipped({"data.pkl": pickle.dumps(b"\0" * 400_000)})
    path = tmp_path / "nested.zip"
    path.write_bytes(zipped({f"part{i}.zip": inner for i in range(4)}, zipfile.ZIP_STORED))
    limited = ScanOptions(max_decompressed_bytes=1_000_000)
    assert rule_ids(scan(path, options=limited).files[0]) == {"MY-SCN-003"}
    assert scan(path).files[0].verdict == "safe"


def test_stored_members_are_not_charged_to_the_budget(tmp_path):
    path = tmp_path / "weights.npz"
    np.savez(path, w=np.ones(1_000_000))
    result = scan(path, options=ScanOptions(max_decompressed_bytes=1_000)).files[0]
    assert (result.verdict, result.findings) == ("safe", [])


def test_tar_links_and_escapes(scan_bytes):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        link = tarfile.TarInfo("weights")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        archive.addfile(link)
        escape = tarfile.TarInfo("../evil.pkl")
        escape.size = len(EVIL)
        archive.addfile(escape, io.BytesIO(EVIL))
    result = scan_bytes(buffer.getvalue())
    assert {"MY-ARC-002", "MY-ARC-003", "MY-PKL-001"} <= rule_ids(result)


def test_numpy_numeric_and_object_arrays(tmp_path):
    np.save(tmp_path / "numbers.npy", np.arange(12.0).reshape(3, 4))
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}, None], dtype=object))
    np.savez(tmp_path / "bundle.npz", a=np.arange(3), b=np.array([[1, 2]], dtype=np.int8))
    verdicts = {r.path.rsplit("/", 1)[-1]: str(r.verdict) for r in scan(tmp_path).files}
    assert verdicts == {"numbers.npy": "safe", "objects.npy": "safe", "bundle.npz": "safe"}


def test_numpy_object_array_with_a_gadget(tmp_path):
    import os

    class Payload:
        def __reduce__(self):
            return (os.system, ("true",))

    np.save(tmp_path / "evil.npy", np.array([Payload()], dtype=object), allow_pickle=True)
    assert scan(tmp_path / "evil.npy").verdict == "unsafe"


def test_torch_legacy_format_is_read_to_the_end(tmp_path):
    path = tmp_path / "legacy.pt"
    torch.save(
        {"model": torch.nn.Linear(3, 2), "t": torch.zeros(4, dtype=torch.int64)},
        path,
        _use_new_zipfile_serialization=False,
    )
    result = scan(path).files[0]
    assert result.verdict == "safe", result.findings
    with path.open("ab") as handle:
        handle.write(EVIL)
    assert scan(path).verdict == "unsafe"
