"""The repository service: repos, commits, branches, tags and files.

Both the HTTP API and the web UI call this layer; it knows nothing about HTTP. Every read
takes the caller's ``Principal`` (or None for anonymous) and hides private repos from others
as if they did not exist.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import get_args

from sqlalchemy import Engine, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from modelyard.hub.errors import (
    ConflictError,
    EntryNotFoundError,
    InvalidRequestError,
    PermissionDeniedError,
    RepoNotFoundError,
    RevisionNotFoundError,
)
from modelyard.hub.server.accounts import Principal, can_read
from modelyard.hub.server.cards import card_after_commit, repo_tags
from modelyard.hub.server.db import (
    Blob,
    Commit,
    CommitFile,
    Ref,
    Repo,
    ScanResult,
    XetFile,
    utcnow,
)
from modelyard.hub.server.model import (
    AddFile,
    CommitView,
    FileEntry,
    Operation,
    RefKind,
    RefView,
    RepoRef,
    RepoType,
    RepoView,
    ScanStatus,
    Snapshot,
)
from modelyard.hub.server.names import check_path, check_ref_name
from modelyard.hub.server.scan_queue import ScanQueue
from modelyard.hub.server.scanning import adopt_tensor_data
from modelyard.hub.server.storage import BlobStore, StoredBlob
from modelyard.hub.server.tree import apply_operations, commit_oid
from modelyard.scan.formats import named_suffix

DEFAULT_BRANCH = "main"
INITIAL_GITATTRIBUTES = (
    b"*.bin filter=lfs diff=lfs merge=lfs -text\n"
    b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
    b"*.pt filter=lfs diff=lfs merge=lfs -text\n"
    b"*.pkl filter=lfs diff=lfs merge=lfs -text\n"
    b"*.onnx filter=lfs diff=lfs merge=lfs -text\n"
    b"*.gguf filter=lfs diff=lfs merge=lfs -text\n"
)
_HEX40 = re.compile(r"^[0-9a-f]{7,40}$")
# Commits without a parentCommit that lose the race for a branch head retry on the new head.
_COMMIT_ATTEMPTS = 20


def _repo_view(repo: Repo) -> RepoView:
    return RepoView(
        repo_type=repo.repo_type,
        namespace=repo.namespace,
        name=repo.name,
        private=repo.private,
        card_data=dict(repo.card_data or {}),
        created_at=repo.created_at,
        last_modified=repo.last_modified,
        pk=repo.id,
    )


def _commit_view(commit: Commit) -> CommitView:
    return CommitView(
        oid=commit.oid,
        parent_oid=commit.parent_oid,
        title=commit.title,
        message=commit.message,
        author=commit.author,
        created_at=commit.created_at,
    )


def _never_uploaded(op: AddFile) -> InvalidRequestError:
    return InvalidRequestError(
        f"content of {op.path!r} (sha256 {op.sha256}) was never uploaded",
        hint="upload LFS files through the batch API before committing",
    )


class _BranchMoved(Exception):
    """Another commit advanced the branch after this one read its head."""


def _lock_blobs(session: Session, added: Sequence[AddFile]) -> None:
    """Share-lock the rows of the blobs a commit adds, so that ``hub gc`` cannot remove one
    before the commit lands (its delete waits, then fails on the commit's reference)."""
    wanted = {op.sha256 for op in added}
    present = set(
        session.scalars(
            select(Blob.sha256).where(Blob.sha256.in_(wanted)).with_for_update(read=True)
        )
    )
    for op in added:
        if op.sha256 not in present:
            raise _never_uploaded(op)


class Repos:
    """Repository operations over one database and blob store.

    Nothing here is held in the process: any number of servers share the database, and a commit
    advances its branch only if the head is still the one it built on (compare-and-swap).
    ``scan_wait``: seconds a commit waits for the verdicts of its files (``ScanQueue.wait``).
    """

    def __init__(
        self, engine: Engine, store: BlobStore, scan_queue: ScanQueue, scan_wait: float
    ) -> None:
        self._session = sessionmaker(engine, expire_on_commit=False)
        self.store = store
        self._scan_queue = scan_queue
        self._scan_wait = scan_wait

    # -- lookup -----------------------------------------------------------------------------

    def _find(self, session: Session, ref: RepoRef, principal: Principal | None) -> Repo:
        repo = session.scalar(
            select(Repo).where(
                Repo.repo_type == ref.repo_type,
                Repo.namespace == ref.namespace,
                Repo.name == ref.name,
            )
        )
        if repo is None or not can_read(principal, repo.namespace, repo.private):
            raise RepoNotFoundError(f"repository {ref.repo_type} {ref.repo_id!r} not found")
        return repo

    def _writable(self, session: Session, ref: RepoRef, principal: Principal) -> Repo:
        repo = self._find(session, ref, principal)
        if not principal.can_write(repo.namespace):
            raise PermissionDeniedError(
                f"{principal.name!r} may not write to {ref.repo_id!r}: "
                f"it belongs to {repo.namespace!r}"
            )
        return repo

    def writable(self, ref: RepoRef, principal: Principal) -> RepoView:
        """The repo if ``principal`` may write to it.

        Raises:
            RepoNotFoundError: the repo does not exist or ``principal`` may not see it.
            PermissionDeniedError: ``principal`` may not write to it.
        """
        with self._session() as session:
            return _repo_view(self._writable(session, ref, principal))

    def get(self, ref: RepoRef, principal: Principal | None) -> RepoView:
        """The repo as ``principal`` sees it.

        Raises:
            RepoNotFoundError: the repo does not exist or ``principal`` may not see it.
        """
        with self._session() as session:
            return _repo_view(self._find(session, ref, principal))

    def _resolve(self, session: Session, repo: Repo, revision: str) -> Commit:
        for kind in get_args(RefKind):
            ref = session.get(Ref, (repo.id, kind, revision))
            if ref is not None:
                commit = session.get(Commit, (repo.id, ref.commit_oid))
                if commit is not None:
                    return commit
        if _HEX40.match(revision):
            matches = session.scalars(
                select(Commit)
                .where(Commit.repo_id == repo.id, Commit.oid.startswith(revision))
                .limit(2)
            ).all()
            if len(matches) == 1:
                return matches[0]
        raise RevisionNotFoundError(f"revision {revision!r} not found in {repo.repo_id!r}")

    def _files(self, session: Session, repo: Repo, oid: str) -> list[FileEntry]:
        rows = session.execute(
            select(CommitFile, Blob)
            .join(Blob, Blob.sha256 == CommitFile.sha256)
            .where(CommitFile.repo_id == repo.id, CommitFile.commit_oid == oid)
            .order_by(CommitFile.path)
        ).all()
        results = session.scalars(
            select(ScanResult).where(ScanResult.sha256.in_({blob.sha256 for _, blob in rows}))
        ).all()
        scans = {
            (scan.sha256, scan.suffix): ScanStatus(scan.verdict, scan.summary, scan.report)
            for scan in results
        }
        xet_hashes = dict(
            session.execute(
                select(XetFile.sha256, XetFile.file_hash).where(
                    XetFile.sha256.in_({blob.sha256 for _, blob in rows})
                )
            ).all()
        )
        entries = [
            FileEntry(
                path=file.path,
                sha256=blob.sha256,
                size=blob.size,
                git_sha1=blob.git_sha1,
                is_lfs=file.is_lfs,
                scan=scans.get((blob.sha256, named_suffix(file.path))),
                xet_hash=xet_hashes.get(blob.sha256) if file.is_lfs else None,
            )
            for file, blob in rows
        ]
        return adopt_tensor_data(entries)

    def snapshot(self, ref: RepoRef, revision: str, principal: Principal | None) -> Snapshot:
        """The repo, the commit ``revision`` resolves to, and all its files.

        Raises:
            RepoNotFoundError: the repo does not exist or ``principal`` may not see it.
            RevisionNotFoundError: ``revision`` is no branch, tag or commit of the repo.
        """
        with self._session() as session:
            repo = self._find(session, ref, principal)
            commit = self._resolve(session, repo, revision)
            return Snapshot(
                _repo_view(repo), _commit_view(commit), self._files(session, repo, commit.oid)
            )

    def file(
        self, ref: RepoRef, revision: str, path: str, principal: Principal | None
    ) -> tuple[CommitView, FileEntry]:
        """One file at a revision.

        Raises:
            InvalidRequestError: ``path`` is not a valid file path.
            RepoNotFoundError: the repo does not exist or ``principal`` may not see it.
            RevisionNotFoundError: ``revision`` is no branch, tag or commit of the repo.
            EntryNotFoundError: no file ``path`` at that revision.
        """
        check_path(path)
        snapshot = self.snapshot(ref, revision, principal)
        for entry in snapshot.files:
            if entry.path == path:
                return snapshot.commit, entry
        raise EntryNotFoundError(f"{path!r} not found in {ref.repo_id!r} at {revision!r}")

    def list_repos(
        self,
        repo_type: RepoType,
        principal: Principal | None,
        *,
        search: str | None = None,
        author: str | None = None,
        filters: Sequence[str] = (),
        sort: str | None = None,
    ) -> list[RepoView]:
        """Repos visible to ``principal``, filtered; sorted descending like the Hub does."""
        query = select(Repo).where(Repo.repo_type == repo_type)
        namespaces = [principal.name, *principal.orgs] if principal is not None else []
        query = query.where(or_(Repo.private.is_(False), Repo.namespace.in_(namespaces)))
        if author:
            query = query.where(Repo.namespace == author)
        if search:
            pattern = f"%{search.lower()}%"
            query = query.where(func.lower(Repo.namespace + "/" + Repo.name).like(pattern))
        order = {
            "lastModified": Repo.last_modified.desc(),
            "createdAt": Repo.created_at.desc(),
            "id": Repo.namespace,
        }.get(sort or "")
        query = query.order_by(order, Repo.id) if order is not None else query.order_by(Repo.id)
        with self._session() as session:
            repos = [_repo_view(repo) for repo in session.scalars(query)]
        wanted = set(filters)
        return [repo for repo in repos if wanted <= set(repo_tags(repo.card_data))]

    # -- repos ------------------------------------------------------------------------------

    def create(self, ref: RepoRef, principal: Principal, *, private: bool) -> RepoView:
        """Create a repo with an initial commit holding ``.gitattributes``.

        Raises:
            PermissionDeniedError: ``principal`` may not create repos in that namespace.
            ConflictError: the repo exists already.
        """
        if not principal.can_write(ref.namespace):
            raise PermissionDeniedError(
                f"{principal.name!r} may not create repos in namespace {ref.namespace!r}",
                hint="use your own user name or an organization you belong to",
            )
        blob = self.store.put_bytes(INITIAL_GITATTRIBUTES)
        self.register_blobs([blob])
        scans = [(blob.sha256, ".gitattributes")]
        self._scan_queue.enqueue(scans)
        try:
            with self._session() as session, session.begin():
                repo = Repo(
                    repo_type=ref.repo_type, namespace=ref.namespace, name=ref.name, private=private
                )
                session.add(repo)
                session.flush()
                files = {".gitattributes": AddFile(".gitattributes", blob.sha256, False)}
                commit = self._write_commit(
                    session, repo, None, files, "initial commit", "", principal.name
                )
                session.add(
                    Ref(repo_id=repo.id, kind="branch", name=DEFAULT_BRANCH, commit_oid=commit.oid)
                )
                view = _repo_view(repo)
        except IntegrityError:
            raise ConflictError(
                f"You already created this {ref.repo_type} repo: {ref.repo_id}"
            ) from None
        self._scan_queue.wait(scans, self._scan_wait)
        return view

    def delete(self, ref: RepoRef, principal: Principal) -> None:
        """Delete a repo with its history (blobs stay: they may be shared).

        Raises:
            RepoNotFoundError: the repo does not exist or ``principal`` may not see it.
            PermissionDeniedError: ``principal`` may not write to it.
        """
        with self._session() as session, session.begin():
            repo = self._writable(session, ref, principal)
            for table in (CommitFile, Ref, Commit):
                session.execute(delete(table).where(table.repo_id == repo.id))
            session.delete(repo)

    def register_blobs(self, blobs: Iterable[StoredBlob]) -> None:
        """Record blobs that now exist on disk (idempotent)."""
        for blob in blobs:
            with self._session() as session:
                if session.get(Blob, blob.sha256) is not None:
                    continue
                session.add(Blob(sha256=blob.sha256, size=blob.size, git_sha1=blob.git_sha1))
                try:
                    session.commit()
                except IntegrityError:
                    session.rollback()  # registered concurrently by another upload

    def blob_size(self, sha256: str) -> int | None:
        """The size of a registered blob, or None if it is not (completely) stored."""
        with self._session() as session:
            blob = session.get(Blob, sha256)
            return None if blob is None else blob.size

    # -- commits ----------------------------------------------------------------------------

    def _write_commit(
        self,
        session: Session,
        repo: Repo,
        parent: str | None,
        files: dict[str, AddFile],
        title: str,
        description: str,
        author: str,
    ) -> Commit:
        when = utcnow()
        oid = commit_oid(files, parent, author, when, f"{title}\n\n{description}")
        commit = Commit(
            repo_id=repo.id,
            oid=oid,
            parent_oid=parent,
            title=title,
            message=description,
            author=author,
            created_at=when,
        )
        session.add(commit)
        session.add_all(
            CommitFile(
                repo_id=repo.id, commit_oid=oid, path=f.path, sha256=f.sha256, is_lfs=f.is_lfs
            )
            for f in files.values()
        )
        repo.last_modified = when
        return commit

    def commit(
        self,
        ref: RepoRef,
        branch: str,
        operations: Sequence[Operation],
        principal: Principal,
        *,
        title: str,
        description: str = "",
        parent_commit: str | None = None,
    ) -> CommitView:
        """Apply ``operations`` on top of ``branch`` as one new commit.

        Blobs of added files must be registered first. The commit lands at once; each new file
        is listed as pending (and not served) until a scan worker stored its verdict, which the
        commit waits for up to ``scan_wait`` seconds. The branch advances by compare-and-swap
        on its head, so concurrent commits through any servers are all kept; a
        ``parent_commit`` that is not the head raises ``ConflictError``.

        Raises:
            InvalidRequestError: an added file's content was never uploaded, a path is invalid,
                or the result would have a file where a folder is.
            RepoNotFoundError: the repo does not exist or ``principal`` may not see it.
            PermissionDeniedError: ``principal`` may not write to it.
            RevisionNotFoundError: ``branch`` does not exist.
            EntryNotFoundError: a deleted file or folder does not exist.
            ConflictError: ``parent_commit`` is not the head, or the branch kept moving.
        """
        added = [op for op in operations if isinstance(op, AddFile)]
        for op in added:
            if self.blob_size(op.sha256) is None:
                raise _never_uploaded(op)
        scans = [(op.sha256, op.path) for op in added]
        self._scan_queue.enqueue(scans)
        for _ in range(_COMMIT_ATTEMPTS):
            try:
                view = self._commit_on_head(
                    ref, principal, branch, parent_commit, operations, (title, description)
                )
            except _BranchMoved:
                continue
            self._scan_queue.wait(scans, self._scan_wait)
            return view
        raise ConflictError(
            f"branch {branch!r} of {ref.repo_id!r} kept moving while committing; retry the commit"
        )

    def _commit_on_head(
        self,
        ref: RepoRef,
        principal: Principal,
        branch: str,
        parent_commit: str | None,
        operations: Sequence[Operation],
        message: tuple[str, str],
    ) -> CommitView:
        """One attempt at ``commit`` (``message``: title and description); raises
        ``_BranchMoved`` if the head moved meanwhile."""
        title, description = message
        added = [op for op in operations if isinstance(op, AddFile)]
        with self._session() as session, session.begin():
            repo = self._writable(session, ref, principal)
            # PostgreSQL: committers to one branch queue on its row; the update below guards
            # every database alike.
            branch_ref = session.get(Ref, (repo.id, "branch", branch), with_for_update=True)
            if branch_ref is None:
                raise RevisionNotFoundError(
                    f"branch {branch!r} not found in {ref.repo_id!r}",
                    hint="create it first (create_branch) or push to an existing branch",
                )
            head = branch_ref.commit_oid
            _lock_blobs(session, added)
            if parent_commit is not None and parent_commit != head:
                raise ConflictError(
                    f"parentCommit {parent_commit} is not the head of {branch!r} "
                    f"(the head is {head}): someone committed meanwhile",
                    hint="fetch the new head and retry",
                )
            files = {
                f.path: AddFile(f.path, f.sha256, f.is_lfs)
                for f in session.scalars(
                    select(CommitFile).where(
                        CommitFile.repo_id == repo.id, CommitFile.commit_oid == head
                    )
                )
            }
            apply_operations(files, operations)
            commit = self._write_commit(
                session, repo, head, files, title, description, principal.name
            )
            moved = session.execute(
                update(Ref)
                .where(
                    Ref.repo_id == repo.id,
                    Ref.kind == "branch",
                    Ref.name == branch,
                    Ref.commit_oid == head,
                )
                .values(commit_oid=commit.oid)
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                raise _BranchMoved
            if branch == DEFAULT_BRANCH:
                self._update_card(repo, operations, files)
            return _commit_view(commit)

    def _update_card(
        self, repo: Repo, operations: Sequence[Operation], files: dict[str, AddFile]
    ) -> None:
        """After a commit to the default branch: the repo's card follows its README.md."""
        card = card_after_commit(operations, files, self.store.read_start)
        if card is not None:
            repo.card_data = card

    def history(self, ref: RepoRef, revision: str, principal: Principal | None) -> list[CommitView]:
        """Commits reachable from ``revision``, newest first.

        Raises:
            RepoNotFoundError: the repo does not exist or ``principal`` may not see it.
            RevisionNotFoundError: ``revision`` is no branch, tag or commit of the repo.
        """
        with self._session() as session:
            repo = self._find(session, ref, principal)
            commit: Commit | None = self._resolve(session, repo, revision)
            commits = []
            while commit is not None:
                commits.append(_commit_view(commit))
                parent = commit.parent_oid
                commit = session.get(Commit, (repo.id, parent)) if parent else None
            return commits

    # -- refs -------------------------------------------------------------------------------

    def refs(self, ref: RepoRef, principal: Principal | None) -> list[RefView]:
        """The repo's branches and tags.

        Raises:
            RepoNotFoundError: the repo does not exist or ``principal`` may not see it.
        """
        with self._session() as session:
            repo = self._find(session, ref, principal)
            return [
                RefView(row.kind, row.name, row.commit_oid)
                for row in session.scalars(
                    select(Ref).where(Ref.repo_id == repo.id).order_by(Ref.kind, Ref.name)
                )
            ]

    def create_ref(
        self, ref: RepoRef, kind: RefKind, name: str, starting_point: str, principal: Principal
    ) -> RefView:
        """Create a branch or tag at ``starting_point``.

        Raises:
            InvalidRequestError: ``name`` is not a valid branch or tag name.
            RepoNotFoundError: the repo does not exist or ``principal`` may not see it.
            PermissionDeniedError: ``principal`` may not write to it.
            RevisionNotFoundError: ``starting_point`` is no branch, tag or commit.
            ConflictError: a branch or tag of that name exists.
        """
        check_ref_name(name)
        with self._session() as session, session.begin():
            repo = self._writable(session, ref, principal)
            commit = self._resolve(session, repo, starting_point)
            if session.get(Ref, (repo.id, kind, name)) is not None:
                raise ConflictError(f"{kind} {name!r} already exists in {ref.repo_id!r}")
            other = "tag" if kind == "branch" else "branch"
            if session.get(Ref, (repo.id, other, name)) is not None:
                raise ConflictError(f"a {other} named {name!r} already exists in {ref.repo_id!r}")
            session.add(Ref(repo_id=repo.id, kind=kind, name=name, commit_oid=commit.oid))
        return RefView(kind, name, commit.oid)

    def delete_ref(self, ref: RepoRef, kind: RefKind, name: str, principal: Principal) -> None:
        """Delete a branch or tag.

        Raises:
            PermissionDeniedError: it is the default branch, or ``principal`` may not write.
            RepoNotFoundError: the repo does not exist or ``principal`` may not see it.
            RevisionNotFoundError: no such branch or tag.
        """
        if kind == "branch" and name == DEFAULT_BRANCH:
            raise PermissionDeniedError(f"the default branch {DEFAULT_BRANCH!r} cannot be deleted")
        with self._session() as session, session.begin():
            repo = self._writable(session, ref, principal)
            row = session.get(Ref, (repo.id, kind, name))
            if row is None:
                raise RevisionNotFoundError(f"{kind} {name!r} not found in {ref.repo_id!r}")
            session.delete(row)
