"""Ready redis-py clients for every mode: :func:`connect_redis` and :func:`connect_redis_async`.

The two are twins: the same options (from :mod:`aragora_redis._options`), the same
rule (:func:`aragora_redis._moved.primary_moved`) that a "not the primary" reply
drops the connection and finds the primary again (Sentinel asked again, or in
standalone mode the endpoint's name resolved again), and retries within a time budget
with short jittered pauses (:mod:`aragora_redis._retry`; the cluster client
wraps each keyed command in the same budget: :mod:`aragora_redis.cluster_conn`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class _Kinds:
    """The redis-py classes a client is built from, sync or asyncio (the twins' one
    difference)."""

    redis: type[Any]
    budget: type[BudgetRetry] | type[AsyncBudgetRetry]
    cluster: type[BudgetCluster] | type[AsyncBudgetCluster]
    follow: Callable[[Any], Any]
    sentinel: type[Sentinel] | type[AsyncSentinel]
    retry: type[Retry] | type[AsyncRetry]
    plain: type[Any]
    tls: type[Any]


_SYNC = _Kinds(
    redis.Redis,
    BudgetRetry,
    BudgetCluster,
    follow_endpoint,
    BoundedSentinel,
    Retry,
    MasterConnection,
    MasterSSLConnection,
)
_ASYNC = _Kinds(
    aredis.Redis,
    AsyncBudgetRetry,
    AsyncBudgetCluster,
    follow_endpoint_async,
    AsyncBoundedSentinel,
    AsyncRetry,
    AsyncMasterConnection,
    AsyncMasterSSLConnection,
)


def _sentinel_master(
    kinds: _Kinds, s: RedisSettings, failover: FailoverState | None, retry: Any
) -> Any:
    """The master client of the sentinels of ``s``, without I/O.

    Each sentinel is asked once with no pause: ``retry`` repeats the whole discovery.
    """
    once = kinds.retry(o.no_backoff(), 0)
    # The sentinels share the timeouts: asking all of them stays within one timeout.
    shared = discovery_kwargs(o.sentinel_kwargs(s, once), len(s.sentinel_hosts))
    sentinel = kinds.sentinel(o.sentinel_addresses(s), sentinel_kwargs=shared)
    return sentinel.master_for(
        s.sentinel_master,
        connection_class=kinds.tls if s.ssl else kinds.plain,
        retry=retry,
        failover_state=failover or FailoverState(s.sentinel_master),
        db=s.db,
        max_connections=s.max_connections,
        **o.node_kwargs(s),
    )


def _standalone_kwargs(s: RedisSettings) -> dict[str, Any]:
    return {
        "host": s.host,
        "port": s.port,
        "db": s.db,
        "ssl": s.ssl,
        "max_connections": s.max_connections,
        **o.node_kwargs(s),
    }


def _build(kinds: _Kinds, s: RedisSettings, failover: FailoverState | None) -> Any:
    if s.mode == "cluster":
        # redis-py's cluster client uses only the retry's count (no pauses between tries).
        retries = kinds.retry(o.no_backoff(), INNER_RETRIES)
        return kinds.cluster(o.call_timeout(s), retry=retries, **_cluster_kwargs(s))
    retry = kinds.budget(timeout_s=o.call_timeout(s))
    if s.mode == "sentinel":
        return _sentinel_master(kinds, s, failover, retry)
    return kinds.follow(kinds.redis(retry=retry, **_standalone_kwargs(s)))


def build_redis(s: RedisSettings, *, failover: FailoverState | None = None) -> SyncClient:
    """A redis-py client for ``s`` without any I/O (connections open lazily).

    In sentinel mode its connections share ``failover`` (a new one by default): pass
    the same state to several clients so that one watcher steers them all.
    """
    return cast(SyncClient, _build(_SYNC, s, failover))


def build_redis_async(s: RedisSettings, *, failover: FailoverState | None = None) -> AsyncClient:
    """The asyncio twin of :func:`build_redis`.

    redis-py 8.1's asyncio cluster client breaks when many tasks make its first
    commands at once; :func:`connect_redis_async` initialises it before returning.
    """
    return cast(AsyncClient, _build(_ASYNC, s, failover))


def connect_redis(settings: RedisSettings, *, check: bool = True) -> SyncClient:
    """A ready client for ``settings``; with ``check`` it has answered PING (auth and TLS ok).

    Raises :class:`RedisUnavailable` (redis-py's error as ``__cause__``) when the
    check fails.
    """
    client = build_redis(settings)
    return checked(client, settings) if check else client


async def connect_redis_async(settings: RedisSettings, *, check: bool = True) -> AsyncClient:
    """The asyncio twin of :func:`connect_redis`."""
    client = build_redis_async(settings)
    return await checked_async(client, settings) if check else client


def close_redis(client: SyncClient) -> None:
    """Close every connection of ``client``, for good.

    For a client of :func:`connect_redis` on a cluster, use this rather than ``close()``:
    it also ends a slot-map refresh under way, and closes the nodes' connections while a
    refresh is due, when redis-py's ``aclose()`` closes none (after a connection error).
    """
    if isinstance(client, BudgetCluster):
        client.close_all()
    else:
        client.close()


async def close_redis_async(client: AsyncClient) -> None:
    """The asyncio twin of :func:`close_redis`."""
    if isinstance(client, AsyncBudgetCluster):
        await client.close_all()
    else:
        await client.aclose()


def checked(client: SyncClient, settings: RedisSettings) -> SyncClient:
    """``client`` once it has answered PING; else it is closed and :class:`RedisUnavailable`
    raised (redis-py's error as ``__cause__``)."""
    try:
        client.ping()
    except RedisError as exc:
        close_redis(client)
        raise _unreachable(settings, exc) from exc
    return client


async def checked_async(client: AsyncClient, settings: RedisSettings) -> AsyncClient:
    """The asyncio twin of :func:`checked`; it initialises a cluster client first."""
    try:
        if isinstance(client, aredis.RedisCluster):
            await client.initialize()  # see build_redis_async
        await client.ping()
    except RedisError as exc:
        await close_redis_async(client)
        raise _unreachable(settings, exc) from exc
    return client


def _unreachable(settings: RedisSettings, exc: RedisError) -> RedisUnavailable:
    return RedisUnavailable(f"cannot reach {settings.describe()}: {exc}")
