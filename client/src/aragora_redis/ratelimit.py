"""Token-bucket rate limiting on Redis: ``RateLimiter`` and ``AsyncRateLimiter``, side by side.

A check is one round trip: ``EVALSHA`` of ``lua/token_bucket.lua`` on the bucket
``aragora:ratelimit:<scope>:{<key>}`` (hash ``tokens``, ``last_refill``), timed by
the server's clock. When the server has lost the script (``NOSCRIPT``: Redis 7 does
not replicate the script cache, so every failover and restart loses it) the call
is sent again as ``EVAL``, which also caches it. ``hit_many`` decides a batch in
one round trip: one script call per run of checks with the same limits (32 checks
at most), all in one write; where the server may shard keys (a cluster,
``ARAGORA_REDIS_SHARDED`` for a sharding proxy such as Azure Managed Redis's
EnterpriseCluster, or a server whose ``INFO cluster`` says so) each call also keeps
to one slot, and a CROSSSLOT reply (the call did not run) makes the limiter send
those checks again one slot per call, and keep to that. A call sends each key
once with its number of checks, which the script decides in a row. With asyncio,
checks made while a batch is under way (or in one loop turn) are batched the same
way (:mod:`aragora_redis._coalesce`).

The limiter's client has its own short timeout and no retries. A Redis error counts
towards the breaker (``ARAGORA_REDIS_FAILURE_THRESHOLD`` in a row open it; one probe
per ``recovery`` seconds closes it again) and the check is decided by the in-memory
token bucket when ``ARAGORA_RATE_LIMIT_FAIL_OPEN`` is true, or raises
:class:`~aragora_redis.RateLimiterUnavailable` when it is not. In sentinel mode a
READONLY reply or a dropped connection after a failover makes the next check ask
Sentinel for the master again (see :mod:`aragora_redis.connection`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from . import _limiter as core
from . import _metrics
from ._bucket import DEFAULT_SCOPE, Check, Decision, Prepared, prepare, prepare_many
from ._coalesce import Coalescer
from ._follow import FailoverState
from ._script import Replies
from ._transport import async_transport, transport
from .connection import (
    AsyncClient,
    SyncClient,
    build_redis,
    build_redis_async,
    close_redis,
    close_redis_async,
)
from .settings import RedisSettings

__all__ = ["AsyncRateLimiter", "Check", "Decision", "RateLimiter"]

Clock = Callable[[], float]


class _Limiter:
    """What the twins share: the failure policy (breaker, fallback) and its state."""

    def __init__(
        self, settings: RedisSettings, recovery: float, fallback_keys: int, clock: Clock
    ) -> None:
        self._core = core.LimiterCore(
            settings, recovery=recovery, fallback_keys=fallback_keys, clock=clock
        )

    @property
    def breaker_state(self) -> str:
        """``closed``, ``open`` or ``half_open``."""
        return self._core.breaker.state


class RateLimiter(_Limiter):
    """Token buckets on Redis (sync); thread-safe.

    ``client`` should fail fast (see :meth:`from_settings`); ``settings`` gives the
    failure policy (``rate_limit_fail_open``, ``failure_threshold``). ``recovery`` is
    the breaker's open interval in seconds, ``fallback_keys`` the most buckets the
    in-memory fallback keeps, ``clock`` its monotonic clock.
    """

    def __init__(
        self,
        client: SyncClient,
        settings: RedisSettings,
        *,
        recovery: float = core.DEFAULT_RECOVERY,
        fallback_keys: int = core.DEFAULT_FALLBACK_KEYS,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(settings, recovery, fallback_keys, clock)
        self._client = client
        self._transport = transport(client, settings.max_connections, settings.sharded)

    @classmethod
    def from_settings(
        cls,
        settings: RedisSettings,
        *,
        timeout: float = core.DEFAULT_TIMEOUT,
        failover: FailoverState | None = None,
        **options: Any,
    ) -> RateLimiter:
        """A limiter with its own client: ``timeout`` seconds to connect and read, no retries.

        ``failover`` is the state a Sentinel watcher steers (see :func:`aragora_redis.connect`);
        ``options`` are those of the constructor. No I/O happens here.
        """
        client = build_redis(core.quick_settings(settings, timeout), failover=failover)
        client.set_retry(Retry(NoBackoff(), 0))
        return cls(client, settings, **options)

    def hit(
        self, key: str, *, rate: float, burst: float, cost: float = 1, scope: str = DEFAULT_SCOPE
    ) -> Decision:
        """Take ``cost`` tokens from ``key``'s bucket (``rate`` per second, ``burst`` at most).

        Bad arguments raise :class:`~aragora_redis.ConfigError` naming the argument.
        """
        return self._decide((prepare(key, rate, burst, cost, scope),))[0]

    def hit_many(self, checks: Sequence[Check]) -> list[Decision]:
        """Decide many checks in one round trip; the decisions come in the same order."""
        ps = prepare_many(checks)
        return self._decide(ps) if ps else []

    def close(self) -> None:
        """Close the limiter's connections."""
        self._transport.close()
        close_redis(self._client)

    def _decide(self, ps: Sequence[Prepared]) -> list[Decision]:
        started = _metrics.start()
        if not self._core.breaker.allow():
            return self._core.fallback(ps, None, started)
        got = Replies(ps)
        try:
            self._transport.run(ps, self._transport.plan(ps), False, got.take)
            if got.refused:  # CROSSSLOT: the server shards keys after all
                self._transport.run(ps, self._transport.split(got), False, got.take)
            if got.missing:  # NOSCRIPT: a failover or restart emptied the script cache
                self._transport.run(ps, got.reload(), True, got.take)
        except RedisError as exc:
            return self._core.failed(ps, exc, started)
        return self._core.answered(got, started)


