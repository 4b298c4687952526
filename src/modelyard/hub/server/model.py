"""The hub's value types: vocabularies, repo references, commit operations and read views.

``RepoType`` and ``RefKind`` are declared here once; every conversion from what a client sends
(a ``type`` field, a plural URL segment) to them, and back to a URL prefix, lives here too.
Everything else is a frozen dataclass the service layer takes or returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, get_args

from modelyard.hub.errors import InvalidRequestError, RepoNotFoundError
from modelyard.hub.server.names import split_repo_id

if TYPE_CHECKING:
    from modelyard.scan.report import PickleImport

RepoType = Literal["model", "dataset"]
RefKind = Literal["branch", "tag"]
HoldPurpose = Literal["upload", "delete"]

REPO_TYPES: tuple[RepoType, ...] = get_args(RepoType)
_BY_NAME: dict[str, RepoType] = {repo_type: repo_type for repo_type in REPO_TYPES}
_BY_PLURAL: dict[str, RepoType] = {f"{repo_type}s": repo_type for repo_type in REPO_TYPES}


def _unsupported(repo_type: str | None) -> InvalidRequestError:
    return InvalidRequestError(
        f"unsupported repo type {repo_type!r}: this hub stores {', '.join(REPO_TYPES)}"
    )


def check_repo_type(repo_type: str | None) -> RepoType:
    """A repo type from a request body (None means ``model``).

    Raises:
        InvalidRequestError: the hub does not store that repo type.
    """
    known = _BY_NAME.get(repo_type or "model")
    if known is None:
        raise _unsupported(repo_type)
    return known


def repo_type_of(kind: str) -> RepoType:
    """``models`` -> ``model``, ``datasets`` -> ``dataset`` (the URL segment of the API).

    Raises:
        RepoNotFoundError: any other segment, so the route answers 404.
    """
    repo_type = _BY_PLURAL.get(kind)
    if repo_type is None:
        raise RepoNotFoundError(f"unknown repository kind {kind!r}")
    return repo_type


def url_prefix(repo_type: RepoType) -> str:
    """The path prefix of a repo type in web URLs (``datasets/`` for datasets)."""
    return "" if repo_type == "model" else f"{repo_type}s/"


@dataclass(frozen=True)
class RepoRef:
    """A repository named by its type and ``namespace/name`` id, validated on creation.

    Raises:
        InvalidRequestError: the hub does not store that repo type, or the id is malformed.
    """

    repo_type: RepoType
    repo_id: str

    def __post_init__(self) -> None:
        if self.repo_type not in REPO_TYPES:
            raise _unsupported(self.repo_type)
        split_repo_id(self.repo_id)

    @classmethod
    def from_url(cls, kind: str, namespace: str, name: str) -> RepoRef:
        """The repo an API URL names: ``/api/{kind}/{namespace}/{name}/...``.

        Raises:
            RepoNotFoundError: ``kind`` is not ``models`` or ``datasets``.
            InvalidRequestError: the id is malformed.
        """
        return cls(repo_type_of(kind), f"{namespace}/{name}")

    @property
    def namespace(self) -> str:
        return self.repo_id.partition("/")[0]

    @property
    def name(self) -> str:
        return self.repo_id.partition("/")[2]


@dataclass(frozen=True)
class AddFile:
    path: str
    sha256: str
    is_lfs: bool


@dataclass(frozen=True)
class DeleteFile:
    path: str


@dataclass(frozen=True)
class DeleteFolder:
    path: str


Operation = AddFile | DeleteFile | DeleteFolder


@dataclass(frozen=True)
class ScanStatus:
    """A blob's stored scan result: verdict, one-line summary of findings, full report."""

    verdict: str
    summary: str
    report: dict[str, Any]

    @property
    def imports(self) -> list[PickleImport]:
        """Every global that a pickle in the file imports, with its safety."""
        from modelyard.scan.report import FileResult

        return [
            found
            for result in self.report.get("files", [])
            for found in FileResult.from_dict(result).imports
        ]


@dataclass(frozen=True)
class FileEntry:
    """A file at a commit, with its content's facts and scan result (None: not scanned)."""

    path: str
    sha256: str
    size: int
    git_sha1: str
    is_lfs: bool
    scan: ScanStatus | None
    xet_hash: str | None = None  # set when the content was uploaded through Xet


@dataclass(frozen=True)
class RepoView:
    repo_type: RepoType
    namespace: str
    name: str
    private: bool
    card_data: dict[str, Any]
    created_at: datetime
    last_modified: datetime
    pk: int = field(repr=False)

    @property
    def repo_id(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class CommitView:
    oid: str
    parent_oid: str | None
    title: str
    message: str
    author: str
    created_at: datetime


@dataclass(frozen=True)
class RefView:
    kind: RefKind
    name: str
    commit_oid: str


@dataclass(frozen=True)
class Snapshot:
    """A repo at one resolved commit."""

    repo: RepoView
    commit: CommitView
    files: list[FileEntry]
