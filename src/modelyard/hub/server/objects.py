"""Where the hub keeps file contents: a local folder, or an S3-compatible bucket.

Both speak ``ObjectStorage``: named objects (``blobs/ab/cd/<sha256>``, ``xet/xorbs/...``),
written through a staging object that becomes visible under its final key only when the
writer publishes it, so a reader (or a server restarted after a crash) never sees a partial
object. Staging objects live under ``STAGING_PREFIX``; ``hub gc`` removes those older than
its grace period. The contract needs no in-process lock: any number of servers may share one
folder or bucket, and the database decides which objects are live (``modelyard.hub.server.gc``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from modelyard.hub.errors import InvalidRequestError

if TYPE_CHECKING:
    from obstore import GetOptions, WritableFile
    from obstore.store import S3Store

STAGING_PREFIX = "tmp/"
_READ_CHUNK = 1024 * 1024
# S3 multipart parts are this large, at most _PARTS_IN_FLIGHT of them uploading at once: the
# memory one upload holds. The Xet client sends several xorbs at once, so this is kept small
# (16 parts of 16 MiB in flight, at 4 per upload, took a 1 GB upload to 511 MB of RSS); 8 MiB
# parts still reach S3's 10,000-part limit only beyond 78 GiB.
_PART_SIZE = 8 * 1024 * 1024
_PARTS_IN_FLIGHT = 2
# S3's CopyObject moves at most 5 GiB.
_MAX_COPY = 5 * 1024**3


@dataclass(frozen=True)
class StoredObject:
    """One object of a listing."""

    key: str
    size: int
    modified: datetime


class StagedWriter(Protocol):
    """Bytes of one object on their way in; invisible until ``publish``."""

    def write(self, chunk: bytes) -> None:
        """Append ``chunk`` (may block on I/O: call off the event loop for large chunks)."""

    def publish(self, key: str) -> None:
        """Make the bytes written so far visible, complete, under ``key`` (replacing any
        object there: keys are content addresses, so the content is the same)."""

    def abort(self) -> None:
        """Drop the staged bytes (idempotent; a no-op after ``publish``)."""


class ObjectStorage(Protocol):
    """A flat namespace of immutable objects; see the module docstring for the contract."""

    def stage(self) -> StagedWriter:
        """A writer for a new object, staged under ``STAGING_PREFIX``."""

    def put_file(self, key: str, path: Path) -> None:
        """Publish the local file ``path`` under ``key``; ``path`` may be consumed (moved)."""

    def stat(self, key: str) -> StoredObject | None:
        """The object at ``key`` (size, last modified), or None if there is none."""

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Bytes ``start`` up to ``end`` (exclusive; None: the end) of an object, streamed.

        Raises ``FileNotFoundError`` if there is no object at ``key``.
        """

    def local_path(self, key: str) -> Path | None:
        """The object as a local file, if the storage keeps it as one (else None)."""

    def local_copy(self, key: str) -> contextlib.AbstractContextManager[Path]:
        """A local file holding the object for the duration of the ``with`` block."""

    def presign(self, key: str, expires: timedelta) -> str | None:
        """A URL reading the object without credentials until ``expires`` from now, or None
        if the storage cannot give one."""

    def delete(self, key: str) -> None:
        """Remove the object at ``key`` (no error if there is none)."""

    def listing(self, prefix: str) -> Iterator[StoredObject]:
        """Every object under the folder-like ``prefix`` (ending in ``/``)."""


def open_storage(url: str | None, data_dir: Path) -> ObjectStorage:
    """The storage ``url`` names: ``s3://BUCKET[/PREFIX]``, or None for ``data_dir`` itself.

    Raises ``InvalidRequestError`` for any other URL.
    """
    if url is None:
        return FolderStorage(data_dir)
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise InvalidRequestError(
            f"invalid storage URL {url!r}: expected s3://BUCKET or s3://BUCKET/PREFIX "
            "(or no URL for the data folder)"
        )
    return BucketStorage(parts.netloc, parts.path.strip("/"))


class _FolderWriter:
    def __init__(self, root: Path) -> None:
        self._root = root
        folder = root / STAGING_PREFIX
        folder.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=folder, prefix="blob-", suffix=".part")
        self._path = Path(name)
        self._file = os.fdopen(handle, "wb")

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)

    def publish(self, key: str) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        target = self._root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        self._path.replace(target)

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        self._path.unlink(missing_ok=True)


