"""SentinelWatcher on the real Sentinel fixture (asyncio); twin of test_watch.py."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aragora_redis._follow import FailoverState
from aragora_redis.connection import build_redis_async
from aragora_redis.watch import AsyncSentinelWatcher
from tests.support import failover_and_wait


async def test_watcher_follows_a_switch(sentinel: Any) -> None:
    s = sentinel.settings
    state = FailoverState(s.sentinel_master)
    heard: list[str] = []
    watcher = await AsyncSentinelWatcher(
        s, [state], listener=lambda e: heard.append(e.channel)
    ).start()
    await asyncio.sleep(0.3)  # let every task subscribe
    try:
        new = await asyncio.to_thread(failover_and_wait, s)
        deadline = time.monotonic() + 5
        while state.hint != new and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        await watcher.stop()
    assert state.hint == new
    assert state.generation >= 1
    assert "+switch-master" in heard
    assert {"+selected-slave", "+promoted-slave"} <= set(heard)
    assert state.hold_for(time.monotonic()) == 0.0


async def test_connections_are_reused_on_the_new_master(sentinel: Any) -> None:
    s = sentinel.settings
    state = FailoverState(s.sentinel_master)
    watcher = await AsyncSentinelWatcher(s, [state]).start()
    client = build_redis_async(s, failover=state)
    await asyncio.sleep(0.3)
    try:
        await client.set("aragora:test:reuse", 1)
        new = await asyncio.to_thread(failover_and_wait, s)
        deadline = time.monotonic() + 5
        while state.hint != new and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await client.set("aragora:test:reuse", 2)
        first = await client.client_id()
        assert [await client.client_id() for _ in range(5)] == [first] * 5, "one connection"
    finally:
        await client.aclose()
        await watcher.stop()
