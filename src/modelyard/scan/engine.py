"""Detects each stream's format from its content and hands it to that format's reader."""

from __future__ import annotations

from collections.abc import Callable

from modelyard.scan import rules
from modelyard.scan.formats import ZIP_READER, FormatReader, candidates
from modelyard.scan.formats.base import FileState, ScanContext, Stream
from modelyard.scan.formats.signatures import may_end_with_archive, starts_as_zip
from modelyard.scan.options import Deadline, DeadlinePassed, ScanOptions
from modelyard.scan.report import Finding

_HEAD = 64


def dispatch(stream: Stream, parent: ScanContext) -> str:
    """Scan an inner stream found by ``parent``'s reader; returns the format name."""
    if stream.depth > parent.options.max_nesting:
        parent.report(
            rules.LIMIT_EXCEEDED,
            f"{stream.member} is nested more than {parent.options.max_nesting} levels deep; "
            "it was not scanned",
            subject=stream.member,
        )
        return "nested"
    return scan_stream(stream, parent.options, parent.emit, parent.file)


def scan_stream(
    stream: Stream,
    options: ScanOptions,
    emit: Callable[[Finding], None],
    file: FileState | None = None,
) -> str:
    """Detect the stream's format and run its reader; never raises for bad data.

    ``file`` is shared with the streams nested in this one (a new one for a file's top stream).
    """
    file = file or FileState(options.max_decompressed_bytes, Deadline.after(options.timeout))
    ctx = ScanContext(options, stream, emit, dispatch, file)
    if len(stream.data) == 0:
        return "empty"
    head = bytes(stream.data[:_HEAD])
    readers = candidates(stream, head)
    found = next((reader for reader in readers if _run(reader, head, stream, ctx)), None)
    # A whole file that ends with a zip archive is also what zipfile-based loaders open.
    start = _archive_behind(stream, head)
    if start is not None and not _inside_a_member(start, file):
        ctx.report(
            rules.ZIP_BEHIND,
            f"the file ends with a zip archive (from offset {start}) that zipfile-based loaders "
            "such as Keras' open; it was scanned too",
            offset=start,
        )
        archive = ctx.child(memoryview(stream.data)[start:], f"<zip archive at offset {start}>")
        _run(ZIP_READER.load(), head, archive.stream, archive, sniff=False)
        found = found or ZIP_READER.load()
    if found is None:
        ctx.report(
            rules.UNSUPPORTED_FORMAT,
            f"content starting with {head[:8].hex(' ')} is in no format modelyard reads",
        )
        return "unknown"
    return ctx.kind or found.name


def _archive_behind(stream: Stream, head: bytes) -> int | None:
    """Where a zip archive that a whole file ends with starts, unless the file is one itself."""
    if stream.depth > 0 or starts_as_zip(head) or not may_end_with_archive(stream.data):
        return None
    from modelyard.scan.formats.zip import archive_start

    return archive_start(stream.data)


def _inside_a_member(offset: int, file: FileState) -> bool:
    """Whether ``offset`` of the file lies in a member its reader scanned already."""
    return any(start <= offset < start + size for start, size in file.member_spans)


def _run(
    reader: FormatReader, head: bytes, stream: Stream, ctx: ScanContext, *, sniff: bool = True
) -> bool:
    """Scan ``stream`` with ``reader`` if it is in the reader's format (always, without
    ``sniff``); whether it was."""
    try:
        if sniff and not reader.sniff(head, stream):
            return False
        reader.scan(stream, ctx)
    except DeadlinePassed:
        raise  # ends the whole file's scan, not just this reader
    except Exception as error:
        # A reader bug or hostile input must not end the scan, and must not look safe.
        import logging  # only here: a scan that meets no reader bug starts without it

        logging.getLogger(__name__).debug("reader %s failed", reader.name, exc_info=True)
        ctx.report(
            rules.MALFORMED,
            f"the {reader.name} reader could not finish: {type(error).__name__}: {error}",
        )
    return True
