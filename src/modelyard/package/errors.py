"""Errors about model packages."""

from __future__ import annotations

from modelyard.errors import ModelyardError


class PackageError(ModelyardError):
    """A folder is not a usable model package (missing manifest, changed files, ...)."""

    exit_code = 2


class UnsafePackageError(PackageError):
    """The scanner judged a file of the package unsafe; nothing of it was loaded."""

    exit_code = 1
