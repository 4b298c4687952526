"""Signed LFS upload URLs: the client PUTs content without its token, so the URL is the grant."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from modelyard.hub.errors import PermissionDeniedError

_VALIDITY_SECONDS = 24 * 3600


@dataclass(frozen=True)
class UploadGrant:
    """Permission to upload exactly ``size`` bytes hashing to ``oid`` until ``expires``."""

    oid: str
    size: int
    expires: int
    signature: str

    @property
    def key(self) -> str:
        """A name for this upload's temporary parts, unique per grant."""
        return f"{self.oid}-{self.signature[:16]}"

    def query(self) -> str:
        return f"size={self.size}&expires={self.expires}&sig={self.signature}"


class UploadSigner:
    """Signs and checks upload grants with a secret kept in the data dir (shared by servers)."""

    def __init__(self, secret_file: Path) -> None:
        self._secret = self._load_or_create(secret_file)

    @staticmethod
    def _load_or_create(path: Path) -> bytes:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_bytes()
        with os.fdopen(descriptor, "wb") as file:
            file.write(secrets.token_bytes(32))
        return path.read_bytes()

    @property
    def secret(self) -> bytes:
        """The hub's signing secret (also keys the web pages' CSRF values)."""
        return self._secret

    def _sign(self, oid: str, size: int, expires: int) -> str:
        message = f"{oid}:{size}:{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def grant(self, oid: str, size: int) -> UploadGrant:
        expires = int(time.time()) + _VALIDITY_SECONDS
        return UploadGrant(oid, size, expires, self._sign(oid, size, expires))

    def check(self, oid: str, size: int, expires: int, signature: str) -> UploadGrant:
        """The grant, if the signature is valid and not expired."""
        expected = self._sign(oid, size, expires)
        if not hmac.compare_digest(expected, signature) or expires < time.time():
            raise PermissionDeniedError(
                "upload URL is invalid or expired", hint="request a new one from the LFS batch API"
            )
        return UploadGrant(oid, size, expires, signature)
