"""TensorFlow graphs: a SavedModel's ``saved_model.pb``, frozen ``.pb`` graphs and the
``keras_metadata.pb`` that Keras 2 writes beside them, read from the protobuf wire format
without TensorFlow.

A graph is data, but some of its operations act on the world when the graph runs: they read
and write files or call Python functions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import ClassVar

from modelyard.scan import rules
from modelyard.scan.formats import protobuf
from modelyard.scan.formats.base import Buffer, ScanContext, Stream
from modelyard.scan.formats.keras import judge_config
from modelyard.scan.report import Severity

# SavedModel: 1 schema version, 2 MetaGraphDef. MetaGraphDef: 2 GraphDef. GraphDef: 1 NodeDef,
# 2 FunctionDefLibrary (1 FunctionDef), 3 version, 4 versions. FunctionDef: 3 NodeDef.
# NodeDef: 1 name, 2 op. SavedMetadata (keras_metadata.pb): 1 SavedObject (4 identifier,
# 5 metadata JSON).
_OP_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_>.]*")
PYTHON_OPS = frozenset({"PyFunc", "PyFuncStateless", "EagerPyFunc"})
FILE_OPS = frozenset(
    """
    ReadFile WriteFile MatchingFiles ImmutableConst WholeFileReader WholeFileReaderV2
    TextLineReader TextLineReaderV2 FixedLengthRecordReader FixedLengthRecordReaderV2
    TFRecordReader TFRecordReaderV2 TextLineDataset TFRecordDataset FixedLengthRecordDataset
    CreateSummaryFileWriter CreateSummaryDbWriter DebugIdentityV2 DebugIdentityV3
    """.split()
)

PYTHON_OP = rules.register(
    "MY-TF-001",
    Severity.UNSAFE,
    "TensorFlow graph calls Python",
    """The graph contains a PyFunc, PyFuncStateless or EagerPyFunc operation (tf.py_function,
    tf.numpy_function). Running the graph calls a Python function of the loading process, which
    lets a model run arbitrary code in combination with code it ships; no plain model needs
    it.""",
)
FILE_OP = rules.register(
    "MY-TF-002",
    Severity.UNSAFE,
    "TensorFlow graph reads or writes files",
    """The graph contains an operation that reads, lists, maps or writes files (ReadFile,
    WriteFile, MatchingFiles, file readers and datasets, summary writers). Serving such a model
    lets it read secrets from the host or overwrite files whenever it runs. Inference graphs do
    not need these operations.""",
)


def _nodes(graph: Buffer) -> Iterator[memoryview]:
    yield from protobuf.messages(graph, 1)
    for library in protobuf.messages(graph, 2):
        for function in protobuf.messages(library, 1):
            yield from protobuf.messages(function, 3)


def _is_graph(data: Buffer) -> bool:
    nodes = 0
    for number, value in protobuf.fields(data):
        if number == 1 and isinstance(value, memoryview):
            if not _OP_NAME.fullmatch(protobuf.first_text(value, 2)):
                return False
            nodes += 1
        elif not ((number in (2, 4) and isinstance(value, memoryview)) or number == 3):
            return False
    return nodes > 0


def _is_saved_model(data: Buffer) -> bool:
    meta_graphs = 0
    for number, value in protobuf.fields(data):
        if number == 2 and isinstance(value, memoryview):
            for graph in protobuf.messages(value, 2):
                if not _is_graph(graph):
                    return False
            meta_graphs += 1
        elif not (number == 1 and isinstance(value, int)):
            return False
    return meta_graphs > 0


def _keras_objects(data: Buffer) -> list[memoryview]:
    objects = []
    for number, value in protobuf.fields(data):
        if number != 1 or not isinstance(value, memoryview):
            return []
        if not protobuf.first_text(value, 4).startswith("_tf_keras"):
            return []
        objects.append(value)
    return objects


def _structure(data: Buffer) -> str | None:
    """Which TensorFlow message the bytes hold, if any."""
    try:
        if _is_saved_model(data):
            return "tensorflow-savedmodel"
        if _keras_objects(data):
            return "keras-metadata"
        if _is_graph(data):
            return "tensorflow-graph"
    except protobuf.ProtobufError:
        return None
    return None


class TensorflowReader:
    """SavedModel protobufs, frozen GraphDefs and Keras SavedModel metadata.

    Protobuf has no magic number: the structure decides, and a ``.pb`` file that no other
    reader claimed is taken too, so that a damaged one is an error rather than text.
    """

    name: ClassVar[str] = "tensorflow"

    def sniff(self, head: bytes, stream: Stream) -> bool:
        return stream.name.endswith(".pb") or _structure(stream.data) is not None

    def scan(self, stream: Stream, ctx: ScanContext) -> None:
        kind = ctx.kind = _structure(stream.data)
        try:
            if kind is None:
                list(protobuf.fields(stream.data))
                ctx.report(rules.MALFORMED, "not a TensorFlow SavedModel, graph or Keras metadata")
            elif kind == "keras-metadata":
                _judge_keras_metadata(stream.data, ctx)
            else:
                _judge_graphs(stream.data, kind == "tensorflow-savedmodel", ctx)
            if kind == "tensorflow-savedmodel" and stream.disk_path is not None:
                for variables in (stream.disk_path.parent / "variables").glob("variables.*"):
                    if variables.name == "variables.index" or ".data-" in variables.name:
                        ctx.claim_data_file(f"variables/{variables.name}")
        except protobuf.ProtobufError as error:
            ctx.report(rules.MALFORMED, f"TensorFlow protobuf: {error}")


def _judge_graphs(data: Buffer, saved_model: bool, ctx: ScanContext) -> None:
    graphs = (
        [graph for meta in protobuf.messages(data, 2) for graph in protobuf.messages(meta, 2)]
        if saved_model
        else [data]
    )
    seen: set[tuple[str, str]] = set()
    for graph in graphs:
        for node in _nodes(graph):
            op, name = protobuf.first_text(node, 2), protobuf.first_text(node, 1)
            rule = PYTHON_OP if op in PYTHON_OPS else FILE_OP if op in FILE_OPS else None
            if rule and (op, name) not in seen:
                seen.add((op, name))
                ctx.report(rule, f"operation {name!r} is a {op}", subject=op)


def _judge_keras_metadata(data: Buffer, ctx: ScanContext) -> None:
    seen: set[tuple[str, str]] = set()
    for saved_object in _keras_objects(data):
        raw = protobuf.first_text(saved_object, 5)
        try:
            metadata = json.loads(raw) if raw else None
        except ValueError as error:
            ctx.report(rules.MALFORMED, f"Keras metadata is not valid JSON: {error}")
            continue
        if isinstance(metadata, dict):
            judge_config(metadata, ctx, "keras_metadata", seen)
