"""Pure functions over a commit's tree (path -> file): applying operations and hashing commits."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from datetime import datetime

from modelyard.hub.errors import EntryNotFoundError, InvalidRequestError
from modelyard.hub.server.model import AddFile, DeleteFile, DeleteFolder, Operation
from modelyard.hub.server.names import check_path


def apply_operations(files: dict[str, AddFile], operations: Sequence[Operation]) -> None:
    """Apply ``operations`` to a tree (path -> file) in place; validates paths.

    Raises:
        InvalidRequestError: a path is invalid, or the result has a file where a folder is.
        EntryNotFoundError: a deleted file or folder does not exist.
    """
    for op in operations:
        check_path(op.path)
        if isinstance(op, DeleteFile):
            if files.pop(op.path, None) is None:
                raise EntryNotFoundError(f"cannot delete {op.path!r}: no such file")
        elif isinstance(op, DeleteFolder):
            prefix = op.path.rstrip("/") + "/"
            doomed = [path for path in files if path.startswith(prefix)]
            if not doomed:
                raise EntryNotFoundError(f"cannot delete folder {op.path!r}: no such folder")
            for path in doomed:
                del files[path]
        else:
            files[op.path] = op
    check_folders(files)


def check_folders(paths: Collection[str]) -> None:
    """No file path is the folder of another (``a`` and ``a/b`` cannot both be files).

    Raises:
        InvalidRequestError: naming the first path whose folder is a file.
    """
    for path in paths:
        parts = path.split("/")
        for depth in range(1, len(parts)):
            if "/".join(parts[:depth]) in paths:
                raise InvalidRequestError(
                    f"{path!r} needs {'/'.join(parts[:depth])!r} to be a folder, but it is a file"
                )


def commit_oid(
    files: dict[str, AddFile], parent: str | None, author: str, when: datetime, message: str
) -> str:
    """A git-like 40-hex id over the tree, the parent, the author, the time and the message."""
    tree = hashlib.sha1(usedforsecurity=False)
    for path in sorted(files):
        entry = files[path]
        tree.update(f"{path}\0{entry.sha256}\0{int(entry.is_lfs)}\n".encode())
    body = (
        f"tree {tree.hexdigest()}\nparent {parent or ''}\nauthor {author} {when.isoformat()}\n\n"
        f"{message}"
    )
    return hashlib.sha1(body.encode(), usedforsecurity=False).hexdigest()
