"""The contract between the scan engine and the readers of each file format.

A reader recognises its format from content (``sniff``) and judges a stream (``scan``): it reports
findings through the context and hands inner streams (archive members, decompressed data, embedded
pickles) back with ``ScanContext.scan_nested``, so nesting needs no special case.
"""

from __future__ import annotations

import io
import mmap
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, Protocol

from modelyard.scan import rules
from modelyard.scan.options import Deadline, ScanOptions

if TYPE_CHECKING:
    from modelyard.scan.report import Finding, PickleImport, Severity
    from modelyard.scan.rules import Rule

Buffer = bytes | bytearray | memoryview | mmap.mmap


class BufferFile(io.RawIOBase):
    """A read-only, seekable file over a buffer, for parsers that want a file (``tarfile``);
    unlike ``io.BytesIO`` it copies nothing."""

    def __init__(self, data: Buffer) -> None:
        self._view = memoryview(data).cast("B")
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        piece = self._view[self._pos : self._pos + len(buffer)]
        buffer[: len(piece)] = piece
        self._pos += len(piece)
        return len(piece)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._view)}[whence]
        self._pos = max(base + offset, 0)
        return self._pos

    def tell(self) -> int:
        return self._pos


class Stream(NamedTuple):
    """Bytes to judge and where they came from.

    ``member`` is the path inside the scanned file (``None`` for the file itself): archive
    member names, joined by ``!`` where one stream is nested in another. ``disk_path``
    is set only when the stream is a whole file on disk, so a reader can look at its neighbours
    (ONNX external data, a SavedModel's variables); ``file_name`` is the file's name when the
    disk path does not carry it (a hub blob stored under its hash).
    """

    data: Buffer
    member: str | None = None
    disk_path: Path | None = None
    depth: int = 0
    file_name: str | None = None

    @property
    def name(self) -> str:
        """The last path component of the member or file, for readers whose format is a name."""
        if self.member:
            return self.member.rsplit("!", 1)[-1].rsplit("/", 1)[-1]
        if self.file_name:
            return self.file_name.rsplit("/", 1)[-1]
        return self.disk_path.name if self.disk_path else ""


class FileState:
    """What the contexts of one scanned file share, however deep they are nested."""

    __slots__ = ("budget", "data_files", "deadline", "imports", "member_spans")

    def __init__(
        self, budget: int, deadline: Deadline | None = None, data_files: list[str] | None = None
    ) -> None:
        # Bytes that decompression may still produce for this file, across every layer.
        self.budget = budget
        self.deadline = deadline or Deadline()
        # Files that this one's loader reads as raw tensor data, relative to its folder.
        self.data_files: list[str] = [] if data_files is None else data_files
        # What the pickles anywhere in the file import, once each (a dict as an ordered set).
        self.imports: dict[PickleImport, None] = {}
        # (start, size) of the parts of the file itself that a reader scanned as members (a
        # tar's), so that an archive found inside one is not reported and scanned a second time.
        self.member_spans: list[tuple[int, int]] = []


class ScanContext:
    """What a reader may do while scanning one stream."""

    __slots__ = ("dispatch", "emit", "file", "kind", "options", "stream")

    def __init__(
        self,
        options: ScanOptions,
        stream: Stream,
        emit: Callable[[Finding], None],
        dispatch: Callable[[Stream, ScanContext], str],
        file: FileState,
    ) -> None:
        self.options = options
        self.stream = stream
        self.emit = emit
        self.dispatch = dispatch
        self.file = file
        # A reader may name the format more precisely than its own name ("pytorch" for a zip).
        self.kind: str | None = None

    def report(
        self,
        rule: Rule,
        message: str,
        *,
        offset: int | None = None,
        subject: str | None = None,
        detail: str | None = None,
        severity: Severity | None = None,
    ) -> None:
        """Record a finding of ``rule`` in the current stream."""
        self.emit(
            rule.finding(
                message,
                member=self.stream.member,
                offset=offset,
                subject=subject,
                detail=detail,
                severity=severity,
            )
        )

    def child(self, data: Buffer, name: str) -> ScanContext:
        """A context for inner data (an archive member, decompressed bytes) named ``name``.

        The name is joined to the current member with ``!``, so ``outer.zip!model/data.pkl``
        reads as "inside of".
        """
        parent = self.stream.member
        member = f"{parent}!{name}" if parent else name
        stream = Stream(data=data, member=member, depth=self.stream.depth + 1)
        return ScanContext(self.options, stream, self.emit, self.dispatch, self.file)

    def claim_data_file(self, location: str) -> None:
        """Record that the model's loader reads ``location`` (relative to the model's folder)
        as raw tensor data (ONNX external data, TensorFlow variables), so a folder scan or a
        hub repository does not call that file unknown. Only a whole file can claim."""
        if self.stream.member is None:
            self.file.data_files.append(PurePosixPath(location).as_posix())

    def record_import(self, found: PickleImport) -> None:
        """Record that a pickle in this file imports ``found`` (``FileResult.imports``)."""
        self.file.imports[found] = None

    def whole(self, what: str) -> bytes | None:
        """All of the stream's bytes, for a parser that needs them at once (JSON, Python,
        prototxt); ``None``, reported, past ``max_text_bytes``."""
        limit = self.options.max_text_bytes
        if len(self.stream.data) > limit:
            self.report(
                rules.LIMIT_EXCEEDED,
                f"{what} is larger than max_text_bytes ({limit:,} bytes); it was not parsed",
            )
            return None
        return bytes(self.stream.data)

    def scan_nested(self, data: Buffer, name: str) -> str:
        """Detect and scan inner data; returns the format found."""
        self.file.deadline.check()
        child = self.child(data, name)
        return self.dispatch(child.stream, self)


class FormatReader(Protocol):
    """One container or model format."""

    name: ClassVar[str]

    def sniff(self, head: bytes, stream: Stream) -> bool:
        """Whether ``stream`` (whose first bytes are ``head``) is in this format.

        Decide from content. Only formats that are defined by a file name (Python source that
        ``trust_remote_code`` would import, a Caffe ``.prototxt``) may look at ``stream.name``.
        """
        ...

    def scan(self, stream: Stream, ctx: ScanContext) -> None:
        """Judge the stream: report findings and scan inner streams. Must not raise for bad data:
        report ``MALFORMED`` / ``LIMIT_EXCEEDED`` instead."""
        ...
