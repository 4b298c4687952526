"""Accounts and tokens on a real SQLite database: tokens are stored hashed, orgs grant writes."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard.hub.errors import AuthenticationError, InvalidRequestError
from modelyard.hub.server.accounts import Accounts, can_read
from modelyard.hub.server.db import Token, make_engine
from modelyard.hub.server.settings import Settings


def test_tokens_are_stored_only_as_hashes(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    engine = make_engine(settings)
    accounts = Accounts(engine)
    token = accounts.create_token("dana")
    assert accounts.authenticate(token).name == "dana"
    with Session(engine) as session:
        stored = session.scalars(select(Token.token_hash)).all()
    assert len(stored) == 1 and stored[0] != token and token not in stored[0]
    engine.dispose()
    database = Path(settings.effective_database_url.removeprefix("sqlite:///"))
    on_disk = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
    assert token.encode() not in on_disk
    with pytest.raises(AuthenticationError):
        accounts.authenticate(token + "x")


def test_org_members_write_to_the_org_and_private_repos_stay_hidden(tmp_path: Path) -> None:
    accounts = Accounts(make_engine(Settings(data_dir=tmp_path)))
    accounts.create_token("erin")
    accounts.add_member("lab", "erin")
    erin = accounts.authenticate(accounts.create_token("erin"))
    assert erin.can_write("lab") and erin.can_write("erin") and not erin.can_write("other")
    assert can_read(erin, "lab", private=True)
    assert not can_read(None, "lab", private=True) and can_read(None, "lab", private=False)
    with pytest.raises(InvalidRequestError, match="organization"):
        accounts.create_token("lab")
