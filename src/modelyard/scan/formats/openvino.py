"""OpenVINO IR: the ``.xml`` graph and the ``.bin`` weights beside it, read without OpenVINO.

The XML is parsed with expat and refused outright if it declares a document type or entities,
so no entity expansion (billion laughs) or external entity (file or network read) can happen.
A graph of standard operations only computes; a layer from any other operation set needs an
extension library (native code) loaded into the runtime.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import ClassVar
from xml.parsers import expat

from modelyard.scan import rules
from modelyard.scan.formats.base import ScanContext, Stream
from modelyard.scan.report import Severity

_STANDARD_OPSET = re.compile(r"opset\d+")
# Bits per element of the element types a Const layer can hold.
_ELEMENT_BITS = {"boolean": 8, "u1": 1, "u2": 2, "u3": 3, "u4": 4, "i4": 4, "nf4": 4, "f4e2m1": 4}
_ELEMENT_BITS |= {"u6": 6, "i8": 8, "u8": 8, "f8e4m3": 8, "f8e5m2": 8, "f8e8m0": 8}
_ELEMENT_BITS |= {"i16": 16, "u16": 16, "f16": 16, "bf16": 16, "i32": 32, "u32": 32, "f32": 32}
_ELEMENT_BITS |= {"i64": 64, "u64": 64, "f64": 64}

EXTENSION_LAYER = rules.register(
    "MY-OV-001",
    Severity.SUSPICIOUS,
    "OpenVINO layer from an extension",
    """A layer of the graph belongs to an operation set other than OpenVINO's own (opsetN).
    Running it needs an extension library registered with the runtime, which is native code
    that runs with your permissions; make sure it comes from a source you trust.""",
)
WEIGHTS_MISSING = rules.register(
    "MY-OV-002",
    Severity.ERROR,
    "OpenVINO weights file missing",
    """The graph has constants, but the weights file that OpenVINO reads with it (the .xml's
    name with .bin) is not beside it. OpenVINO cannot load the model, and its weights could not
    be checked.""",
)


class _Refused(Exception):
    """The XML declares a document type or entities."""


@dataclass
class _Layer:
    id: str
    name: str
    type: str
    version: str
    data: dict[str, str] = field(default_factory=dict)


@dataclass
class _Graph:
    root: str = ""
    layers: list[_Layer] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)


def _parse(raw: bytes) -> _Graph:
    """The layers and edges of an IR; raises ``expat.ExpatError`` or ``_Refused``."""
    graph = _Graph()
    depth = 0

    def refuse(*_: object) -> int:
        raise _Refused

    def start(tag: str, attributes: dict[str, str]) -> None:
        nonlocal depth
        depth += 1
        if depth == 1:
            graph.root = tag
        elif tag == "layer" and depth == 3:
            graph.layers.append(
                _Layer(
                    attributes.get("id", ""),
                    attributes.get("name", ""),
                    attributes.get("type", ""),
                    attributes.get("version", ""),
                )
            )
        elif tag == "data" and depth == 4 and graph.layers:
            graph.layers[-1].data = attributes
        elif tag == "edge" and depth == 3:
            graph.edges.append((attributes.get("from-layer", ""), attributes.get("to-layer", "")))

    def end(tag: str) -> None:
        nonlocal depth
        depth -= 1

    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.Parse(raw, True)
    return graph


class OpenvinoReader:
    """OpenVINO IR graphs (``<net>`` XML, versions 10 and 11)."""

    name: ClassVar[str] = "openvino"

    def sniff(self, head: bytes, stream: Stream) -> bool:
        start = bytes(stream.data[:1024]).lstrip(b"\xef\xbb\xbf \t\r\n")
        return start.startswith(b"<") and re.search(rb"<net\s", start) is not None

    def scan(self, stream: Stream, ctx: ScanContext) -> None:
        raw = ctx.whole("OpenVINO IR")
        if raw is None:
            return
        try:
            graph = _parse(raw)
        except _Refused:
            ctx.report(
                rules.MALFORMED,
                "OpenVINO IR declares a document type or entities; it was not expanded",
            )
            return
        except expat.ExpatError as error:
            ctx.report(rules.MALFORMED, f"OpenVINO IR is not well-formed XML: {error}")
            return
        if graph.root != "net":
            ctx.report(rules.MALFORMED, f"OpenVINO IR has root <{graph.root}>, not <net>")
            return
        ids = {layer.id for layer in graph.layers}
        for source, target in graph.edges:
            if source not in ids or target not in ids:
                ctx.report(rules.MALFORMED, f"an edge joins layers {source} and {target}")
                return
        for layer in graph.layers:
            if not _STANDARD_OPSET.fullmatch(layer.version):
                ctx.report(
                    EXTENSION_LAYER,
                    f"layer {layer.name!r} is a {layer.type} from {layer.version!r}",
                    subject=f"{layer.version}.{layer.type}",
                )
        constants = [layer for layer in graph.layers if layer.type == "Const"]
        if constants:
            _check_weights(constants, stream, ctx)


def _check_weights(constants: list[_Layer], stream: Stream, ctx: ScanContext) -> None:
    """Each constant's span lies inside the weights file and holds its shape."""
    weights = PurePosixPath(stream.name).with_suffix(".bin").name
    available = None
    if stream.disk_path is not None and stream.file_name is None:
        try:
            available = (stream.disk_path.parent / weights).stat().st_size
        except OSError:
            ctx.report(WEIGHTS_MISSING, f"{weights!r} is not beside the graph", subject=weights)
            return
    for layer in constants:
        problem = _constant_problem(layer.data, available)
        if problem:
            ctx.report(rules.MALFORMED, f"constant {layer.name!r} {problem}", subject=layer.name)
            return
    ctx.claim_data_file(weights)


def _constant_problem(data: dict[str, str], available: int | None) -> str | None:
    try:
        offset, size = int(data.get("offset", "")), int(data.get("size", ""))
        shape = [int(extent) for extent in data.get("shape", "").split(",") if extent.strip()]
    except ValueError:
        return f"has no valid offset, size and shape: {data}"
    if offset < 0 or size < 0 or any(extent < 0 for extent in shape):
        return f"has a negative offset, size or extent: {data}"
    bits = _ELEMENT_BITS.get(data.get("element_type", ""))
    if bits is not None and size != math.ceil(math.prod(shape) * bits / 8):
        return f"of shape {shape} and type {data.get('element_type')} does not take {size} bytes"
    if available is not None and offset + size > available:
        return f"({size} bytes at offset {offset}) runs past the end of the weights"
    return None
