"""The per-repository size limit: what a repo stores, and refusing uploads that would exceed it."""

from __future__ import annotations

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from modelyard.hub.errors import PayloadTooLargeError
from modelyard.hub.server.db import Blob, CommitFile
from modelyard.hub.server.settings import format_size


class RepoUsage:
    """The bytes a repo stores (each distinct file of its history once), counted up as an
    upload declares more; ``add`` refuses what would exceed ``limit``."""

    def __init__(self, repo_id: str, stored: int, blobs: set[str], limit: int) -> None:
        self.repo_id = repo_id
        self.stored = stored
        self.blobs = blobs
        self.limit = limit

    def add(self, sha256: str, size: int) -> None:
        """Count blob ``sha256`` of ``size`` bytes unless the repo holds it already.

        Raises ``PayloadTooLargeError`` if the repo would grow beyond its limit.
        """
        if sha256 in self.blobs:
            return
        self._check(size)
        self.stored += size
        self.blobs.add(sha256)

    def check_room(self) -> None:
        """Raise ``PayloadTooLargeError`` if the repo is full already (no new byte fits)."""
        self._check(1)

    def _check(self, size: int) -> None:
        if self.stored + size > self.limit:
            raise PayloadTooLargeError(
                f"this upload would grow {self.repo_id!r} to {format_size(self.stored + size)}, "
                f"above this hub's limit of {format_size(self.limit)} per repository "
                f"(it stores {format_size(self.stored)})",
                hint="put further files in another repository, or ask the hub operator to raise "
                "`modelyard hub serve --max-repo-size`",
            )


def repo_usage(engine: Engine, repo_pk: int, repo_id: str, limit: int) -> RepoUsage:
    """What repo ``repo_pk`` stores now, over every commit of every branch."""
    with Session(engine) as session:
        referenced = select(CommitFile.sha256).where(CommitFile.repo_id == repo_pk)
        blobs = set(session.scalars(referenced))
        stored = session.scalar(
            select(func.coalesce(func.sum(Blob.size), 0)).where(Blob.sha256.in_(referenced))
        )
    return RepoUsage(repo_id, int(stored or 0), blobs, limit)
