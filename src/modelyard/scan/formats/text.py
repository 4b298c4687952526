"""Plain text (model cards, JSON configs, vocabularies): inert unless a more specific reader,
such as the protocol 0 pickle reader before it, claimed it first."""

from __future__ import annotations

from typing import ClassVar

from modelyard.scan.formats.base import ScanContext, Stream

_SAMPLE = 1 << 16


class TextReader:
    """UTF-8 text without NUL bytes."""

    name: ClassVar[str] = "text"

    def sniff(self, head: bytes, stream: Stream) -> bool:
        sample = bytes(stream.data[:_SAMPLE])
        if b"\0" in sample:
            return False
        try:
            sample.decode("utf-8")
        except UnicodeDecodeError as error:
            # A sample cut in the middle of a multi-byte character is still text.
            return error.start >= len(sample) - 3 and len(stream.data) > _SAMPLE
        return True

    def scan(self, stream: Stream, ctx: ScanContext) -> None:
        """Text is data: nothing in it runs when a model loads."""
