"""Scans off the request path: a job table in the hub's database and the workers that drain it.

A commit queues a job per new file and lands at once; until the file's result is stored it is
listed as pending and not served. Any number of workers, in ``hub serve`` processes and in
``modelyard hub worker`` processes alike, claim jobs from the one database: PostgreSQL skips
rows another worker has locked (``FOR UPDATE SKIP LOCKED``), and every database takes a claim
only if no other worker counted it up first. A claim older than the lease is taken again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from modelyard.hub.server.db import CommitFile, ScanJob, ScanResult, utcnow
from modelyard.hub.server.scanning import QUARANTINED, Scanner

logger = logging.getLogger(__name__)

_IDLE_SECONDS = 0.5
_WAIT_POLL_SECONDS = 0.05
_STOP_SECONDS = 5.0


@dataclass(frozen=True)
class ClaimedJob:
    """A job this worker holds: its blob, suffix, repo path, and its claim's number."""

    sha256: str
    suffix: str
    path: str
    claim: int


class ScanQueue:
    """Queues scans in the database, claims them and stores their results.

    ``lease``: how long a claimed job stays with its worker before another may take it; longer
    than any scan takes (the scan timeout plus reading the file).
    """

    def __init__(self, engine: Engine, scanner: Scanner, lease: timedelta) -> None:
        self._engine = engine
        self._scanner = scanner
        self._lease = lease
        self._queued = threading.Event()
        self.local_workers = 0

    def enqueue(self, files: Iterable[tuple[str, str]], *, outdated: bool = False) -> int:
        """Queue a scan of every ``(sha256, repo path)`` without a result for that path's named
        suffix (with ``outdated``: whatever its result); returns how many were queued."""
        from modelyard.scan.formats import named_suffix

        keys = {(sha256, named_suffix(path)): path for sha256, path in files}
        queued = 0
        with Session(self._engine) as session:
            for (sha256, suffix), path in keys.items():
                has_result = session.get(ScanResult, (sha256, suffix)) is not None
                queued_already = session.get(ScanJob, (sha256, suffix)) is not None
                if (has_result and not outdated) or queued_already:
                    continue
                session.add(ScanJob(sha256=sha256, suffix=suffix, path=path))
                try:
                    session.commit()
                    queued += 1
                except IntegrityError:
                    session.rollback()  # queued concurrently by another commit
        if queued:
            self._queued.set()
        return queued

    def enqueue_missing(self) -> int:
        """Queue every committed file that has no result (after an upgrade or a crash)."""
        with Session(self._engine) as session:
            files = session.execute(select(CommitFile.sha256, CommitFile.path).distinct()).all()
        return self.enqueue((sha256, path) for sha256, path in files)

    def enqueue_outdated(self) -> int:
        """Queue every stored result that another scanner version made."""
        from modelyard.scan.version import scanner_version

        with Session(self._engine) as session:
            stale = session.execute(
                select(CommitFile.sha256, CommitFile.path)
                .join(ScanResult, ScanResult.sha256 == CommitFile.sha256)
                .where(ScanResult.scanner_version != scanner_version())
                .distinct()
            ).all()
        queued = self.enqueue(((sha256, path) for sha256, path in stale), outdated=True)
        if queued:
            logger.info("queued %d outdated result(s) for a rescan", queued)
        return queued

    def claim(self) -> ClaimedJob | None:
        """Take the oldest job that is unclaimed or whose lease ran out, if any."""
        expired = utcnow() - self._lease
        with Session(self._engine) as session, session.begin():
            job = session.scalars(
                select(ScanJob)
                .where(or_(ScanJob.claimed_at.is_(None), ScanJob.claimed_at < expired))
                .order_by(ScanJob.queued_at)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if job is None:
                return None
            claimed = ClaimedJob(job.sha256, job.suffix, job.path, job.claims + 1)
            taken = session.execute(
                update(ScanJob)
                .where(
                    ScanJob.sha256 == claimed.sha256,
                    ScanJob.suffix == claimed.suffix,
                    ScanJob.claims == claimed.claim - 1,
                )
                .values(claims=claimed.claim, claimed_at=utcnow())
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                return None  # another worker claimed it first
            return claimed

    def run(self, job: ClaimedJob) -> str:
        """Scan a claimed job's blob and store its result; returns the verdict."""
        result = self._scanner.scan(job.sha256, job.suffix, job.path)
        with Session(self._engine) as session, session.begin():
            before = session.get(ScanResult, (job.sha256, job.suffix))
            verdict_before = before.verdict if before is not None else None
            session.merge(result)
            session.execute(
                delete(ScanJob).where(
                    ScanJob.sha256 == job.sha256,
                    ScanJob.suffix == job.suffix,
                    ScanJob.claims == job.claim,
                )
            )
        if verdict_before is not None and result.verdict != verdict_before:
            log = logger.warning if result.verdict == QUARANTINED else logger.info
            log("%s (blob %s) is now %s", job.path, job.sha256, result.verdict)
        return result.verdict

    def drain(self) -> int:
        """Run queued jobs in this thread until none is left to claim; returns how many ran."""
        ran = 0
        while (job := self.claim()) is not None:
            self.run(job)
            ran += 1
        return ran

    def wait(self, files: Iterable[tuple[str, str]], timeout: float) -> None:
        """Wait up to ``timeout`` seconds until every ``(sha256, repo path)`` has a result, if
        this process runs workers (a commit of small files returns with their verdicts)."""
        from modelyard.scan.formats import named_suffix

        keys = {(sha256, named_suffix(path)) for sha256, path in files}
        deadline = time.monotonic() + timeout
        while keys and self.local_workers and time.monotonic() < deadline:
            with Session(self._engine) as session:
                keys = {key for key in keys if session.get(ScanResult, key) is None}
            if keys:
                time.sleep(_WAIT_POLL_SECONDS)

    def idle(self) -> None:
        """Pause a worker that found nothing, until a job is queued here or a while passed."""
        self._queued.wait(_IDLE_SECONDS)
        self._queued.clear()


class ScanWorkers:
    """Worker threads draining a ``ScanQueue`` until stopped."""

    def __init__(self, queue: ScanQueue, count: int) -> None:
        self._queue = queue
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._work, name=f"hub-scan-{number}", daemon=True)
            for number in range(count)
        ]

    def start(self) -> ScanWorkers:
        self._queue.local_workers += len(self._threads)
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """End the workers, giving a running scan a few seconds to finish; one still running
        is abandoned with the process and taken over by another worker after its lease."""
        self._stop.set()
        for thread in self._threads:
            thread.join(_STOP_SECONDS)
        self._queue.local_workers -= len(self._threads)

    def wait(self) -> None:
        """Block until interrupted (``modelyard hub worker``)."""
        self._stop.wait()

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                job = self._queue.claim()
                if job is None:
                    self._queue.idle()
                else:
                    self._queue.run(job)
            except Exception:  # the job stays claimed; another worker takes it after the lease
                logger.exception("scan worker failed")
                self._stop.wait(_IDLE_SECONDS)
