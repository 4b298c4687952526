"""Pickle streams: raw pickles of any protocol, several in a row, and PyTorch's legacy format."""

from __future__ import annotations

import struct
from typing import Any, ClassVar

from modelyard.scan import rules
from modelyard.scan.formats.base import Buffer, ScanContext, Stream
from modelyard.scan.options import ScanOptions
from modelyard.scan.pickle.values import Global, describe
from modelyard.scan.pickle.vm import Machine, PickleBreak, PickleLimit, Trace
from modelyard.scan.policy import Judgement, judge

# ``torch.save(..., _use_new_zipfile_serialization=False)`` starts with this number, pickled.
TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
# Opcodes that can begin a protocol 0 or 1 pickle (which has no PROTO header).
_LEGACY_FIRST_OPCODES = frozenset(b"(cNIJKLMFGSTUVX]})lditpgPQ")

_TORCH_ELEMENT_SIZES = {
    "Double": 8, "Float": 4, "Half": 2, "BFloat16": 2, "Long": 8, "Int": 4, "Short": 2,
    "Char": 1, "Byte": 1, "Bool": 1, "ComplexDouble": 16, "ComplexFloat": 8, "QInt8": 1,
    "QUInt8": 1, "QInt32": 4, "QUInt4x2": 1, "QUInt2x4": 1, "Untyped": 1,
}  # fmt: skip


def judge_trace(trace: Trace, ctx: ScanContext) -> None:
    """Turn what the machine saw into findings (and scan bytes handed to nested loaders)."""
    reported: set[str] = set()
    for event in trace.events:
        if event.kind == "global":
            found: Global = event.subject
            if found.qualname in reported:
                continue
            reported.add(found.qualname)
            decision = judge(found)
            if decision.judgement is Judgement.DENIED:
                ctx.report(
                    rules.DANGEROUS_GLOBAL,
                    f"imports {found.qualname}, which {decision.reason}",
                    offset=event.offset,
                    subject=found.qualname,
                )
            elif decision.judgement is Judgement.UNKNOWN:
                why = f" ({decision.reason})" if decision.reason else ""
                ctx.report(
                    rules.UNKNOWN_GLOBAL,
                    f"imports {found.qualname}, which is not on the allow list{why}",
                    offset=event.offset,
                    subject=found.qualname,
                )
        elif event.kind == "computed-call":
            ctx.report(
                rules.COMPUTED_CALL,
                f"{event.detail} calls {describe(event.subject)}",
                offset=event.offset,
                subject=describe(event.subject),
            )
        elif event.kind == "computed-global":
            module, name = event.subject
            ctx.report(
                rules.COMPUTED_GLOBAL_NAME,
                f"STACK_GLOBAL imports a name computed at load time "
                f"(module: {describe(module)}, name: {describe(name)})",
                offset=event.offset,
            )
        elif event.kind == "ext":
            ctx.report(
                rules.EXTENSION_REGISTRY,
                "imports whatever the loading process registered as extension code "
                f"{event.subject}",
                offset=event.offset,
                subject=f"EXT {event.subject}",
            )
        elif event.kind == "build-on-global":
            ctx.report(
                rules.BUILD_ON_GLOBAL,
                f"BUILD sets attributes on {event.subject.qualname} itself",
                offset=event.offset,
                subject=event.subject.qualname,
            )
        elif event.kind == "nested":
            loader, blob = event.subject
            ctx.scan_nested(blob, f"<bytes given to {loader.qualname} at offset {event.offset}>")


def _report_break(error: PickleBreak, ctx: ScanContext) -> None:
    rule = rules.LIMIT_EXCEEDED if isinstance(error, PickleLimit) else rules.MALFORMED
    ctx.report(rule, f"pickle stream breaks at offset {error.offset}: {error}", offset=error.offset)


