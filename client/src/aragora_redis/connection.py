"""Ready redis-py clients for every mode: :func:`connect_redis` and :func:`connect_redis_async`.

The two are twins: the same options (from :mod:`aragora_redis._options`), the same
rule that READONLY / NOREPLICAS / MASTERDOWN / LOADING from a master-bound
connection drops it and asks Sentinel for the master again, and bounded retries
with jittered exponential backoff.
"""

from __future__ import annotations

from typing import Any, cast

import redis
import redis.asyncio as aredis
from redis.asyncio.connection import SSLConnection as AsyncSSLConnection
from redis.asyncio.retry import Retry as AsyncRetry
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.asyncio.sentinel import SentinelManagedConnection as AsyncSentinelManagedConnection
from redis.cluster import ClusterNode, LoadBalancingStrategy
from redis.connection import SSLConnection
from redis.exceptions import ConnectionError, RedisError
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelManagedConnection

from . import _options as o
from .errors import RedisUnavailable
from .settings import RedisSettings

SyncClient = redis.Redis | redis.RedisCluster
AsyncClient = aredis.Redis | aredis.RedisCluster


def _moved(conn_host: str | None, conn_port: int | None, exc: BaseException) -> ConnectionError:
    code = str(exc).split(" ", 1)[0]
    return ConnectionError(f"{conn_host}:{conn_port} answered {code}; asking Sentinel again")


class MasterConnection(SentinelManagedConnection):
    """A Sentinel-managed connection that re-discovers the master on failover errors.

    redis-py 8.1 reconnects a dropped connection inside ``send_packed_command``
    through ``connect_check_health``, which skips Sentinel and dials the old address
    again: after a failover a naive client keeps writing to the demoted master.
    Here every (re)connect of a master-bound connection asks Sentinel first.
    """

    def _connect_retry(self) -> None:
        if self._sock or not self.connection_pool.is_master:
            return super()._connect_retry()  # type: ignore[no-untyped-call,no-any-return]
        return self.connect_check_health(
            check_health=self.connection_pool.check_connection, retry_socket_connect=False
        )

    def connect_check_health(
        self, check_health: bool = True, retry_socket_connect: bool = True
    ) -> None:
        """Connect (asking Sentinel for the master first) unless already connected."""
        if not self._sock and self.connection_pool.is_master:
            self.host, self.port = self.connection_pool.get_master_address()
        super().connect_check_health(
            check_health=check_health, retry_socket_connect=retry_socket_connect
        )

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        """Read a reply; on a "master moved" error disconnect and raise ConnectionError."""
        try:
            return super().read_response(*args, **kwargs)
        except RedisError as exc:
            if self.connection_pool.is_master and o.master_moved(exc):
                super().disconnect()  # type: ignore[no-untyped-call]  # redis-py: unannotated
                raise _moved(self.host, self.port, exc) from exc
            raise


class MasterSSLConnection(MasterConnection, SSLConnection):
    """:class:`MasterConnection` over TLS."""


class AsyncMasterConnection(AsyncSentinelManagedConnection):
    """The asyncio twin of :class:`MasterConnection`."""

    async def _connect_retry(self) -> None:
        if self.is_connected or not self.connection_pool.is_master:
            return await super()._connect_retry()  # type: ignore[no-untyped-call,no-any-return]
        return await self.connect_check_health(
            check_health=self.connection_pool.check_connection, retry_socket_connect=False
        )

    async def connect_check_health(
        self, check_health: bool = True, retry_socket_connect: bool = True
    ) -> None:
        """Connect (asking Sentinel for the master first) unless already connected."""
        if not self.is_connected and self.connection_pool.is_master:
            self.host, self.port = await self.connection_pool.get_master_address()
        await super().connect_check_health(
            check_health=check_health, retry_socket_connect=retry_socket_connect
        )

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        """Read a reply; on a "master moved" error disconnect and raise ConnectionError."""
        try:
            return await super().read_response(*args, **kwargs)
        except RedisError as exc:
            if self.connection_pool.is_master and o.master_moved(exc):
                await self.disconnect()
                raise _moved(self.host, self.port, exc) from exc
            raise


class AsyncMasterSSLConnection(AsyncMasterConnection, AsyncSSLConnection):
    """:class:`AsyncMasterConnection` over TLS."""


def _cluster_kwargs(s: RedisSettings) -> dict[str, Any]:
    return {
        "startup_nodes": [ClusterNode(h, p) for h, p in o.cluster_addresses(s)],
        "require_full_coverage": not s.cluster_skip_full_coverage,
        "load_balancing_strategy": (
            LoadBalancingStrategy.ROUND_ROBIN if s.cluster_read_from_replicas else None
        ),
        "max_connections": s.max_connections,
        "ssl": s.ssl,
        **o.node_kwargs(s),
    }


def build_redis(s: RedisSettings) -> SyncClient:
    """A redis-py client for ``s`` without any I/O (connections open lazily)."""
    retry = Retry(o.backoff(), o.RETRIES)
    if s.mode == "cluster":
        return redis.RedisCluster(retry=retry, **_cluster_kwargs(s))
    if s.mode == "sentinel":
        once = Retry(o.no_backoff(), 0)
        sentinel = Sentinel(o.sentinel_addresses(s), sentinel_kwargs=o.sentinel_kwargs(s, once))
        client = sentinel.master_for(
            s.sentinel_master,
            connection_class=MasterSSLConnection if s.ssl else MasterConnection,
            db=s.db,
            max_connections=s.max_connections,
            retry=retry,
            **o.node_kwargs(s),
        )
        return cast(redis.Redis, client)
    return redis.Redis(
        host=s.host,
        port=s.port,
        db=s.db,
        ssl=s.ssl,
        max_connections=s.max_connections,
        retry=retry,
        **o.node_kwargs(s),
    )


def build_redis_async(s: RedisSettings) -> AsyncClient:
    """The asyncio twin of :func:`build_redis`.

    redis-py 8.1's asyncio cluster client breaks when many tasks make its first
    commands at once; :func:`connect_redis_async` initialises it before returning.
    """
    retry = AsyncRetry(o.backoff(), o.RETRIES)
    if s.mode == "cluster":
        return aredis.RedisCluster(retry=retry, **_cluster_kwargs(s))
    if s.mode == "sentinel":
        once = AsyncRetry(o.no_backoff(), 0)
        sentinel = AsyncSentinel(
            o.sentinel_addresses(s), sentinel_kwargs=o.sentinel_kwargs(s, once)
        )
        client = sentinel.master_for(
            s.sentinel_master,
            connection_class=AsyncMasterSSLConnection if s.ssl else AsyncMasterConnection,
            db=s.db,
            max_connections=s.max_connections,
            retry=retry,
            **o.node_kwargs(s),
        )
        return cast(aredis.Redis, client)
    return aredis.Redis(
        host=s.host,
        port=s.port,
        db=s.db,
        ssl=s.ssl,
        max_connections=s.max_connections,
        retry=retry,
        **o.node_kwargs(s),
    )


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
