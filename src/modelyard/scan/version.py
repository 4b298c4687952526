"""Which scanner judged a file: a digest of everything that decides a verdict.

Stored verdicts (the hub's) are redone when it changes. It is derived, not kept by hand, so no
change to a reader, a rule or the policy's lists can forget to bump it.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

_PACKAGE = Path(__file__).parent


@functools.cache
def scanner_version() -> str:
    """A digest of every source and data file of ``modelyard.scan`` (16 hex digits)."""
    digest = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(_PACKAGE).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
