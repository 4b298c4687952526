"""Caffe network definitions (``.prototxt``): a layer of ``type: "Python"`` makes Caffe import
the module named in its ``python_param`` and instantiate the class named there."""

from __future__ import annotations

import re
from typing import ClassVar

from modelyard.scan import rules
from modelyard.scan.formats.base import ScanContext, Stream
from modelyard.scan.pickle.values import Global
from modelyard.scan.policy import Judgement, judge
from modelyard.scan.report import Severity

_PYTHON_LAYER = re.compile(r"""\btype\s*:\s*["']Python["']""")
_PYTHON_PARAM = re.compile(r"\bpython_param\s*\{(?P<body>[^{}]*)\}")
_FIELD = re.compile(r"""\b(?P<key>module|layer)\s*:\s*["'](?P<value>[^"']*)["']""")
# Tokens of the protobuf text format; anything else means the file is not a prototxt.
_TOKEN = re.compile(
    r"""\s+|\#[^\n]*|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|[-+]?[\w.]+|[:{}<>\[\],;]"""
)

PYTHON_LAYER = rules.register(
    "MY-CAF-001",
    Severity.SUSPICIOUS,
    "Caffe Python layer",
    """The network definition has a layer of type "Python". When the net is built, Caffe
    imports the module named in python_param and instantiates the layer class from it, so that
    module's code runs. It may be a legitimate data or loss layer; make sure the module comes from
    a source you trust.""",
)


class CaffePrototxtReader:
    """Text network definitions named ``*.prototxt``."""

    name: ClassVar[str] = "caffe-prototxt"

    def sniff(self, head: bytes, stream: Stream) -> bool:
        return stream.name.endswith(".prototxt") and b"\0" not in head

    def scan(self, stream: Stream, ctx: ScanContext) -> None:
        raw = ctx.whole("prototxt")
        if raw is None:
            return
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            ctx.report(rules.MALFORMED, f"prototxt is not UTF-8 text: {error}")
            return
        problem = _syntax_error(text)
        if problem:
            ctx.report(rules.MALFORMED, f"not a Caffe prototxt: {problem}")
            return
        params = [dict(_FIELD.findall(match["body"])) for match in _PYTHON_PARAM.finditer(text)]
        if _PYTHON_LAYER.search(text) and not params:
            ctx.report(PYTHON_LAYER, "a Python layer without python_param")
        for fields in params:
            module, layer = fields.get("module", ""), fields.get("layer", "")
            qualname = f"{module}.{layer}"
            if judge(Global(module, layer)).judgement is Judgement.DENIED:
                ctx.report(
                    rules.DANGEROUS_GLOBAL,
                    f"a Python layer makes Caffe import {qualname}",
                    subject=qualname,
                )
            else:
                ctx.report(
                    PYTHON_LAYER, f"a Python layer imports {module} ({layer})", subject=qualname
                )


def _syntax_error(text: str) -> str | None:
    """Where the text breaks the protobuf text format's tokens or nesting, if it does."""
    depth = offset = 0
    while offset < len(text):
        token = _TOKEN.match(text, offset)
        if token is None:
            return f"unexpected {text[offset]!r} at character {offset}"
        depth += {"{": 1, "<": 1, "}": -1, ">": -1}.get(token.group(), 0)
        if depth < 0:
            return f"unmatched {token.group()!r} at character {offset}"
        offset = token.end()
    return "a block is never closed" if depth else None
