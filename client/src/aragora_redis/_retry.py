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

:class:`BudgetRetry` and :class:`AsyncBudgetRetry` are redis-py's ``Retry`` twins
with this decision in place of their count of attempts.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
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
#: Retries no call exceeds.
MAX_RETRIES = 40
#: The first pause, and the largest (before jitter), in seconds.
PAUSE_BASE_S = 0.025
PAUSE_CAP_S = 0.1


def next_pause(failures: int, elapsed: float, jitter: float) -> float | None:
    """How long to pause before the next attempt, or None to give up.

    ``failures``: attempts that failed so far (1 after the first); ``elapsed``: seconds
    since the call started; ``jitter`` in [0, 1) (random): the pause is between half
    and all of ``min(PAUSE_CAP_S, PAUSE_BASE_S * 2.0 ** (failures - 1))``.
    """
    if failures > MAX_RETRIES:
        return None
    if failures > MIN_RETRIES and elapsed >= BUDGET_S:
        return None
    step = min(PAUSE_CAP_S, PAUSE_BASE_S * 2.0 ** (failures - 1))
    return step / 2 + step / 2 * jitter


def _failed(fail: Callable[..., Any], error: Exception, failures: int, with_count: bool) -> Any:
    return fail(error, failures) if with_count else fail(error)


class BudgetRetry(Retry):
    """redis-py's ``Retry`` with :func:`next_pause` deciding when to stop and how long to wait."""

    def __init__(self) -> None:
        super().__init__(NoBackoff(), MAX_RETRIES)

    def call_with_retry(
        self,
        do: Callable[[], T],
        fail: Callable[..., Any],
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> T:
        """Call ``do`` until it succeeds, the error is not retryable, or the budget is spent."""
        started, failures = time.monotonic(), 0
        while True:
            try:
                return do()
            except self._supported_errors as error:
                if is_retryable and not is_retryable(error):
                    raise
                failures += 1
                _failed(fail, error, failures, with_failure_count)
                pause = next_pause(failures, time.monotonic() - started, random.random())
                if pause is None:
                    raise
                time.sleep(pause)


class AsyncBudgetRetry(AsyncRetry):
    """The asyncio twin of :class:`BudgetRetry`."""

    def __init__(self) -> None:
        super().__init__(NoBackoff(), MAX_RETRIES)

    async def call_with_retry(
        self,
        do: Callable[[], Awaitable[T]],
        fail: Callable[..., Any],
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> T:
        """Await ``do`` until it succeeds, the error is not retryable, or the budget is spent."""
        started, failures = time.monotonic(), 0
        while True:
            try:
                return await do()
            except self._supported_errors as error:
                if is_retryable and not is_retryable(error):
                    raise
                failures += 1
                await _failed(fail, error, failures, with_failure_count)
                pause = next_pause(failures, time.monotonic() - started, random.random())
                if pause is None:
                    raise
                await asyncio.sleep(pause)