class AsyncRateLimiter(_Limiter):
    """The asyncio twin of :class:`RateLimiter`: the same methods, awaited."""

    def __init__(
        self,
        client: AsyncClient,
        settings: RedisSettings,
        *,
        recovery: float = core.DEFAULT_RECOVERY,
        fallback_keys: int = core.DEFAULT_FALLBACK_KEYS,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(settings, recovery, fallback_keys, clock)
        self._client = client
        self._transport = async_transport(client, settings.max_connections, settings.sharded)
        self._batcher = Coalescer(self._decide)

    @classmethod
    def from_settings(
        cls,
        settings: RedisSettings,
        *,
        timeout: float = core.DEFAULT_TIMEOUT,
        failover: FailoverState | None = None,
        **options: Any,
    ) -> AsyncRateLimiter:
        """The asyncio twin of :meth:`RateLimiter.from_settings`."""
        client = build_redis_async(core.quick_settings(settings, timeout), failover=failover)
        client.set_retry(AsyncRetry(NoBackoff(), 0))
        return cls(client, settings, **options)

    async def hit(
        self, key: str, *, rate: float, burst: float, cost: float = 1, scope: str = DEFAULT_SCOPE
    ) -> Decision:
        """The asyncio twin of :meth:`RateLimiter.hit`.

        Checks made while a batch is under way (or in one event-loop turn) share
        the next round trip.
        """
        return await self._batcher.hit(prepare(key, rate, burst, cost, scope))

    async def hit_many(self, checks: Sequence[Check]) -> list[Decision]:
        """The asyncio twin of :meth:`RateLimiter.hit_many`."""
        ps = prepare_many(checks)
        return await self._decide(ps) if ps else []

    async def aclose(self) -> None:
        """Close the limiter's connections."""
        await self._batcher.drain()
        await self._transport.close()
        await close_redis_async(self._client)

    async def _decide(self, ps: Sequence[Prepared]) -> list[Decision]:
        started = _metrics.start()
        if not self._core.breaker.allow():
            return self._core.fallback(ps, None, started)
        got = Replies(ps)
        try:
            await self._transport.run(ps, self._transport.plan(ps), False, got.take)
            if got.refused:  # CROSSSLOT: the server shards keys after all
                await self._transport.run(ps, self._transport.split(got), False, got.take)
            if got.missing:  # NOSCRIPT: a failover or restart emptied the script cache
                await self._transport.run(ps, got.reload(), True, got.take)
        except RedisError as exc:
            return self._core.failed(ps, exc, started)
        return self._core.answered(got, started)
