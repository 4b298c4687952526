"""Zip archives read like the loaders read them (``zipfile``, PyTorch, NumPy's ``.npz``, Keras,
Theano's ``pkl_utils``).

The central directory decides what a loader sees; each entry's local header is checked against
it, because readers that trust one or the other see different files. Where the loaders differ,
the scanner reads what any of them would run: PyTorch's reader (miniz) ignores the flags and name
in a local header, skips the CRC-32 and matches record names ignoring ASCII case; zipfile finds
an archive from its end, behind any other content. Every member is scanned as a nested stream,
except PyTorch's raw tensor storages, which no loader unpickles (one that starts as a NumPy array
file is scanned: ``numpy.load`` reads it).
"""

from __future__ import annotations

import re
import struct
from typing import TYPE_CHECKING, ClassVar, NamedTuple

from modelyard.scan import rules
from modelyard.scan.formats.base import Buffer, ScanContext, Stream
from modelyard.scan.formats.signatures import (
    NPY_MAGIC,
    ZIP_END,
    ZIP_END_SEARCH,
    ZIP_LOCAL,
    starts_as_zip,
)

if TYPE_CHECKING:
    from modelyard.scan.formats.inflate import Compression

# Compression methods (the zip specification, APPNOTE.TXT 4.4.5).
_STORED, _DEFLATED, _BZIP2, _LZMA = 0, 8, 12, 14
_CENTRAL = b"PK\x01\x02"
_END64_LOCATOR = b"PK\x06\x07"
_END64 = b"PK\x06\x06"
_END64_SIZE = 56  # the zip64 end record without extensible data
_central_entry = struct.Struct("<4s6H3L5H2L")
_local_entry = struct.Struct("<4s5H3L2H")
_TORCH_STORAGE = re.compile(r"(?:^|/)data/\d+$")
_TORCH_RECORDS = frozenset(
    {
        "version",
        ".format_version",
        ".storage_alignment",
        "byteorder",
        ".data/version",
        ".data/serialization_id",
    }
)
_TORCH_RECORD_CONTENT = re.compile(rb"(?:\d{1,64}|little|big)\n?")
# The pickle that theano.misc.pkl_utils.dump writes beside the arrays it holds as NPY members,
# which numpy.load reads (extension-less) without that pickle; a Theano object in it is MY-PKL-008.
_THEANO_PICKLE = "pkl"
# The compression methods that zipfile (and so every Python loader) can read.
_MEMBER_COMPRESSION: dict[int, Compression] = {
    _DEFLATED: "deflate",
    _BZIP2: "bzip2",
    _LZMA: "zip-lzma",
}


class Entry(NamedTuple):
    """A central directory entry."""

    name: str
    method: int
    flags: int
    compressed_size: int
    size: int
    local_offset: int


def _decode_name(raw: bytes, flags: int) -> str:
    return raw.decode("utf-8" if flags & 0x800 else "cp437", "replace")


def _zip64_values(extra: bytes, wanted: list[bool]) -> list[int | None]:
    """Values from the zip64 extra field for the header fields that were 0xFFFFFFFF."""
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, pos)
        if tag == 1:
            values: list[int | None] = []
            field_pos = pos + 4
            for needed in wanted:
                if needed and field_pos + 8 <= pos + 4 + length:
                    values.append(struct.unpack_from("<Q", extra, field_pos)[0])
                    field_pos += 8
                else:
                    values.append(None)
            return values
        pos += 4 + length
    return [None] * len(wanted)


class ZipFormatError(Exception):
    """The archive's directory cannot be read."""


class Directory(NamedTuple):
    """An archive's central directory: its entries (offsets in ``data``), where it starts,
    and by how much data in front of the archive shifts every offset it records."""

    entries: list[Entry]
    start: int
    shift: int


