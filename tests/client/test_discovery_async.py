"""The asyncio twin of test_discovery.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.sentinel import MasterNotFoundError

from aragora_redis import _options as o
from aragora_redis._discovery import (
    AsyncBoundedSentinel,
    SentinelsUnreachable,
    discovery_kwargs,
)
from aragora_redis.connection import build_redis_async
from aragora_redis.settings import RedisSettings

from .discovery_support import silent_sentinels


@pytest.fixture
def silent() -> Iterator[RedisSettings]:
    with silent_sentinels() as settings:
        yield settings


async def test_a_discovery_reaching_no_sentinel_fails_and_holds_the_next(
    silent: RedisSettings,
) -> None:
    kwargs = discovery_kwargs(o.sentinel_kwargs(silent, Retry(NoBackoff(), 0)), 3)
    assert kwargs["socket_timeout"] == 0.25
    sentinel = AsyncBoundedSentinel(o.sentinel_addresses(silent), sentinel_kwargs=kwargs)
    with pytest.raises(MasterNotFoundError, match="Timeout"):
        await sentinel.discover_master("aragora-master")
    with pytest.raises(SentinelsUnreachable, match="no sentinel answered"):
        await sentinel.discover_master("aragora-master")


async def test_a_call_waits_for_the_sentinels_once_not_on_every_retry(
    silent: RedisSettings,
) -> None:
    client = build_redis_async(silent)
    try:
        with pytest.raises(SentinelsUnreachable):
            await client.set("k", "v")
    finally:
        await client.aclose()
