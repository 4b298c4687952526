"""TensorFlow protobufs, built here with a wire-format encoder (TensorFlow is not installed):
plain graphs are safe, file and Python operations are unsafe, Keras metadata is judged."""

from __future__ import annotations

import json

import pytest

from modelyard.scan import scan
from modelyard.scan.formats.protobuf import ProtobufError, fields, integers
from tests.scan.conftest import rule_ids


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, value: int | bytes | str) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    raw = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(raw)) + raw


def _node(name: str, op: str, *inputs: str) -> bytes:
    return _field(1, name) + _field(2, op) + b"".join(_field(3, i) for i in inputs)


def _graph(*nodes: bytes, functions: tuple[bytes, ...] = ()) -> bytes:
    library = b"".join(
        _field(1, _field(1, _field(1, "fn")) + b"".join(_field(3, n) for n in nodes_))
        for nodes_ in [functions]
        if functions
    )
    body = b"".join(_field(1, n) for n in nodes)
    return body + (_field(2, library) if library else b"") + _field(4, _field(1, 1087))


def _saved_model(graph: bytes) -> bytes:
    return _field(1, 1) + _field(2, _field(2, graph))


PLAIN = _graph(
    _node("x", "Placeholder"),
    _node("w", "Const"),
    _node("y", "MatMul", "x", "w"),
    _node("save/SaveV2", "SaveV2"),
    _node("save/RestoreV2", "RestoreV2"),
)


def test_plain_graphs_are_safe(scan_bytes):
    for data, kind in ((PLAIN, "tensorflow-graph"), (_saved_model(PLAIN), "tensorflow-savedmodel")):
        result = scan_bytes(data, "saved_model.pb")
        assert (result.format, result.verdict, result.findings) == (kind, "safe", [])


@pytest.mark.parametrize(
    ("op", "rule"),
    [("ReadFile", "MY-TF-002"), ("WriteFile", "MY-TF-002"), ("MatchingFiles", "MY-TF-002"),
     ("PyFunc", "MY-TF-001"), ("EagerPyFunc", "MY-TF-001"), ("PyFuncStateless", "MY-TF-001")],
)  # fmt: skip
def test_dangerous_ops_are_unsafe_in_graphs_and_functions(scan_bytes, op, rule):
    in_graph = _saved_model(_graph(_node("x", "Placeholder"), _node("evil", op, "x")))
    in_function = _graph(_node("x", "Placeholder"), functions=(_node("evil", op),))
    for data in (in_graph, in_function):
        result = scan_bytes(data, "model.pb")
        assert result.verdict == "unsafe" and rule_ids(result) == {rule}


def test_keras_metadata_with_a_lambda_is_unsafe(scan_bytes):
    layer = {"class_name": "Lambda", "config": {"name": "l", "function_type": "lambda",
             "function": ["4wEAAAAAAAAA", None, None]}}  # fmt: skip
    dense = {"class_name": "Dense", "config": {"name": "d", "units": 2}}
    saved = _field(1, _field(4, "_tf_keras_layer") + _field(5, json.dumps(layer)))
    saved += _field(1, _field(4, "_tf_keras_layer") + _field(5, json.dumps(dense)))
    result = scan_bytes(saved, "keras_metadata.pb")
    assert result.format == "keras-metadata" and "MY-KER-001" in rule_ids(result)
    benign = _field(1, _field(4, "_tf_keras_layer") + _field(5, json.dumps(dense)))
    assert scan_bytes(benign, "keras_metadata.pb").verdict == "safe"


def test_wire_reader_rejects_truncated_data():
    data = _field(1, "abc") + _field(2, 300)
    assert [n for n, _ in fields(data)] == [1, 2]
    with pytest.raises(ProtobufError):
        list(fields(data[:3]))
    assert integers(_field(1, _varint(5) + _varint(2**64 - 1)), 1) == [5, -1]


def test_truncated_saved_model_is_not_claimed_as_safe(tmp_path):
    path = tmp_path / "saved_model.pb"
    path.write_bytes(_saved_model(PLAIN)[:-7])
    assert scan(path).files[0].verdict != "safe"


def test_a_saved_model_folder_is_safe_with_its_variables(tmp_path):
    """The checkpoint next to saved_model.pb is raw tensor data of that model."""
    (tmp_path / "variables").mkdir()
    (tmp_path / "saved_model.pb").write_bytes(_saved_model(PLAIN))
    (tmp_path / "variables" / "variables.index").write_bytes(b"\x00\x01" + bytes(40))
    (tmp_path / "variables" / "variables.data-00000-of-00001").write_bytes(bytes(range(64)))
    (tmp_path / "variables" / "stray.bin").write_bytes(bytes(range(64)))
    report = scan(tmp_path)
    verdicts = {r.path.rsplit("/", 1)[-1]: (r.format, str(r.verdict)) for r in report.files}
    assert verdicts == {
        "saved_model.pb": ("tensorflow-savedmodel", "safe"),
        "variables.index": ("tensor-data", "safe"),
        "variables.data-00000-of-00001": ("tensor-data", "safe"),
        "stray.bin": ("unknown", "error"),
    }
