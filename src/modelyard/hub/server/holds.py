"""Holds on object keys, kept in the database so that every server sharing it agrees.

An upload holds its blob's key while publishing it; ``hub gc`` holds a key while deleting it.
Whoever inserts the hold row first wins; the other waits a little, then gives up with
``StorageBusyError`` (uploads) or skips the key (gc). A hold older than ``STALE_HOLD`` was left
by a crashed server and is taken over.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from datetime import timedelta

from sqlalchemy import Engine, delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from modelyard.hub.errors import StorageBusyError
from modelyard.hub.server.db import StorageHold, utcnow
from modelyard.hub.server.model import HoldPurpose

STALE_HOLD = timedelta(hours=1)
_WAIT_SECONDS = 30.0
_POLL_SECONDS = 0.2


class StorageHolds:
    """Acquire and release holds on object keys (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def try_hold(self, key: str, purpose: HoldPurpose) -> bool:
        """Hold ``key`` if nobody does (or only a stale holder); False otherwise."""
        with Session(self._engine) as session, session.begin():
            session.execute(
                delete(StorageHold).where(
                    StorageHold.key == key, StorageHold.since < utcnow() - STALE_HOLD
                )
            )
        try:
            with Session(self._engine) as session, session.begin():
                session.add(StorageHold(key=key, purpose=purpose))
        except IntegrityError:
            return False
        return True

    def release(self, key: str) -> None:
        with Session(self._engine) as session, session.begin():
            session.execute(delete(StorageHold).where(StorageHold.key == key))

    @contextlib.contextmanager
    def holding(self, key: str, purpose: HoldPurpose) -> Iterator[None]:
        """Hold ``key`` for the ``with`` block, waiting up to half a minute for a holder.

        Raises ``StorageBusyError`` if the key stays held.
        """
        deadline = time.monotonic() + _WAIT_SECONDS
        while not self.try_hold(key, purpose):
            if time.monotonic() > deadline:
                raise StorageBusyError(
                    f"{key} is being stored or collected by another server; retry shortly"
                )
            time.sleep(_POLL_SECONDS)
        try:
            yield
        finally:
            self.release(key)
