"""The symbolic pickle machine, through hand-written opcode streams judged by ``scan``."""

from __future__ import annotations

import pickle
from collections import OrderedDict

import pytest

from tests.scan.conftest import rule_ids

# A protocol 4 prefix and the STACK_GLOBAL spelling of a global.
P4 = b"\x80\x04"


def unicode(text: str) -> bytes:
    raw = text.encode()
    return b"\x8c" + bytes([len(raw)]) + raw


def stack_global(module: str, name: str) -> bytes:
    return unicode(module) + unicode(name) + b"\x93"


CALL_WITH_STRING = unicode("echo") + b"\x85R."  # TUPLE1 REDUCE STOP


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_plain_data_is_safe_in_every_protocol(scan_bytes, protocol):
    data = {"weights": [1.5, -2, 3 << 70], "name": "model", "blob": b"\x00\x01", "set": {1, 2}}
    data["nested"] = (OrderedDict(a=1), frozenset({"x"}), None, True)
    result = scan_bytes(pickle.dumps(data, protocol=protocol))
    assert result.format == "pickle"
    assert result.verdict == "safe", result.findings


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_dangerous_global_in_every_protocol(scan_bytes, protocol):
    import os

    class Payload:
        def __reduce__(self):
            return (os.system, ("true",))

    result = scan_bytes(pickle.dumps(Payload(), protocol=protocol))
    assert result.verdict == "unsafe"
    assert [f.subject for f in result.findings if f.rule_id == "MY-PKL-001"] == ["posix.system"]


def test_python2_names_are_mapped_like_pickle_does(scan_bytes):
    result = scan_bytes(b"c__builtin__\neval\n(S'1'\ntR.")
    assert {f.subject for f in result.findings} == {"builtins.eval"}
    assert result.verdict == "unsafe"


def test_python2_names_are_not_mapped_from_protocol_3(scan_bytes):
    # Protocol 3+ loaders import ``__builtin__`` literally, which fails: not a gadget, but unknown.
    result = scan_bytes(b"\x80\x03c__builtin__\neval\n)R.")
    assert {f.subject for f in result.findings} == {"__builtin__.eval"}
    assert "MY-PKL-002" in rule_ids(result)


def test_stack_global_operands_from_the_memo(scan_bytes):
    stream = (
        P4
        + unicode("os")
        + b"\x94"  # MEMOIZE 0
        + unicode("system")
        + b"\x94"  # MEMOIZE 1
        + b"0"  # POP
        + b"0"  # POP
        + b"h\x00h\x01"  # BINGET 0, BINGET 1
        + b"\x93"
        + CALL_WITH_STRING
    )
    result = scan_bytes(stream)
    assert {f.subject for f in result.findings} == {"os.system"}
    assert result.verdict == "unsafe"


def test_stack_global_name_from_a_call_is_computed(scan_bytes):
    # name = str.lower("SYSTEM"): not a literal, so the imported global is chosen at load time.
    stream = (
        P4
        + unicode("os")
        + stack_global("builtins", "str")
        + unicode("SYSTEM")
        + b"\x85R"  # str("SYSTEM")
        + b"\x93"
        + CALL_WITH_STRING
    )
    result = scan_bytes(stream)
    assert "MY-PKL-004" in rule_ids(result)
    assert "MY-PKL-003" in rule_ids(result)  # then calling the unknown result
    assert result.verdict == "unsafe"


def test_call_on_the_result_of_a_call(scan_bytes):
    stream = P4 + stack_global("builtins", "dict") + b")R" + b")R."
    result = scan_bytes(stream)
    assert "MY-PKL-003" in rule_ids(result)


def test_dotted_name_reaching_a_dangerous_module(scan_bytes):
    stream = P4 + stack_global("collections", "os.system") + CALL_WITH_STRING
    result = scan_bytes(stream)
    finding = next(f for f in result.findings if f.rule_id == "MY-PKL-001")
    assert finding.subject == "collections.os.system"


def test_payload_in_the_second_pickle(scan_bytes):
    first = pickle.dumps([1, 2, 3], protocol=2)
    second = b"cos\nsystem\n(S'true'\ntR."
    result = scan_bytes(first + second)
    assert result.verdict == "unsafe"
    assert "MY-PKL-007" in rule_ids(result)


