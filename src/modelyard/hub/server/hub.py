"""The hub's services wired together over one database and one object storage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine

from modelyard.hub.server.accounts import Accounts
from modelyard.hub.server.db import make_engine
from modelyard.hub.server.quota import RepoUsage, repo_usage
from modelyard.hub.server.repos import Repos, RepoView
from modelyard.hub.server.scan_queue import ScanQueue
from modelyard.hub.server.scanning import Scanner
from modelyard.hub.server.settings import Settings
from modelyard.hub.server.storage import BlobStore
from modelyard.hub.server.uploads import UploadSigner, hub_secret
from modelyard.hub.server.xet.cas import XetStore
from modelyard.hub.server.xet.tokens import XetSigner


@dataclass
class Hub:
    """Everything a route (API or UI) needs; build one with ``Hub.open``."""

    settings: Settings
    engine: Engine
    store: BlobStore
    accounts: Accounts
    repos: Repos
    scanner: Scanner
    scan_queue: ScanQueue
    signer: UploadSigner
    xet: XetStore
    xet_signer: XetSigner

    @classmethod
    def open(cls, settings: Settings) -> Hub:
        """Create the data dir, the schema and the services (idempotent)."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings)
        store = BlobStore.open(settings, engine)
        store.clean_stale_temporaries()
        scanner = Scanner(
            engine, store, settings.max_concurrent_scans, settings.scan_timeout or None
        )
        scan_queue = ScanQueue(engine, scanner, timedelta(seconds=settings.scan_lease))
        scan_queue.enqueue_missing()
        signer = UploadSigner(hub_secret(engine, settings.data_dir / "upload-secret"))
        return cls(
            settings=settings,
            engine=engine,
            store=store,
            accounts=Accounts(engine),
            repos=Repos(engine, store, scan_queue, settings.scan_wait),
            scanner=scanner,
            scan_queue=scan_queue,
            signer=signer,
            xet=XetStore(engine, settings.tmp_dir, store),
            xet_signer=XetSigner(signer.secret),
        )

    def usage(self, repo: RepoView) -> RepoUsage:
        """What ``repo`` stores now, against this hub's per-repository size limit."""
        return repo_usage(self.engine, repo.pk, repo.repo_id, self.settings.max_repo_size)
