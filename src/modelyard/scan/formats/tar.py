"""Tar archives, including PyTorch's oldest checkpoint format (a tar of pickles and storages).

Members are scanned where they lie in the archive, never extracted. Links and paths that leave
the destination are reported, since extracting the archive (as loaders of that old format do)
would follow them.
"""

from __future__ import annotations

import struct
import tarfile
from collections.abc import Callable
from typing import ClassVar

from modelyard.scan import rules
from modelyard.scan.formats.base import Buffer, BufferFile, ScanContext, Stream
from modelyard.scan.formats.pickle import judge_trace, storage_element_size
from modelyard.scan.formats.signatures import NEMO_CONFIG_NAME, is_tar
from modelyard.scan.formats.zip import escapes_destination
from modelyard.scan.pickle.values import Global
from modelyard.scan.pickle.vm import Machine, PickleBreak

_TORCH_MEMBERS = frozenset({"storages", "tensors", "pickle"})


class TarReader:
    """POSIX, GNU and PAX tar archives (uncompressed; compressed ones arrive unwrapped)."""

    name: ClassVar[str] = "tar"

    def sniff(self, head: bytes, stream: Stream) -> bool:
        return is_tar(stream.data)

    def scan(self, stream: Stream, ctx: ScanContext) -> None:
        data = memoryview(stream.data)
        members: dict[str, memoryview] = {}
        try:
            with tarfile.open(fileobj=BufferFile(data), mode="r:") as archive:
                for count, member in enumerate(archive):
                    ctx.file.deadline.check()
                    if count >= ctx.options.max_members:
                        ctx.report(rules.LIMIT_EXCEEDED, "tar archive has more than max_members")
                        break
                    if escapes_destination(member.name):
                        ctx.report(
                            rules.PATH_ESCAPE,
                            f"tar member {member.name!r} would be extracted outside the target "
                            "folder",
                            subject=member.name,
                        )
                    if member.issym() or member.islnk():
                        kind = "symbolic" if member.issym() else "hard"
                        ctx.report(
                            rules.ARCHIVE_LINK,
                            f"tar member {member.name!r} is a {kind} link to {member.linkname!r}",
                            subject=member.name,
                            detail=member.linkname,
                        )
                        continue
                    if not member.isfile():
                        continue
                    # A view of the archive: tar stores members as they are.
                    content = data[member.offset_data : member.offset_data + member.size]
                    if len(content) < member.size:
                        ctx.report(rules.MALFORMED, f"tar member {member.name!r} is cut off")
                    members[member.name] = content
                    if ctx.stream.depth == 0:
                        ctx.file.member_spans.append((member.offset_data, len(content)))
        except (tarfile.TarError, EOFError, OSError) as error:
            ctx.report(rules.MALFORMED, f"tar archive cannot be read to the end: {error}")
        if NEMO_CONFIG_NAME in {name.rsplit("/", 1)[-1] for name in members}:
            ctx.kind = "nemo"
        if members.keys() >= _TORCH_MEMBERS:
            _scan_torch_storages(members.pop("storages"), "storages", ctx)
            _scan_torch_tensors(members.pop("tensors"), "tensors", ctx)
        for name, content in members.items():
            ctx.scan_nested(content, name)


def _run_pickles(
    data: Buffer, name: str, ctx: ScanContext, walk: Callable[[Machine], None]
) -> None:
    member = ctx.child(data, name)
    machine = Machine(data, ctx.options, deadline=ctx.file.deadline)
    try:
        walk(machine)
    except (PickleBreak, struct.error) as error:
        offset = getattr(error, "offset", None)
        member.report(rules.MALFORMED, f"PyTorch tar member breaks: {error}", offset=offset)
    judge_trace(machine.trace, member)


def _scan_torch_storages(data: Buffer, name: str, ctx: ScanContext) -> None:
    """``storages``: a count, then per storage a pickled (key, location, type) and raw data."""

    def walk(machine: Machine) -> None:
        pos = machine.run(0)
        count = machine.trace.result
        if not isinstance(count, int) or count < 0:
            raise PickleBreak(pos, "the storage count is not a number")
        for _ in range(count):
            pos = machine.run(pos)
            record = machine.trace.result
            storage_type = record[2] if isinstance(record, tuple) and len(record) == 3 else None
            if not isinstance(storage_type, Global):
                raise PickleBreak(pos, "a storage record has no storage type")
            size = storage_element_size(storage_type)
            if size is None:
                raise PickleBreak(pos, f"unknown storage type {storage_type.qualname}")
            (elements,) = struct.unpack_from("<q", data, pos)
            pos += 8 + elements * size
            if elements < 0 or pos > len(data):
                raise PickleBreak(pos, "a storage extends past the end of the member")
        machine.run(pos)

    _run_pickles(data, name, ctx, walk)


def _scan_torch_tensors(data: Buffer, name: str, ctx: ScanContext) -> None:
    """``tensors``: a count, then per tensor a pickled record, ndim, sizes, strides, offset."""

    def walk(machine: Machine) -> None:
        pos = machine.run(0)
        count = machine.trace.result
        if not isinstance(count, int) or count < 0:
            raise PickleBreak(pos, "the tensor count is not a number")
        for _ in range(count):
            pos = machine.run(pos)
            (ndim,) = struct.unpack_from("<i", data, pos)
            pos += 8 + 16 * ndim + 8
            if ndim < 0 or pos > len(data):
                raise PickleBreak(pos, "a tensor record extends past the end of the member")

    _run_pickles(data, name, ctx, walk)
