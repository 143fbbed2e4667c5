"""Sync and asyncio twins keep the same shape."""

from __future__ import annotations

import inspect
from pathlib import Path

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
    pairs = [("connect_redis", "connect_redis_async"), ("health", "health_async")]
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
