"""Every format reader, in the order the engine tries them: formats with a magic number first,
then those recognised by structure, then text. The first reader whose ``sniff`` says yes wins.

A reader's module is imported only when a stream reaches it in that order and fits its
``Signature`` (how the format's streams begin or are named), so a scan imports the readers its
files need and few others: a pickle needs the first one only.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from functools import cache
from typing import NamedTuple

from modelyard.scan.formats.base import Buffer, FormatReader, ScanContext, Stream
from modelyard.scan.formats.signatures import (
    CATBOOST_MAGIC,
    GGUF_MAGIC,
    LEGACY_PICKLE_FIRST,
    MSGPACK_MAPS,
    MXNET_PARAMS_MAGIC,
    NEMO_CONFIG_NAME,
    NPY_MAGIC,
    PARQUET_MAGIC,
    PICKLE_PROTO,
    TFLITE_IDENTIFIER,
    ZIP_END,
    ZIP_LOCAL,
    Signature,
    has_hdf5_signature,
    is_tar,
    may_be_compressed,
    opens_protobuf_message,
)


class RegisteredReader(NamedTuple):
    """A format reader by where it lives (class ``class_name`` in ``formats.<module>``) and what
    its streams look like (``None``: nothing short of its ``sniff`` tells)."""

    module: str
    class_name: str
    signature: Signature | None = None

    @cache  # noqa: B019 -- one reader per entry, kept for the life of the process
    def load(self) -> FormatReader:
        """The reader, its module imported on first use."""
        module = importlib.import_module(f"{__name__}.{self.module}")
        reader: FormatReader = getattr(module, self.class_name)()
        return reader


def _starting(*starts: bytes, at: int = 0) -> Signature:
    return Signature(starts, at=at)


def _testing(test: Callable[[Buffer], bool], *names: str) -> Signature:
    return Signature(names=names, test=test)


_JSON = _starting(b"{")
# The engine also reads an archive found behind other content with it.
ZIP_READER = RegisteredReader("zip", "ZipReader", _starting(ZIP_LOCAL, ZIP_END))

READERS: tuple[RegisteredReader, ...] = (
    # Magic numbers.
    RegisteredReader("pickle", "PickleReader", _starting(PICKLE_PROTO)),
    ZIP_READER,
    RegisteredReader("compressed", "CompressedReader", _testing(may_be_compressed)),
    RegisteredReader("numpy", "NumpyReader", _starting(NPY_MAGIC)),
    RegisteredReader("tar", "TarReader", _testing(is_tar)),
    RegisteredReader("keras", "Hdf5Reader", _testing(has_hdf5_signature)),
    RegisteredReader("data", "ParquetReader", _starting(PARQUET_MAGIC)),
    RegisteredReader("gguf", "GgufReader", _starting(GGUF_MAGIC)),
    RegisteredReader("mxnet", "MxnetParamsReader", _starting(MXNET_PARAMS_MAGIC)),
    RegisteredReader("tflite", "TfliteReader", _starting(TFLITE_IDENTIFIER, at=4)),
    RegisteredReader("catboost", "CatboostReader", _starting(CATBOOST_MAGIC)),
    # Recognised by structure: binary.
    # safetensors: a little-endian header length, then the header, a JSON object.
    RegisteredReader("data", "SafetensorsReader", _starting(b"{", at=8)),
    RegisteredReader("ubjson", "UbjsonReader", _JSON),
    RegisteredReader("msgpack", "MsgpackReader", Signature(MSGPACK_MAPS, names=(".msgpack",))),
    RegisteredReader("onnx", "OnnxReader", _testing(opens_protobuf_message, ".onnx")),
    RegisteredReader("coreml", "CoremlReader", _testing(opens_protobuf_message, ".mlmodel")),
    RegisteredReader("paddle", "PaddleProgramReader", _testing(opens_protobuf_message, ".pdmodel")),
    # Paddle parameters: a tensor's header starts with 16 zero bytes (versions, no LoD).
    RegisteredReader(
        "paddle", "PaddleParamsReader", Signature((bytes(16),), names=(".pdiparams",))
    ),
    RegisteredReader("savedmodel", "TensorflowReader", _testing(opens_protobuf_message, ".pb")),
    RegisteredReader(
        "pickle", "LegacyPickleReader", _starting(*(bytes([op]) for op in LEGACY_PICKLE_FIRST))
    ),
    # Text formats: those defined by a file name first.
    RegisteredReader("python_source", "PythonSourceReader", Signature(names=(".py",))),
    RegisteredReader("caffe", "CaffePrototxtReader", Signature(names=(".prototxt",))),
    RegisteredReader("nemo", "NemoConfigReader", Signature(names=(NEMO_CONFIG_NAME,))),
    RegisteredReader("mxnet", "MxnetSymbolReader", _JSON),
    RegisteredReader("keras", "KerasConfigReader", _JSON),
    RegisteredReader("openvino", "OpenvinoReader", _starting(b"<")),
    RegisteredReader("text", "TextReader"),
)


def candidates(stream: Stream, head: bytes) -> Iterator[FormatReader]:
    """The readers that may claim ``stream`` (whose first bytes are ``head``), in order, each
    imported when reached."""
    name = stream.name
    for entry in READERS:
        if entry.signature is None or entry.signature.admits(stream.data, head, name):
            yield entry.load()


# File-name endings some readers go by (Python source, Caffe prototxt, NeMo's configuration,
# and damaged ONNX, TensorFlow, Core ML, Paddle or MessagePack files, which have no magic
# number); content decides everything else.
NAMED_SUFFIXES = (
    ".py", ".prototxt", ".onnx", ".pb", ".mlmodel", ".pdmodel", ".pdiparams", ".msgpack",
    NEMO_CONFIG_NAME,
)  # fmt: skip


def named_suffix(file_name: str) -> str:
    """The ending of ``file_name`` that decides how it is read, or ``""`` if content alone does.

    The same bytes can get different verdicts under two names (a ``.py`` file is code that
    ``trust_remote_code`` imports; as ``.txt`` it is text), so results are kept per ending.
    """
    base = file_name.rsplit("/", 1)[-1]
    return next((suffix for suffix in NAMED_SUFFIXES if _named(base, suffix)), "")


def _named(base: str, suffix: str) -> bool:
    """An ending (``.onnx``) ends the name; a whole name (``model_config.yaml``) is the name."""
    return base.endswith(suffix) if suffix.startswith(".") else base == suffix


__all__ = [
    "NAMED_SUFFIXES",
    "READERS",
    "ZIP_READER",
    "FormatReader",
    "RegisteredReader",
    "ScanContext",
    "Signature",
    "Stream",
    "candidates",
    "named_suffix",
]
