"""The retry policy of data-node commands: a time budget with short jittered pauses.

A failover makes a command fail in two ways. Fast: the connection is refused or
reset at once (a killed node, an endpoint not yet moved, Sentinel still naming the
old master); each attempt costs next to nothing, and the command should try again
soon, since the new primary may answer any moment. Slow: the attempt waited for a
socket timeout (a frozen node); trying again is worth it once or twice, after which
the caller should hear of it rather than be held for several timeouts.

So the budget is time, not a count of attempts (AWS's guidance for ElastiCache:
short timeouts and jittered backoff). :func:`next_pause` decides, from the number
of failures and the time since the call started, whether to try again and after
how long: pauses grow from 25 ms to at most 100 ms with equal jitter, so a command
reaches a primary that appeared during its pause within about 0.1 s; retries stop
once :data:`BUDGET_S` has passed, except that a call always gets
:data:`MIN_RETRIES` retries (a first slow failure alone exceeds the budget), and
never more than :data:`MAX_RETRIES`. The earlier exponential backoff (50 ms doubling
to 0.5 s, five retries) kept a caller up to 0.5 s behind a primary that had appeared.

Probe, not sleep. A pause of 50-100 ms still left callers up to 0.1 s behind a
primary that appeared during it (behind an endpoint: a caller following the move
0.04-0.1 s late where a plain client sleeping 50 ms was 0-0.05 s late). So the
callers of one client share the waiting: one of them at a time, the *prober*,
tries again every :data:`PROBE_PAUSE_S` (jittered), the others pause as above but
are woken as soon as any call of the client succeeds. A primary that appears is
found within about 10 ms, and every waiting caller goes at once, while a client
makes at most about 130 attempts a second however many callers wait (not one
stream of attempts per caller).

:class:`BudgetRetry` and :class:`AsyncBudgetRetry` are redis-py's ``Retry`` twins
with this decision in place of their count of attempts; a client shares one
instance among its connections, hence among its callers. ``shared=False`` gives
every caller its own pauses (no prober, no waking), for the cluster client
(:mod:`aragora_redis.cluster_conn`), where a success on one shard says nothing of
another.
"""

from __future__ import annotations

import asyncio
import copy
import random
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, TypeVar

from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry

T = TypeVar("T")
#: How long after its start a call stops retrying (seconds): long enough for Sentinel to
#: finish a planned failover, short enough not to hold a caller as redis-py's defaults do.
BUDGET_S = 2.0
#: Retries a call always gets, however slow its failures were.
MIN_RETRIES = 2
#: Retries no call exceeds (a prober's pauses, 5-10 ms, fit at most 400 in the budget).
MAX_RETRIES = 500
#: The first pause, and the largest (before jitter), in seconds.
PAUSE_BASE_S = 0.025
PAUSE_CAP_S = 0.1
#: The prober's pause (before jitter), in seconds.
PROBE_PAUSE_S = 0.01


def next_pause(
    failures: int, elapsed: float, jitter: float, *, probing: bool = False
) -> float | None:
    """How long to pause before the next attempt, or None to give up.

    ``failures``: attempts that failed so far (1 after the first); ``elapsed``: seconds
    since the call started; ``jitter`` in [0, 1) (random): the pause is between half
    and all of ``min(PAUSE_CAP_S, PAUSE_BASE_S * 2.0 ** (failures - 1))``, or of
    :data:`PROBE_PAUSE_S` for the prober (``probing``).
    """
    if failures > MAX_RETRIES:
        return None
    if failures > MIN_RETRIES and elapsed >= BUDGET_S:
        return None
    step = PROBE_PAUSE_S if probing else min(PAUSE_CAP_S, PAUSE_BASE_S * 2.0 ** (failures - 1))
    return step / 2 + step / 2 * jitter


#: How many retry loops the current thread or task is inside: redis-py nests one
#: around the socket connect inside a command's. Only an outermost loop's success
#: wakes waiting callers (a socket accepted by a proxy is no primary yet).
_DEPTH: ContextVar[int] = ContextVar("aragora_redis_retry_depth", default=0)


def _failed(fail: Callable[..., Any], error: Exception, failures: int, with_count: bool) -> Any:
    return fail(error, failures) if with_count else fail(error)


class _Call:
    """One call's retry state, the same for both twins (``waits`` is a :class:`_Waits` or
    an :class:`_AsyncWaits`, ``me`` the thread's id or the task)."""

    def __init__(self, waits: Any, me: object) -> None:
        self.waits, self.me = waits, me
        self.started, self.failures, self.probing = time.monotonic(), 0, False
        self.outermost = _DEPTH.get() == 0
        self._depth = _DEPTH.set(_DEPTH.get() + 1)

    def next_pause(self) -> float | None:
        """After a failure: the pause before the next attempt (None: give up)."""
        self.probing = self.waits.claim(self.me)
        elapsed = time.monotonic() - self.started
        return next_pause(self.failures, elapsed, random.random(), probing=self.probing)

    def succeeded(self) -> None:
        """The call answered: wake the waiting callers (an outermost call only)."""
        if self.outermost and self.waits.waiting:
            self.waits.succeeded()

    def end(self) -> None:
        """Leave the loop; a prober hands the role on."""
        _DEPTH.reset(self._depth)
        if self.probing and self.waits.prober == self.me:
            self.waits.prober = None