def read_directory(data: Buffer) -> Directory:
    """The central directory, found from the end as every zip reader finds it."""
    size = len(data)
    tail_start = max(0, size - ZIP_END_SEARCH)
    end = bytes(data[tail_start:]).rfind(ZIP_END)
    if end < 0:
        raise ZipFormatError("no end-of-central-directory record")
    end += tail_start
    if end + 22 > size:
        raise ZipFormatError("the end-of-central-directory record is cut off")
    count, directory_size, directory_offset = struct.unpack_from("<2xHLL", data, end + 8)
    directory_end = end
    # Writers such as PyTorch add zip64 records whether or not the sizes need them.
    if end >= 20 and bytes(data[end - 20 : end - 16]) == _END64_LOCATOR:
        # zipfile reads the zip64 record just before its locator, so it also finds it in an
        # archive behind other content; miniz goes by the offset the locator records.
        (recorded,) = struct.unpack_from("<Q", data, end - 12)
        before = end - 20 - _END64_SIZE
        record = before if before >= 0 and bytes(data[before : before + 4]) == _END64 else recorded
        if bytes(data[record : record + 4]) == _END64:
            count, directory_size, directory_offset = struct.unpack_from("<QQQ", data, record + 32)
            directory_end = record
    # Data prepended to the archive (self-extracting files) shifts every offset.
    shift = directory_end - directory_size - directory_offset
    if shift < 0:
        raise ZipFormatError("the central directory lies outside the file")
    entries = []
    pos = directory_offset + shift
    for _ in range(count):
        if pos + 46 > size or bytes(data[pos : pos + 4]) != _CENTRAL:
            raise ZipFormatError(f"central directory entry at offset {pos} is damaged")
        fields = _central_entry.unpack_from(data, pos)
        flags, method = fields[3], fields[4]
        compressed, uncompressed = fields[8], fields[9]
        name_length, extra_length, comment_length = fields[10], fields[11], fields[12]
        local_offset = fields[16]
        name_raw = bytes(data[pos + 46 : pos + 46 + name_length])
        extra = bytes(data[pos + 46 + name_length : pos + 46 + name_length + extra_length])
        wanted = [v == 0xFFFFFFFF for v in (uncompressed, compressed, local_offset)]
        if any(wanted):
            big = _zip64_values(extra, wanted)
            uncompressed = big[0] if big[0] is not None else uncompressed
            compressed = big[1] if big[1] is not None else compressed
            local_offset = big[2] if big[2] is not None else local_offset
        entries.append(
            Entry(
                _decode_name(name_raw, flags),
                method,
                flags,
                compressed,
                uncompressed,
                local_offset + shift,
            )
        )
        pos += 46 + name_length + extra_length + comment_length
    return Directory(entries, directory_offset + shift, shift)


def _entry_at(data: Buffer, offset: int, limit: int) -> Entry | None:
    """The entry whose local header is at ``offset`` (its data ending by ``limit``)."""
    if offset + 30 > limit:
        return None
    fields = _local_entry.unpack_from(data, offset)
    flags, method, compressed, size = fields[2], fields[3], fields[7], fields[8]
    name_length, extra_length = fields[9], fields[10]
    start = offset + 30 + name_length + extra_length
    if flags & 0x8 or start + compressed > limit:
        # Sizes follow the data (a data descriptor): the data runs to the next header.
        compressed = max(limit - start, 0)
    name = _decode_name(bytes(data[offset + 30 : offset + 30 + name_length]), flags)
    return Entry(name, method, flags, compressed, size, offset)


def hidden_entries(data: Buffer, entries: list[Entry], directory_start: int) -> list[Entry]:
    """Entries with a local header that the central directory does not list.

    Loaders that trust the directory never see them; readers that walk local headers do.
    """
    covered = []
    for entry in entries:
        if entry.local_offset + 30 <= len(data):
            fields = _local_entry.unpack_from(data, entry.local_offset)
            start = entry.local_offset + 30 + fields[9] + fields[10]
            covered.append((entry.local_offset, start + entry.compressed_size))
    covered.sort()
    covered.append((directory_start, directory_start))
    hidden = []
    cursor = 0
    for start, end in covered:
        if start > cursor:
            gap = bytes(data[cursor:start])
            found = gap.find(ZIP_LOCAL)
            while found >= 0:
                following = gap.find(ZIP_LOCAL, found + 4)
                limit = cursor + following if following >= 0 else start
                local = _entry_at(data, cursor + found, limit)
                if local is not None:
                    hidden.append(local)
                found = following
        cursor = max(cursor, end)
    return hidden


