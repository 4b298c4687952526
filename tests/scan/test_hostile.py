"""Input built to exhaust the scanner: every case ends in a clear verdict, never an exception.

Memory and time are measured in ``bench/scan.py --parts hostile``; here each case proves the
mechanism that bounds them (where decompression stopped, which limit was reported).
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import pickle
import re
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import lz4.frame
import numpy as np
import pytest

from modelyard.scan import FileResult, ScanOptions, scan
from tests.scan.conftest import rule_ids, zipped

EVIL = b"cos\nsystem\n(S'true'\ntR."
MiB = 1 << 20
# Small limits keep the cases quick; the mechanisms are the same at the defaults.
SMALL = ScanOptions(bomb_min_bytes=MiB, spill_bytes=MiB)


def zeros_pickle(size: int) -> bytes:
    """A valid pickle of ``size`` zero bytes: what a bomb that must parse looks like."""
    return pickle.dumps(b"\0" * size, protocol=4)


def zip_member(method: int) -> Callable[[bytes], bytes]:
    return lambda data: zipped({"archive/data.pkl": data}, method)


def joblib_zfile(data: bytes) -> bytes:
    """joblib < 0.10's zlib file: ``ZF``, the length in hex padded to 19 bytes, zlib data."""
    return b"ZF" + f"0x{len(data):x}".encode().ljust(19) + zlib.compress(data)


COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "bzip2": bz2.compress,
    "xz": lzma.compress,
    "lzma": lambda data: lzma.compress(data, format=lzma.FORMAT_ALONE),
    "zlib": zlib.compress,
    "lz4": lz4.frame.compress,
    "joblib-zlib": joblib_zfile,
    "zip-deflate": zip_member(zipfile.ZIP_DEFLATED),
    "zip-bzip2": zip_member(zipfile.ZIP_BZIP2),
    "zip-lzma": zip_member(zipfile.ZIP_LZMA),
}


def scan_data(tmp_path: Path, data: bytes, options: ScanOptions = SMALL) -> FileResult:
    path = tmp_path / "hostile.bin"
    path.write_bytes(data)
    return scan(path, options=options).files[0]


def stopped_at(result: FileResult) -> int:
    """How many bytes decompression had produced when the bomb rule stopped it."""
    (bomb,) = [f for f in result.findings if f.rule_id == "MY-ARC-004"]
    match = re.search(r"to ([\d,]+) bytes so far", bomb.message)
    assert match, bomb.message
    return int(match[1].replace(",", ""))


@pytest.mark.parametrize("compress", COMPRESSORS.values(), ids=COMPRESSORS.keys())
def test_every_compressor_stops_a_bomb_while_inflating(tmp_path, compress):
    result = scan_data(tmp_path, compress(zeros_pickle(64 * MiB)))
    assert result.verdict == "error"
    assert {"MY-ARC-004", "MY-SCN-003"} <= rule_ids(result)
    # Stopped within a few output chunks of the threshold, not after 64 MiB.
    assert stopped_at(result) <= 16 * MiB


@pytest.mark.parametrize("compress", COMPRESSORS.values(), ids=COMPRESSORS.keys())
def test_every_compressor_still_finds_what_it_wraps(tmp_path, compress):
    assert scan_data(tmp_path, compress(EVIL)).verdict == "unsafe"
    assert scan_data(tmp_path, compress(pickle.dumps({"w": [1.5, 2.5]}))).verdict == "safe"


def test_nested_bombs_stop_at_the_first_layer_that_explodes(tmp_path):
    inner = zipped({"archive/data.pkl": zeros_pickle(64 * MiB)})
    outer = gzip.compress(zipped({"model.pt": inner}, zipfile.ZIP_STORED))
    result = scan_data(tmp_path, outer)
    assert result.verdict == "error" and "MY-ARC-004" in rule_ids(result)
    assert stopped_at(result) <= 16 * MiB


def test_large_decompressed_data_spills_to_disk_and_is_scanned_whole(tmp_path):
    """Real data that compresses little goes through the spill file with the same verdicts."""
    rng = np.random.default_rng(0)
    weights = pickle.dumps({"w": rng.random(1_000_000)}, protocol=4)  # 8 MB
    assert scan_data(tmp_path, gzip.compress(weights)).verdict == "safe"
    hidden = weights[:-1] + b"0" + EVIL  # a second pickle after the large one
    result = scan_data(tmp_path, gzip.compress(hidden))
    assert result.verdict == "unsafe" and "MY-PKL-001" in rule_ids(result)


