"""``hub gc``: remove stored objects that no commit needs, safely while uploads are in flight.

What is live is decided by the database, never by a server's memory, so gc may run while any
number of servers take uploads:

- a blob is live while a commit references it, and for ``grace`` after it was stored (an
  upload whose commit has not arrived yet);
- a file registered by a Xet shard is live while a commit references its content, and for
  ``grace``; a xorb while a live Xet file uses it, and for ``grace``;
- a staging object for ``grace`` after its last write (a multipart upload's parts: after its
  newest part); an object no database row names, for ``grace`` after it was written.

Each deletion holds the object's key (``StorageHolds``), so an upload publishing the same
content waits for it and stores it again afterwards; an object written again within ``grace``
is kept. The row goes first, in a transaction that the database's foreign keys abort if a
commit (or shard) referenced the blob (or xorb) meanwhile, and a commit share-locks its blobs'
rows: a commit racing gc either keeps its blob or is refused cleanly as "never uploaded", and
the client uploads again. The object goes only once its row is gone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from modelyard.hub.errors import InvalidRequestError
from modelyard.hub.server.db import (
    Blob,
    CommitFile,
    ScanResult,
    XetChunk,
    XetFile,
    XetFileXorb,
    XetXorb,
    make_engine,
    utcnow,
)
from modelyard.hub.server.holds import StorageHolds
from modelyard.hub.server.objects import (
    STAGING_PREFIX,
    ObjectStorage,
    StoredObject,
)
from modelyard.hub.server.settings import Settings
from modelyard.hub.server.storage import BlobStore
from modelyard.hub.server.xet.cas import XetStore

logger = logging.getLogger(__name__)

_MULTIPART = f"{STAGING_PREFIX}multipart/"


@dataclass(frozen=True)
class GcReport:
    """What one collection removed: objects by kind, and the bytes they held."""

    blobs: int = 0
    xorbs: int = 0
    xet_files: int = 0
    staging: int = 0
    unrecorded: int = 0
    freed_bytes: int = 0


class _Collection:
    def __init__(self, engine: Engine, blobs: BlobStore, xet: XetStore, cutoff: datetime):
        self.engine = engine
        self.storage: ObjectStorage = blobs.storage
        self.holds: StorageHolds = blobs.holds
        self.blobs = blobs
        self.xet = xet
        self.cutoff = cutoff
        self.freed = 0

    def remove(self, key: str, forget: Callable[[Session], bool]) -> bool:
        """Delete the object at ``key`` once ``forget`` (run in one transaction) removed its
        row and answered True; keep it if anyone holds the key, it was written within the
        grace period, or the database refuses (a reference appeared)."""
        if not self.holds.try_hold(key, "delete"):
            return False
        try:
            found = self.storage.stat(key)
            if found is not None and found.modified >= self.cutoff:
                return False
            try:
                with Session(self.engine) as session, session.begin():
                    if not forget(session):
                        return False
            except IntegrityError:
                return False
            if found is not None:
                self.storage.delete(key)
                self.freed += found.size
            return True
        finally:
            self.holds.release(key)

    def staging(self) -> int:
        """Staging objects older than the cutoff (a multipart upload's parts together)."""
        uploads: dict[str, list[StoredObject]] = {}
        for stored in self.storage.listing(STAGING_PREFIX):
            group = stored.key
            if stored.key.startswith(_MULTIPART):
                group = _MULTIPART + stored.key.removeprefix(_MULTIPART).split("/", 1)[0]
            uploads.setdefault(group, []).append(stored)
        removed = 0
        for parts in uploads.values():
            if max(part.modified for part in parts) < self.cutoff:
                for part in parts:
                    self.storage.delete(part.key)
                    self.freed += part.size
                    removed += 1
        return removed

    def xet_files(self) -> int:
        """Forget Xet files no commit references, registered before the cutoff."""
        committed = exists().where(CommitFile.sha256 == XetFile.sha256)
        with Session(self.engine) as session, session.begin():
            stale = list(
                session.scalars(
                    select(XetFile.file_hash).where(XetFile.created_at < self.cutoff, ~committed)
                )
            )
            session.execute(delete(XetFileXorb).where(XetFileXorb.file_hash.in_(stale)))
            session.execute(delete(XetFile).where(XetFile.file_hash.in_(stale)))
        return len(stale)

    def unreferenced_blobs(self) -> int:
        """Blobs stored before the cutoff that no commit references (with their scans)."""
        referenced = exists().where(CommitFile.sha256 == Blob.sha256)
        with Session(self.engine) as session:
            candidates = list(
                session.scalars(
                    select(Blob.sha256).where(Blob.created_at < self.cutoff, ~referenced)
                )
            )
        return sum(
            self.remove(
                self.blobs.key_for(sha256), self._forget(Blob.sha256, sha256, ScanResult.sha256)
            )
            for sha256 in candidates
        )

    def unused_xorbs(self) -> int:
        """Xorbs stored before the cutoff that no registered Xet file uses (with their chunks)."""
        used = exists().where(XetFileXorb.xorb_hash == XetXorb.hash)
        with Session(self.engine) as session:
            candidates = list(
                session.scalars(select(XetXorb.hash).where(XetXorb.created_at < self.cutoff, ~used))
            )
        return sum(
            self.remove(
                self.xet.xorb_key(xorb), self._forget(XetXorb.hash, xorb, XetChunk.xorb_hash)
            )
            for xorb in candidates
        )

    def _forget(
        self, key: InstrumentedAttribute[str], address: str, parts: InstrumentedAttribute[str]
    ) -> Callable[[Session], bool]:
        """Delete the row whose ``key`` is ``address`` if stored before the cutoff, with the
        rows whose ``parts`` column names it; True if it was deleted. A reference added
        meanwhile fails the delete on its foreign key."""
        row_type = key.class_

        def run(session: Session) -> bool:
            old = select(key).where(key == address, row_type.created_at < self.cutoff)
            if session.scalar(old) is None:
                return False
            session.execute(delete(parts.class_).where(parts == address))
            session.execute(delete(row_type).where(key == address))
            return True

        return run

    def unrecorded(self) -> int:
        """Objects that no row names (a server stopped between publishing and recording)."""
        removed = 0
        for prefix, row_type in (("blobs/", Blob), ("xet/xorbs/", XetXorb)):
            for stored in list(self.storage.listing(prefix)):
                if stored.modified < self.cutoff:
                    address = stored.key.rsplit("/", 1)[-1]
                    removed += self.remove(stored.key, _absent(row_type, address))
        return removed


def _absent(row_type: type[Blob | XetXorb], address: str) -> Callable[[Session], bool]:
    def run(session: Session) -> bool:
        return session.get(row_type, address) is None

    return run


def collect_garbage(settings: Settings, grace: timedelta) -> GcReport:
    """Remove what no commit of the hub ``settings`` describe needs any more, keeping
    everything stored within ``grace`` (see the module docstring).

    Raises ``InvalidRequestError`` for a negative ``grace``.
    """
    if grace < timedelta(0):
        raise InvalidRequestError(f"the grace period must be 0 or more, got {grace}")
    engine = make_engine(settings)
    blobs = BlobStore.open(settings, engine)
    xet = XetStore(engine, settings.tmp_dir, blobs)
    run = _Collection(engine, blobs, xet, utcnow() - grace)
    report = GcReport(
        staging=run.staging(),
        xet_files=run.xet_files(),
        blobs=run.unreferenced_blobs(),
        xorbs=run.unused_xorbs(),
        unrecorded=run.unrecorded(),
    )
    report = replace(report, freed_bytes=run.freed)
    logger.info("gc: %s", report)
    return report
