"""Scan-on-push: every stored blob gets a scan result before a commit referencing it lands."""

from __future__ import annotations

import logging
import posixpath
import threading
import time
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from modelyard.hub.server.db import CommitFile, ScanResult
from modelyard.hub.server.model import FileEntry, ScanStatus
from modelyard.hub.server.storage import BlobStore

if TYPE_CHECKING:
    from modelyard.scan import ScanReport

logger = logging.getLogger(__name__)

QUARANTINED = "unsafe"


class Scanner:
    """Runs modelyard's scanner over blobs and stores one result per blob.

    At most ``max_concurrent`` scans run at once, whoever asks (commits, repo creation, the
    startup catch-up): a scan holds the memory of its file's structures, so further callers
    wait their turn and the hub's memory stays bounded however many uploads arrive together.
    """

    def __init__(
        self, engine: Engine, store: BlobStore, max_concurrent: int, timeout: float | None
    ) -> None:
        self._engine = engine
        self._store = store
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._timeout = timeout

    def ensure_scanned(self, files: Iterable[tuple[str, str]]) -> None:
        """Scan every ``(sha256, repo path)`` whose blob has no stored result for that path's
        named suffix yet (blocking; call off the event loop)."""
        from modelyard.scan import ScanOptions, ScanReport, scan_file
        from modelyard.scan.formats import named_suffix

        options = ScanOptions(timeout=self._timeout)
        keys = {(sha256, named_suffix(path)): path for sha256, path in files}
        for (sha256, suffix), repo_path in keys.items():
            if self._has_result(sha256, suffix):
                continue
            with self._slots:
                if self._has_result(sha256, suffix):  # scanned meanwhile by another caller
                    continue
                with self._store.local_copy(sha256) as path:
                    started = time.perf_counter()
                    result = scan_file(path, options, name=repo_path.rsplit("/", 1)[-1])
                    report = ScanReport(files=[result], seconds=time.perf_counter() - started)
                self._store_result(sha256, suffix, report, str(path))

    def _has_result(self, sha256: str, suffix: str) -> bool:
        with Session(self._engine) as session:
            return session.get(ScanResult, (sha256, suffix)) is not None

    def _store_result(self, sha256: str, suffix: str, report: ScanReport, blob_path: str) -> None:
        data = _anonymize(report.to_dict(), blob_path)
        summary = _anonymize(finding_summary(report), blob_path)
        logger.info("scanned blob %s (as %s): %s", sha256, suffix or "content", report.verdict)
        with Session(self._engine) as session:
            session.add(
                ScanResult(
                    sha256=sha256,
                    suffix=suffix,
                    verdict=str(report.verdict),
                    summary=summary,
                    report=data,
                )
            )
            try:
                session.commit()
            except IntegrityError:
                session.rollback()  # scanned concurrently by another commit

    def scan_missing(self) -> None:
        """Scan every committed file that has no result (after an upgrade or a crash)."""
        from modelyard.scan.formats import named_suffix

        with Session(self._engine) as session:
            files = session.execute(select(CommitFile.sha256, CommitFile.path).distinct()).all()
            done = set(session.execute(select(ScanResult.sha256, ScanResult.suffix)).all())
        missing = [
            (sha256, path) for sha256, path in files if (sha256, named_suffix(path)) not in done
        ]
        if missing:
            logger.info("scanning %d committed file(s) without a result", len(missing))
            self.ensure_scanned(missing)


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
