"""Content-addressed blob storage on the local filesystem.

A blob is written to a temporary file inside the data dir (same filesystem), hashed while it
streams in, and renamed to its sha256 address only once complete and verified: a crash leaves
at most a stray temporary file, never a partial blob.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from modelyard.hub.errors import InvalidRequestError, PayloadTooLargeError
from modelyard.hub.server.settings import format_size

_STALE_TMP_SECONDS = 24 * 3600


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
    """Streams one blob of a known size to a temporary file; ``finish`` verifies and renames."""

    def __init__(self, store: BlobStore, size: int, expected_sha256: str | None = None) -> None:
        self._store = store
        self._size = size
        self._expected = expected_sha256
        self._written = 0
        self._sha256 = hashlib.sha256()
        self._sha1 = hashlib.sha1(b"blob %d\0" % size, usedforsecurity=False)
        handle, name = tempfile.mkstemp(dir=store.tmp_dir, prefix="blob-", suffix=".part")
        self._path = Path(name)
        self._file = os.fdopen(handle, "wb")

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
        self._file.write(chunk)

    def finish(self) -> StoredBlob:
        """Check size and hash, make the blob durable and visible at its address."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
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
        target = self._store.path_for(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        self._path.replace(target)
        return StoredBlob(sha256=digest, size=self._size, git_sha1=self._sha1.hexdigest())

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        self._path.unlink(missing_ok=True)


class BlobStore:
    """Blobs under ``root/ab/cd/<sha256>``; temporary files under ``tmp_dir``."""

    def __init__(self, root: Path, tmp_dir: Path, max_file_size: int) -> None:
        self.root = root
        self.tmp_dir = tmp_dir
        self.max_file_size = max_file_size
        root.mkdir(parents=True, exist_ok=True)
        tmp_dir.mkdir(parents=True, exist_ok=True)

    def path_for(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise InvalidRequestError(f"not a sha256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def writer(self, size: int, expected_sha256: str | None = None) -> BlobWriter:
        """Start a blob of ``size`` bytes; raises ``PayloadTooLargeError`` above the limit."""
        self.check_size(size)
        if expected_sha256 is not None:
            self.path_for(expected_sha256)  # validates the digest before any byte is written
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

    def part_dir(self, upload_key: str) -> Path:
        """Folder holding the parts of one multipart upload (inside tmp, so never a blob)."""
        path = self.tmp_dir / "multipart" / upload_key
        path.mkdir(parents=True, exist_ok=True)
        return path

    def remove_parts(self, upload_key: str) -> None:
        shutil.rmtree(self.tmp_dir / "multipart" / upload_key, ignore_errors=True)

    def clean_stale_temporaries(self) -> None:
        """Remove temporary files left by interrupted uploads a day ago or more."""
        cutoff = time.time() - _STALE_TMP_SECONDS
        for path in self.tmp_dir.rglob("*"):
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
