"""Hub server settings, read once from the environment at the edge and passed around."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

from modelyard.hub.errors import InvalidRequestError

_Number = TypeVar("_Number", int, float)
MIB = 1024 * 1024
GIB = 1024 * MIB
_UNITS = {"": 1, "K": 1024, "M": MIB, "G": GIB, "T": 1024 * GIB}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Bytes from ``"1048576"``, ``"500MB"``, ``"10GB"`` or ``"1.5TiB"`` (units are powers of 1024).

    Raises ``ValueError`` naming the accepted forms.
    """
    match = _SIZE.match(text)
    if match is None:
        raise ValueError(
            f"invalid size {text!r}: expected bytes or a number with KB, MB, GB or TB, e.g. 10GB"
        )
    number, unit = match.groups()
    return int(float(number) * _UNITS[unit.upper()])


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """A duration from ``"90"`` (seconds), ``"90s"``, ``"30m"``, ``"1h"`` or ``"2d"``.

    Raises ``ValueError`` naming the accepted forms.
    """
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(
            f"invalid duration {text!r}: expected seconds or a number with s, m, h or d, e.g. 1h"
        )
    number, unit = match.groups()
    return timedelta(seconds=float(number) * _SECONDS[unit.lower()])


def format_size(size: int) -> str:
    """``size`` bytes in the largest unit that keeps it at least 1, as ``parse_size`` reads it."""
    for unit in ("T", "G", "M", "K"):
        if size >= _UNITS[unit]:
            return f"{size / _UNITS[unit]:.3g}{unit}B"
    return f"{size} bytes"


def default_data_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$MODELYARD_HUB_DATA_DIR``, else ``~/.modelyard/hub``."""
    env = os.environ if env is None else env
    configured = env.get("MODELYARD_HUB_DATA_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".modelyard" / "hub"


def _int_env(env: Mapping[str, str], name: str, default: int) -> int:
    return _parsed_env(env, name, default, _integer)


def _size_env(env: Mapping[str, str], name: str, default: int) -> int:
    return _parsed_env(env, name, default, parse_size)


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"expected an integer, got {text!r}") from None


def _parsed_env(
    env: Mapping[str, str], name: str, default: _Number, parse: Callable[[str], _Number]
) -> _Number:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return parse(raw)
    except ValueError as error:
        raise InvalidRequestError(f"{name}: {error}") from None


@dataclass(frozen=True)
class Settings:
    """Everything the server needs to know; one object, passed to ``create_app``.

    ``regular_upload_max``: files up to this size are uploaded inline in the commit payload
    (preupload answers ``regular``); larger files go through the LFS batch API.
    ``multipart_threshold`` / ``multipart_chunk_size``: LFS objects at least this large are
    uploaded in parts of that size.
    ``max_file_size`` / ``max_repo_size``: uploads that would exceed them are refused (413)
    before any byte is stored; a repo's size counts every distinct file in its history.
    ``max_concurrent_scans``: scans running at once; further uploads wait for a free slot.
    ``scan_timeout``: seconds one file's scan may take (0: no limit); past it the file's
    verdict is an error.
    ``scan_workers``: scan worker threads this server runs (0: dedicated ``hub worker``
    processes scan). ``scan_lease``: seconds a worker holds a claimed scan before another takes
    it over (its worker presumably died). ``scan_wait``: seconds a commit waits for the verdicts
    of its files when this server runs workers; larger files stay pending after that.
    ``storage_url``: ``s3://BUCKET[/PREFIX]`` keeps file contents in that bucket (endpoint and
    credentials from the ``AWS_*`` variables); None keeps them in ``data_dir``.
    ``presign``: downloads of public files redirect to presigned bucket URLs.
    """

    data_dir: Path = field(default_factory=default_data_dir)
    database_url: str | None = None
    storage_url: str | None = None
    presign: bool = False
    max_file_size: int = 50 * GIB
    max_repo_size: int = 300 * GIB
    max_concurrent_scans: int = 2
    scan_timeout: float = 300.0
    scan_workers: int = 1
    scan_lease: float = 900.0
    scan_wait: float = 10.0
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
            storage_url=env.get("MODELYARD_HUB_STORAGE_URL") or None,
            presign=env.get("MODELYARD_HUB_PRESIGN", "") in ("1", "true", "yes"),
            max_file_size=_size_env(env, "MODELYARD_HUB_MAX_FILE_SIZE", cls.max_file_size),
            max_repo_size=_size_env(env, "MODELYARD_HUB_MAX_REPO_SIZE", cls.max_repo_size),
            max_concurrent_scans=_int_env(
                env, "MODELYARD_HUB_MAX_CONCURRENT_SCANS", cls.max_concurrent_scans
            ),
            scan_timeout=_parsed_env(env, "MODELYARD_HUB_SCAN_TIMEOUT", cls.scan_timeout, float),
            scan_workers=_int_env(env, "MODELYARD_HUB_SCAN_WORKERS", cls.scan_workers),
            scan_lease=_parsed_env(env, "MODELYARD_HUB_SCAN_LEASE", cls.scan_lease, float),
            scan_wait=_parsed_env(env, "MODELYARD_HUB_SCAN_WAIT", cls.scan_wait, float),
            regular_upload_max=_size_env(
                env, "MODELYARD_HUB_REGULAR_UPLOAD_MAX", cls.regular_upload_max
            ),
            multipart_threshold=_size_env(
                env, "MODELYARD_HUB_MULTIPART_THRESHOLD", cls.multipart_threshold
            ),
            multipart_chunk_size=_size_env(
                env, "MODELYARD_HUB_MULTIPART_CHUNK_SIZE", cls.multipart_chunk_size
            ),
            page_size=_int_env(env, "MODELYARD_HUB_PAGE_SIZE", cls.page_size),
        )
        chosen = {name: value for name, value in overrides.items() if value is not None}
        if "data_dir" in chosen:
            chosen["data_dir"] = Path(str(chosen["data_dir"])).expanduser()
        settings = replace(settings, **chosen)  # type: ignore[arg-type]
        if settings.max_concurrent_scans < 1:
            raise InvalidRequestError(
                f"max_concurrent_scans must be at least 1, got {settings.max_concurrent_scans}"
            )
        if settings.scan_workers < 0:
            raise InvalidRequestError(
                f"scan_workers must be 0 or more, got {settings.scan_workers}"
            )
        if settings.scan_lease <= 0 or settings.scan_wait < 0:
            raise InvalidRequestError(
                f"scan_lease must be above 0 and scan_wait 0 or more seconds, got "
                f"{settings.scan_lease} and {settings.scan_wait}"
            )
        if settings.scan_timeout < 0:
            raise InvalidRequestError(
                f"scan_timeout must be 0 (no limit) or more seconds, got {settings.scan_timeout}"
            )
        return settings

    @property
    def effective_database_url(self) -> str:
        """The configured URL, else a SQLite file inside the data dir."""
        return self.database_url or f"sqlite:///{self.data_dir / 'hub.sqlite3'}"

    @property
    def tmp_dir(self) -> Path:
        """Local temporary files (Xet uploads being verified); also the folder storage's
        staging objects."""
        return self.data_dir / "tmp"