def archive_start(data: Buffer) -> int | None:
    """Where the zip archive that ``zipfile`` opens in ``data`` starts (the origin of its
    offsets), or ``None`` if ``data`` does not end with one.

    ``zipfile`` finds an archive from its end-of-directory record, so an archive after other
    content (a stub, another format's file) is what Keras' loader reads.
    """
    try:
        directory = read_directory(data)
    except (ZipFormatError, struct.error):
        return None
    first = directory.entries[0].local_offset if directory.entries else -1
    if first < 0 or bytes(data[first : first + 4]) != ZIP_LOCAL:
        return None
    return directory.shift


def escapes_destination(name: str) -> bool:
    """Whether extracting a member of this name writes outside the target folder."""
    normalized = name.replace("\\", "/")
    return (
        normalized.startswith("/")
        or bool(re.match(r"^[A-Za-z]:", normalized))
        or ".." in normalized.split("/")
    )


class ZipReader:
    """Zip archives, including PyTorch checkpoints, ``.npz`` and ``.keras`` files."""

    name: ClassVar[str] = "zip"

    def sniff(self, head: bytes, stream: Stream) -> bool:
        return starts_as_zip(head)

    def scan(self, stream: Stream, ctx: ScanContext) -> None:
        data = stream.data
        try:
            directory = read_directory(data)
        except (ZipFormatError, struct.error) as error:
            ctx.report(rules.MALFORMED, f"zip archive cannot be read: {error}")
            return
        entries = directory.entries
        for entry in hidden_entries(data, entries, directory.start):
            ctx.report(
                rules.MEMBER_NAME_MISMATCH,
                f"zip member {entry.name!r} has a local header but is missing from the "
                "central directory; readers that walk local headers see it",
                subject=entry.name,
            )
            entries.append(entry)
        if len(entries) > ctx.options.max_members:
            ctx.report(
                rules.LIMIT_EXCEEDED,
                f"zip archive has {len(entries)} members, more than max_members "
                f"({ctx.options.max_members}); only the first ones were scanned",
            )
            entries = entries[: ctx.options.max_members]
        names = {entry.name for entry in entries}
        torch_archives = {
            name.rsplit("/", 1)[0] for name in map(_torch_key, names) if name.endswith("data.pkl")
        }
        if torch_archives:
            ctx.kind = "pytorch"
        elif names and all(name.endswith(".npy") for name in names):
            ctx.kind = "numpy-npz"
        elif _THEANO_PICKLE in names:  # theano.misc.pkl_utils.dump: arrays as .npy members
            ctx.kind = "theano-pkl-utils"
        seen: set[str] = set()
        for entry in entries:
            if entry.name in seen:
                ctx.report(
                    rules.MEMBER_NAME_MISMATCH,
                    f"zip member {entry.name!r} occurs more than once; loaders disagree on "
                    "which copy they read",
                    subject=entry.name,
                )
            seen.add(entry.name)
            if escapes_destination(entry.name):
                ctx.report(
                    rules.PATH_ESCAPE,
                    f"zip member {entry.name!r} would be extracted outside the target folder",
                    subject=entry.name,
                )
            if entry.name.endswith("/"):
                continue
            key = _torch_key(entry.name)
            if _is_torch_storage(key, torch_archives) and not _starts_as_npy(data, entry):
                continue
            content = self._member(data, entry, ctx)
            if content is None:
                continue
            if not _is_torch_record(key, content, torch_archives):
                ctx.scan_nested(content, entry.name)

    def _member(self, data: Buffer, entry: Entry, ctx: ScanContext) -> Buffer | None:
        offset = entry.local_offset
        if offset + 30 > len(data) or bytes(data[offset : offset + 4]) != ZIP_LOCAL:
            ctx.report(rules.MALFORMED, f"zip member {entry.name!r} has no local header")
            return None
        fields = _local_entry.unpack_from(data, offset)
        name_length, extra_length = fields[9], fields[10]
        local_name = _decode_name(bytes(data[offset + 30 : offset + 30 + name_length]), fields[2])
        if local_name != entry.name:
            ctx.report(
                rules.MEMBER_NAME_MISMATCH,
                f"zip member is called {entry.name!r} in the directory but {local_name!r} in "
                "its local header",
                subject=entry.name,
                detail=local_name,
            )
        start = offset + 30 + name_length + extra_length
        raw = memoryview(data)[start : start + entry.compressed_size]
        if len(raw) < entry.compressed_size:
            ctx.report(rules.MALFORMED, f"zip member {entry.name!r} is cut off")
        if entry.flags & 0x1:
            # zipfile and PyTorch refuse the member, but a flag is only a claim: a reader that
            # ignores it gets the bytes as they are, so they are judged as well.
            ctx.report(
                rules.MALFORMED,
                f"zip member {entry.name!r} is flagged as encrypted, which zipfile and PyTorch "
                "refuse to read; its bytes were scanned as if it were not",
                subject=entry.name,
            )
        if entry.method == _STORED:
            return raw  # a view of the file: nothing is decompressed
        kind = _MEMBER_COMPRESSION.get(entry.method)
        if kind is None:
            ctx.report(
                rules.MALFORMED,
                f"zip member {entry.name!r} uses compression method {entry.method}, which no "
                "model loader reads; not scanned",
            )
            return None
        if entry.size > ctx.file.budget:
            ctx.report(
                rules.LIMIT_EXCEEDED,
                f"zip member {entry.name!r} expands to {entry.size} bytes, beyond what is left "
                "of max_decompressed_bytes",
            )
            return None
        # Imported here: PyTorch and NumPy store members uncompressed, and their scans need
        # none of the decompressors.
        from modelyard.scan.formats.inflate import inflate

        span = slice(start, start + entry.compressed_size)
        return inflate(data, kind, f"zip member {entry.name!r}", ctx, span)