def test_truncated_after_the_call_is_judged_and_an_error(scan_bytes):
    result = scan_bytes(b"cos\nsystem\n(S'true'\ntR")
    assert {"MY-PKL-001", "MY-SCN-002"} <= rule_ids(result)
    assert result.verdict == "unsafe"


def test_truncated_safe_pickle_is_an_error_not_safe(scan_bytes):
    result = scan_bytes(pickle.dumps(list(range(100)), protocol=4)[:-5])
    assert result.verdict == "error"


def test_trailing_garbage_is_examined(scan_bytes):
    result = scan_bytes(pickle.dumps([1], protocol=4) + b"\xff\xfe\x00garbage")
    assert result.verdict == "error"
    assert "MY-SCN-002" in rule_ids(result)


def test_extension_registry_is_unsafe(scan_bytes):
    result = scan_bytes(P4 + b"\x82\x01" + CALL_WITH_STRING)
    assert "MY-PKL-005" in rule_ids(result)
    assert result.verdict == "unsafe"


def test_build_on_a_global(scan_bytes):
    stream = P4 + stack_global("collections", "OrderedDict") + b"}" + b"b."
    result = scan_bytes(stream)
    assert "MY-PKL-006" in rule_ids(result)


def test_inst_and_obj_are_calls(scan_bytes):
    assert scan_bytes(b"(S'true'\nios\nsystem\n.").verdict == "unsafe"
    obj = P4 + b"(" + stack_global("os", "system") + unicode("true") + b"o."
    assert scan_bytes(obj).verdict == "unsafe"


def test_bytes_given_to_a_nested_loader_are_scanned(scan_bytes):
    inner = b"cos\nsystem\n(S'true'\ntR."
    stream = P4 + stack_global("pickle", "loads") + b"C" + bytes([len(inner)]) + inner + b"\x85R."
    result = scan_bytes(stream)
    members = {f.member for f in result.findings if f.subject == "os.system"}
    assert members and all("pickle.loads" in member for member in members)


def test_codecs_encode_bytes_reach_the_nested_scan(scan_bytes):
    inner = "cos\nsystem\n(S'true'\ntR."
    stream = (
        b"\x80\x02"
        + b"cpickle\nloads\n"
        + b"c_codecs\nencode\n"
        + b"X"
        + len(inner).to_bytes(4, "little")
        + inner.encode()
        + b"X\x06\x00\x00\x00latin1\x86R\x85R."
    )
    result = scan_bytes(stream)
    assert any(f.subject == "os.system" for f in result.findings)


def test_memo_index_beyond_the_limit(scan_bytes):
    result = scan_bytes(P4 + b"N" + b"r\xff\xff\xff\x7f" + b".")
    assert "MY-SCN-003" in rule_ids(result)


def test_deep_marks_hit_the_limit(scan_bytes):
    result = scan_bytes(P4 + b"(" * 20_000)
    assert "MY-SCN-003" in rule_ids(result)


def test_unknown_global_is_suspicious(scan_bytes):
    result = scan_bytes(P4 + stack_global("mypackage.layers", "CustomLayer") + b")R.")
    assert result.verdict == "suspicious"
    assert rule_ids(result) == {"MY-PKL-002"}


def test_theano_pickle_has_its_own_rule(scan_bytes):
    # As pickle.dump of a Theano shared variable writes it: the variable, its type, its value.
    stream = (
        P4
        + stack_global("theano.tensor.sharedvar", "TensorSharedVariable")
        + stack_global("theano.tensor.type", "TensorType")
        + unicode("float64")
        + b"\x85R\x85R."  # TUPLE1 REDUCE TUPLE1 REDUCE STOP
    )
    result = scan_bytes(stream)
    assert result.verdict == "suspicious"
    assert rule_ids(result) == {"MY-PKL-008"}
    assert {f.subject for f in result.findings} == {
        "theano.tensor.sharedvar.TensorSharedVariable", "theano.tensor.type.TensorType",
    }  # fmt: skip
    assert "only Theano loads" in result.findings[0].message


def test_global_that_reaches_a_sink_names_the_path(scan_bytes):
    result = scan_bytes(P4 + stack_global("_osx_support", "_read_output") + CALL_WITH_STRING)
    assert result.verdict == "unsafe"
    finding = next(f for f in result.findings if f.rule_id == "MY-PKL-009")
    assert finding.subject == "_osx_support._read_output"
    assert finding.detail == "_osx_support._read_output → os.system"
    assert "reaches os.system" in finding.message
