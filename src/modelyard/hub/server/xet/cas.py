"""The Xet content store: verified xorbs in the hub's storage, shards' file descriptions in the
database.

A xorb is verified (every chunk decompressed and hashed, the merkle hash recomputed) from its
temporary file, then published at ``xet/xorbs/ab/cd/<hash>`` and only then recorded, so a crash
leaves at most a stray temporary file or an unrecorded xorb that the next upload replaces.
Files are rebuilt from their chunks into the ordinary blob store (``materialize``), where they
are scanned like any other upload.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from modelyard.hub.errors import (
    EntryNotFoundError,
    InvalidRangeError,
    InvalidRequestError,
    QuarantinedFileError,
)
from modelyard.hub.server.db import (
    CommitFile,
    ScanResult,
    XetChunk,
    XetFile,
    XetFileXorb,
    XetXorb,
)
from modelyard.hub.server.scanning import QUARANTINED
from modelyard.hub.server.storage import BlobStore, StoredBlob
from modelyard.hub.server.xet.formats import (
    DedupXorb,
    Shard,
    ShardFile,
    decompress,
    dedup_shard,
    read_shard,
    read_xorb,
)
from modelyard.hub.server.xet.hashing import file_hash, from_hex, merkle_hash, range_hash, to_hex

_CHUNK_HEADER = 8
_DEDUP_VALID_SECONDS = 7 * 24 * 3600
# A dedup answer lists at most this many xorbs (~4 GiB of content, a shard of ~3 MiB).
_DEDUP_MAX_XORBS = 64


@dataclass(frozen=True)
class FileRange:
    """Bytes ``first`` to ``last`` (inclusive) of a file."""

    first: int
    last: int


class XetStore:
    """Xorbs, chunks and Xet files over one database and the hub's object storage."""

    def __init__(self, engine: Engine, tmp_dir: Path, blobs: BlobStore) -> None:
        self._session = sessionmaker(engine, expire_on_commit=False)
        self.tmp_dir = tmp_dir
        self._blobs = blobs
        self.storage = blobs.storage
        tmp_dir.mkdir(parents=True, exist_ok=True)

    def xorb_key(self, xorb: str) -> str:
        """The object key of a xorb, next to the blobs in the hub's storage."""
        from_hex(xorb)
        return f"xet/xorbs/{xorb[:2]}/{xorb[2:4]}/{xorb}"

    def temporary(self, prefix: str) -> tuple[Path, Any]:
        """A new temporary file (path, open binary handle) for a streamed upload."""
        handle, name = tempfile.mkstemp(dir=self.tmp_dir, prefix=prefix, suffix=".part")
        return Path(name), os.fdopen(handle, "w+b")

    # -- uploads ----------------------------------------------------------------------------

    def store_xorb(self, xorb: str, upload: Path) -> bool:
        """Verify the serialized xorb in ``upload`` and keep it as ``xorb``; False if it was
        stored already. ``upload`` is consumed either way.

        Raises:
            InvalidRequestError: malformed, a chunk hash or the xorb hash does not match.
        """
        expected = from_hex(xorb)
        try:
            with self._session() as session:
                if session.get(XetXorb, xorb) is not None:
                    return False
            with upload.open("rb") as source:
                chunks = read_xorb(source, expected)
                os.fsync(source.fileno())
            computed = merkle_hash([(chunk.hash, chunk.length) for chunk in chunks])
            if computed != expected:
                raise InvalidRequestError(
                    f"the xorb's chunks hash to {to_hex(computed)}, not {xorb}: the xorb is "
                    "corrupted or was sent under the wrong hash; nothing was stored"
                )
            size = upload.stat().st_size
            key = self.xorb_key(xorb)
            with self._blobs.holds.holding(key, "upload"):
                self.storage.put_file(key, upload)
        finally:
            upload.unlink(missing_ok=True)
        try:
            with self._session() as session, session.begin():
                session.add(XetXorb(hash=xorb, size=size, num_chunks=len(chunks)))
                session.flush()
                session.add_all(
                    XetChunk(
                        xorb_hash=xorb,
                        index=index,
                        chunk_hash=to_hex(chunk.hash),
                        length=chunk.length,
                        byte_start=chunk.byte_start,
                        byte_end=chunk.byte_end,
                    )
                    for index, chunk in enumerate(chunks)
                )
        except IntegrityError:  # the same xorb, uploaded concurrently, was recorded first
            return False
        return True

    def _chunk_lengths(self, session: Session, xorbs: Iterable[str]) -> dict[str, list[int]]:
        lengths: dict[str, list[int]] = {}
        for row in session.scalars(
            select(XetChunk).where(XetChunk.xorb_hash.in_(set(xorbs))).order_by(XetChunk.index)
        ):
            lengths.setdefault(row.xorb_hash, []).append(row.length)
        return lengths

    def _chunk_hashes(self, session: Session, xorb: str, start: int, end: int) -> list[bytes]:
        return [
            from_hex(row)
            for row in session.scalars(
                select(XetChunk.chunk_hash)
                .where(XetChunk.xorb_hash == xorb, XetChunk.index >= start, XetChunk.index < end)
                .order_by(XetChunk.index)
            )
        ]

    def register_shard(self, upload: Path) -> int:
        """Record the files a shard describes; 1 if any was new, 0 if all were known.

        Raises:
            InvalidRequestError: malformed, names a xorb not stored here, or a file whose
                segments do not add up to its hash.
        """
        try:
            with upload.open("rb") as source:
                shard = read_shard(source)
        finally:
            upload.unlink(missing_ok=True)
        try:
            return self._record_files(shard)
        except IntegrityError:  # a file was registered concurrently: the retry skips it
            return self._record_files(shard)

    def _record_files(self, shard: Shard) -> int:
        with self._session() as session, session.begin():
            self._check_shard(session, shard)
            known = set(
                session.scalars(
                    select(XetFile.file_hash).where(
                        XetFile.file_hash.in_({to_hex(file.hash) for file in shard.files})
                    )
                )
            )
            new = [file for file in shard.files if to_hex(file.hash) not in known]
            session.add_all(
                XetFile(
                    file_hash=to_hex(file.hash),
                    sha256=file.sha256,
                    size=sum(term.length for term in file.terms),
                    terms=[[to_hex(t.xorb), t.start, t.end, t.length] for t in file.terms],
                )
                for file in new
            )
            session.flush()
            session.add_all(
                XetFileXorb(file_hash=to_hex(file.hash), xorb_hash=xorb)
                for file in new
                for xorb in dict.fromkeys(to_hex(term.xorb) for term in file.terms)
            )
        return 1 if new else 0

    def _check_shard(self, session: Session, shard: Shard) -> None:
        named = {to_hex(xorb.hash) for xorb in shard.xorbs}
        named |= {to_hex(term.xorb) for file in shard.files for term in file.terms}
        stored = set(session.scalars(select(XetXorb.hash).where(XetXorb.hash.in_(named))))
        if missing := sorted(named - stored):
            raise InvalidRequestError(
                f"the shard names {len(missing)} xorb(s) not stored here, e.g. {missing[0]}: "
                "upload the xorbs before the shard"
            )
        for xorb in shard.xorbs:
            name = to_hex(xorb.hash)
            stored_chunks = [
                (from_hex(row.chunk_hash), row.length)
                for row in session.scalars(
                    select(XetChunk).where(XetChunk.xorb_hash == name).order_by(XetChunk.index)
                )
            ]
            if list(xorb.chunks) != stored_chunks:
                raise InvalidRequestError(
                    f"the shard's chunk list for xorb {name} differs from the xorb's chunks"
                )
        lengths = self._chunk_lengths(session, stored)
        for file in shard.files:
            self._check_file(session, file, lengths)

    def _check_file(self, session: Session, file: ShardFile, lengths: dict[str, list[int]]) -> None:
        name = to_hex(file.hash)
        chunks: list[tuple[bytes, int]] = []
        for index, term in enumerate(file.terms):
            xorb = to_hex(term.xorb)
            sizes = lengths[xorb]
            if not 0 <= term.start < term.end <= len(sizes):
                raise InvalidRequestError(
                    f"file {name}: segment {index} asks for chunks {term.start}..{term.end} of "
                    f"xorb {xorb}, which has {len(sizes)}"
                )
            if sum(sizes[term.start : term.end]) != term.length:
                raise InvalidRequestError(
                    f"file {name}: segment {index} claims {term.length} bytes, its chunks "
                    f"hold {sum(sizes[term.start : term.end])}"
                )
            hashes = self._chunk_hashes(session, xorb, term.start, term.end)
            if file.range_hashes and file.range_hashes[index] != range_hash(hashes):
                raise InvalidRequestError(f"file {name}: segment {index} fails verification")
            chunks.extend(zip(hashes, sizes[term.start : term.end], strict=True))
        if file_hash(chunks) != file.hash:
            raise InvalidRequestError(
                f"file {name}: its segments' chunks hash to {to_hex(file_hash(chunks))}"
            )

    # -- downloads --------------------------------------------------------------------------

    def file(self, xet_hash: str) -> XetFile:
        """The registered file; ``EntryNotFoundError`` if no shard described it."""
        from_hex(xet_hash)
        with self._session() as session:
            row = session.get(XetFile, xet_hash)
        if row is None:
            raise EntryNotFoundError(f"no Xet file {xet_hash} is stored here")
        return row

    def check_served(self, repo_pk: int, row: XetFile) -> None:
        """Raise unless ``row`` is a file of repository ``repo_pk`` that may be served: a
        token for one repository reads nothing of another, and nothing quarantined.

        Raises:
            EntryNotFoundError: no commit of the repository has this file.
            QuarantinedFileError: the scanner judged the file unsafe.
        """
        with self._session() as session:
            in_repo = session.scalar(
                select(CommitFile.path)
                .where(CommitFile.repo_id == repo_pk, CommitFile.sha256 == row.sha256)
                .limit(1)
            )
            unsafe = session.scalar(
                select(ScanResult.summary)
                .where(ScanResult.sha256 == row.sha256, ScanResult.verdict == QUARANTINED)
                .limit(1)
            )
        if row.sha256 is None or in_repo is None:
            raise EntryNotFoundError(f"no file of this repository has Xet hash {row.file_hash}")
        if unsafe is not None:
            raise QuarantinedFileError(
                f"{in_repo!r} is quarantined: the scanner judged it unsafe ({unsafe}); "
                "it is never served"
            )

    def hashes_for(self, sha256s: Iterable[str]) -> dict[str, str]:
        """The Xet hash of every blob among ``sha256s`` that was uploaded through Xet."""
        with self._session() as session:
            rows = session.execute(
                select(XetFile.sha256, XetFile.file_hash).where(XetFile.sha256.in_(set(sha256s)))
            ).all()
        return {sha256: file_hash for sha256, file_hash in rows if sha256 is not None}

    def reconstruction(
        self, xet_hash: str, wanted: FileRange | None, fetch_url: Callable[[str], str]
    ) -> dict[str, Any]:
        """The v1 reconstruction of a file (or of the chunks covering ``wanted``): its
        segments in order, and for each xorb the signed URLs and byte ranges to fetch.

        ``fetch_url(xorb)`` gives a xorb's signed URL. Raises ``InvalidRangeError`` when
        ``wanted`` starts beyond the file.
        """
        row = self.file(xet_hash)
        if wanted is not None and wanted.first >= row.size:
            raise InvalidRangeError(f"byte {wanted.first} is beyond the file's end", row.size)
        spans = self._spans(row)
        first, last = (0, row.size - 1) if wanted is None else (wanted.first, wanted.last)
        terms: list[dict[str, Any]] = []
        fetch: dict[str, list[dict[str, Any]]] = {}
        offset_into_first = 0
        position = 0
        for xorb, start, end, _ in row.terms:
            kept: list[int] = []
            for index in range(start, end):
                length = spans[(xorb, index)].length
                if position + length > first and position <= last:
                    if not terms and not kept:
                        offset_into_first = first - position
                    kept.append(index)
                position += length
            if not kept:
                continue
            begin, stop = kept[0], kept[-1] + 1
            terms.append(
                {
                    "hash": xorb,
                    "unpacked_length": sum(spans[(xorb, i)].length for i in kept),
                    "range": {"start": begin, "end": stop},
                }
            )
            entry = {
                "range": {"start": begin, "end": stop},
                "url": fetch_url(xorb),
                "url_range": {
                    "start": spans[(xorb, begin)].byte_start,
                    "end": spans[(xorb, stop - 1)].byte_end - 1,
                },
            }
            if entry not in fetch.setdefault(xorb, []):
                fetch[xorb].append(entry)
        return {"offset_into_first_range": offset_into_first, "terms": terms, "fetch_info": fetch}

    def _spans(self, row: XetFile) -> dict[tuple[str, int], XetChunk]:
        """Every chunk of the xorbs ``row`` uses, by (xorb hash, chunk index)."""
        with self._session() as session:
            return {
                (chunk.xorb_hash, chunk.index): chunk
                for chunk in session.scalars(
                    select(XetChunk).where(XetChunk.xorb_hash.in_({t[0] for t in row.terms}))
                )
            }

    def dedup_shard(self, chunk: str) -> bytes | None:
        """A shard listing the stored xorb that holds ``chunk`` and the other xorbs of the files
        that use it (chunk hashes keyed by a fresh key, so the client matches only chunks it
        has), or None if no xorb holds it. A client asks about few of a file's chunks; the
        file's other xorbs let it skip everything stored, not only the asked chunk's xorb."""
        from_hex(chunk)
        with self._session() as session:
            xorb = session.scalar(
                select(XetChunk.xorb_hash).where(XetChunk.chunk_hash == chunk).limit(1)
            )
            if xorb is None:
                return None
            files = select(XetFileXorb.file_hash).where(XetFileXorb.xorb_hash == xorb)
            related = session.scalars(
                select(XetFileXorb.xorb_hash)
                .where(XetFileXorb.file_hash.in_(files), XetFileXorb.xorb_hash != xorb)
                .distinct()
                .order_by(XetFileXorb.xorb_hash)
                .limit(_DEDUP_MAX_XORBS - 1)
            )
            names = [xorb, *related]
            sizes = dict(
                session.execute(select(XetXorb.hash, XetXorb.size).where(XetXorb.hash.in_(names)))
                .tuples()
                .all()
            )
            chunks: dict[str, list[tuple[bytes, int]]] = {name: [] for name in names}
            for row in session.scalars(
                select(XetChunk)
                .where(XetChunk.xorb_hash.in_(names))
                .order_by(XetChunk.xorb_hash, XetChunk.index)
            ):
                chunks[row.xorb_hash].append((from_hex(row.chunk_hash), row.length))
        now = int(time.time())
        valid = (now, now + _DEDUP_VALID_SECONDS)
        listed = [DedupXorb(from_hex(name), chunks[name], sizes[name]) for name in names]
        return dedup_shard(listed, secrets.token_bytes(32), valid)

    # -- reassembly -------------------------------------------------------------------------

    def _file_bytes(self, row: XetFile) -> Iterator[bytes]:
        spans = self._spans(row)
        for xorb, start, end, _ in row.terms:
            begin = spans[(xorb, start)].byte_start
            stream = self.storage.read(self.xorb_key(xorb), begin, spans[(xorb, end - 1)].byte_end)
            buffer, offset = b"", 0
            for index in range(start, end):
                span = spans[(xorb, index)]
                length = span.byte_end - span.byte_start
                while len(buffer) - offset < length:
                    more = next(stream, None)
                    if more is None:
                        raise InvalidRequestError(f"xorb {xorb} is shorter than its chunk index")
                    buffer, offset = buffer[offset:] + more, 0
                serialized = buffer[offset : offset + length]
                offset += length
                header = serialized[:_CHUNK_HEADER]
                yield decompress(
                    header[4], serialized[_CHUNK_HEADER:], span.length, f"{xorb}#{index}"
                )

    def _by_sha256(self, sha256: str) -> XetFile | None:
        with self._session() as session:
            return session.scalars(select(XetFile).where(XetFile.sha256 == sha256)).first()

    def registered_size(self, sha256: str) -> int | None:
        """The size of the Xet-uploaded file whose content hashes to ``sha256``, if any."""
        row = self._by_sha256(sha256)
        return None if row is None else row.size

    def materialize(self, sha256: str) -> StoredBlob:
        """Rebuild the Xet-uploaded file whose content hashes to ``sha256`` into the blob
        store, streamed and verified.

        Raises:
            EntryNotFoundError: no shard registered a file with that sha256.
            InvalidRequestError: the chunks do not hash to ``sha256``.
        """
        row = self._by_sha256(sha256)
        if row is None:
            raise EntryNotFoundError(f"no Xet upload has sha256 {sha256}")
        writer = self._blobs.writer(row.size, expected_sha256=sha256)
        try:
            for data in self._file_bytes(row):
                writer.write(data)
        except BaseException:
            writer.abort()
            raise
        return writer.finish()
