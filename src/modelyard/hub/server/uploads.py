"""Signed LFS upload URLs: the client PUTs content without its token, so the URL is the grant."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from modelyard.hub.errors import PermissionDeniedError
from modelyard.hub.server.db import HubSecret

_VALIDITY_SECONDS = 24 * 3600
_SIGNING_ROW = "signing"


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


def hub_secret(engine: Engine, legacy_file: Path) -> bytes:
    """The hub's signing secret, kept in the database so that every server sharing it signs and
    checks alike. The first server stores it: the secret file of an older data dir if there is
    one (its upload URLs and sessions stay valid), else a new random one."""
    with Session(engine) as session:
        stored = session.get(HubSecret, _SIGNING_ROW)
        if stored is not None:
            return stored.value
        value = legacy_file.read_bytes() if legacy_file.is_file() else secrets.token_bytes(32)
        session.add(HubSecret(name=_SIGNING_ROW, value=value))
        try:
            session.commit()
        except IntegrityError:  # another server stored one first: use that
            session.rollback()
            return session.get_one(HubSecret, _SIGNING_ROW).value
        return value


class UploadSigner:
    """Signs and checks upload grants with the hub's secret (``hub_secret``)."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

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
