"""Every format reader, in the order the engine tries them: formats with a magic number first,
then those recognised by structure, then text. The first reader whose ``sniff`` says yes wins."""

from __future__ import annotations

from modelyard.scan.formats.base import FormatReader, ScanContext, Stream
from modelyard.scan.formats.compressed import CompressedReader
from modelyard.scan.formats.data import ParquetReader, SafetensorsReader
from modelyard.scan.formats.keras import Hdf5Reader, KerasConfigReader
from modelyard.scan.formats.numpy import NumpyReader
from modelyard.scan.formats.pickle import LegacyPickleReader, PickleReader
from modelyard.scan.formats.tar import TarReader
from modelyard.scan.formats.text import TextReader
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
    # Recognised by structure: binary.
    SafetensorsReader(),
    LegacyPickleReader(),
    # Text formats.
    KerasConfigReader(),
    TextReader(),
]

__all__ = ["READERS", "FormatReader", "ScanContext", "Stream"]
