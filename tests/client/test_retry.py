"""The retry policy (:mod:`aragora_redis._retry`): the decision, and both twins' loops."""

from __future__ import annotations

import asyncio
import copy
import threading
import time

import pytest
import redis
import redis.asyncio

from aragora_redis import RedisSettings
from aragora_redis._retry import (
    BUDGET_S,
    MAX_RETRIES,
    MIN_RETRIES,
    PAUSE_BASE_S,
    PAUSE_CAP_S,
    PROBE_PAUSE_S,
    AsyncBudgetRetry,
    BudgetRetry,
    next_pause,
)
from aragora_redis.connection import build_redis, build_redis_async


@pytest.mark.parametrize("failures", range(1, 12))
def test_pauses_are_short_jittered_and_capped(failures: int) -> None:
    step = min(PAUSE_CAP_S, PAUSE_BASE_S * 2 ** (failures - 1))
    low, high = next_pause(failures, 0.0, 0.0), next_pause(failures, 0.0, 0.999)
    assert low == pytest.approx(step / 2)
    assert high is not None
    assert step / 2 < high <= step <= PAUSE_CAP_S


def test_retries_stop_when_the_budget_is_spent() -> None:
    assert next_pause(MIN_RETRIES + 1, BUDGET_S - 0.01, 0.5) is not None
    assert next_pause(MIN_RETRIES + 1, BUDGET_S, 0.5) is None


def test_slow_failures_still_get_the_minimum_retries() -> None:
    """A first attempt that waited for a socket timeout alone exceeds the budget."""
    for failures in range(1, MIN_RETRIES + 1):
        assert next_pause(failures, 10 * BUDGET_S, 0.5) is not None
    assert next_pause(MIN_RETRIES + 1, 10 * BUDGET_S, 0.5) is None


def test_never_more_than_max_retries() -> None:
    assert next_pause(MAX_RETRIES, 0.0, 0.5) is not None
    assert next_pause(MAX_RETRIES + 1, 0.0, 0.5) is None


def test_the_prober_pauses_briefly_whatever_its_failures() -> None:
    for failures in (1, 5, 40):
        low = next_pause(failures, 0.0, 0.0, probing=True)
        high = next_pause(failures, 0.0, 0.999, probing=True)
        assert low == pytest.approx(PROBE_PAUSE_S / 2)
        assert high is not None
        assert high <= PROBE_PAUSE_S < PAUSE_CAP_S / 2


def test_the_prober_stops_with_the_budget_too() -> None:
    assert next_pause(MIN_RETRIES + 1, BUDGET_S, 0.5, probing=True) is None
    assert next_pause(MAX_RETRIES + 1, 0.0, 0.5, probing=True) is None


def test_the_budget_fits_a_probers_pauses() -> None:
    """A prober's attempts within the budget stay under the count that stops a call."""
    assert BUDGET_S / (PROBE_PAUSE_S / 2) < MAX_RETRIES


class Flaky:
    """Fails with ConnectionError ``times`` times, then answers; counts the calls."""

    def __init__(self, times: int) -> None:
        self.times, self.calls = times, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.times:
            raise redis.ConnectionError("refused")
        return "ok"


def test_sync_retry_keeps_trying_fast_failures_until_they_answer() -> None:
    flaky = Flaky(10)
    started = time.monotonic()
    assert BudgetRetry().call_with_retry(flaky, lambda _: None) == "ok"
    assert flaky.calls == 11
    assert time.monotonic() - started < 10 * PAUSE_CAP_S + 0.5


def test_async_retry_keeps_trying_fast_failures_until_they_answer() -> None:
    flaky = Flaky(10)

    async def do() -> str:
        return flaky()

    async def fail(_: Exception) -> None:
        return None

    assert asyncio.run(AsyncBudgetRetry().call_with_retry(do, fail)) == "ok"
    assert flaky.calls == 11


def test_sync_retry_gives_up_after_the_budget() -> None:
    flaky = Flaky(10_000)
    with pytest.raises(redis.ConnectionError):
        BudgetRetry().call_with_retry(flaky, lambda _: None)
    assert MIN_RETRIES < flaky.calls <= MAX_RETRIES + 1


def test_the_failure_count_reaches_the_failure_handler() -> None:
    seen: list[int] = []
    BudgetRetry().call_with_retry(Flaky(3), lambda _, n: seen.append(n), with_failure_count=True)
    assert seen == [1, 2, 3]