def scan_pickles(data: Buffer, ctx: ScanContext, start: int = 0) -> Trace:
    """Simulate every pickle in ``data`` from ``start`` and report what they do."""
    machine = Machine(data, ctx.options)
    size = len(data)
    pos = start
    try:
        pos = machine.run(pos)
        if machine.trace.result == TORCH_LEGACY_MAGIC and machine.trace.pickles == 1:
            ctx.kind = "pytorch-legacy"
            pos = _scan_torch_legacy(machine, pos)
        while pos < size:
            if data[pos] not in _LEGACY_FIRST_OPCODES and data[pos] != 0x80:
                ctx.report(
                    rules.MALFORMED,
                    f"{size - pos} bytes after the last pickle are not a pickle; they were "
                    "scanned as a stream of their own",
                    offset=pos,
                )
                ctx.scan_nested(memoryview(data)[pos:], f"<trailing bytes at offset {pos}>")
                break
            pos = machine.run(pos)
    except PickleBreak as error:
        _report_break(error, ctx)
    finally:
        # What ran before any failure is judged, whatever stopped the stream.
        judge_trace(machine.trace, ctx)
    if machine.trace.joblib_arrays and ctx.kind is None:
        ctx.kind = "joblib"
    if machine.trace.pickles > 1:
        ctx.report(
            rules.SEVERAL_PICKLES,
            f"the stream holds {machine.trace.pickles} pickles; all were scanned",
        )
    return machine.trace


def _scan_torch_legacy(machine: Machine, pos: int) -> int:
    """After the magic number: protocol, system info, the object, storage keys, raw storages."""
    for _ in range(4):
        pos = machine.run(pos)
    keys = machine.trace.result
    sizes = _storage_element_sizes(machine.trace.persistent_ids)
    if not isinstance(keys, list):
        raise PickleBreak(pos, "PyTorch legacy file has no list of storage keys")
    for key in keys:
        element_size = sizes.get(key)
        if element_size is None:
            raise PickleBreak(pos, f"PyTorch legacy storage {key!r} has no known element size")
        if pos + 8 > machine.size:
            raise PickleBreak(pos, "PyTorch legacy file ends before a storage")
        (count,) = struct.unpack_from("<q", machine.data, pos)
        pos += 8 + count * element_size
        if count < 0 or pos > machine.size:
            raise PickleBreak(pos, "PyTorch legacy storage extends past the end of the file")
    return pos


def storage_element_size(storage_type: Any) -> int | None:
    """Bytes per element of a PyTorch storage class such as ``torch.FloatStorage``."""
    if not isinstance(storage_type, Global) or not storage_type.name.endswith("Storage"):
        return None
    return _TORCH_ELEMENT_SIZES.get(storage_type.name.removesuffix("Storage"))


def _storage_element_sizes(persistent_ids: list[Any]) -> dict[Any, int]:
    """Storage key -> element size, from ``('storage', torch.FloatStorage, key, ...)`` ids."""
    sizes = {}
    for pid in persistent_ids:
        if isinstance(pid, tuple) and len(pid) >= 3 and pid[0] == "storage":
            size = storage_element_size(pid[1])
            if size is not None:
                sizes[pid[2]] = size
    return sizes


def _runs_as_pickle(data: Buffer) -> bool:
    """Whether data without a PROTO header makes a loader import or call anything.

    A loader that reaches a GLOBAL imports its module before it fails on what follows, so a
    stream that gets that far is a pickle even if it breaks right after.
    """
    machine = Machine(data, ScanOptions())
    try:
        machine.run(0)
    except PickleBreak:
        return machine.trace.calls > 0 or any(
            event.kind == "global" and _importable(event.subject.module)
            for event in machine.trace.events
        )
    return True


def _importable(module: str) -> bool:
    return all(part.isidentifier() for part in module.split("."))


class PickleReader:
    """Pickles with a protocol 2-5 header."""

    name: ClassVar[str] = "pickle"

    def sniff(self, head: bytes, stream: Stream) -> bool:
        return len(head) >= 2 and head[0] == 0x80 and head[1] <= 5

    def scan(self, stream: Stream, ctx: ScanContext) -> None:
        scan_pickles(stream.data, ctx)


class LegacyPickleReader:
    """Protocol 0 and 1 pickles, which start with any opcode; claimed only if they really run."""

    name: ClassVar[str] = "pickle"

    def sniff(self, head: bytes, stream: Stream) -> bool:
        if not head or head[0] not in _LEGACY_FIRST_OPCODES:
            return False
        return _runs_as_pickle(stream.data)

    def scan(self, stream: Stream, ctx: ScanContext) -> None:
        scan_pickles(stream.data, ctx)
