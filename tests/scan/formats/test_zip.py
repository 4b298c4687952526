"""Zip archives read like the loaders read them."""

from __future__ import annotations

import io
import os
import pickle
import struct
import zipfile

import pytest
import torch

from modelyard.scan import scan
from tests.scan.conftest import rule_ids, zipped

EVIL = b"cos\nsystem\n(S'true'\ntR."


def test_torch_checkpoint_is_safe_and_storages_are_skipped(tmp_path):
    path = tmp_path / "model.bin"
    torch.save({"layer": torch.nn.Linear(4, 2).state_dict(), "step": 3}, path)
    result = scan(path).files[0]
    assert (result.format, result.verdict) == ("pytorch", "safe")


def test_malicious_member_under_any_archive_name(scan_bytes):
    result = scan_bytes(zipped({"anything/data.pkl": EVIL, "anything/version": b"3\n"}))
    finding = next(f for f in result.findings if f.rule_id == "MY-PKL-001")
    assert finding.member == "anything/data.pkl"


def test_torch_records_are_scanned_unless_they_hold_only_a_record(scan_bytes):
    safe = pickle.dumps({"step": 1}, protocol=2)
    records = {"m/data.pkl": safe, "m/version": b"3\n", "m/byteorder": b"little"}
    assert scan_bytes(zipped(records)).verdict == "safe"
    for record in ("m/version", "m/byteorder", "m/.data/serialization_id"):
        result = scan_bytes(zipped({**records, record: EVIL}))
        assert [f.member for f in result.findings if f.rule_id == "MY-PKL-001"] == [record]


def test_stored_and_bzip2_members_are_read(scan_bytes):
    assert scan_bytes(zipped({"a.pkl": EVIL}, zipfile.ZIP_STORED)).verdict == "unsafe"
    assert scan_bytes(zipped({"a.pkl": EVIL}, zipfile.ZIP_BZIP2)).verdict == "unsafe"


def test_path_escape_and_duplicates(scan_bytes):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../../etc/evil", b"text\n")
        archive.writestr("twice.pkl", pickle.dumps(1))
        archive.writestr("twice.pkl", EVIL)
    result = scan_bytes(buffer.getvalue())
    assert {"MY-ARC-001", "MY-ARC-002", "MY-PKL-001"} <= rule_ids(result)


def test_local_name_differing_from_the_directory(scan_bytes):
    data = bytearray(zipped({"good.pkl": EVIL}, zipfile.ZIP_STORED))
    data[30:38] = b"evil.pkl"  # the local header's copy of the name
    result = scan_bytes(bytes(data))
    assert "MY-ARC-001" in rule_ids(result)
    assert result.verdict == "unsafe"


def test_prepended_data_is_tolerated(scan_bytes):
    # zipfile opens archives with a stub in front (self-extracting files).
    result = scan_bytes(b"#!/bin/sh\nexit 0\n" + zipped({"a.pkl": EVIL}))
    assert result.verdict in ("unsafe", "error")


def test_zip_without_directory_is_an_error(scan_bytes):
    data = zipped({"a.pkl": pickle.dumps(1)})
    cut = data[: data.rfind(b"PK\x01\x02")]
    assert scan_bytes(cut).verdict == "error"


def test_member_larger_than_the_budget(tmp_path):
    from modelyard.scan import ScanOptions

    path = tmp_path / "bomb.zip"
    path.write_bytes(zipped({"zeros": b"\0" * 5_000_000}))
    result = scan(path, options=ScanOptions(max_decompressed_bytes=1_000_000)).files[0]
    assert rule_ids(result) == {"MY-SCN-003"}


def test_zip64_records_are_followed(scan_bytes):
    data = zipped({"a.pkl": EVIL})
    end = data.rfind(b"PK\x05\x06")
    count, size, offset = struct.unpack_from("<2xHLL", data, end + 8)
    record = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, size, offset)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, end, 1)
    assert scan_bytes(data[:end] + record + locator + data[end:]).verdict == "unsafe"


def test_member_missing_from_the_directory_is_found(scan_bytes):
    visible = zipped({"visible.txt": b"hello\n"}, zipfile.ZIP_STORED)
    hidden = zipped({"hidden.pkl": EVIL}, zipfile.ZIP_STORED)
    hidden_local = hidden[: hidden.find(b"PK\x01\x02")]
    directory = visible.find(b"PK\x01\x02")
    # Splice the hidden member's local entry between the visible data and the directory.
    data = visible[:directory] + hidden_local + visible[directory:]
    end = data.rfind(b"PK\x05\x06")
    (offset,) = struct.unpack_from("<L", data, end + 16)
    data = data[: end + 16] + struct.pack("<L", offset + len(hidden_local)) + data[end + 20 :]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == ["visible.txt"]
    result = scan_bytes(data)
    assert "MY-ARC-001" in rule_ids(result)
    assert result.verdict == "unsafe"


