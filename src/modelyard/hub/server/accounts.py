"""Users, organizations and access tokens (stored hashed)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from modelyard.hub.errors import AuthenticationError, InvalidRequestError
from modelyard.hub.server.db import Account, Membership, Token
from modelyard.hub.server.names import check_name

TOKEN_PREFIX = "myd_"  # noqa: S105 - a recognizable prefix, not a secret


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user and the organizations they belong to."""

    name: str
    orgs: frozenset[str] = frozenset()

    def can_write(self, namespace: str) -> bool:
        return namespace == self.name or namespace in self.orgs


def can_read(principal: Principal | None, namespace: str, private: bool) -> bool:
    """Public repos are readable by all; private ones only by their namespace's members."""
    return not private or (principal is not None and principal.can_write(namespace))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    """Account and token operations over one database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _account(self, session: Session, name: str, *, is_org: bool) -> Account:
        account = session.scalar(select(Account).where(Account.name == name))
        if account is None:
            account = Account(name=check_name(name, "account name"), is_org=is_org)
            session.add(account)
            session.flush()
        elif account.is_org != is_org:
            kind = "an organization" if account.is_org else "a user"
            raise InvalidRequestError(f"{name!r} is already {kind}")
        return account

    def create_token(self, user: str) -> str:
        """Create ``user`` if needed and return a new access token (shown once, stored hashed)."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with Session(self._engine) as session, session.begin():
            account = self._account(session, user, is_org=False)
            session.add(Token(user_id=account.id, token_hash=hash_token(token)))
        return token

    def add_member(self, org: str, user: str) -> None:
        """Create ``org`` and ``user`` if needed and make ``user`` a member of ``org``."""
        with Session(self._engine) as session, session.begin():
            org_account = self._account(session, org, is_org=True)
            user_account = self._account(session, user, is_org=False)
            if session.get(Membership, (org_account.id, user_account.id)) is None:
                session.add(Membership(org_id=org_account.id, user_id=user_account.id))

    def tokens(self, user: str) -> list[tuple[int, datetime]]:
        """``(id, created_at)`` of ``user``'s tokens, newest first (secrets are not stored)."""
        with Session(self._engine) as session:
            rows = session.execute(
                select(Token.id, Token.created_at)
                .join(Account, Account.id == Token.user_id)
                .where(Account.name == user)
                .order_by(Token.created_at.desc(), Token.id.desc())
            ).all()
        return [(row.id, row.created_at) for row in rows]

    def revoke_token(self, user: str, token_id: int) -> bool:
        """Delete one of ``user``'s tokens; False if it is not theirs or does not exist."""
        with Session(self._engine) as session, session.begin():
            token = session.get(Token, token_id)
            owner = session.get(Account, token.user_id) if token is not None else None
            if token is None or owner is None or owner.name != user:
                return False
            session.delete(token)
        return True

    def authenticate(self, token: str) -> Principal:
        """The principal owning ``token``; raises ``AuthenticationError`` if unknown."""
        with Session(self._engine) as session:
            user = session.scalar(
                select(Account)
                .join(Token, Token.user_id == Account.id)
                .where(Token.token_hash == hash_token(token))
            )
            if user is None:
                raise AuthenticationError("Invalid credentials in Authorization header")
            orgs = session.scalars(
                select(Account.name)
                .join(Membership, Membership.org_id == Account.id)
                .where(Membership.user_id == user.id)
            ).all()
        return Principal(name=user.name, orgs=frozenset(orgs))
