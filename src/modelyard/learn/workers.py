"""The worker processes ``compare``'s trials run their folds in: started once, warmed up, and
killed (then restarted) when a trial is cut at its deadline."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import BrokenExecutor, Future
from types import TracebackType
from typing import TYPE_CHECKING, Any

from modelyard.learn.models import all_specs

if TYPE_CHECKING:
    from joblib.externals.loky.reusable_executor import _ReusablePoolExecutor

logger = logging.getLogger(__name__)


class Workers:
    """The worker processes trials' folds run in: started once, warmed up (each imports what
    ``models`` need: the first trial's, as the others import theirs in their own trials) while
    the main process gets on, restarted only after a cut trial."""

    def __init__(self, count: int, models: Sequence[str] = ()) -> None:
        self.count = count
        self.models = tuple(models)
        _quiet_pool_managers()
        self.executor = self._start()

    def _start(self) -> _ReusablePoolExecutor:
        from joblib.externals.loky import get_reusable_executor

        # one worker per core already: threads of their own would only fight over the cores
        threads = max(1, (os.cpu_count() or 1) // self.count)
        executor = get_reusable_executor(
            max_workers=self.count, env={"OMP_NUM_THREADS": str(threads)}
        )
        for _ in range(self.count):
            executor.submit(_warm_up, self.models)
        return executor

    def submit(self, function: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run ``function(*args)`` in a worker, starting fresh workers if these broke."""
        try:
            return self.executor.submit(function, *args)
        except BrokenExecutor:
            self.kill(restart=True)
            return self.executor.submit(function, *args)

    def kill(self, *, restart: bool) -> None:
        """Kill the workers (and a trial they run); with ``restart``, start fresh ones."""
        self.executor.shutdown(wait=True, kill_workers=True)
        if restart:
            self.executor = self._start()

    def close(self) -> None:
        """End the workers now rather than at exit, where a budget would wait for them."""
        self.executor.shutdown(wait=False, kill_workers=True)

    def __enter__(self) -> Workers:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _quiet_pool_managers() -> None:
    """Log, rather than print, what loky's manager thread raises: killing a cut trial's workers
    can race its bookkeeping (a ``KeyError`` for a work item already gone), which changes no
    result but would show the user a traceback. Other threads keep the hook they had."""
    from joblib.externals.loky.process_executor import _ExecutorManagerThread

    previous = threading.excepthook
    if getattr(previous, "__qualname__", "") == _quiet_hook_name:
        return

    def quiet(args: threading.ExceptHookArgs) -> None:
        if isinstance(args.thread, _ExecutorManagerThread):
            logger.debug("a worker pool's manager thread ended: %r", args.exc_value)
        else:
            previous(args)

    threading.excepthook = quiet


_quiet_hook_name = "_quiet_pool_managers.<locals>.quiet"


def _warm_up(models: tuple[str, ...]) -> None:
    """In a worker: import what fitting ``models`` (those installed) needs, before the first
    trial waits on it."""
    import modelyard.learn.model  # noqa: F401  (preprocessing, scikit-learn)

    installed = {spec.name: spec for spec in all_specs()}
    for name in models:
        if name in installed:
            installed[name].factory(min(installed[name].tasks), 0)