class FolderStorage:
    """Objects as files under ``root`` (the hub's data dir): a rename publishes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def stage(self) -> StagedWriter:
        return _FolderWriter(self.root)

    def put_file(self, key: str, path: Path) -> None:
        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        path.replace(target)

    def stat(self, key: str) -> StoredObject | None:
        try:
            found = (self.root / key).stat()
        except FileNotFoundError:
            return None
        return StoredObject(key, found.st_size, datetime.fromtimestamp(found.st_mtime, UTC))

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        with (self.root / key).open("rb") as file:
            file.seek(start)
            remaining = None if end is None else end - start
            while remaining is None or remaining > 0:
                chunk = file.read(_READ_CHUNK if remaining is None else min(remaining, _READ_CHUNK))
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    def local_path(self, key: str) -> Path | None:
        return self.root / key

    @contextlib.contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        yield self.root / key

    def presign(self, key: str, expires: timedelta) -> str | None:
        return None

    def delete(self, key: str) -> None:
        (self.root / key).unlink(missing_ok=True)

    def listing(self, prefix: str) -> Iterator[StoredObject]:
        for path in (self.root / prefix).rglob("*"):
            if path.is_file():
                found = self.stat(path.relative_to(self.root).as_posix())
                if found is not None:  # else removed while listing
                    yield found


class _BucketWriter:
    def __init__(self, storage: BucketStorage) -> None:
        self._storage = storage
        self._staging = f"{STAGING_PREFIX}staging/{uuid.uuid4().hex}"
        self._writer = storage.writer(self._staging)
        self._written = 0
        self._done = False

    def write(self, chunk: bytes) -> None:
        self._writer.write(chunk)
        self._written += len(chunk)

    def publish(self, key: str) -> None:
        import obstore

        self._writer.close()  # completes the (multipart) upload of the staging object
        if self._written <= _MAX_COPY:
            obstore.copy(self._storage.store, self._staging, key)
        else:  # beyond what one server-side copy may move: stream it over
            with self._storage.writer(key) as target:
                for chunk in self._storage.read(self._staging):
                    target.write(chunk)
        self._done = True
        obstore.delete(self._storage.store, self._staging)

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        if self._writer.closed():
            self._storage.delete(self._staging)
        else:  # leaving with an error aborts the multipart upload instead of completing it
            with contextlib.suppress(Exception):
                self._writer.__exit__(_Aborted, _Aborted(), None)


class _Aborted(Exception):
    """Ends an upload that must not complete."""


class BucketStorage:
    """Objects in an S3-compatible bucket, under ``prefix``; the endpoint and credentials
    come from the standard ``AWS_*`` environment variables (``AWS_ENDPOINT_URL``,
    ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``)."""

    def __init__(self, bucket: str, prefix: str = "") -> None:
        from obstore.store import S3Store

        endpoint = os.environ.get("AWS_ENDPOINT_URL")
        self.store: S3Store = S3Store(
            bucket,
            prefix=prefix or None,
            endpoint=endpoint,
            client_options={"allow_http": bool(endpoint and endpoint.startswith("http://"))},
        )

    def stage(self) -> StagedWriter:
        return _BucketWriter(self)

    def writer(self, key: str) -> WritableFile:
        """obstore's buffered writer of ``key``: a multipart upload beyond one part."""
        import obstore

        return obstore.open_writer(
            self.store, key, buffer_size=_PART_SIZE, max_concurrency=_PARTS_IN_FLIGHT
        )

    def put_file(self, key: str, path: Path) -> None:
        import obstore

        try:
            obstore.put(
                self.store, key, path, chunk_size=_PART_SIZE, max_concurrency=_PARTS_IN_FLIGHT
            )
        finally:
            path.unlink(missing_ok=True)

    def stat(self, key: str) -> StoredObject | None:
        import obstore

        try:
            meta = obstore.head(self.store, key)
        except FileNotFoundError:
            return None
        return StoredObject(key, meta["size"], meta["last_modified"])

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        import obstore

        if end is not None and end <= start:
            return
        options: GetOptions = (
            {"range": {"offset": start}} if end is None else {"range": (start, end)}
        )
        result = obstore.get(self.store, key, options=options)
        for chunk in result.stream(min_chunk_size=_READ_CHUNK):
            yield bytes(chunk)

    def local_path(self, key: str) -> Path | None:
        return None

    @contextlib.contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        handle, name = tempfile.mkstemp(prefix="modelyard-object-")
        path = Path(name)
        try:
            with os.fdopen(handle, "wb") as file:
                for chunk in self.read(key):
                    file.write(chunk)
            yield path
        finally:
            path.unlink(missing_ok=True)

    def presign(self, key: str, expires: timedelta) -> str | None:
        import obstore

        return obstore.sign(self.store, "GET", key, expires)

    def delete(self, key: str) -> None:
        import obstore

        with contextlib.suppress(FileNotFoundError):
            obstore.delete(self.store, key)

    def listing(self, prefix: str) -> Iterator[StoredObject]:
        import obstore

        for batch in obstore.list(self.store, prefix or None):
            for meta in batch:
                yield StoredObject(meta["path"], meta["size"], meta["last_modified"])
