"""SentinelWatcher on the real Sentinel fixture (sync); twin of test_watch_async.py."""

from __future__ import annotations

import time
from typing import Any

from aragora_redis._follow import FailoverState
from aragora_redis.connection import build_redis
from aragora_redis.watch import SentinelWatcher
from tests.support import failover_and_wait


def test_watcher_follows_a_switch(sentinel: Any) -> None:
    s = sentinel.settings
    state = FailoverState(s.sentinel_master)
    heard: list[str] = []
    watcher = SentinelWatcher(s, [state], listener=lambda e: heard.append(e.channel)).start()
    time.sleep(0.3)  # let every thread subscribe
    try:
        new = failover_and_wait(s)
        deadline = time.monotonic() + 5
        while state.hint != new and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        watcher.stop()
    assert state.hint == new
    assert state.generation >= 1
    assert "+switch-master" in heard
    assert {"+selected-slave", "+promoted-slave"} <= set(heard)
    assert state.hold_for(time.monotonic()) == 0.0


def test_connections_are_reused_on_the_new_master(sentinel: Any) -> None:
    s = sentinel.settings
    state = FailoverState(s.sentinel_master)
    watcher = SentinelWatcher(s, [state]).start()
    client = build_redis(s, failover=state)
    time.sleep(0.3)
    try:
        client.set("aragora:test:reuse", 1)
        new = failover_and_wait(s)
        deadline = time.monotonic() + 5
        while state.hint != new and time.monotonic() < deadline:
            time.sleep(0.05)
        client.set("aragora:test:reuse", 2)
        first = client.client_id()
        assert [client.client_id() for _ in range(5)] == [first] * 5, "one connection"
    finally:
        client.close()
        watcher.stop()
