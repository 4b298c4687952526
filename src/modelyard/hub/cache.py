"""Hub models pulled once, kept by commit: ``NAMESPACE/NAME[@REVISION]`` to a local package.

The cache lives in ``$MODELYARD_CACHE_DIR`` (default ``~/.cache/modelyard``), under
``hub/NAMESPACE/NAME/commits/COMMIT``; ``refs/REVISION`` remembers the commit a revision last
pointed at, so a restart works offline. Files arrive through ``pull``: hash-checked by the
client, scanned, and moved in only when complete.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from modelyard.hub.client import _api, _hub_errors, pull
from modelyard.hub.errors import HubUnreachableError

_REPO_REF = re.compile(
    r"(?P<repo>[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95})"
    r"(?:@(?P<revision>[A-Za-z0-9][A-Za-z0-9_./-]{0,255}))?"
)
_COMMIT = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class RepoRef:
    """``NAMESPACE/NAME`` and an optional branch, tag or commit."""

    repo_id: str
    revision: str | None = None

    @property
    def name(self) -> str:
        return self.repo_id.split("/", 1)[1]

    @classmethod
    def parse(cls, text: str) -> RepoRef | None:
        """The reference ``text`` spells, or ``None`` if it is not one."""
        found = _REPO_REF.fullmatch(text)
        return cls(found["repo"], found["revision"]) if found else None


@dataclass(frozen=True)
class CachedModel:
    repo_id: str
    commit: str
    path: Path


def cache_dir(env: dict[str, str] | None = None) -> Path:
    """``$MODELYARD_CACHE_DIR``, else ``~/.cache/modelyard``."""
    env = dict(os.environ) if env is None else env
    found = env.get("MODELYARD_CACHE_DIR")
    return Path(found) if found else Path.home() / ".cache" / "modelyard"


def fetch(
    ref: RepoRef,
    *,
    endpoint: str | None = None,
    token: str | None = None,
    cache: Path | None = None,
) -> CachedModel:
    """The local copy of ``ref``, pulled (and scanned) on first use.

    A cached commit is used without asking the hub; a branch or tag is resolved by the hub,
    or by the cache when the hub cannot be reached.

    Raises:
        HubUnreachableError: the hub cannot be reached and ``ref`` was never cached.
        HubRequestError: the hub refused (unknown repo or revision, no access).
        UnsafeModelError: the scanner judged a file unsafe; nothing is cached.
    """
    root = (cache or cache_dir()) / "hub" / ref.repo_id
    revision = ref.revision or "main"
    cached = root / "commits" / revision
    if _COMMIT.fullmatch(revision) and cached.is_dir():
        return CachedModel(ref.repo_id, revision, cached)
    pointer = root / "refs" / quote(revision, safe="")
    api = _api(endpoint, token)
    try:
        with _hub_errors(api.endpoint):
            commit = api.repo_info(ref.repo_id, revision=revision).sha
    except HubUnreachableError as error:
        if not pointer.is_file():
            raise
        commit = pointer.read_text(encoding="ascii").strip()
        if not (root / "commits" / commit).is_dir():
            raise error from None
    assert commit is not None, "the hub always reports the commit of a revision"
    target = root / "commits" / commit
    if not target.is_dir():
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".pull-", dir=target.parent))
        try:
            pull(ref.repo_id, revision=commit, out=staging, endpoint=api.endpoint, token=token)
            if not target.is_dir():
                staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    pointer.parent.mkdir(parents=True, exist_ok=True)
    temporary = pointer.with_name(f".{pointer.name}.{os.getpid()}")
    temporary.write_text(commit + "\n", encoding="ascii")
    temporary.replace(pointer)
    return CachedModel(ref.repo_id, commit, target)
