"""Detects each stream's format from its content and hands it to that format's reader."""

from __future__ import annotations

import logging
from collections.abc import Callable

from modelyard.scan import rules
from modelyard.scan.formats import READERS
from modelyard.scan.formats.base import FileState, ScanContext, Stream
from modelyard.scan.options import Deadline, DeadlinePassed, ScanOptions
from modelyard.scan.report import Finding

logger = logging.getLogger(__name__)

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
    for reader in READERS:
        try:
            if not reader.sniff(head, stream):
                continue
            reader.scan(stream, ctx)
        except DeadlinePassed:
            raise  # ends the whole file's scan, not just this reader
        except Exception as error:
            # A reader bug or hostile input must not end the scan, and must not look safe.
            logger.debug("reader %s failed", reader.name, exc_info=True)
            ctx.report(
                rules.MALFORMED,
                f"the {reader.name} reader could not finish: {type(error).__name__}: {error}",
            )
        return ctx.kind or reader.name
    ctx.report(
        rules.UNSUPPORTED_FORMAT,
        f"content starting with {head[:8].hex(' ')} is in no format modelyard reads",
    )
    return "unknown"
