"""Errors raised by the hub: domain errors of the server's service layer and client errors."""

from __future__ import annotations

from modelyard.errors import ModelyardError


class HubError(ModelyardError):
    """Base class of every hub error."""


class RepoNotFoundError(HubError):
    """The repository does not exist, or the caller may not see it (private)."""


class RevisionNotFoundError(HubError):
    """The branch, tag or commit does not exist in the repository."""


class EntryNotFoundError(HubError):
    """The file or folder does not exist at that revision."""


class AuthenticationError(HubError):
    """The access token is missing or invalid."""


class PermissionDeniedError(HubError):
    """The caller is known but may not do this (e.g. write to another user's namespace)."""


class ConflictError(HubError):
    """The operation conflicts with the current state (exists already, stale parent commit)."""


class InvalidRequestError(HubError):
    """The request is malformed: bad path, bad name, bad payload."""


class InvalidRangeError(InvalidRequestError):
    """A download's ``Range`` header is malformed or outside the file's ``size`` bytes."""

    def __init__(self, message: str, size: int) -> None:
        super().__init__(message)
        self.size = size


class PayloadTooLargeError(HubError):
    """A file or request exceeds a configured size limit."""


class StorageBusyError(HubError):
    """The object being stored is held by another server or by ``hub gc``; retry shortly."""


class QuarantinedFileError(HubError):
    """The file was judged unsafe by the scanner and is never served."""


class ScanPendingError(HubError):
    """The file is committed but its scan has not finished: it is not served until it has."""


class UnsafeModelError(HubError):
    """``push`` or ``pull`` refused files the scanner judged unsafe."""

    exit_code = 3


class HubRequestError(HubError):
    """The hub could not be reached, or it refused the request (its message is kept)."""


class HubUnreachableError(HubRequestError):
    """The hub could not be reached at all (no answer, refused connection, DNS failure)."""
