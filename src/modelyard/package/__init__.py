"""Model packages on disk: a manifest, a model card and weights in safe formats."""

from __future__ import annotations

from modelyard.package.errors import PackageError, UnsafePackageError
from modelyard.package.manifest import MANIFEST, Manifest
from modelyard.package.store import load, save

__all__ = ["MANIFEST", "Manifest", "PackageError", "UnsafePackageError", "load", "save"]
