"""Scan-on-push results: kept per blob and named suffix, redone after an upgrade."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from modelyard.hub.server.accounts import Principal
from modelyard.hub.server.db import ScanResult
from modelyard.hub.server.hub import Hub
from modelyard.hub.server.model import AddFile, RepoRef
from modelyard.hub.server.settings import Settings

CODE = b"import os\nos.system('id')\n"
TINY = RepoRef("model", "ops/tiny")


def _hub_with_code(data_dir: Path) -> Hub:
    hub = Hub.open(Settings(data_dir=data_dir))
    owner = Principal("ops")
    hub.repos.create(TINY, owner, private=False)
    blob = hub.store.put_bytes(CODE)
    hub.repos.register_blobs([blob])
    files = [AddFile("notes.txt", blob.sha256, False), AddFile("hubconf.py", blob.sha256, False)]
    hub.repos.commit(TINY, "main", files, owner, title="add code")
    return hub


def _verdicts(hub: Hub) -> dict[str, str | None]:
    snapshot = hub.repos.snapshot(TINY, "main", None)
    return {entry.path: entry.scan.verdict if entry.scan else None for entry in snapshot.files}


def test_one_blob_gets_a_result_per_named_suffix(tmp_path: Path) -> None:
    hub = _hub_with_code(tmp_path)
    assert _verdicts(hub) == {
        ".gitattributes": "safe", "notes.txt": "safe", "hubconf.py": "suspicious"
    }  # fmt: skip
    with Session(hub.engine) as session:
        assert sorted(session.scalars(select(ScanResult.suffix)).all()) == ["", "", ".py"]


def test_results_from_before_named_suffixes_are_redone_at_start_up(tmp_path: Path) -> None:
    hub = _hub_with_code(tmp_path)
    with hub.engine.begin() as connection:  # the table as an older modelyard made it
        connection.execute(text("DROP TABLE scan_results"))
        connection.execute(
            text(
                "CREATE TABLE scan_results (sha256 VARCHAR(64) PRIMARY KEY, verdict VARCHAR(16),"
                " summary TEXT, report JSON, scanned_at DATETIME)"
            )
        )
    hub.engine.dispose()
    reopened = Hub.open(Settings(data_dir=tmp_path))
    assert _verdicts(reopened) == {
        ".gitattributes": "safe", "notes.txt": "safe", "hubconf.py": "suspicious"
    }  # fmt: skip


def test_uploads_beyond_the_scan_limit_wait_their_turn(tmp_path: Path) -> None:
    hub = Hub.open(Settings(data_dir=tmp_path, max_concurrent_scans=1))
    owner = Principal("ops")
    queue = RepoRef("model", "ops/queue")
    hub.repos.create(queue, owner, private=False)
    blobs = [hub.store.put_bytes(CODE + f"# variant {i}\n".encode()) for i in range(6)]
    hub.repos.register_blobs(blobs)

    def commit(number: int) -> None:
        add = AddFile(f"code{number}.py", blobs[number].sha256, False)
        hub.repos.commit(queue, "main", [add], owner, title=f"add {number}")

    with ThreadPoolExecutor(max_workers=len(blobs)) as pool:
        list(pool.map(commit, range(len(blobs))))  # none is refused: they queue for the slot
    snapshot = hub.repos.snapshot(queue, "main", None)
    verdicts = {entry.path: entry.scan.verdict if entry.scan else None for entry in snapshot.files}
    expected = {f"code{number}.py": "suspicious" for number in range(6)}
    assert verdicts == {".gitattributes": "safe", **expected}


def test_a_scan_past_the_deadline_is_an_error_not_safe(tmp_path: Path) -> None:
    slow = RepoRef("model", "ops/slow")
    hub = Hub.open(Settings(data_dir=tmp_path, scan_timeout=1e-9))
    owner = Principal("ops")
    hub.repos.create(slow, owner, private=False)
    # A harmless pickle long enough for the scanner to check its deadline on the way.
    blob = hub.store.put_bytes(b"\x80\x04" + b"N0" * 100_000 + b"N.")
    hub.repos.register_blobs([blob])
    hub.repos.commit(slow, "main", [AddFile("model.pkl", blob.sha256, False)], owner, title="a")
    (entry,) = [e for e in hub.repos.snapshot(slow, "main", None).files if e.path == "model.pkl"]
    assert entry.scan is not None and entry.scan.verdict == "error"
    assert "MY-SCN-006" in entry.scan.summary
