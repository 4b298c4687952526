"""Adaptive micro-batching: requests that queue up while the model is busy share its next call.

A request that finds the model idle and nobody else arriving runs at once, alone: batching never
makes a lone request wait. When the model's last call, scaled to this request's rows, took under
``INLINE_SECONDS``, such a request (or a batch that small) is predicted right on the event loop,
sparing two thread hops that cost more than the prediction; slower calls run in the model's thread.
``max_batch_delay`` only applies while other requests for the same model are still being read,
and ends as soon as they are queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from modelyard.serve.errors import ModelFailedError, PredictionTimeoutError, QueueFullError
from modelyard.serve.metrics import Metrics, model_labels
from modelyard.serve.model import Prediction, Rows, ServedModel
from modelyard.serve.settings import BatchSettings

INLINE_SECONDS = 0.001
"""A lone request runs on the event loop when its rows should take the model less than this."""


@dataclass(eq=False)
class _Job:
    rows: Rows
    proba: bool
    future: asyncio.Future[Prediction]


class Batcher:
    """One model's queue, and the loop that feeds its rows to the model in batches.

    Slow calls of the model run in one worker thread, off the event loop; ``start`` and
    ``predict`` must be called from the event loop that runs the server.
    """

    def __init__(self, model: ServedModel, settings: BatchSettings, metrics: Metrics) -> None:
        self.model = model
        self.settings = settings
        self._metrics = metrics
        self._labels = model_labels(model.name, model.version)
        self._queue: deque[_Job] = deque()
        self._arriving = 0
        self._busy = False
        self._row_seconds = float("inf")  # per row in the last call; unknown until one ran
        self._wakeup = asyncio.Event()
        # One thread per model runs it; a plain queue in and ``call_soon_threadsafe`` out is
        # the cheapest hop between the event loop and that thread.
        self._inbox: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._work, name=f"predict-{model.name}", daemon=True
        )
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._thread.start()
        self._task = asyncio.get_running_loop().create_task(self._run())

    @contextlib.contextmanager
    def arriving(self) -> Iterator[None]:
        """Mark a request as being read, so a forming batch may wait for it."""
        self._arriving += 1
        try:
            yield
        finally:
            self._arriving -= 1
            self._wakeup.set()

    async def predict(self, rows: Rows, *, proba: bool, timeout: float) -> Prediction:
        """The prediction for ``rows``, computed in a batch with whatever else is queued.

        Raises:
            QueueFullError: ``max_queue`` requests are already waiting.
            PredictionTimeoutError: no answer within ``timeout`` seconds.
            ModelFailedError: the model raised on these rows.
        """
        if (
            self._fast_enough(rows.count)
            and not self._queue
            and not self._busy
            and not self._arriving
        ):
            return self._predict_now(rows, proba)
        if len(self._queue) >= self.settings.max_queue:
            raise QueueFullError(
                f"model {self.model.name!r} has {len(self._queue)} requests waiting",
                hint="retry later",
            )
        loop = asyncio.get_running_loop()
        job = _Job(rows, proba, loop.create_future())
        self._queue.append(job)
        self._metrics.queue_depth.set(self._labels, len(self._queue))
        self._wakeup.set()
        expiry = loop.call_later(timeout, _expire, job.future, self.model.name, timeout)
        try:
            return await job.future
        finally:
            expiry.cancel()

    def _predict_now(self, rows: Rows, proba: bool) -> Prediction:
        """Predict a lone request on the event loop (the model is idle and fast)."""
        self._busy = True
        try:
            outcome = self._call([rows], proba)
        finally:
            self._busy = False
        if isinstance(outcome, ModelFailedError):
            raise outcome
        self._metrics.batch_size.observe(self._labels, rows.count)
        return outcome

    def _fast_enough(self, rows: int) -> bool:
        """Whether ``rows`` should take the model less than ``INLINE_SECONDS``."""
        return self._row_seconds * rows < INLINE_SECONDS

    def _call(self, batch: list[Rows], proba: bool) -> Prediction | ModelFailedError:
        """One call of the model, timed to tell whether the next may run on the event loop."""
        start = time.perf_counter()
        try:
            outcome: Prediction | ModelFailedError = self.model.predict(batch, proba)
        except ModelFailedError as error:
            outcome = error
        rows = sum(part.count for part in batch)
        self._row_seconds = (time.perf_counter() - start) / max(1, rows)
        return outcome

    async def drain(self) -> None:
        """Wait until every queued request has its answer."""
        while self._queue or self._busy:
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._inbox.put(None)

    async def _run(self) -> None:
        while True:
            if not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            self._busy = True
            try:
                batch = await self._gather()
                if batch:
                    await self._execute(batch)
            finally:
                self._busy = False

    async def _gather(self) -> list[_Job]:
        batch: list[_Job] = []
        rows = 0
        deadline = time.monotonic() + self.settings.max_batch_delay
        while True:
            while self._queue and (
                not batch or rows + self._queue[0].rows.count <= self.settings.max_batch_size
            ):
                job = self._queue.popleft()
                if not job.future.done():  # timed out while it waited
                    batch.append(job)
                    rows += job.rows.count
            remaining = deadline - time.monotonic()
            if (
                not batch
                or not self._arriving
                or self._queue
                or remaining <= 0
                or rows >= self.settings.max_batch_size
            ):
                break
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), remaining)
        self._metrics.queue_depth.set(self._labels, len(self._queue))
        return batch

    def _work(self) -> None:
        while (call := self._inbox.get()) is not None:
            outcome = self._call(call.batch, call.proba)
            call.loop.call_soon_threadsafe(_resolve_call, call.done, outcome)

    async def _execute(self, batch: list[_Job]) -> None:
        rows = [job.rows for job in batch]
        proba = any(job.proba for job in batch)
        if self._fast_enough(sum(part.count for part in rows)):  # no thread hop for a quick call
            outcome = self._call(rows, proba)
        else:
            call = _Call(rows, proba, asyncio.get_running_loop())
            self._inbox.put(call)
            outcome = await call.done
        if isinstance(outcome, ModelFailedError):
            if len(batch) == 1:
                _fail(batch[0].future, outcome)
                return
            for job in batch:  # find the request the model fails on; the others still succeed
                await self._execute([job])
            return
        self._metrics.batch_size.observe(self._labels, sum(job.rows.count for job in batch))
        start = 0
        for job in batch:
            stop = start + job.rows.count
            _resolve(job.future, outcome.rows(start, stop))
            start = stop


@dataclass(eq=False)
class _Call:
    """One call of the model, handed to its thread; ``done`` gets the outcome."""

    batch: list[Rows]
    proba: bool
    loop: asyncio.AbstractEventLoop
    done: asyncio.Future[Prediction | ModelFailedError] = field(init=False)

    def __post_init__(self) -> None:
        self.done = self.loop.create_future()


def _resolve_call(
    done: asyncio.Future[Prediction | ModelFailedError], outcome: Prediction | ModelFailedError
) -> None:
    if not done.done():
        done.set_result(outcome)


def _resolve(future: asyncio.Future[Prediction], result: Prediction) -> None:
    if not future.done():
        future.set_result(result)


def _fail(future: asyncio.Future[Prediction], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


def _expire(future: asyncio.Future[Prediction], name: str, timeout: float) -> None:
    _fail(future, PredictionTimeoutError(f"model {name!r} did not answer within {timeout:g} s"))
