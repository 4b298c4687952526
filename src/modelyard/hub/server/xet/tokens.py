"""Short-lived CAS tokens and signed xorb fetch URLs, keyed by the hub's secret.

A token grants ``read`` or ``write`` access to the Xet store on behalf of one repository until
it expires; the hub's API hands it out only to callers who may read (or write) that repository,
so the CAS routes need no other credential. Xorb fetch URLs carry their own signature because
the Xet client fetches them without any token, like presigned object-store URLs.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Literal

from modelyard.hub.errors import AuthenticationError, PermissionDeniedError

XetScope = Literal["read", "write"]
TOKEN_SECONDS = 30 * 60
_FETCH_SECONDS = 60 * 60


@dataclass(frozen=True)
class XetToken:
    """What a valid token grants: ``scope`` on the Xet data of repository ``repo_pk``."""

    scope: XetScope
    repo_pk: int
    expires: int


class XetSigner:
    """Issues and checks CAS tokens and fetch URL signatures."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _sign(self, message: str) -> str:
        return hmac.new(self._secret, f"xet:{message}".encode(), hashlib.sha256).hexdigest()

    def issue(self, scope: XetScope, repo_pk: int) -> tuple[str, int]:
        """A new token and its expiry (seconds since the epoch)."""
        expires = int(time.time()) + TOKEN_SECONDS
        claims = f"{scope}.{repo_pk}.{expires}"
        return f"{claims}.{self._sign(claims)}", expires

    def check(self, authorization: str, needed: XetScope) -> XetToken:
        """The token in an ``Authorization: Bearer`` header, if valid and wide enough.

        Raises:
            AuthenticationError: no token, or one that is forged or expired.
            PermissionDeniedError: a read token used to write.
        """
        scheme, _, token = authorization.partition(" ")
        claims, _, signature = token.strip().rpartition(".")
        scope, _, rest = claims.partition(".")
        repo_pk, _, expires = rest.partition(".")
        valid = (
            scheme.lower() == "bearer"
            and hmac.compare_digest(self._sign(claims), signature)
            and scope in ("read", "write")
            and repo_pk.isdigit()
            and expires.isdigit()
            and int(expires) > time.time()
        )
        if not valid:
            raise AuthenticationError(
                "this Xet storage request needs a valid, unexpired CAS token",
                hint="get one from /api/{type}s/{repo}/xet-read-token/{revision} (or write)",
            )
        if needed == "write" and scope != "write":
            raise PermissionDeniedError("a Xet read token cannot upload; ask for a write token")
        return XetToken("write" if scope == "write" else "read", int(repo_pk), int(expires))

    def fetch_query(self, xorb: str) -> str:
        """Query string that lets anyone fetch byte ranges of ``xorb`` for a while."""
        expires = int(time.time()) + _FETCH_SECONDS
        return f"expires={expires}&sig={self._sign(f'fetch.{xorb}.{expires}')}"

    def check_fetch(self, xorb: str, expires: str, signature: str) -> None:
        """Raises ``PermissionDeniedError`` unless the fetch URL is signed and current."""
        if not (
            expires.isdigit()
            and int(expires) > time.time()
            and hmac.compare_digest(self._sign(f"fetch.{xorb}.{expires}"), signature)
        ):
            raise PermissionDeniedError(
                "this xorb URL is invalid or expired; ask for the file's reconstruction again"
            )
