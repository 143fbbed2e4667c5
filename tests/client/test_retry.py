"""The retry policy (:mod:`aragora_redis._retry`): the decision, and both twins' loops."""

from __future__ import annotations

import asyncio
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
