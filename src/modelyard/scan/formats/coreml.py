"""Core ML models: ``.mlmodel`` files and the ``model.mlmodel`` inside an ``.mlpackage``, read
from the protobuf wire format without coremltools.

A Core ML model only computes, with two exceptions that need code shipped with the app: custom
models and custom neural-network layers name an Objective-C/Swift class that implements them.
A linked model loads another compiled model by name, and an ML program reads its weights from
files in the package, which must stay inside it.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import ClassVar

from modelyard.scan import rules
from modelyard.scan.formats import protobuf
from modelyard.scan.formats.base import Buffer, ScanContext, Stream
from modelyard.scan.report import Severity

# Model: 1 specificationVersion, 2 description, 10 isUpdatable, then one of the model types.
_TYPES = frozenset(
    {200, 201, 202, 300, 301, 302, 303, 304, 400, 401, 402, 403, 404, 500, 501, 502}
    | {555, 556, 560, 600, 601, 602, 603, 604, 606, 607, 609, 610, 900}
    | {2000, 2001, 2002, 2003, 2004, 2005, 2006, 3000}
)
_PIPELINES = {200: True, 201: True, 202: False}  # type -> whether the Pipeline is wrapped
_NEURAL_NETWORKS = frozenset({303, 403, 500})
_ML_PROGRAM, _CUSTOM_MODEL, _LINKED_MODEL = 502, 555, 556
# NeuralNetwork: 1 layers. NeuralNetworkLayer: 1 name, 500 custom (CustomLayerParams:
# 10 className). CustomModel: 10 className. LinkedModel: 1 LinkedModelFile (1 file name,
# 2 search path; StringParameter: 1 defaultValue). Pipeline: 1 models.
_CUSTOM_LAYER = 500
_CLASS_NAME = 10
# ML programs name their weight files relative to the model's folder in the package.
_BLOB_FILE = re.compile(rb"@model_path/([^\x00-\x1f\"]{1,1024})")

CUSTOM_CODE = rules.register(
    "MY-CML-001",
    Severity.SUSPICIOUS,
    "Core ML custom model or layer",
    """The model is a custom model, or its neural network has a custom layer. Core ML runs it by
    instantiating the Objective-C/Swift class it names, which must ship with the application; the
    model only works together with that code. Review where it comes from.""",
)
LINKED_MODEL = rules.register(
    "MY-CML-002",
    Severity.SUSPICIOUS,
    "Core ML linked model",
    """The model loads another compiled model by file name and search path when it runs. What
    that model does was not part of this scan; scan it too.""",
)
WEIGHTS_ESCAPE = rules.register(
    "MY-CML-003",
    Severity.UNSAFE,
    "Core ML weight file outside the package",
    """An ML program names a weight file that climbs out of the model package with '..'. Core ML
    would read a file of the host into the model's weights. Real packages keep their weights in
    weights/ beside the model.""",
)


def _model_type(data: Buffer) -> int | None:
    """The model type field of a Core ML ``Model``, or ``None`` if the bytes are not one."""
    found: int | None = None
    version = 0
    try:
        for number, value in protobuf.fields(data):
            if number == 1 and isinstance(value, int):
                version = value
            elif number in _TYPES and isinstance(value, memoryview) and found is None:
                found = number
            elif number not in (2, 10):
                return None
    except protobuf.ProtobufError:
        return None
    return found if 1 <= version <= 100 else None


class CoremlReader:
    """Core ML ``Model`` protobufs, and any ``.mlmodel`` file no earlier reader claimed (so that
    a damaged one is an error rather than text)."""

    name: ClassVar[str] = "coreml"

    def sniff(self, head: bytes, stream: Stream) -> bool:
        return stream.name.endswith(".mlmodel") or _model_type(stream.data) is not None

    def scan(self, stream: Stream, ctx: ScanContext) -> None:
        try:
            list(protobuf.fields(stream.data))  # names the first broken byte, if any
            _judge(stream.data, ctx, "model", 0)
        except protobuf.ProtobufError as error:
            ctx.report(rules.MALFORMED, f"Core ML protobuf: {error}")


def _judge(model: Buffer, ctx: ScanContext, where: str, depth: int) -> None:
    kind = _model_type(model)
    if kind is None:
        raise protobuf.ProtobufError(f"{where} is not a Core ML model")
    if depth > protobuf.MAX_DEPTH:
        raise protobuf.ProtobufError(f"{where} nests pipelines more than {protobuf.MAX_DEPTH} deep")
    body = next(protobuf.messages(model, kind))
    if kind == _CUSTOM_MODEL:
        name = protobuf.first_text(body, _CLASS_NAME)
        ctx.report(CUSTOM_CODE, f"{where} is the custom model class {name!r}", subject=name)
    elif kind == _LINKED_MODEL:
        link = next(protobuf.messages(body, 1), b"")
        file_name = "".join(protobuf.first_text(p, 1) for p in protobuf.messages(link, 1))
        ctx.report(LINKED_MODEL, f"{where} loads the model {file_name!r}", subject=file_name)
    elif kind in _NEURAL_NETWORKS:
        for layer in protobuf.messages(body, 1):
            for custom in protobuf.messages(layer, _CUSTOM_LAYER):
                name = protobuf.first_text(custom, _CLASS_NAME)
                layer_name = protobuf.first_text(layer, 1)
                ctx.report(CUSTOM_CODE, f"{where}: layer {layer_name!r} is {name!r}", subject=name)
    elif kind in _PIPELINES:
        pipeline = next(protobuf.messages(body, 1), b"") if _PIPELINES[kind] else body
        for index, inner in enumerate(protobuf.messages(pipeline, 1)):
            _judge(inner, ctx, f"{where} {index}", depth + 1)
    elif kind == _ML_PROGRAM:
        _weight_files(body, ctx)


def _weight_files(program: Buffer, ctx: ScanContext) -> None:
    for location in sorted({m.decode("utf-8", "replace") for m in _BLOB_FILE.findall(program)}):
        path = PurePosixPath(location)
        if path.is_absolute() or ".." in path.parts:
            ctx.report(
                WEIGHTS_ESCAPE, f"the program reads weights from {location!r}", subject=location
            )
        else:
            ctx.claim_data_file(location)
