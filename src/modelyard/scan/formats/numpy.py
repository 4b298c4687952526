"""NumPy ``.npy`` arrays: numeric data is inert, object arrays are pickles in disguise."""

from __future__ import annotations

import ast
import re
import struct
from typing import Any, ClassVar

from modelyard.scan import rules
from modelyard.scan.formats.base import ScanContext, Stream
from modelyard.scan.formats.pickle import scan_pickles
from modelyard.scan.formats.signatures import NPY_MAGIC

_OBJECT_DESCR = re.compile(r"^[<>|=]?O\d*$")
_SIZED_DESCR = re.compile(r"^[<>|=]?([a-zA-Z?])(\d*)")


def _holds_objects(descr: Any) -> bool:
    if isinstance(descr, str):
        return bool(_OBJECT_DESCR.match(descr))
    if isinstance(descr, list | tuple):
        return any(_holds_objects(part) for part in descr)
    return False


class NumpyReader:
    """``.npy`` files, on their own or as members of an ``.npz`` archive."""

    name: ClassVar[str] = "numpy"

    def sniff(self, head: bytes, stream: Stream) -> bool:
        return head.startswith(NPY_MAGIC)

    def scan(self, stream: Stream, ctx: ScanContext) -> None:
        data = stream.data
        major = data[6] if len(data) > 7 else 0
        if major == 1:
            width, fmt, encoding = 2, "<H", "latin-1"
        elif major in (2, 3):
            width, fmt, encoding = 4, "<I", "latin-1" if major == 2 else "utf-8"
        else:
            ctx.report(rules.MALFORMED, f"unknown .npy format version {major}")
            return
        if len(data) < 8 + width:
            ctx.report(rules.MALFORMED, ".npy header is cut off")
            return
        (length,) = struct.unpack_from(fmt, data, 8)
        start = 8 + width + length
        try:
            header = ast.literal_eval(bytes(data[8 + width : start]).decode(encoding))
            descr = header["descr"]
            shape = tuple(header["shape"])
        except (ValueError, SyntaxError, KeyError, TypeError, UnicodeDecodeError) as error:
            ctx.report(rules.MALFORMED, f".npy header cannot be read: {error}")
            return
        if _holds_objects(descr):
            # numpy.load(allow_pickle=True) unpickles everything after the header.
            scan_pickles(memoryview(data)[start:], ctx)
            return
        match = _SIZED_DESCR.match(descr) if isinstance(descr, str) else None
        if match and match.group(2):
            count = 1
            for extent in shape:
                count *= extent
            needed = count * int(match.group(2)) * (4 if match.group(1) == "U" else 1)
            if len(data) - start < needed:
                ctx.report(
                    rules.MALFORMED, f".npy data is cut off ({len(data) - start} of {needed} bytes)"
                )
