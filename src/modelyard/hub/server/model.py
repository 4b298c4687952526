"""The hub's closed vocabularies and their spellings on the wire.

``RepoType`` and ``RefKind`` are declared here once; every conversion from what a client sends
(a ``type`` field, a plural URL segment) to them, and back to a URL prefix, lives here too.
"""

from __future__ import annotations

from typing import Literal, get_args

from modelyard.hub.errors import InvalidRequestError, RepoNotFoundError

RepoType = Literal["model", "dataset"]
RefKind = Literal["branch", "tag"]

REPO_TYPES: tuple[RepoType, ...] = get_args(RepoType)
_BY_NAME: dict[str, RepoType] = {repo_type: repo_type for repo_type in REPO_TYPES}
_BY_PLURAL: dict[str, RepoType] = {f"{repo_type}s": repo_type for repo_type in REPO_TYPES}


def check_repo_type(repo_type: str | None) -> RepoType:
    """A repo type from a request body (None means ``model``).

    Raises:
        InvalidRequestError: the hub does not store that repo type.
    """
    known = _BY_NAME.get(repo_type or "model")
    if known is None:
        raise InvalidRequestError(
            f"unsupported repo type {repo_type!r}: this hub stores {', '.join(REPO_TYPES)}"
        )
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
