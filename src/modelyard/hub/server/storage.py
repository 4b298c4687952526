"""Content-addressed blobs over the hub's object storage (a folder or a bucket).

A blob streams to a staging object, hashed on the way, and is published at its sha256 address
only once complete and verified: a crash leaves at most a stray staging object (removed by
``hub gc``), never a partial blob.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from modelyard.hub.errors import InvalidRequestError, PayloadTooLargeError
from modelyard.hub.server.holds import StorageHolds
from modelyard.hub.server.objects import STAGING_PREFIX, ObjectStorage, StagedWriter, open_storage
from modelyard.hub.server.settings import Settings, format_size

if TYPE_CHECKING:
    from sqlalchemy import Engine

_STALE_STAGING = timedelta(days=1)
_MULTIPART_PREFIX = f"{STAGING_PREFIX}multipart/"


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    git_sha1: str


def lfs_pointer(sha256: str, size: int) -> bytes:
    """The git-lfs pointer file whose git blob id the Hub reports for LFS files."""
    return (
        f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()
    )


def git_blob_sha1(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()


class BlobWriter:
    """Streams one blob of a known size to staging; ``finish`` verifies and publishes."""

    def __init__(self, store: BlobStore, size: int, expected_sha256: str | None = None) -> None:
        self._store = store
        self._size = size
        self._expected = expected_sha256
        self._written = 0
        self._sha256 = hashlib.sha256()
        self._sha1 = hashlib.sha1(b"blob %d\0" % size, usedforsecurity=False)
        self._staged = store.storage.stage()

    def write(self, chunk: bytes) -> None:
        self._written += len(chunk)
        if self._written > self._size:
            self.abort()
            raise PayloadTooLargeError(
                f"received more than the announced {self._size} bytes; nothing was stored",
                hint="upload the file again, sending exactly the size given to the LFS batch API",
            )
        self._sha256.update(chunk)
        self._sha1.update(chunk)
        self._staged.write(chunk)

    def finish(self) -> StoredBlob:
        """Check size and hash, make the blob durable and visible at its address."""
        digest = self._sha256.hexdigest()
        if self._written != self._size:
            self.abort()
            raise InvalidRequestError(
                f"received {self._written} bytes but {self._size} were announced; upload again"
            )
        if self._expected is not None and digest != self._expected:
            self.abort()
            raise InvalidRequestError(
                f"content hashes to sha256 {digest}, not the announced {self._expected}"
            )
        key = self._store.key_for(digest)
        try:
            with self._store.holds.holding(key, "upload"):
                self._staged.publish(key)
        except BaseException:
            self.abort()
            raise
        return StoredBlob(sha256=digest, size=self._size, git_sha1=self._sha1.hexdigest())

    def abort(self) -> None:
        self._staged.abort()


class BlobStore:
    """Blobs at ``blobs/ab/cd/<sha256>`` in ``storage``; staging objects under ``tmp/``.

    A blob is published under an ``upload`` hold on its key (``holds``), so ``hub gc`` never
    deletes a blob while the same content is being stored again.
    """

    def __init__(self, storage: ObjectStorage, holds: StorageHolds, max_file_size: int) -> None:
        self.storage = storage
        self.holds = holds
        self.max_file_size = max_file_size

    @classmethod
    def open(cls, settings: Settings, engine: Engine) -> BlobStore:
        """The blob store of the hub ``settings`` describe, its holds kept in ``engine``."""
        storage = open_storage(settings.storage_url, settings.data_dir)
        return cls(storage, StorageHolds(engine), settings.max_file_size)

    def key_for(self, sha256: str) -> str:
        """The object key of a blob; ``InvalidRequestError`` if ``sha256`` is no hex digest."""
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise InvalidRequestError(f"not a sha256 hex digest: {sha256!r}")
        return f"blobs/{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def exists(self, sha256: str) -> bool:
        return self.storage.stat(self.key_for(sha256)) is not None

    def read_start(self, sha256: str, limit: int) -> bytes:
        """The first ``limit`` bytes of the blob (all of a smaller one)."""
        return b"".join(self.storage.read(self.key_for(sha256), 0, limit))

    def local_copy(self, sha256: str) -> contextlib.AbstractContextManager[Path]:
        """The blob as a local file for the ``with`` block (the scanner reads files)."""
        return self.storage.local_copy(self.key_for(sha256))

    def writer(self, size: int, expected_sha256: str | None = None) -> BlobWriter:
        """Start a blob of ``size`` bytes; raises ``PayloadTooLargeError`` above the limit."""
        self.check_size(size)
        if expected_sha256 is not None:
            self.key_for(expected_sha256)  # validates the digest before any byte is written
        return BlobWriter(self, size, expected_sha256)

    def check_size(self, size: int, name: str = "file") -> None:
        """Refuse a negative size (``InvalidRequestError``) or one above the hub's file size
        limit (``PayloadTooLargeError``), before any byte of ``name`` is stored."""
        if size < 0:
            raise InvalidRequestError(f"invalid size {size} for {name!r}")
        if size > self.max_file_size:
            raise PayloadTooLargeError(
                f"{name!r} has {format_size(size)} ({size} bytes), above this hub's limit of "
                f"{format_size(self.max_file_size)} per file",
                hint="split it into smaller files, or ask the hub operator to raise "
                "`modelyard hub serve --max-file-size`",
            )

    def put_bytes(self, content: bytes) -> StoredBlob:
        writer = self.writer(len(content))
        writer.write(content)
        return writer.finish()

    def part_writer(self) -> StagedWriter:
        """A writer for one part of a multipart upload, published with ``part_key``."""
        return self.storage.stage()

    def part_key(self, upload_key: str, number: int) -> str:
        """Where part ``number`` of one multipart upload is kept (staging, so never a blob)."""
        return f"{_MULTIPART_PREFIX}{upload_key}/{number:06d}"

    def remove_parts(self, upload_key: str) -> None:
        for stored in list(self.storage.listing(f"{_MULTIPART_PREFIX}{upload_key}/")):
            self.storage.delete(stored.key)

    def clean_stale_temporaries(self) -> None:
        """Remove staging objects left by interrupted uploads a day ago or more."""
        cutoff = datetime.now(UTC) - _STALE_STAGING
        for stored in list(self.storage.listing(STAGING_PREFIX)):
            if stored.modified < cutoff:
                self.storage.delete(stored.key)
