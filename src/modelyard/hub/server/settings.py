"""Hub server settings, read once from the environment at the edge and passed around."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from modelyard.hub.errors import InvalidRequestError

MIB = 1024 * 1024
GIB = 1024 * MIB


def default_data_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$MODELYARD_HUB_DATA_DIR``, else ``~/.modelyard/hub``."""
    env = os.environ if env is None else env
    configured = env.get("MODELYARD_HUB_DATA_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".modelyard" / "hub"


def _int_env(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidRequestError(
            f"{name} must be an integer number of bytes, got {raw!r}"
        ) from None


@dataclass(frozen=True)
class Settings:
    """Everything the server needs to know; one object, passed to ``create_app``.

    ``regular_upload_max``: files up to this size are uploaded inline in the commit payload
    (preupload answers ``regular``); larger files go through the LFS batch API.
    ``multipart_threshold`` / ``multipart_chunk_size``: LFS objects at least this large are
    uploaded in parts of that size.
    """

    data_dir: Path = field(default_factory=default_data_dir)
    database_url: str | None = None
    max_file_size: int = 50 * GIB
    regular_upload_max: int = 10 * MIB
    multipart_threshold: int = 64 * MIB
    multipart_chunk_size: int = 32 * MIB
    page_size: int = 1000

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Read ``MODELYARD_HUB_*`` variables; keyword ``overrides`` that are not None win."""
        env = os.environ if env is None else env
        settings = cls(
            data_dir=default_data_dir(env),
            database_url=env.get("MODELYARD_HUB_DATABASE_URL") or None,
            max_file_size=_int_env(env, "MODELYARD_HUB_MAX_FILE_SIZE", cls.max_file_size),
            regular_upload_max=_int_env(
                env, "MODELYARD_HUB_REGULAR_UPLOAD_MAX", cls.regular_upload_max
            ),
            multipart_threshold=_int_env(
                env, "MODELYARD_HUB_MULTIPART_THRESHOLD", cls.multipart_threshold
            ),
            multipart_chunk_size=_int_env(
                env, "MODELYARD_HUB_MULTIPART_CHUNK_SIZE", cls.multipart_chunk_size
            ),
            page_size=_int_env(env, "MODELYARD_HUB_PAGE_SIZE", cls.page_size),
        )
        chosen = {name: value for name, value in overrides.items() if value is not None}
        if "data_dir" in chosen:
            chosen["data_dir"] = Path(str(chosen["data_dir"])).expanduser()
        return replace(settings, **chosen)  # type: ignore[arg-type]

    @property
    def effective_database_url(self) -> str:
        """The configured URL, else a SQLite file inside the data dir."""
        return self.database_url or f"sqlite:///{self.data_dir / 'hub.sqlite3'}"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def tmp_dir(self) -> Path:
        return self.data_dir / "tmp"
