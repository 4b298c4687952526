"""Scan-on-push results: queued as jobs, kept per blob and named suffix, redone after an upgrade
and when the scanner changes (queued at start-up, or with ``modelyard hub rescan``)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text, update
from sqlalchemy.orm import Session

from modelyard.hub.server.accounts import Principal
from modelyard.hub.server.db import ScanJob, ScanResult, make_engine
from modelyard.hub.server.hub import Hub
from modelyard.hub.server.model import AddFile, RepoRef
from modelyard.hub.server.scanning import VerdictChange
from modelyard.hub.server.settings import Settings
from modelyard.scan.version import scanner_version
from tests.hub.conftest import MODELYARD

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
    hub.scan_queue.drain()
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
    assert reopened.scan_queue.drain() == 3
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
    with ThreadPoolExecutor(max_workers=3) as pool:
        assert sum(pool.map(lambda _: hub.scan_queue.drain(), range(3))) == 7
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
    hub.scan_queue.drain()
    (entry,) = [e for e in hub.repos.snapshot(slow, "main", None).files if e.path == "model.pkl"]
    assert entry.scan is not None and entry.scan.verdict == "error"
    assert "MY-SCN-006" in entry.scan.summary


def test_a_claim_whose_worker_died_is_taken_again_after_the_lease(tmp_path: Path) -> None:
    hub = Hub.open(Settings(data_dir=tmp_path, scan_lease=0.3))
    hub.repos.create(TINY, Principal("ops"), private=False)  # queues .gitattributes
    crashed = hub.scan_queue.claim()
    assert crashed is not None and crashed.claim == 1
    assert hub.scan_queue.claim() is None  # still leased to the crashed worker
    time.sleep(0.4)
    taken = hub.scan_queue.claim()
    assert taken is not None and (taken.sha256, taken.claim) == (crashed.sha256, 2)
    assert hub.scan_queue.run(taken) == "safe"
    with Session(hub.engine) as session:
        assert session.scalars(select(ScanJob)).all() == []
    assert _verdicts(hub) == {".gitattributes": "safe"}


def test_a_file_is_listed_as_pending_and_not_served_until_a_worker_scanned_it(
    hub_factory, cli, tmp_path: Path
) -> None:
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError

    server = hub_factory(extra_args=["--scan-workers", "0"])
    api = HfApi(endpoint=server.url, token=server.token("alice"))
    api.create_repo("alice/queued")
    api.upload_file(path_or_fileobj=EVIL, path_in_repo="model.pkl", repo_id="alice/queued")
    (entry,) = api.get_paths_info("alice/queued", ["model.pkl"], expand=True)
    assert entry.security["status"] == "pending"
    with pytest.raises(HfHubHTTPError) as refused:
        hf_hub_download("alice/queued", "model.pkl", endpoint=server.url, cache_dir=tmp_path)
    assert refused.value.response.status_code == 423
    assert "is being scanned" in str(refused.value)

    worker = subprocess.Popen(
        [MODELYARD, "hub", "worker", "--data-dir", str(server.data_dir)], env=os.environ
    )
    try:
        deadline = time.monotonic() + 60
        while entry.security["status"] == "pending" and time.monotonic() < deadline:
            time.sleep(0.2)
            (entry,) = api.get_paths_info("alice/queued", ["model.pkl"], expand=True)
    finally:
        worker.terminate()
        worker.wait(30)
    assert entry.security["status"] == "unsafe"
    with pytest.raises(HfHubHTTPError) as quarantined:
        hf_hub_download("alice/queued", "model.pkl", endpoint=server.url, cache_dir=tmp_path)
    assert quarantined.value.response.status_code == 403


EVIL = b"cos\nsystem\n(S'true'\ntR."


def _pretend_an_older_scanner_passed(engine: Engine, sha256: str, version: str = "older") -> None:
    """Store the verdict an older scanner that missed the payload would have stored."""
    with engine.begin() as connection:
        connection.execute(
            update(ScanResult)
            .where(ScanResult.sha256 == sha256)
            .values(verdict="safe", summary="no findings", scanner_version=version)
        )


def test_results_of_another_scanner_version_are_redone_and_newly_unsafe_files_quarantined(
    tmp_path: Path,
) -> None:
    hub = _hub_with_code(tmp_path)
    owner = Principal("ops")
    blob = hub.store.put_bytes(EVIL)
    hub.repos.register_blobs([blob])
    hub.repos.commit(TINY, "main", [AddFile("model.pkl", blob.sha256, False)], owner, title="w")
    hub.scan_queue.drain()
    _pretend_an_older_scanner_passed(hub.engine, blob.sha256)
    assert _verdicts(hub)["model.pkl"] == "safe"

    done = hub.scanner.rescan()
    assert done.rescanned == 1 and done.scanner_version == scanner_version()
    assert done.changes == (VerdictChange(blob.sha256, "model.pkl", "safe", "unsafe"),)
    assert done.changes[0].quarantined
    assert _verdicts(hub)["model.pkl"] == "unsafe"
    assert hub.scanner.rescan().rescanned == 0  # every result is current now

    _pretend_an_older_scanner_passed(hub.engine, blob.sha256, scanner_version())
    assert hub.scanner.rescan().rescanned == 0
    everything = hub.scanner.rescan(everything=True)
    assert everything.rescanned == 4 and len(everything.changes) == 1
    assert _verdicts(hub)["model.pkl"] == "unsafe"


def test_results_from_before_scanner_versions_are_kept_then_redone(tmp_path: Path) -> None:
    hub = _hub_with_code(tmp_path)
    with hub.engine.begin() as connection:  # the table as the previous modelyard made it
        connection.execute(text("ALTER TABLE scan_results DROP COLUMN scanner_version"))
    hub.engine.dispose()
    reopened = Hub.open(Settings(data_dir=tmp_path))
    with Session(reopened.engine) as session:
        assert set(session.scalars(select(ScanResult.scanner_version))) == {""}
    assert reopened.scanner.rescan().rescanned == 3
    assert _verdicts(reopened) == {
        ".gitattributes": "safe", "notes.txt": "safe", "hubconf.py": "suspicious"
    }  # fmt: skip


def test_a_hub_rescans_outdated_verdicts_in_the_background_when_it_starts(
    hub_factory, cli, tmp_path: Path
) -> None:
    from huggingface_hub import HfApi

    server = hub_factory()
    api = HfApi(endpoint=server.url, token=server.token("alice"))
    api.create_repo("alice/old")
    api.upload_file(path_or_fileobj=EVIL, path_in_repo="model.pkl", repo_id="alice/old")
    server.stop()
    settings = Settings(data_dir=server.data_dir)
    engine = make_engine(settings)
    sha256 = hashlib.sha256(EVIL).hexdigest()
    _pretend_an_older_scanner_passed(engine, sha256)

    restarted = hub_factory(server.data_dir)
    api = HfApi(endpoint=restarted.url, token=api.token)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        (entry,) = api.get_paths_info("alice/old", ["model.pkl"], expand=True)
        if entry.security["status"] == "unsafe":
            break
        time.sleep(0.2)
    assert entry.security["status"] == "unsafe"
    imports = entry.security["pickle_import_scan"]["imports"]
    assert imports == [{"module": "os", "name": "system", "safety": "dangerous"}]
    issues = api.model_info("alice/old", securityStatus=True).security_repo_status
    assert issues["filesWithIssues"][0]["quarantined"]

    _pretend_an_older_scanner_passed(engine, sha256, scanner_version())
    args = ["--data-dir", str(server.data_dir)]
    outdated = cli("hub", "rescan", *args)
    assert outdated.returncode == 0, outdated.stderr
    assert "rescanned 0 stored result(s)" in outdated.stdout
    everything = cli("hub", "rescan", "--all", *args)
    assert everything.returncode == 0, everything.stderr
    assert "model.pkl: safe -> unsafe (quarantined)" in everything.stdout
    (entry,) = api.get_paths_info("alice/old", ["model.pkl"])
    assert entry.security["status"] == "unsafe"