def test_standalone_and_sentinel_clients_retry_within_the_budget() -> None:
    s = RedisSettings(host="127.0.0.1", port=1)
    sync_client = build_redis(s)
    async_client = build_redis_async(s)
    assert isinstance(sync_client, redis.Redis)
    assert isinstance(async_client, redis.asyncio.Redis)
    try:
        pool_kwargs = sync_client.connection_pool.connection_kwargs
        assert isinstance(pool_kwargs["retry"], BudgetRetry)
        assert isinstance(async_client.connection_pool.connection_kwargs["retry"], AsyncBudgetRetry)
    finally:
        sync_client.close()
        asyncio.run(async_client.aclose())


def _held(retry: BudgetRetry, down: threading.Event) -> tuple[threading.Thread, Flaky]:
    """A caller of ``retry`` failing until ``down`` is cleared, in its own thread."""
    flaky = Flaky(0)

    def do() -> str:
        flaky.calls += 1
        if down.is_set():
            raise redis.ConnectionError("refused")
        return "ok"

    thread = threading.Thread(target=retry.call_with_retry, args=(do, lambda _: None))
    thread.start()
    return thread, flaky


def test_the_connections_copies_share_the_waiting() -> None:
    """redis-py deep-copies a client's retry into each connection."""
    sync_retry, async_retry = BudgetRetry(), AsyncBudgetRetry()
    assert copy.deepcopy(sync_retry)._waits is sync_retry._waits
    assert copy.deepcopy(async_retry)._waits is async_retry._waits


def test_one_caller_at_a_time_probes() -> None:
    retry = BudgetRetry()
    waits = retry._waits
    assert waits.claim(1)
    assert not waits.claim(2), "another thread waits instead"
    assert waits.claim(1), "the prober stays the prober"
    waits.prober = None
    assert waits.claim(2)


def test_a_success_wakes_every_waiting_caller() -> None:
    waits = BudgetRetry()._waits
    waiters = [threading.Thread(target=waits.pause, args=(60.0, False)) for _ in range(3)]
    for waiter in waiters:
        waiter.start()
    deadline = time.monotonic() + 30
    while waits.waiting < len(waiters) and time.monotonic() < deadline:
        time.sleep(0.01)
    waits.succeeded()
    for waiter in waiters:
        waiter.join(30)
        assert not waiter.is_alive(), "woken well before its 60 s pause"


def test_a_success_wakes_every_waiting_task() -> None:
    waits = AsyncBudgetRetry()._waits

    async def main() -> None:
        waiters = [asyncio.ensure_future(waits.pause(60.0, False)) for _ in range(3)]
        while waits.waiting < len(waiters):
            await asyncio.sleep(0.01)
        waits.succeeded()
        done, _ = await asyncio.wait(waiters, timeout=30)
        assert len(done) == len(waiters), "woken well before their 60 s pause"

    asyncio.run(main())


def test_one_task_at_a_time_probes() -> None:
    waits = AsyncBudgetRetry()._waits

    async def main() -> None:
        first = asyncio.ensure_future(asyncio.sleep(0))
        second = asyncio.ensure_future(asyncio.sleep(0))
        assert waits.claim(first)
        assert not waits.claim(second)
        await asyncio.gather(first, second)

    asyncio.run(main())


def test_only_an_outermost_success_wakes_waiting_callers() -> None:
    """redis-py retries a socket connect inside a command's retry: a socket a proxy
    accepted is no answer yet."""
    retry = BudgetRetry()
    retry._waits.waiting = 1  # as if a caller were waiting
    answers = iter(["handshake fails", "ok"])

    def command() -> str:
        retry.call_with_retry(lambda: "socket", lambda _: None)  # the inner loop succeeds
        answer = next(answers)
        if answer != "ok":
            raise redis.ConnectionError(answer)
        return answer

    assert retry.call_with_retry(command, lambda _: None) == "ok"
    assert retry._waits.successes == 1, "the command's success alone"


def test_the_prober_role_ends_with_its_call() -> None:
    retry, down = BudgetRetry(), threading.Event()
    down.set()
    thread, flaky = _held(retry, down)
    deadline = time.monotonic() + 30
    while retry._waits.prober is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert retry._waits.prober == thread.ident
    down.clear()
    thread.join(30)
    assert flaky.calls >= 2
    assert retry._waits.prober is None
