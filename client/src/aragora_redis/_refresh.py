"""Slot-map refreshes that hold no call past its timeout: :class:`RefreshGate` and its twin.

After a connection error or a timeout, redis-py's cluster client refreshes its slot map
before the command goes again or fails: it asks the startup nodes for ``CLUSTER SLOTS``
one after the other, each with the full connect timeout, until one answers with every
slot covered, and every other caller that needs a refresh meanwhile waits for it on
redis-py's lock. Cut off from all nodes but one (the drill's ``partition-client``), a
refresh waited for a connect timeout per unreachable node, and calls with a 5 s timeout
lasted 16 s: 5 s for their own attempt, 11 s for the refresh (theirs or another's).

So a cluster client refreshes on its own (a thread; a task in asyncio), one refresh at a
time, and a caller waits for it only until its *deadline*: the start of its call plus
the client's timeout (:func:`deadline`, set by :mod:`aragora_redis.cluster_conn` for
each command). A refresh still running then fails that caller at once with a
``TimeoutError`` (what follows a refresh is another attempt, which could only take the
call past its timeout); it goes on for the callers after it, which join it rather than
start another. A caller with no deadline (building the client, a pipeline) waits for
the refresh to end, as before. No timeout is changed: the nodes are asked as redis-py
asks them, only no caller waits for more of it than its own timeout allows.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from redis import exceptions

#: The error of a caller whose deadline came before the refresh it waited for ended.
STILL_RUNNING = "the call's timeout ran out while the cluster's slot map was being refreshed"
#: The error of a caller whose refresh was cancelled by the client's close.
CLOSED = "the cluster client was closed while its slot map was being refreshed"

#: When the current thread's or task's call must end (monotonic); inf: no deadline.
_DEADLINE: ContextVar[float] = ContextVar("aragora_redis_refresh_deadline", default=math.inf)


def wait_s(deadline: float, now: float) -> float | None:
    """How long a caller may wait for a running refresh: None for as long as it takes
    (no deadline), 0.0 for not at all (its deadline has passed)."""
    if math.isinf(deadline):
        return None
    return max(0.0, deadline - now)


@contextmanager
def deadline(at: float) -> Iterator[None]:
    """Within the block, refreshes are waited for until ``at`` (monotonic) at the latest;
    an earlier deadline set around the block stays."""
    token = _DEADLINE.set(min(_DEADLINE.get(), at))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def _late() -> exceptions.TimeoutError:
    return exceptions.TimeoutError(STILL_RUNNING)


class _Job:
    """One refresh: done once it ended, with its error if it failed."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: Exception | None = None


class RefreshGate:
    """One slot-map refresh at a time, in its own thread; callers wait for it until their
    deadline (sync)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: _Job | None = None

    def refresh(self, run: Callable[[], object]) -> None:
        """Run ``run`` (a refresh) unless one is running, and wait for the one that is.

        Raises the refresh's error, or ``TimeoutError`` if the caller's deadline came first.
        """
        with self._lock:
            job = self._running
            if job is None:
                job = self._running = _Job()
                thread = threading.Thread(
                    target=self._run, args=(job, run), name="aragora-redis-refresh", daemon=True
                )
                thread.start()
        if not job.done.wait(wait_s(_DEADLINE.get(), time.monotonic())):
            raise _late()
        if job.error is not None:
            raise job.error

    def close(self, timeout: float | None = None) -> None:
        """Wait for the refresh under way, if any, to end, for at most ``timeout`` seconds
        (None: to its end). A thread cannot be cancelled, so a client closing for good waits
        for it, and what the refresh opened is closed with the rest."""
        with self._lock:
            job = self._running
        if job is not None:
            job.done.wait(timeout)

    def _run(self, job: _Job, run: Callable[[], object]) -> None:
        try:
            run()
        except Exception as exc:
            job.error = exc
        finally:
            with self._lock:
                self._running = None
            job.done.set()


class AsyncRefreshGate:
    """The asyncio twin of :class:`RefreshGate` (the refresh is a task of the caller's loop)."""

    def __init__(self) -> None:
        self._running: asyncio.Task[None] | None = None

    async def refresh(self, run: Callable[[], Awaitable[object]]) -> None:
        """Run ``run`` (a refresh) unless one is running, and wait for the one that is.

        Raises the refresh's error, or ``TimeoutError`` if the caller's deadline came first.
        """
        job = self._running
        if job is None:
            job = self._running = asyncio.create_task(self._run(run))
            job.add_done_callback(_retrieved)
        try:
            await asyncio.wait_for(asyncio.shield(job), wait_s(_DEADLINE.get(), time.monotonic()))
        except TimeoutError:  # asyncio's (the builtin), not redis-py's
            raise _late() from None
        except asyncio.CancelledError:
            # The refresh was cancelled by aclose, not this caller's task: a connection error
            # of the call, not a cancellation of the caller.
            if job.cancelled() and not _cancelling():
                raise exceptions.ConnectionError(CLOSED) from None
            raise

    async def aclose(self) -> None:
        """Cancel the refresh under way, if any, and wait for it to end: a client closed for
        good opens no connection after its close. Its callers get a ``ConnectionError``."""
        job = self._running
        if job is not None and not job.done():
            job.cancel()
            await asyncio.gather(job, return_exceptions=True)
        if self._running is job:  # cancelled before it ran, its own cleanup did not
            self._running = None

    async def _run(self, run: Callable[[], Awaitable[object]]) -> None:
        _DEADLINE.set(math.inf)  # the task's copy of the caller's context: no deadline
        try:
            await run()
        finally:
            self._running = None


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _retrieved(job: asyncio.Task[None]) -> None:
    # The callers that waited have seen the error; when none is left, it is not "never
    # retrieved" (asyncio would log it).
    if not job.cancelled():
        job.exception()
