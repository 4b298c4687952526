"""Scanning stored blobs: one result per blob and named suffix, made by the scan workers
(``scan_queue``) after a commit lands; results from another scanner version are redone (queued
at start-up, or at once with ``modelyard hub rescan``)."""

from __future__ import annotations

import logging
import posixpath
import threading
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from modelyard.hub.server.db import CommitFile, ScanResult, utcnow
from modelyard.hub.server.model import FileEntry, ScanStatus
from modelyard.hub.server.storage import BlobStore

if TYPE_CHECKING:
    from modelyard.scan import ScanReport

logger = logging.getLogger(__name__)

QUARANTINED = "unsafe"


@dataclass(frozen=True)
class VerdictChange:
    """A stored verdict that a rescan changed; ``path`` is one repo path of the blob."""

    sha256: str
    path: str
    before: str
    after: str

    @property
    def quarantined(self) -> bool:
        """Whether the blob is newly quarantined (listed, never served)."""
        return self.after == QUARANTINED and self.before != QUARANTINED


@dataclass(frozen=True)
class Rescan:
    """What a rescan did: how many stored results it redid, under which scanner version."""

    scanner_version: str
    rescanned: int
    changes: tuple[VerdictChange, ...]


class Scanner:
    """Runs modelyard's scanner over blobs and stores one result per blob.

    At most ``max_concurrent`` scans run at once in one process, however many workers ask: a
    scan holds the memory of its file's structures, so the others wait their turn and the
    process's memory stays bounded however many uploads arrive together.
    """

    def __init__(
        self, engine: Engine, store: BlobStore, max_concurrent: int, timeout: float | None
    ) -> None:
        self._engine = engine
        self._store = store
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._timeout = timeout

    def scan(self, sha256: str, suffix: str, repo_path: str) -> ScanResult:
        """Scan one blob as a file at ``repo_path`` is read; the result is not stored yet."""
        from modelyard.scan import ScanOptions, ScanReport, scan_file
        from modelyard.scan.version import scanner_version

        with self._slots, self._store.local_copy(sha256) as path:
            started = time.perf_counter()
            result = scan_file(
                path, ScanOptions(timeout=self._timeout), name=repo_path.rsplit("/", 1)[-1]
            )
            report = ScanReport(files=[result], seconds=time.perf_counter() - started)
        logger.info("scanned blob %s (as %s): %s", sha256, suffix or "content", report.verdict)
        return ScanResult(
            sha256=sha256,
            suffix=suffix,
            verdict=str(report.verdict),
            summary=_anonymize(finding_summary(report), str(path)),
            report=_anonymize(report.to_dict(), str(path)),
            scanned_at=utcnow(),
            scanner_version=scanner_version(),
        )

    def rescan(self, *, everything: bool = False) -> Rescan:
        """Redo every stored result that another scanner version made (every result with
        ``everything``). A blob that becomes unsafe is quarantined from then on."""
        from modelyard.scan.formats import named_suffix
        from modelyard.scan.version import scanner_version

        version = scanner_version()
        query = select(ScanResult.sha256, ScanResult.suffix, ScanResult.verdict)
        if not everything:
            query = query.where(ScanResult.scanner_version != version)
        with Session(self._engine) as session:
            stale = session.execute(query).all()
            committed = session.execute(select(CommitFile.sha256, CommitFile.path).distinct())
            paths = {(sha256, named_suffix(path)): path for sha256, path in committed}
        if stale:
            logger.info("rescanning %d stored result(s) with scanner %s", len(stale), version)
        changes = []
        for sha256, suffix, before in stale:
            # A blob in no commit (yet) is named by its hash: its suffix decides how it is read.
            repo_path = paths.get((sha256, suffix), sha256 + suffix)
            with Session(self._engine) as session:
                after = session.merge(self.scan(sha256, suffix, repo_path)).verdict
                session.commit()
            if after != before:
                changes.append(VerdictChange(sha256, repo_path, before, after))
                log = logger.warning if after == QUARANTINED else logger.info
                log("%s (blob %s) is now %s", repo_path, sha256, after)
        return Rescan(version, len(stale), tuple(changes))


def adopt_tensor_data(entries: list[FileEntry]) -> list[FileEntry]:
    """A file in no known format that a model of the same commit reads as raw tensor data
    (its ONNX external data) is shown as that model's data, not as unknown.

    Blobs are scanned alone, by content; which model reads a file is a fact of the commit.
    """
    from modelyard.scan import ScanReport
    from modelyard.scan.api import adopt_data_files

    reports = {
        entry.path: ScanReport.from_dict(entry.scan.report)
        for entry in entries
        if entry.scan is not None
    }
    results = [(path, result) for path, report in reports.items() for result in report.files]
    adopted = set(adopt_data_files(results, posixpath.normpath))
    return [
        replace(entry, scan=_scan_status(reports[entry.path])) if entry.path in adopted else entry
        for entry in entries
    ]


def _scan_status(report: ScanReport) -> ScanStatus:
    return ScanStatus(str(report.verdict), finding_summary(report), report.to_dict())


def _anonymize(value: Any, blob_path: str) -> Any:
    """Drop the server-side blob path from a report: the API shows the repo path instead."""
    if isinstance(value, dict):
        return {key: _anonymize(item, blob_path) for key, item in value.items()}
    if isinstance(value, list):
        return [_anonymize(item, blob_path) for item in value]
    if isinstance(value, str) and blob_path in value:
        return value.replace(blob_path, "<file>")
    return value


def finding_summary(report: ScanReport) -> str:
    """One line naming the findings of a report (the first three, then a count)."""
    findings = [finding for file in report.files for finding in file.findings]
    if not findings:
        return "no findings"
    shown = "; ".join(
        f"{finding.rule_id} ({finding.severity}): {finding.message}" for finding in findings[:3]
    )
    more = f"; and {len(findings) - 3} more" if len(findings) > 3 else ""
    return shown + more
