"""Checks every registered format reader must pass, whatever its format."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import pickle
import tarfile
import zipfile
import zlib
from pathlib import Path

import h5py
import lz4.frame
import numpy as np
import pytest
import safetensors.numpy

from modelyard.scan.formats import READERS, ScanContext, Stream
from modelyard.scan.formats.base import FileState
from modelyard.scan.formats.text import TextReader
from modelyard.scan.options import ScanOptions
from modelyard.scan.report import Finding

GARBAGE = [
    b"\x00",
    b"\xff" * 64,
    bytes(range(256)) * 4,
    b"GGUF\x03\x00\x00\x00" + b"\xff" * 16,
    b"\x12\x01\x00\x00\x00\x00\x00\x00" + b"\x00" * 8 + b"\xff" * 8,
    b'{"nodes": [',
    b"\x08\x07\x3a\xff\xff\xff\xff\x0f",
    b"\x0a\x05\x0a\x01x\x12",
    b"{U\x05learn",
    b"\x81\xa6params\xc7",
    b"\xff\xff\x00\x00TFL3\x00\x00",
    bytes(16) + b"\x04\x00\x00\x00\x08\x05\x10\x01" + bytes(4) + b"\xff",
    b'<?xml version="1.0"?>\n<net name="x" version="11"><layers>',
    b"CBM1\x10\x00\x00\x00\x08\x00\x00\x00",
]


NAMES = ["sample.bin", "model.onnx", "saved_model.pb", "hubconf.py", "deploy.prototxt"]
NAMES += ["model.mlmodel", "inference.pdmodel", "inference.pdiparams", "flax_model.msgpack"]
# Every (reader, garbage, name) that the reader claims. Plain text is left out: for it any
# content is valid (and inert).
CLAIMED = [
    pytest.param(reader, data, name, id=f"{type(reader).__name__}-{index}-{name}")
    for reader in (entry.load() for entry in READERS)
    if not isinstance(reader, TextReader)
    for index, data in enumerate(GARBAGE)
    for name in NAMES
    if reader.sniff(data[:64], Stream(data=data, member=name))
]


def test_garbage_reaches_the_readers_that_take_names_or_weak_magic():
    claimed = {case.values[0].name for case in CLAIMED}
    assert claimed >= {"gguf", "mxnet-params", "onnx", "tensorflow", "python", "caffe-prototxt"}
    assert claimed >= {"ubjson", "msgpack", "tflite", "paddle-params", "openvino"}
    assert claimed >= {"coreml", "paddle-program", "catboost"}


@pytest.mark.parametrize(("reader", "data", "name"), CLAIMED)
def test_garbage_never_raises_and_is_never_safe(reader, data, name):
    """A reader that claims garbage reports an error; it never raises or stays silent."""
    findings: list[Finding] = []
    nested: list[Stream] = []

    def dispatch(stream: Stream, parent: ScanContext) -> str:
        nested.append(stream)
        return "recorded"

    stream = Stream(data=data, member=name)
    options = ScanOptions()
    state = FileState(budget=options.max_decompressed_bytes)
    reader.scan(stream, ScanContext(options, stream, findings.append, dispatch, state))
    assert findings or nested, f"{type(reader).__name__} claimed garbage and found nothing"


FIXTURES = Path(__file__).parent / "fixtures"


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps([1]))
    return buffer.getvalue()


def _npy() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.arange(3))
    return buffer.getvalue()


def _tar(ustar: bool) -> bytes:
    """A tar archive; without ``ustar``'s magic, a pre-POSIX one known by its checksum only."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        member = tarfile.TarInfo("archive/data.pkl")
        member.size = 4
        archive.addfile(member, io.BytesIO(b"\x80\x04N."))
    header = bytearray(buffer.getvalue())
    if not ustar:
        header[257:265] = bytes(8)
        header[148:156] = b" " * 8
        header[148:156] = b"%06o\0 " % sum(header[:512])
    return bytes(header)


def _hdf5() -> bytes:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w", userblock_size=512) as file:
        file["weights"] = np.arange(3)
    return buffer.getvalue()


COMPRESSED = [
    gzip.compress(b"\x80\x04N."),
    bz2.compress(b"\x80\x04N."),
    lzma.compress(b"\x80\x04N."),
    lzma.compress(b"\x80\x04N.", format=lzma.FORMAT_ALONE),
    lz4.frame.compress(b"\x80\x04N."),
    zlib.compress(b"\x80\x04N.", level=1),
    zlib.compress(b"\x80\x04N.", level=9),
]


# Streams of every signed format, some starting with what a signature must look past.
SIGNED_SAMPLES = [
    *[(pickle.dumps({"a": [1.5]}, protocol=protocol), "model.pkl") for protocol in range(6)],
    (_zip(), "model.pt"),
    (_npy(), "array.npy"),
    (b"PAR1" + bytes(8) + b"PAR1", "table.parquet"),
    *[(data, "model.joblib") for data in COMPRESSED],
    (_tar(ustar=True), "model.tar"),
    (_tar(ustar=False), "model.tar"),
    (_hdf5(), "model.h5"),
    (safetensors.numpy.save({"weight": np.zeros(2, dtype=np.float32)}), "model.safetensors"),
    (b'\n  {"class_name": "Sequential", "config": {"layers": []}}', "config.json"),
    (b'\r\n {"nodes": [], "arg_nodes": [], "heads": []}', "model-symbol.json"),
    (b'\xef\xbb\xbf<?xml version="1.0"?>\n<net name="x" version="11"><layers/></net>', "m.xml"),
    (b" \n\t" * 40 + b'<net name="x" version="11"><layers/></net>', "model.xml"),
    (b"import os\n", "hubconf.py"),
    (b'layer { name: "x" type: "Python" }', "deploy.prototxt"),
    (b"_target_: os.system\n", "model_config.yaml"),
]
SAMPLES = [
    *[(data, name) for data in GARBAGE for name in NAMES],
    *SIGNED_SAMPLES,
    *[(path.read_bytes(), path.name) for path in sorted(FIXTURES.rglob("*")) if path.is_file()],
]


@pytest.mark.parametrize(
    "entry", [entry for entry in READERS if entry.signature], ids=lambda entry: entry.class_name
)
def test_a_signature_admits_every_stream_its_reader_claims(entry):
    """The engine passes a stream by a reader whose signature does not admit it, without
    importing the reader: the signature must never hide a stream the reader would claim."""
    reader = entry.load()
    claimed = 0
    for data, name in SAMPLES:
        if reader.sniff(data[:64], Stream(data=data, member=name)):
            claimed += 1
            assert entry.signature.admits(data, data[:64], name), f"{name}: {data[:16]!r}"
    assert claimed, f"no sample of {entry.class_name}'s format"