def test_large_stored_members_spill_too(tmp_path):
    data = pickle.dumps(np.ones(2 * MiB), protocol=2)[:-1] + b"0" + EVIL
    result = scan_data(tmp_path, zipped({"archive/data.pkl": data}, zipfile.ZIP_STORED))
    assert result.verdict == "unsafe"


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("nested marks", b"(" * 20_000 + b"."),
        ("nested lists", b"\x80\x04" + b"]" * 100_000 + b"a" * 99_999 + b"."),
        ("nested tuples", b"\x80\x04N" + b"\x85" * 200_000 + b"."),
        ("nested dicts", b"\x80\x04" + b"}" * 50_000 + b"N\x86" * 10 + b"."),
    ],
)
def test_deep_pickles_get_a_verdict(tmp_path, name, data):
    result = scan_data(tmp_path, data)
    assert result.verdict in ("safe", "error")
    assert all("could not finish" not in f.message for f in result.findings), name


@pytest.mark.parametrize(
    "data",
    [
        b"\x80\x04(" + b"N" * 6_000_000 + b"l.",  # one list of six million items
        b"\x80\x04N" + b"N\x86" * 6_000_000 + b".",  # pairs nested in pairs
        b"\x80\x04]" + b"]a" * 6_000_000 + b".",  # lists appended one by one
    ],
    ids=["list", "pairs", "appends"],
)
def test_wide_pickles_stop_at_the_value_limit(tmp_path, data):
    result = scan_data(tmp_path, data)
    assert result.verdict == "error"
    (limit,) = [f for f in result.findings if f.rule_id == "MY-SCN-003"]
    assert "max_pickle_values" in limit.message


@pytest.mark.parametrize(
    "data",
    [
        b"\x80\x04\x8e" + struct.pack("<Q", 2**63) + b"x.",  # BINBYTES8
        b"\x80\x04\x8d" + struct.pack("<Q", 2**62) + b"x.",  # BINUNICODE8
        b"\x80\x04\x95" + struct.pack("<Q", 2**60) + b"N.",  # FRAME
        b"\x80\x02B" + struct.pack("<I", 2**31) + b"x.",  # BINBYTES
        b"\x80\x02T" + struct.pack("<i", -5) + b"x.",  # BINSTRING, negative
        b"\x80\x02\x8b" + struct.pack("<i", 2**30) + b"x.",  # LONG4
    ],
    ids=["binbytes8", "binunicode8", "frame", "binbytes", "negative", "long4"],
)
def test_lying_length_fields_are_errors(tmp_path, data):
    result = scan_data(tmp_path, data)
    assert result.verdict == "error" and "MY-SCN-002" in rule_ids(result)


def test_a_zip_member_declaring_a_huge_size_is_not_inflated(tmp_path):
    data = bytearray(zipped({"archive/data.pkl": pickle.dumps(1)}))
    central = data.rfind(b"PK\x01\x02")
    struct.pack_into("<L", data, central + 24, 0xFFFFFFFE)  # uncompressed size: 4 GB
    result = scan_data(tmp_path, bytes(data), ScanOptions(max_decompressed_bytes=MiB))
    assert result.verdict == "error" and "MY-SCN-003" in rule_ids(result)


def test_a_tar_member_longer_than_the_archive_is_cut_off(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("model.pkl")
        info.size = len(EVIL)
        archive.addfile(info, io.BytesIO(EVIL))
    data = bytearray(buffer.getvalue())
    data[124:136] = b"%011o\0" % (1 << 30)  # declared size: 1 GB
    data[148:156] = b"        "
    data[148:155] = b"%06o\0" % sum(data[:512])
    result = scan_data(tmp_path, bytes(data[:2048]))
    assert any(f.rule_id == "MY-SCN-002" and "cut off" in f.message for f in result.findings)


def test_the_deadline_makes_a_slow_file_an_error(tmp_path):
    data = b"\x80\x04" + b"N0" * 200_000 + b"N."  # 400,000 opcodes: past one checkpoint
    result = scan_data(tmp_path, data, ScanOptions(timeout=0))
    assert result.verdict == "error" and rule_ids(result) == {"MY-SCN-006"}
    assert scan_data(tmp_path, data).verdict == "safe"


def test_the_deadline_reports_what_was_found_before_it(tmp_path):
    data = gzip.compress(zipped({f"m{i}.pkl": EVIL for i in range(3)}))
    result = scan_data(tmp_path, data, ScanOptions(timeout=0))
    assert result.verdict == "unsafe" or "MY-SCN-006" in rule_ids(result)
    assert result.verdict != "safe"


def test_text_formats_larger_than_the_limit_are_not_parsed(tmp_path):
    config = b'{"class_name": "Sequential", "config": {"layers": []}, "pad": "' + b"x" * MiB
    result = scan_data(tmp_path, config + b'"}', ScanOptions(max_text_bytes=MiB))
    assert result.verdict == "error" and "MY-SCN-003" in rule_ids(result)
