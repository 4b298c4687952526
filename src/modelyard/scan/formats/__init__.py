"""Every format reader, in the order the engine tries them: formats with a magic number first,
then those recognised by structure, then text. The first reader whose ``sniff`` says yes wins."""

from __future__ import annotations

from modelyard.scan.formats.base import FormatReader, ScanContext, Stream
from modelyard.scan.formats.caffe import CaffePrototxtReader
from modelyard.scan.formats.catboost import CatboostReader
from modelyard.scan.formats.compressed import CompressedReader
from modelyard.scan.formats.coreml import CoremlReader
from modelyard.scan.formats.data import ParquetReader, SafetensorsReader
from modelyard.scan.formats.gguf import GgufReader
from modelyard.scan.formats.keras import Hdf5Reader, KerasConfigReader
from modelyard.scan.formats.msgpack import MsgpackReader
from modelyard.scan.formats.mxnet import MxnetParamsReader, MxnetSymbolReader
from modelyard.scan.formats.nemo import NemoConfigReader
from modelyard.scan.formats.numpy import NumpyReader
from modelyard.scan.formats.onnx import OnnxReader
from modelyard.scan.formats.openvino import OpenvinoReader
from modelyard.scan.formats.paddle import PaddleParamsReader, PaddleProgramReader
from modelyard.scan.formats.pickle import LegacyPickleReader, PickleReader
from modelyard.scan.formats.python_source import PythonSourceReader
from modelyard.scan.formats.savedmodel import TensorflowReader
from modelyard.scan.formats.tar import TarReader
from modelyard.scan.formats.text import TextReader
from modelyard.scan.formats.tflite import TfliteReader
from modelyard.scan.formats.ubjson import UbjsonReader
from modelyard.scan.formats.zip import ZipReader

READERS: list[FormatReader] = [
    # Magic numbers.
    PickleReader(),
    ZipReader(),
    CompressedReader(),
    NumpyReader(),
    TarReader(),
    Hdf5Reader(),
    ParquetReader(),
    GgufReader(),
    MxnetParamsReader(),
    TfliteReader(),
    CatboostReader(),
    # Recognised by structure: binary.
    SafetensorsReader(),
    UbjsonReader(),
    MsgpackReader(),
    OnnxReader(),
    CoremlReader(),
    PaddleProgramReader(),
    PaddleParamsReader(),
    TensorflowReader(),
    LegacyPickleReader(),
    # Text formats: those defined by a file name first.
    PythonSourceReader(),
    CaffePrototxtReader(),
    NemoConfigReader(),
    MxnetSymbolReader(),
    KerasConfigReader(),
    OpenvinoReader(),
    TextReader(),
]

# File-name endings some readers go by (Python source, Caffe prototxt, NeMo's configuration,
# and damaged ONNX, TensorFlow, Core ML, Paddle or MessagePack files, which have no magic
# number); content decides everything else.
NAMED_SUFFIXES = (
    ".py", ".prototxt", ".onnx", ".pb", ".mlmodel", ".pdmodel", ".pdiparams", ".msgpack",
    "model_config.yaml",
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


__all__ = ["NAMED_SUFFIXES", "READERS", "FormatReader", "ScanContext", "Stream", "named_suffix"]
