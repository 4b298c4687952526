"""Random and mutated input never crashes the scanner, never hangs it, and is never executed."""

from __future__ import annotations

import _compat_pickle
import contextlib
import gzip
import io
import pickle
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelyard.scan.engine import scan_stream
from modelyard.scan.formats.base import Stream
from modelyard.scan.options import ScanOptions
from modelyard.scan.report import FileResult, Finding
from modelyard.scan.rules import RULES

SEEDS = [
    pickle.dumps({"weights": [1.5, 2.5], "name": "m", "nested": ({1, 2}, b"\x00")}, protocol=p)
    for p in range(6)
]
SEEDS.append(b"cos\nsystem\n(S'true'\ntR.")
_archive = io.BytesIO()
with zipfile.ZipFile(_archive, "w") as _zip:
    _zip.writestr("archive/data.pkl", SEEDS[4])
    _zip.writestr("archive/version", b"3\n")
SEEDS.append(_archive.getvalue())
SEEDS.append(gzip.compress(SEEDS[2]))

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
OPTIONS = ScanOptions(max_decompressed_bytes=1 << 20, max_memo_index=1 << 16)


def judge(data: bytes) -> FileResult:
    findings: list[Finding] = []
    result = FileResult(path="fuzz", format="", findings=findings)
    result.format = scan_stream(Stream(data=data), OPTIONS, findings.append)
    return result


class StandIn:
    """What the recording unpickler returns for every global: accepts any use, runs nothing."""

    def __new__(cls, *args: object, **kwargs: object) -> StandIn:
        return super().__new__(cls)

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def __call__(self, *args: object, **kwargs: object) -> StandIn:
        return StandIn()

    def __setstate__(self, state: object) -> None:
        pass

    def __setitem__(self, key: object, value: object) -> None:
        pass

    def append(self, item: object) -> None:
        pass

    def extend(self, items: object) -> None:
        pass

    def add(self, item: object) -> None:
        pass


class RecordingUnpickler(pickle.Unpickler):
    """The real (C) unpickler, with every import replaced by ``StandIn``: which globals would a
    loader import, and in which order? Nothing from the data is imported or called."""

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data))
        self.imported: list[str] = []

    def find_class(self, module: str, name: str) -> type[StandIn]:
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        else:
            module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        if all(part.isidentifier() for part in module.split(".")):  # else the import fails
            self.imported.append(f"{module}.{name}")
        return StandIn

    def persistent_load(self, pid: object) -> StandIn:
        return StandIn()


def assert_sees_what_the_loader_imports(data: bytes) -> None:
    """Every global the real unpickler imports (before it stops) is judged by the scanner."""
    recorder = RecordingUnpickler(data)
    with contextlib.suppress(Exception):  # what the loader imported before it stopped counts
        recorder.load()
    if not recorder.imported:
        return
    result = judge(data)
    judged = {finding.subject for finding in result.findings}
    allowed = {name for name in recorder.imported if name in _ALLOWED_SEEN}
    missed = set(recorder.imported) - judged - allowed
    assert not missed, f"the loader imports {missed} but the scan ({result.format}) missed them"


# Globals in the seeds that the allow list accepts, so they have no finding of their own.
_ALLOWED_SEEN = {"builtins.set", "_codecs.encode", "builtins.frozenset"}


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if action == "flip" and data:
            data[position] = draw(st.integers(0, 255))
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete" and data:
            del data[position]
        elif action == "truncate":
            del data[position:]
    return bytes(data)


@pytest.mark.timeout(300)
@FUZZ
@given(st.binary(max_size=512))
def test_random_bytes(data):
    judge(data)
    assert_sees_what_the_loader_imports(b"\x80\x04" + data)


@pytest.mark.timeout(300)
@FUZZ
@given(mutated())
def test_mutated_models(data):
    result = judge(data)
    assert all(finding.rule_id in RULES for finding in result.findings)
    assert_sees_what_the_loader_imports(data)


@pytest.mark.timeout(300)
@FUZZ
@given(st.lists(st.sampled_from(list(b"()t]}aeslduN0124Kh\x85\x86\x87\x94q")), max_size=300))
def test_random_opcode_sequences(opcodes):
    """No global is ever imported here: whatever breaks, nothing may look dangerous."""
    assert judge(b"\x80\x04" + bytes(opcodes) + b".").verdict in ("safe", "error")
