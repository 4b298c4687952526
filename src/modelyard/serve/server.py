"""Run the server: resolve SOURCEs, load the packages and serve them with uvicorn.

With ``workers > 1`` each worker process loads the packages itself (from the folder or the hub
cache), and the workers share one listening socket. The app and the models' libraries are
imported only when the server runs (``_import_and_freeze``), once pandas is imported without
pyarrow.
"""

from __future__ import annotations

import gc
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from modelyard.runtime import import_pandas_without_pyarrow
from modelyard.serve.errors import SourceError
from modelyard.serve.http import OneSendProtocol
from modelyard.serve.settings import BatchSettings, Limits, ServeSettings

if TYPE_CHECKING:
    from modelyard.serve.model import ServedModel

logger = logging.getLogger(__name__)

_WORKER_CONFIG = "MODELYARD_SERVE_WORKER_CONFIG"
DRAIN_SECONDS = 30


@dataclass(frozen=True)
class ModelSource:
    """A package to serve: its folder, its name in URLs and its version (``None``: hashed)."""

    path: Path
    name: str
    version: str | None = None


def resolve(
    source: str | os.PathLike[str], *, endpoint: str | None = None, token: str | None = None
) -> ModelSource:
    """A package folder as is; a hub repo id ``NAMESPACE/NAME[@REVISION]`` pulled to the cache.

    Raises:
        SourceError: ``source`` is neither an existing folder nor a repo id.
        HubError: the hub model cannot be pulled.
    """
    path = Path(source)
    if path.is_dir():
        return ModelSource(path, path.resolve().name)
    from modelyard.hub.cache import RepoRef, fetch

    ref = RepoRef.parse(str(source))
    if ref is None or path.exists():
        raise SourceError(
            f"{source} is neither a package folder nor a hub repo id",
            hint="give a folder made by `modelyard train`, or NAMESPACE/NAME[@REVISION]",
        )
    cached = fetch(ref, endpoint=endpoint, token=token)
    return ModelSource(cached.path, ref.name, cached.commit)


def load_all(sources: Sequence[ModelSource]) -> list[ServedModel]:
    """Load every source (hashes checked, scanned); names must be distinct."""
    import_pandas_without_pyarrow()  # scikit-learn imports pandas; nothing served needs pyarrow
    from modelyard.serve.model import load_served

    names = [source.name for source in sources]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise SourceError(
            f"two models would be served as {repeated[0]!r}",
            hint="each model's name (its folder's or repo's name) must be distinct",
        )
    return [
        load_served(source.path, name=source.name, version=source.version) for source in sources
    ]


def serve(
    *sources: str | os.PathLike[str] | ModelSource,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    settings: ServeSettings | None = None,
) -> None:
    """Serve package folders or hub models until interrupted (``modelyard serve``).

    Each source is a folder, a hub repo id ``NAMESPACE/NAME[@REVISION]`` (see ``resolve``) or
    a ``ModelSource``. SIGTERM or Ctrl-C drain queued requests before the server exits.

    Raises:
        SourceError: a source is neither a folder nor a repo id, or two share a name.
        HubError: a hub model cannot be pulled.
        PackageError: a package cannot be loaded (changed files, unsafe, Spark).
    """
    # Imports and loading make few reference cycles but trigger many collections (about 0.1 s
    # of start-up); ``ServeState.start`` collects once after warm-up and turns it back on.
    gc.disable()
    try:
        _serve(
            [s if isinstance(s, ModelSource) else resolve(s) for s in sources],
            host,
            port,
            workers,
            settings or ServeSettings(),
        )
    finally:
        gc.enable()


def _import_and_freeze() -> None:
    """Import the server's modules, then freeze every object start-up has made so far.

    Imports make most of the objects the collector tracks (about 240,000), all kept for the
    server's life. Frozen, they are skipped by the collection after warm-up
    (``ServeState.start``), which then walks only what loading the models made: about 0.15 s of
    CPU before ready, down to 0.03 s. The imports' own garbage (about 1,500 objects, 0.4 MB)
    stays frozen with them.
    """
    import_pandas_without_pyarrow()  # first: scikit-learn imports pandas
    import modelyard.package.store
    import modelyard.serve.app  # noqa: F401  (and with it scikit-learn)

    gc.freeze()


def _serve(
    resolved: list[ModelSource], host: str, port: int, workers: int, settings: ServeSettings
) -> None:
    _import_and_freeze()
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "warning",
        "access_log": False,
        "lifespan": "on",
        "timeout_graceful_shutdown": DRAIN_SECONDS,
        "http": OneSendProtocol,
    }
    if workers == 1:
        models = load_all(resolved)
        from modelyard.serve.app import create_app

        DrainingServer(uvicorn.Config(create_app(models, settings), **options)).run()
        return
    load_all(resolved)  # fail here, once, rather than in every worker
    gc.enable()
    os.environ[_WORKER_CONFIG] = json.dumps(
        {
            "sources": [
                {"path": str(s.path), "name": s.name, "version": s.version} for s in resolved
            ],
            "limits": asdict(settings.limits),
            "batching": asdict(settings.batching),
        }
    )
    config = uvicorn.Config(
        "modelyard.serve.server:app_from_environment", factory=True, workers=workers, **options
    )
    Multiprocess(config, sockets=[config.bind_socket()]).run()


def app_from_environment() -> Any:
    """A worker's app, from the configuration its parent put in the environment."""
    gc.disable()  # as in ``serve``
    _import_and_freeze()
    config = json.loads(os.environ[_WORKER_CONFIG])
    sources = [ModelSource(Path(s["path"]), s["name"], s["version"]) for s in config["sources"]]
    settings = ServeSettings(Limits(**config["limits"]), BatchSettings(**config["batching"]))
    models = load_all(sources)
    from modelyard.serve.app import create_app

    return create_app(models, settings)


class DrainingServer(uvicorn.Server):
    """Marks the app as draining the moment a shutdown signal arrives, so readiness probes
    fail while in-flight requests finish. (uvicorn's worker processes use its own server
    class; there the app drains when the connections have closed.)"""

    def handle_exit(self, sig: int, frame: Any) -> None:
        from modelyard.serve.state import ServeState

        app: Any = getattr(self.config, "loaded_app", None)
        while app is not None:
            state = getattr(getattr(app, "state", None), "serve", None)
            if isinstance(state, ServeState):
                state.begin_drain()
                break
            app = getattr(app, "app", None)
        super().handle_exit(sig, frame)