def _torch_key(name: str) -> str:
    """The name as PyTorch's reader matches it: miniz looks records up ignoring ASCII case."""
    return name.encode().lower().decode()


def _is_torch_record(name: str, content: Buffer, torch_archives: set[str]) -> bool:
    """A version, byte-order or id record PyTorch writes next to ``data.pkl``, holding only
    what such a record holds (anything else in its place is scanned like any member)."""
    prefix, _, record = name.rpartition("/")
    if record not in _TORCH_RECORDS:
        prefix, _, folder = prefix.rpartition("/")
        record = f"{folder}/{record}"
        if record not in _TORCH_RECORDS:
            return False
    return prefix in torch_archives and _TORCH_RECORD_CONTENT.fullmatch(content) is not None


def _starts_as_npy(data: Buffer, entry: Entry) -> bool:
    """Whether a member may be a NumPy array file, which ``numpy.load`` reads (and unpickles,
    for object arrays) whatever the member is called. PyTorch stores storages uncompressed, so
    a compressed one is read in full."""
    if entry.method != _STORED or entry.local_offset + 30 > len(data):
        return True
    fields = _local_entry.unpack_from(data, entry.local_offset)
    start = entry.local_offset + 30 + fields[9] + fields[10]
    return bytes(data[start : start + len(NPY_MAGIC)]) == NPY_MAGIC


def _is_torch_storage(name: str, torch_archives: set[str]) -> bool:
    """Raw tensor bytes inside a PyTorch checkpoint: read as numbers, never unpickled."""
    if not _TORCH_STORAGE.search(name):
        return False
    prefix = name.rsplit("/data/", 1)[0]
    return prefix in torch_archives or (prefix == "" and "data.pkl" in torch_archives)
