"""Sync and asyncio twins keep the same shape."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

import aragora_redis

HERE = Path(__file__).parent


def _test_names(path: Path) -> set[str]:
    text = path.read_text()
    return {
        line.split("(")[0].split()[-1]
        for line in text.splitlines()
        if line.startswith(("def test_", "async def test_"))
    }


def test_every_sync_function_has_an_async_twin() -> None:
    pairs = [
        ("connect_redis", "connect_redis_async"),
        ("close_redis", "close_redis_async"),
        ("health", "health_async"),
    ]
    for sync_name, async_name in pairs:
        sync_fn = getattr(aragora_redis, sync_name)
        async_fn = getattr(aragora_redis, async_name)
        assert inspect.iscoroutinefunction(async_fn), async_name
        assert not inspect.iscoroutinefunction(sync_fn), sync_name
        assert list(inspect.signature(sync_fn).parameters) == list(
            inspect.signature(async_fn).parameters
        ), f"{sync_name} and {async_name} take different parameters"


def test_sync_and_async_test_files_test_the_same_things() -> None:
    for sync_file in HERE.glob("test_*.py"):
        twin = sync_file.with_name(sync_file.stem + "_async.py")
        if twin.exists():
            assert _test_names(sync_file) == _test_names(twin), f"{sync_file.name} vs {twin.name}"


TWINS = [
    ("aragora_redis.sessions", "SessionStore", "AsyncSessionStore"),
    ("aragora_redis.state", "DebateStateStore", "AsyncDebateStateStore"),
    ("aragora_redis.events", "EventBus", "AsyncEventBus"),
    ("aragora_redis.subscriptions", "Subscription", "AsyncSubscription"),
    ("aragora_redis.streams", "StreamSubscription", "AsyncStreamSubscription"),
    ("aragora_redis.ratelimit", "RateLimiter", "AsyncRateLimiter"),
    ("aragora_redis.stores", "Stores", "AsyncStores"),
    ("aragora_redis.watch", "SentinelWatcher", "AsyncSentinelWatcher"),
    ("aragora_redis.sentinel_conn", "MasterConnection", "AsyncMasterConnection"),
    ("aragora_redis._retry", "BudgetRetry", "AsyncBudgetRetry"),
    ("aragora_redis._retry", "_Waits", "_AsyncWaits"),
    ("aragora_redis._discovery", "BoundedSentinel", "AsyncBoundedSentinel"),
    ("aragora_redis._refresh", "RefreshGate", "AsyncRefreshGate"),
]
# Names that differ only because asyncio spells them differently.
ASYNC_SPELLING = {
    "aclose": "close",
    "__aiter__": "__iter__",
    "__aenter__": "__enter__",
    "__aexit__": "__exit__",
}


def _public(cls: type) -> set[str]:
    names: set[str] = set()
    for klass in cls.__mro__:
        if not klass.__module__.startswith("aragora_redis"):
            continue
        for name in vars(klass):
            if name in ASYNC_SPELLING:
                names.add(ASYNC_SPELLING[name])
            elif not name.startswith("_") or name in ASYNC_SPELLING.values():
                names.add(name)
    return names


@pytest.mark.parametrize(("module", "sync_name", "async_name"), TWINS)
def test_sync_and_async_classes_have_the_same_public_methods(
    module: str, sync_name: str, async_name: str
) -> None:
    loaded = importlib.import_module(module)
    sync_cls, async_cls = getattr(loaded, sync_name), getattr(loaded, async_name)
    assert _public(sync_cls) == _public(async_cls), f"{sync_name} vs {async_name}"


def test_connect_twins() -> None:
    assert inspect.iscoroutinefunction(aragora_redis.connect_async)
    assert list(inspect.signature(aragora_redis.connect).parameters) == list(
        inspect.signature(aragora_redis.connect_async).parameters
    )
