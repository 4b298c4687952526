"""Pickle streams: raw pickles of any protocol, several in a row, and PyTorch's legacy format."""

from __future__ import annotations

import struct
from typing import Any, ClassVar, assert_never

from modelyard.scan import rules
from modelyard.scan.formats.base import Buffer, ScanContext, Stream
from modelyard.scan.formats.signatures import LEGACY_PICKLE_FIRST, PICKLE_PROTO
from modelyard.scan.options import ScanOptions
from modelyard.scan.pickle.values import Global, describe
from modelyard.scan.pickle.vm import (
    BuildOnGlobal,
    ComputedCall,
    ComputedGlobal,
    ExtensionCode,
    GlobalImported,
    Machine,
    NestedLoad,
    PickleBreak,
    PickleLimit,
    PickleTruncated,
    Trace,
)
from modelyard.scan.report import PickleImport

# ``torch.save(..., _use_new_zipfile_serialization=False)`` starts with this number, pickled.
TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_FIRST_OPCODES = frozenset(LEGACY_PICKLE_FIRST)

# Bytes per element of each ``torch.<Name>Storage``, grouped by size.
_TORCH_ELEMENT_SIZES = {
    **dict.fromkeys(["ComplexDouble"], 16),
    **dict.fromkeys(["Double", "Long", "ComplexFloat"], 8),
    **dict.fromkeys(["Float", "Int", "QInt32"], 4),
    **dict.fromkeys(["Half", "BFloat16", "Short"], 2),
    **dict.fromkeys(["Char", "Byte", "Bool", "QInt8", "QUInt8", "QUInt4x2", "QUInt2x4"], 1),
    **dict.fromkeys(["Untyped"], 1),
}
# A protocol 0 or 1 candidate is run this far to decide whether it is a pickle.
_SNIFF_BYTES = 1 << 20


def judge_trace(trace: Trace, ctx: ScanContext) -> None:
    """Turn what the machine saw into findings (and scan bytes handed to nested loaders)."""
    reported: set[str] = set()
    for event in trace.events:
        match event:
            case GlobalImported(offset=offset, found=found):
                if found.qualname not in reported:
                    reported.add(found.qualname)
                    _judge_global(found, offset, ctx)
            case ComputedCall(offset=offset, func=func, how=how):
                ctx.report(
                    rules.COMPUTED_CALL,
                    f"{how} calls {describe(func)}",
                    offset=offset,
                    subject=describe(func),
                )
            case ComputedGlobal(offset=offset, module=module, name=name):
                ctx.report(
                    rules.COMPUTED_GLOBAL_NAME,
                    f"STACK_GLOBAL imports a name computed at load time "
                    f"(module: {describe(module)}, name: {describe(name)})",
                    offset=offset,
                )
            case ExtensionCode(offset=offset, code=code):
                ctx.report(
                    rules.EXTENSION_REGISTRY,
                    f"imports whatever the loading process registered as extension code {code}",
                    offset=offset,
                    subject=f"EXT {code}",
                )
            case BuildOnGlobal(offset=offset, target=target):
                ctx.report(
                    rules.BUILD_ON_GLOBAL,
                    f"BUILD sets attributes on {target.qualname} itself",
                    offset=offset,
                    subject=target.qualname,
                )
            case NestedLoad(offset=offset, loader=loader, data=data):
                ctx.scan_nested(data, f"<bytes given to {loader.qualname} at offset {offset}>")
            case _:
                assert_never(event)


def _judge_global(found: Global, offset: int, ctx: ScanContext) -> None:
    # The policy is imported by the first pickle that imports anything.
    from modelyard.scan.policy import IMPORT_SAFETY, Judgement, is_theano, judge

    decision = judge(found)
    ctx.record_import(PickleImport(found.module, found.name, IMPORT_SAFETY[decision.judgement]))
    if decision.judgement is Judgement.DENIED:
        ctx.report(
            rules.REACHES_SINK if decision.path else rules.DANGEROUS_GLOBAL,
            f"imports {found.qualname}, which {decision.reason}",
            offset=offset,
            subject=found.qualname,
            detail=" → ".join(decision.path) or None,
        )
    elif decision.judgement is Judgement.UNKNOWN and is_theano(found):
        ctx.report(
            rules.THEANO_PICKLE,
            f"imports {found.qualname}: a raw Theano pickle, which only Theano loads, by "
            "importing and running its code",
            offset=offset,
            subject=found.qualname,
        )
    elif decision.judgement is Judgement.UNKNOWN:
        why = f" ({decision.reason})" if decision.reason else ""
        ctx.report(
            rules.UNKNOWN_GLOBAL,
            f"imports {found.qualname}, which is not on the allow list{why}",
            offset=offset,
            subject=found.qualname,
        )


def _report_break(error: PickleBreak, ctx: ScanContext) -> None:
    rule = rules.LIMIT_EXCEEDED if isinstance(error, PickleLimit) else rules.MALFORMED
    ctx.report(rule, f"pickle stream breaks at offset {error.offset}: {error}", offset=error.offset)


def scan_pickles(data: Buffer, ctx: ScanContext, start: int = 0) -> Trace:
    """Simulate every pickle in ``data`` from ``start`` and report what they do."""
    machine = Machine(data, ctx.options, deadline=ctx.file.deadline)
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
    stream that gets that far is a pickle even if it breaks right after. Only the first
    ``_SNIFF_BYTES`` are run: a stream that is still a valid pickle there is one.
    """
    head = data if len(data) <= _SNIFF_BYTES else memoryview(data)[:_SNIFF_BYTES]
    machine = Machine(head, ScanOptions())
    try:
        machine.run(0)
    except PickleTruncated:
        return len(data) > _SNIFF_BYTES or _imports_or_calls(machine.trace)
    except PickleBreak:
        return _imports_or_calls(machine.trace)
    return True


def _imports_or_calls(trace: Trace) -> bool:
    return trace.calls > 0 or any(
        isinstance(event, GlobalImported) and _importable(event.found.module)
        for event in trace.events
    )


def _importable(module: str) -> bool:
    return all(part.isidentifier() for part in module.split("."))


class PickleReader:
    """Pickles with a protocol 2-5 header."""

    name: ClassVar[str] = "pickle"

    def sniff(self, head: bytes, stream: Stream) -> bool:
        return len(head) >= 2 and head[:1] == PICKLE_PROTO and head[1] <= 5

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
