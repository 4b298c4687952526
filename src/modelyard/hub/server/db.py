"""Database schema (SQLAlchemy 2) and engine creation: SQLite in WAL mode or PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from modelyard.hub.errors import InvalidRequestError
from modelyard.hub.server.model import HoldPurpose, RefKind, RepoType
from modelyard.hub.server.settings import Settings


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSON,
    }


class Account(Base):
    """A user or an organization: the owner of a namespace."""

    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(96), unique=True)
    is_org: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Membership(Base):
    __tablename__ = "memberships"
    org_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)


class Token(Base):
    """An access token, stored only as the sha256 of its secret."""

    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Repo(Base):
    __tablename__ = "repos"
    __table_args__ = (UniqueConstraint("repo_type", "namespace", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    repo_type: Mapped[RepoType] = mapped_column(String(16))
    namespace: Mapped[str] = mapped_column(String(96))
    name: Mapped[str] = mapped_column(String(96))
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    card_data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_modified: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def repo_id(self) -> str:
        return f"{self.namespace}/{self.name}"


class Blob(Base):
    """File content by sha256; the row exists only once the blob file is complete on disk."""

    __tablename__ = "blobs"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    git_sha1: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScanResult(Base):
    """The scanner's verdict and report for one blob, read as files ending in ``suffix`` are
    (``""``: by content alone; see ``modelyard.scan.formats.named_suffix``)."""

    __tablename__ = "scan_results"
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"), primary_key=True)
    suffix: Mapped[str] = mapped_column(String(16), primary_key=True, default="")
    verdict: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(Text)
    report: Mapped[dict[str, Any]] = mapped_column()
    scanned_at: Mapped[datetime] = mapped_column(default=utcnow)
    # ``modelyard.scan.version.scanner_version()`` of the scanner that made the result.
    scanner_version: Mapped[str] = mapped_column(String(64), default="")


class ScanJob(Base):
    """A scan of one blob, read as a file at ``path`` is, waiting for a worker. A worker claims
    it by counting up ``claims`` and setting ``claimed_at``; a claim older than the lease is
    taken again (its worker died). The row goes once the result is stored."""

    __tablename__ = "scan_jobs"
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"), primary_key=True)
    suffix: Mapped[str] = mapped_column(String(16), primary_key=True, default="")
    path: Mapped[str] = mapped_column(String(1024))
    claims: Mapped[int] = mapped_column(default=0)
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)


class HubSecret(Base):
    """A secret every server of the hub signs with (upload URLs, Xet tokens, CSRF values)."""

    __tablename__ = "hub_secrets"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)


class Commit(Base):
    __tablename__ = "commits"
    repo_id: Mapped[int] = mapped_column(
        ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True
    )
    oid: Mapped[str] = mapped_column(String(40), primary_key=True)
    parent_oid: Mapped[str | None] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(96))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CommitFile(Base):
    """One file of a commit's full snapshot."""

    __tablename__ = "commit_files"
    repo_id: Mapped[int] = mapped_column(
        ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True
    )
    commit_oid: Mapped[str] = mapped_column(String(40), primary_key=True)
    path: Mapped[str] = mapped_column(String(1024), primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    is_lfs: Mapped[bool] = mapped_column(Boolean, default=False)


class Ref(Base):
    __tablename__ = "refs"
    __table_args__ = (Index("ix_refs_commit", "repo_id", "commit_oid"),)
    repo_id: Mapped[int] = mapped_column(
        ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[RefKind] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(256), primary_key=True)
    commit_oid: Mapped[str] = mapped_column(String(40))


class XetXorb(Base):
    """A verified xorb stored under the Xet store's ``xorbs`` folder, by its hash."""

    __tablename__ = "xet_xorbs"
    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    num_chunks: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class XetChunk(Base):
    """Chunk ``index`` of a stored xorb: its hash, length and serialized byte span."""

    __tablename__ = "xet_chunks"
    __table_args__ = (Index("ix_xet_chunks_hash", "chunk_hash"),)
    xorb_hash: Mapped[str] = mapped_column(ForeignKey("xet_xorbs.hash"), primary_key=True)
    index: Mapped[int] = mapped_column(primary_key=True)
    chunk_hash: Mapped[str] = mapped_column(String(64))
    length: Mapped[int] = mapped_column()
    byte_start: Mapped[int] = mapped_column(BigInteger)
    byte_end: Mapped[int] = mapped_column(BigInteger)


class XetFile(Base):
    """A file registered by a shard: its Xet hash, sha256 (the blob it becomes) and segments
    as ``[xorb hash, first chunk, end chunk, length]`` lists."""

    __tablename__ = "xet_files"
    __table_args__ = (Index("ix_xet_files_sha256", "sha256"),)
    file_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    terms: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class XetFileXorb(Base):
    """A xorb that holds part of a registered file: the global dedup lookup answers with the
    other xorbs of the files that use the xorb holding the asked chunk."""

    __tablename__ = "xet_file_xorbs"
    __table_args__ = (Index("ix_xet_file_xorbs_xorb", "xorb_hash"),)
    file_hash: Mapped[str] = mapped_column(ForeignKey("xet_files.file_hash"), primary_key=True)
    xorb_hash: Mapped[str] = mapped_column(ForeignKey("xet_xorbs.hash"), primary_key=True)


class StorageHold(Base):
    """An object key that a server is publishing (``upload``) or ``hub gc`` is deleting
    (``delete``). The primary key lets one holder at a time have a key, across every server
    sharing the database, so a collection never deletes an object being published again."""

    __tablename__ = "storage_holds"
    key: Mapped[str] = mapped_column(String(256), primary_key=True)
    purpose: Mapped[HoldPurpose] = mapped_column(String(8))
    since: Mapped[datetime] = mapped_column(default=utcnow)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _refuse_nul(
    _connection: Any,
    _cursor: Any,
    _statement: str,
    parameters: Any,
    _context: Any,
    executemany: bool,
) -> None:
    """PostgreSQL cannot hold NUL in text: a name, path or message a client sent with one is a
    bad request, on every database alike, rather than a driver error."""
    for row in parameters if executemany else [parameters]:
        values = row.values() if isinstance(row, dict) else row or ()
        for value in values:
            if isinstance(value, str) and "\0" in value:
                raise InvalidRequestError(f"{value!r} contains a NUL character")


def make_engine(settings: Settings) -> Engine:
    """Create the engine and the schema (idempotent)."""
    url = settings.effective_database_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    event.listen(engine, "before_cursor_execute", _refuse_nul)
    _upgrade_scan_results(engine)
    Base.metadata.create_all(engine)
    return engine


def _upgrade_scan_results(engine: Engine) -> None:
    """Scan results are derived from blobs: a table from before results were kept per named
    suffix is dropped, and ``Scanner.scan_missing`` redoes them at start-up. Results from
    before scanner versions were recorded get an empty version, so the start-up rescan redoes
    them while their verdicts still hold."""
    schema = inspect(engine)
    if not schema.has_table("scan_results"):
        return
    columns = {column["name"] for column in schema.get_columns("scan_results")}
    if "suffix" not in columns:
        Base.metadata.tables["scan_results"].drop(engine)
    elif "scanner_version" not in columns:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "ALTER TABLE scan_results "
                    "ADD COLUMN scanner_version VARCHAR(64) NOT NULL DEFAULT ''"
                )
            )
