"""Ready redis-py clients for every mode: :func:`connect_redis` and :func:`connect_redis_async`.

The two are twins: the same options (from :mod:`aragora_redis._options`), the same
rule (:func:`aragora_redis._moved.primary_moved`) that a "not the primary" reply
drops the connection and finds the primary again (Sentinel asked again, or in
standalone mode the endpoint's name resolved again), and retries within a time budget
with short jittered pauses (:mod:`aragora_redis._retry`; the cluster client
wraps each keyed command in the same budget: :mod:`aragora_redis.cluster_conn`).
"""

from __future__ import annotations

from typing import Any, cast

import redis
import redis.asyncio as aredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.cluster import ClusterNode
from redis.exceptions import RedisError
from redis.retry import Retry
from redis.sentinel import Sentinel

from . import _options as o
from ._discovery import AsyncBoundedSentinel, BoundedSentinel, discovery_kwargs
from ._follow import FailoverState
from ._retry import AsyncBudgetRetry, BudgetRetry
from .cluster_conn import INNER_RETRIES, AsyncBudgetCluster, BudgetCluster
from .endpoint_conn import follow_endpoint, follow_endpoint_async
from .errors import RedisUnavailable
from .sentinel_conn import (
    AsyncMasterConnection,
    AsyncMasterSSLConnection,
    MasterConnection,
    MasterSSLConnection,
)
from .settings import RedisSettings

SyncClient = redis.Redis | redis.RedisCluster
AsyncClient = aredis.Redis | aredis.RedisCluster


def _cluster_kwargs(s: RedisSettings) -> dict[str, Any]:
    # Every read goes to the slot's primary, whatever CLUSTER_READ_FROM_REPLICAS
    # says (that is Aragora's own cluster client's setting): with a strategy,
    # redis-py sends GET, ZRANGEBYSCORE, XREAD ... round-robin to the primary and its
    # replicas, and a replica may not yet have applied the write the caller just
    # made (issue 13: active() listed a debate delete() had just removed). Without
    # one, no connection sends READONLY, so a replica answers MOVED, never stale data.
    return {
        "startup_nodes": [ClusterNode(h, p) for h, p in o.cluster_addresses(s)],
        "require_full_coverage": not s.cluster_skip_full_coverage,
        "load_balancing_strategy": None,
        "max_connections": s.max_connections,
        "ssl": s.ssl,
        **o.node_kwargs(s),
    }


def _master_kwargs(s: RedisSettings, failover: FailoverState | None) -> dict[str, Any]:
    return {
        "failover_state": failover or FailoverState(s.sentinel_master),
        "db": s.db,
        "max_connections": s.max_connections,
        **o.node_kwargs(s),
    }


def _standalone_kwargs(s: RedisSettings) -> dict[str, Any]:
    return {
        "host": s.host,
        "port": s.port,
        "db": s.db,
        "ssl": s.ssl,
        "max_connections": s.max_connections,
        **o.node_kwargs(s),
    }


def _discovery_kwargs(s: RedisSettings, retry: Any) -> dict[str, Any]:
    # The sentinels share the timeouts: asking all of them stays within one timeout.
    return discovery_kwargs(o.sentinel_kwargs(s, retry), len(s.sentinel_hosts))


def build_redis(s: RedisSettings, *, failover: FailoverState | None = None) -> SyncClient:
    """A redis-py client for ``s`` without any I/O (connections open lazily).

    In sentinel mode its connections share ``failover`` (a new one by default): pass
    the same state to several clients so that one watcher steers them all.
    """
    if s.mode == "cluster":
        # redis-py's cluster client uses only the retry's count (no pauses between tries).
        return BudgetCluster(retry=Retry(o.no_backoff(), INNER_RETRIES), **_cluster_kwargs(s))
    retry = BudgetRetry()
    if s.mode == "sentinel":
        once = Retry(o.no_backoff(), 0)
        sentinel: Sentinel = BoundedSentinel(
            o.sentinel_addresses(s), sentinel_kwargs=_discovery_kwargs(s, once)
        )
        client = sentinel.master_for(
            s.sentinel_master,
            connection_class=MasterSSLConnection if s.ssl else MasterConnection,
            retry=retry,
            **_master_kwargs(s, failover),
        )
        return cast(redis.Redis, client)
    return follow_endpoint(redis.Redis(retry=retry, **_standalone_kwargs(s)))


def build_redis_async(s: RedisSettings, *, failover: FailoverState | None = None) -> AsyncClient:
    """The asyncio twin of :func:`build_redis`.

    redis-py 8.1's asyncio cluster client breaks when many tasks make its first
    commands at once; :func:`connect_redis_async` initialises it before returning.
    """
    if s.mode == "cluster":
        retries = AsyncRetry(o.no_backoff(), INNER_RETRIES)
        return AsyncBudgetCluster(retry=retries, **_cluster_kwargs(s))
    retry = AsyncBudgetRetry()
    if s.mode == "sentinel":
        once = AsyncRetry(o.no_backoff(), 0)
        async_sentinel: AsyncSentinel = AsyncBoundedSentinel(
            o.sentinel_addresses(s), sentinel_kwargs=_discovery_kwargs(s, once)
        )
        client = async_sentinel.master_for(
            s.sentinel_master,
            connection_class=AsyncMasterSSLConnection if s.ssl else AsyncMasterConnection,
            retry=retry,
            **_master_kwargs(s, failover),
        )
        return cast(aredis.Redis, client)
    return follow_endpoint_async(aredis.Redis(retry=retry, **_standalone_kwargs(s)))


def connect_redis(settings: RedisSettings, *, check: bool = True) -> SyncClient:
    """A ready client for ``settings``; with ``check`` it has answered PING (auth and TLS ok).

    Raises :class:`RedisUnavailable` (redis-py's error as ``__cause__``) when the
    check fails.
    """
    client = build_redis(settings)
    if check:
        try:
            client.ping()
        except RedisError as exc:
            client.close()
            raise RedisUnavailable(f"cannot reach {settings.describe()}: {exc}") from exc
    return client


async def connect_redis_async(settings: RedisSettings, *, check: bool = True) -> AsyncClient:
    """The asyncio twin of :func:`connect_redis`."""
    client = build_redis_async(settings)
    if check:
        try:
            if isinstance(client, aredis.RedisCluster):
                await client.initialize()
            await client.ping()
        except RedisError as exc:
            await client.aclose()
            raise RedisUnavailable(f"cannot reach {settings.describe()}: {exc}") from exc
    return client
