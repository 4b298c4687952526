"""CatBoost ``.cbm`` models: ``CBM1``, the size of the model core, then the core as a
FlatBuffer, read without CatBoost.

A CatBoost model holds trees, feature descriptions and training parameters; loading it runs
nothing. The core's tables and strings are checked so that a truncated or padded file is an
error rather than safe.
"""

from __future__ import annotations

import struct
from typing import ClassVar

from modelyard.scan import rules
from modelyard.scan.formats.base import ScanContext, Stream
from modelyard.scan.formats.flatbuffer import FlatbufferError, Table
from modelyard.scan.formats.signatures import CATBOOST_MAGIC

_FORMAT_VERSION = "FlabuffersModel_v1"  # sic: CatBoost's own spelling
# TModelCore: 0 FormatVersion, 1 ModelTrees, 2 InfoMap (TKeyValue: 0 Key, 1 Value),
# 3 ModelPartIds.


class CatboostReader:
    """CatBoost binary models (``save_model`` with the default ``cbm`` format)."""

    name: ClassVar[str] = "catboost"

    def sniff(self, head: bytes, stream: Stream) -> bool:
        return head[:4] == CATBOOST_MAGIC

    def scan(self, stream: Stream, ctx: ScanContext) -> None:
        data = memoryview(stream.data)
        try:
            if len(data) < 8:
                raise FlatbufferError("the file ends inside its header")
            (size,) = struct.unpack_from("<I", data, 4)
            if 8 + size > len(data):
                raise FlatbufferError(f"the core of {size} bytes runs past the end of the file")
            core = Table.root(data[8 : 8 + size])
            version = core.string(0)
            if version != _FORMAT_VERSION:
                raise FlatbufferError(f"core format {version!r}, not {_FORMAT_VERSION!r}")
            if core.table(1) is None:
                raise FlatbufferError("the core has no trees")
            for entry in core.tables(2):  # training parameters and metadata: strings in range
                for key_or_value in (0, 1):
                    entry.string(key_or_value)
            # Model parts (the CTR tables of categorical features) may follow the core.
            if not core.length(3, 4) and 8 + size != len(data):
                raise FlatbufferError(
                    f"{len(data) - 8 - size} bytes after the model core belong to nothing"
                )
        except FlatbufferError as error:
            ctx.report(rules.MALFORMED, f"CatBoost model: {error}")
