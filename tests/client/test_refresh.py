"""Slot-map refreshes within the caller's deadline (:mod:`aragora_redis._refresh`): the
decision, and both twins' gates around a stand-in refresh."""

from __future__ import annotations

import asyncio
import math
import threading
import time

import pytest
import redis

from aragora_redis import _refresh
from aragora_redis._refresh import (
    STILL_RUNNING,
    AsyncRefreshGate,
    RefreshGate,
    deadline,
    wait_s,
)

#: How long the stand-in refresh of the gate tests takes.
SLOW_S = 0.3


def test_without_a_deadline_a_caller_waits_for_the_whole_refresh() -> None:
    assert wait_s(math.inf, 100.0) is None


def test_a_caller_waits_until_its_deadline_and_not_past_it() -> None:
    assert wait_s(105.0, 100.0) == 5.0
    assert wait_s(100.0, 100.0) == 0.0
    assert wait_s(99.0, 100.0) == 0.0


def test_an_earlier_outer_deadline_stays() -> None:
    waits: list[float | None] = []
    with deadline(10.0):
        with deadline(20.0):
            waits.append(wait_s(_current(), 0.0))
        with deadline(5.0):
            waits.append(wait_s(_current(), 0.0))
        waits.append(wait_s(_current(), 0.0))
    waits.append(wait_s(_current(), 0.0))
    assert waits == [10.0, 5.0, 10.0, None]


def _current() -> float:
    return _refresh._DEADLINE.get()


def test_callers_join_the_refresh_under_way() -> None:
    gate, runs = RefreshGate(), []

    def refresh() -> None:
        runs.append(threading.get_ident())
        time.sleep(SLOW_S)

    threads = [threading.Thread(target=gate.refresh, args=(refresh,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(runs) == 1
    gate.refresh(refresh)  # the next one is a new refresh
    assert len(runs) == 2


def test_a_caller_leaves_at_its_deadline_and_the_refresh_goes_on() -> None:
    gate, ended = RefreshGate(), threading.Event()

    def refresh() -> None:
        time.sleep(SLOW_S)
        ended.set()

    started = time.monotonic()
    with deadline(started + SLOW_S / 3), pytest.raises(redis.exceptions.TimeoutError) as raised:
        gate.refresh(refresh)
    assert time.monotonic() - started < SLOW_S
    assert STILL_RUNNING in str(raised.value)
    assert ended.wait(SLOW_S * 3), "the refresh stopped with its caller"


def test_a_caller_past_its_deadline_does_not_wait_at_all() -> None:
    gate = RefreshGate()
    started = time.monotonic()
    with deadline(started - 1.0), pytest.raises(redis.exceptions.TimeoutError):
        gate.refresh(lambda: time.sleep(SLOW_S))
    assert time.monotonic() - started < SLOW_S / 3


def test_the_refreshs_error_is_the_callers() -> None:
    def refresh() -> None:
        raise redis.exceptions.RedisClusterException("no node answers")

    with pytest.raises(redis.exceptions.RedisClusterException, match="no node answers"):
        RefreshGate().refresh(refresh)


async def test_async_callers_join_the_refresh_under_way() -> None:
    gate, runs = AsyncRefreshGate(), []

    async def refresh() -> None:
        runs.append(1)
        await asyncio.sleep(SLOW_S)

    await asyncio.gather(*(gate.refresh(refresh) for _ in range(4)))
    assert len(runs) == 1
    await gate.refresh(refresh)
    assert len(runs) == 2


async def test_async_caller_leaves_at_its_deadline_and_the_refresh_goes_on() -> None:
    gate, ended = AsyncRefreshGate(), asyncio.Event()

    async def refresh() -> None:
        await asyncio.sleep(SLOW_S)
        ended.set()

    started = time.monotonic()
    with deadline(started + SLOW_S / 3), pytest.raises(redis.exceptions.TimeoutError):
        await gate.refresh(refresh)
    assert time.monotonic() - started < SLOW_S
    await asyncio.wait_for(ended.wait(), SLOW_S * 3)


async def test_async_refresh_runs_without_its_first_callers_deadline() -> None:
    gate, seen = AsyncRefreshGate(), []

    async def refresh() -> None:
        seen.append(_current())

    with deadline(time.monotonic() + 10.0):
        await gate.refresh(refresh)
    assert seen == [math.inf]


async def test_async_refreshs_error_is_the_callers() -> None:
    async def refresh() -> None:
        raise redis.exceptions.RedisClusterException("no node answers")

    with pytest.raises(redis.exceptions.RedisClusterException, match="no node answers"):
        await AsyncRefreshGate().refresh(refresh)


def test_closing_ends_with_the_refresh_under_way() -> None:
    gate, ended = RefreshGate(), threading.Event()

    def refresh() -> None:
        time.sleep(SLOW_S)
        ended.set()

    with deadline(time.monotonic()), pytest.raises(redis.exceptions.TimeoutError):
        gate.refresh(refresh)  # the caller leaves, the refresh goes on
    gate.close()
    assert ended.is_set(), "close returned with the refresh still running"


async def test_async_closing_ends_with_the_refresh_under_way() -> None:
    gate, cancelled = AsyncRefreshGate(), []

    async def refresh() -> None:
        try:
            await asyncio.sleep(SLOW_S * 10)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    with deadline(time.monotonic() + 0.05), pytest.raises(redis.exceptions.TimeoutError):
        await gate.refresh(refresh)  # the caller leaves, the refresh goes on
    await gate.aclose()
    assert cancelled == [True], "aclose returned with the refresh still running"


async def test_async_a_caller_waiting_at_close_gets_a_connection_error() -> None:
    gate = AsyncRefreshGate()
    waiting = asyncio.create_task(gate.refresh(lambda: asyncio.sleep(SLOW_S * 10)))
    await asyncio.sleep(0.05)  # the refresh runs, the caller waits for it (no deadline)
    await gate.aclose()
    with pytest.raises(redis.exceptions.ConnectionError, match=_refresh.CLOSED):
        await waiting  # not a CancelledError: the caller's own task was not cancelled


async def test_async_a_refresh_cancelled_before_it_ran_does_not_stay() -> None:
    gate, runs = AsyncRefreshGate(), []

    async def refresh() -> None:
        runs.append(True)

    waiting = asyncio.create_task(gate.refresh(refresh))
    await asyncio.sleep(0)  # the caller makes the refresh's task, which runs after this one
    await gate.aclose()  # so it is cancelled before it ran
    assert runs == []
    with pytest.raises(redis.exceptions.ConnectionError, match=_refresh.CLOSED):
        await waiting
    await gate.refresh(refresh)  # a new refresh, not the cancelled one
    assert runs == [True]
