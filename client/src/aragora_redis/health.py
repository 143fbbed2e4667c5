"""Health of a deployment: :func:`health` and :func:`health_async`.

One report per data node the client writes to (the master; every primary in a
cluster): role, connected replicas, replication link, memory and round-trip latency.
Parsing INFO is I/O-free (:func:`node_health`); the twins only gather it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as aredis
from redis.asyncio.sentinel import SentinelConnectionPool as AsyncSentinelConnectionPool
from redis.exceptions import RedisError
from redis.sentinel import SentinelConnectionPool

from .connection import build_redis, build_redis_async
from .errors import RedisUnavailable
from .settings import RedisSettings


@dataclass(frozen=True)
class NodeHealth:
    """What one node says about itself."""

    address: str
    role: str
    connected_replicas: int
    master_link_status: str | None
    used_memory: int
    maxmemory: int
    latency_ms: float

    @property
    def used_memory_pct(self) -> float | None:
        """Used memory as a percentage of ``maxmemory``; ``None`` when no limit is set."""
        return 100.0 * self.used_memory / self.maxmemory if self.maxmemory else None


@dataclass(frozen=True)
class HealthReport:
    """The nodes a client of these settings writes to."""

    mode: str
    nodes: tuple[NodeHealth, ...]

    @property
    def ok(self) -> bool:
        """Every node is a master (cluster: primary), and its replicas' links are counted."""
        return bool(self.nodes) and all(n.role == "master" for n in self.nodes)


def node_health(address: str, info: Mapping[str, Any], latency_s: float) -> NodeHealth:
    """Build a :class:`NodeHealth` from the fields of ``INFO replication`` + ``INFO memory``."""
    return NodeHealth(
        address=address,
        role=str(info.get("role", "unknown")),
        connected_replicas=int(info.get("connected_slaves", 0)),
        master_link_status=(
            str(info["master_link_status"]) if "master_link_status" in info else None
        ),
        used_memory=int(info.get("used_memory", 0)),
        maxmemory=int(info.get("maxmemory", 0)),
        latency_ms=latency_s * 1000.0,
    )


def _where(settings: RedisSettings, master: tuple[str, int] | None) -> str:
    host, port = master if master else (settings.host, settings.port)
    return f"{host}:{port}"


def health(settings: RedisSettings) -> HealthReport:
    """Ask the master (or every cluster primary) how it is; raises :class:`RedisUnavailable`."""
    client = build_redis(settings)
    try:
        if isinstance(client, redis.RedisCluster):
            nodes = []
            for node in client.get_primaries():
                conn = node.redis_connection
                conn.ping()
                start = time.perf_counter()
                conn.ping()
                latency = time.perf_counter() - start
                info = {**conn.info("replication"), **conn.info("memory")}
                nodes.append(node_health(node.name, info, latency))
            return HealthReport(settings.mode, tuple(nodes))
        client.ping()  # connects (TLS, Sentinel discovery): not part of the round trip
        start = time.perf_counter()
        client.ping()
        latency = time.perf_counter() - start
        info = {**client.info("replication"), **client.info("memory")}
        pool = client.connection_pool
        master = pool.get_master_address() if isinstance(pool, SentinelConnectionPool) else None
        return HealthReport(settings.mode, (node_health(_where(settings, master), info, latency),))
    except RedisError as exc:
        raise RedisUnavailable(f"health check of {settings.describe()} failed: {exc}") from exc
    finally:
        client.close()


async def health_async(settings: RedisSettings) -> HealthReport:
    """The asyncio twin of :func:`health`."""
    client = build_redis_async(settings)
    try:
        if isinstance(client, aredis.RedisCluster):
            await client.initialize()
            nodes = []
            for node in client.get_primaries():
                await client.ping(target_nodes=node)
                start = time.perf_counter()
                await client.ping(target_nodes=node)
                latency = time.perf_counter() - start
                info = {**await client.info("replication", target_nodes=node)}
                info.update(await client.info("memory", target_nodes=node))
                nodes.append(node_health(node.name, info, latency))
            return HealthReport(settings.mode, tuple(nodes))
        await client.ping()  # connects (TLS, Sentinel discovery): not part of the round trip
        start = time.perf_counter()
        await client.ping()
        latency = time.perf_counter() - start
        info = {**await client.info("replication"), **await client.info("memory")}
        pool = client.connection_pool
        master = None
        if isinstance(pool, AsyncSentinelConnectionPool):
            master = await pool.get_master_address()
        return HealthReport(settings.mode, (node_health(_where(settings, master), info, latency),))
    except RedisError as exc:
        raise RedisUnavailable(f"health check of {settings.describe()} failed: {exc}") from exc
    finally:
        await client.aclose()
