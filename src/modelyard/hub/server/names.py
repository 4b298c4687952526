"""Validation of every name a client sends: repo ids, account names, refs and file paths."""

from __future__ import annotations

import re

from modelyard.hub.errors import InvalidRequestError

_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$")
_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")
MAX_PATH_LENGTH = 1024


def check_name(name: str, what: str = "name") -> str:
    """An account or repo name: letters, digits, ``.``, ``_``, ``-``; no ``..``."""
    if not _NAME.match(name) or ".." in name or name.endswith(".git"):
        raise InvalidRequestError(
            f"invalid {what} {name!r}: use 1-96 letters, digits, '.', '_' or '-', "
            "starting and ending with a letter or digit"
        )
    return name


def split_repo_id(repo_id: str) -> tuple[str, str]:
    """``namespace/name`` -> (namespace, name); both validated."""
    parts = repo_id.split("/")
    if len(parts) != 2:
        raise InvalidRequestError(f"invalid repo id {repo_id!r}: expected 'namespace/name'")
    return check_name(parts[0], "namespace"), check_name(parts[1], "repo name")


def check_ref_name(name: str) -> str:
    """A branch or tag name (no slashes: refs live in a flat namespace here)."""
    if not _REF.match(name) or ".." in name or name.endswith((".lock", ".")):
        raise InvalidRequestError(
            f"invalid branch or tag name {name!r}: use letters, digits, '.', '_' or '-'"
        )
    return name


def check_path(path: str) -> str:
    """A file path inside a repo: relative, '/'-separated, no '..', '.', empty segment or NUL."""
    problem = None
    if not path:
        problem = "it is empty"
    elif len(path) > MAX_PATH_LENGTH:
        problem = f"it is longer than {MAX_PATH_LENGTH} characters"
    elif "\0" in path:
        problem = "it contains a NUL character"
    elif "\\" in path:
        problem = "it contains a backslash; use '/'"
    elif path.startswith("/"):
        problem = "it is absolute"
    elif any(segment in ("", ".", "..") for segment in path.split("/")):
        problem = "it has an empty, '.' or '..' segment"
    elif any(ord(c) < 32 for c in path):
        problem = "it contains a control character"
    if problem:
        raise InvalidRequestError(f"invalid file path {path!r}: {problem}")
    return path
