"""Master discovery when no sentinel answers: the sentinels share the timeouts, and the
retries of the same call get their error at once (the partition-client drill fault)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import MasterNotFoundError

from aragora_redis import _options as o
from aragora_redis._discovery import BoundedSentinel, SentinelsUnreachable, discovery_kwargs
from aragora_redis.connection import build_redis
from aragora_redis.settings import RedisSettings

from .discovery_support import silent_sentinels


@pytest.fixture
def silent() -> Iterator[RedisSettings]:
    with silent_sentinels() as settings:
        yield settings


def test_a_discovery_reaching_no_sentinel_fails_and_holds_the_next(silent: RedisSettings) -> None:
    kwargs = discovery_kwargs(o.sentinel_kwargs(silent, Retry(NoBackoff(), 0)), 3)
    assert kwargs["socket_timeout"] == 0.25
    sentinel = BoundedSentinel(o.sentinel_addresses(silent), sentinel_kwargs=kwargs)
    with pytest.raises(MasterNotFoundError, match="Timeout"):
        sentinel.discover_master("aragora-master")
    with pytest.raises(SentinelsUnreachable, match="no sentinel answered"):
        sentinel.discover_master("aragora-master")


def test_a_call_waits_for_the_sentinels_once_not_on_every_retry(silent: RedisSettings) -> None:
    client = build_redis(silent)
    try:
        # The first attempt waits for the three silent sentinels; its forced retries
        # find the hold and end the call with SentinelsUnreachable (not retried).
        with pytest.raises(SentinelsUnreachable):
            client.set("k", "v")
    finally:
        client.close()