class _Waits:
    """What the callers of one client share (redis-py deep-copies a client's ``Retry``
    into each connection; the copies keep this)."""

    def __init__(self, shared: bool) -> None:
        self.shared = shared
        self.woken = threading.Condition()
        self.successes = 0
        self.waiting = 0
        self.prober: int | None = None

    def claim(self, me: int) -> bool:
        """Whether thread ``me`` is the prober (it becomes one if there is none)."""
        if not self.shared:
            return False
        with self.woken:
            if self.prober is None:
                self.prober = me
            return self.prober == me

    def pause(self, pause: float, probing: bool) -> None:
        """Sleep ``pause`` (the prober), or until then or a success (the others)."""
        if probing or not self.shared:
            time.sleep(pause)
            return
        with self.woken:
            seen = self.successes
            self.waiting += 1
            try:
                self.woken.wait_for(lambda: self.successes != seen, pause)
            finally:
                self.waiting -= 1

    def succeeded(self) -> None:
        """Wake every waiting caller."""
        with self.woken:
            self.successes += 1
            self.woken.notify_all()


class BudgetRetry(Retry):
    """redis-py's ``Retry`` with :func:`next_pause` deciding when to stop and how long to
    wait; the callers of one client share the waiting (one prober, the others woken by
    any success)."""

    def __init__(self, *, shared: bool = True) -> None:
        super().__init__(NoBackoff(), MAX_RETRIES)
        self._waits = _Waits(shared)

    def __deepcopy__(self, memo: dict[int, Any]) -> BudgetRetry:
        return copy.copy(self)  # the same waits; the errors tuple is replaced, never changed

    def call_with_retry(
        self,
        do: Callable[[], T],
        fail: Callable[..., Any],
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> T:
        """Call ``do`` until it succeeds, the error is not retryable, or the budget is spent."""
        call = _Call(self._waits, threading.get_ident())
        try:
            while True:
                try:
                    result = do()
                except self._supported_errors as error:
                    if is_retryable and not is_retryable(error):
                        raise
                    call.failures += 1
                    _failed(fail, error, call.failures, with_failure_count)
                    pause = call.next_pause()
                    if pause is None:
                        raise
                    self._waits.pause(pause, call.probing)
                    continue
                call.succeeded()
                return result
        finally:
            call.end()


class _AsyncWaits:
    """The asyncio twin of :class:`_Waits` (the prober is a task; the others are woken by a
    success on their event loop)."""

    def __init__(self, shared: bool) -> None:
        self.shared = shared
        self.woken: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Event] = (
            weakref.WeakKeyDictionary()
        )
        self.waiting = 0
        self.prober: asyncio.Task[Any] | None = None

    def claim(self, me: asyncio.Task[Any] | None) -> bool:
        """Whether task ``me`` is the prober (it becomes one if there is none)."""
        if not self.shared:
            return False
        if self.prober is None:
            self.prober = me
        return self.prober is me

    async def pause(self, pause: float, probing: bool) -> None:
        """Sleep ``pause`` (the prober), or until then or a success (the others)."""
        if probing or not self.shared:
            await asyncio.sleep(pause)
            return
        woken = self.woken.setdefault(asyncio.get_running_loop(), asyncio.Event())
        self.waiting += 1
        try:
            await asyncio.wait_for(woken.wait(), pause)
        except TimeoutError:
            pass
        finally:
            self.waiting -= 1

    def succeeded(self) -> None:
        """Wake every waiting caller of this event loop."""
        woken = self.woken.pop(asyncio.get_running_loop(), None)
        if woken is not None:
            woken.set()


class AsyncBudgetRetry(AsyncRetry):
    """The asyncio twin of :class:`BudgetRetry`."""

    def __init__(self, *, shared: bool = True) -> None:
        super().__init__(NoBackoff(), MAX_RETRIES)
        self._waits = _AsyncWaits(shared)

    def __deepcopy__(self, memo: dict[int, Any]) -> AsyncBudgetRetry:
        return copy.copy(self)  # the same waits; the errors tuple is replaced, never changed

    async def call_with_retry(
        self,
        do: Callable[[], Awaitable[T]],
        fail: Callable[..., Any],
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> T:
        """Await ``do`` until it succeeds, the error is not retryable, or the budget is spent."""
        call = _Call(self._waits, asyncio.current_task())
        try:
            while True:
                try:
                    result = await do()
                except self._supported_errors as error:
                    if is_retryable and not is_retryable(error):
                        raise
                    call.failures += 1
                    await _failed(fail, error, call.failures, with_failure_count)
                    pause = call.next_pause()
                    if pause is None:
                        raise
                    await self._waits.pause(pause, call.probing)
                    continue
                call.succeeded()
                return result
        finally:
            call.end()