def test_theano_pkl_utils_zip_is_arrays_beside_a_pickle_of_persistent_ids(scan_bytes):
    # theano.misc.pkl_utils.dump: the pickle names each array ("ndarray.W"), stored as NPY.
    import numpy as np

    class Persisted(pickle.Pickler):
        def persistent_id(self, obj):
            return "ndarray.W" if isinstance(obj, np.ndarray) else None

    weights = np.arange(6.0).reshape(2, 3)
    listing, array = io.BytesIO(), io.BytesIO()
    Persisted(listing, protocol=2).dump({"W": weights})
    np.lib.format.write_array(array, weights)
    data = zipped({"pkl": listing.getvalue(), "W": array.getvalue()})
    result = scan_bytes(data)
    assert (result.format, result.verdict) == ("theano-pkl-utils", "safe")
    assert np.array_equal(np.load(io.BytesIO(data))["W"], weights)

    shared = b"\x80\x02ctheano.tensor.sharedvar\nTensorSharedVariable\n)\x81}b."
    result = scan_bytes(zipped({"pkl": shared, "W": array.getvalue()}))
    assert result.verdict == "suspicious" and rule_ids(result) == {"MY-PKL-008"}


def test_record_names_are_matched_as_pytorch_matches_them(tmp_path):
    # PyTorch's reader (miniz) looks records up ignoring ASCII case: an upper-cased checkpoint
    # loads, so its storages are tensor bytes, not unknown content.
    from tests.scan.corpus.zip_parity import torch_zip_variants

    saved = io.BytesIO()
    torch.save({"weight": torch.arange(3.0)}, saved)
    name, data, _ = next(v for v in torch_zip_variants(saved.getvalue()) if "case" in v[0])
    path = tmp_path / name
    path.write_bytes(data)
    assert torch.equal(torch.load(path)["weight"], torch.arange(3.0))
    result = scan(path).files[0]
    assert (result.format, result.verdict) == ("pytorch", "safe")


class _Hook:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, ("true",))


@pytest.mark.parametrize("hook", [None, _Hook()], ids=["benign", "hostile"])
def test_member_flagged_encrypted_is_an_error_unless_its_bytes_are_unsafe(tmp_path, hook):
    # PyTorch refuses a pickle whose central directory entry says encrypted, as zipfile does;
    # the bytes are judged anyway, for readers that ignore the flag.
    saved = io.BytesIO()
    torch.save({"weight": torch.zeros(2), "hook": hook}, saved)
    data = bytearray(saved.getvalue())
    directory = data.find(b"PK\x01\x02")
    data[directory + 8] |= 0x1  # the encryption bit of data.pkl, in the central directory
    path = tmp_path / "encrypted.pt"
    path.write_bytes(bytes(data))
    with pytest.raises(RuntimeError, match="encryption"):
        torch.load(path)
    result = scan(path).files[0]
    assert result.verdict == ("error" if hook is None else "unsafe")
    assert "MY-SCN-002" in rule_ids(result)


def test_archive_behind_other_content_is_found_as_zipfile_finds_it(tmp_path):
    # PyTorch writes zip64 records; zipfile reads the one just before its locator, so it opens
    # a checkpoint behind a stub (or as a tar's last member), and so does the scanner.
    saved = io.BytesIO()
    torch.save({"weight": torch.zeros(2)}, saved)
    data = b"#!/bin/sh\nexit 0\n" + saved.getvalue()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.read("archive/data.pkl")
    path = tmp_path / "stub.bin"
    path.write_bytes(data)
    result = scan(path).files[0]
    assert (result.verdict, rule_ids(result)) == ("safe", {"MY-ARC-005"})
    evil = zipped({"archive/data.pkl": EVIL, "archive/version": b"3\n"})
    path.write_bytes(pickle.dumps([1.0]) + evil)  # a pickle whose file ends with a zip
    result = scan(path).files[0]
    assert result.verdict == "unsafe"
    assert next(f for f in result.findings if f.rule_id == "MY-PKL-001").member == (
        f"<zip archive at offset {len(pickle.dumps([1.0]))}>!archive/data.pkl"
    )
