"""Health of a deployment: :func:`health` and :func:`health_async`; :func:`deployment_facts`.

One report per data node the client writes to (the master; every primary in a
cluster): role, connected replicas, replication link, memory and round-trip latency.
Parsing INFO is I/O-free (:func:`node_health`); the twins only gather it.

:func:`deployment_facts` gathers what ``aragora-redis check`` evaluates (with
:mod:`aragora_redis.checks`): every master and replica it can reach and what each
Sentinel reports. It asks every node once, with short timeouts and no retries, and
records what did not answer instead of raising.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as aredis
from redis.asyncio.sentinel import SentinelConnectionPool as AsyncSentinelConnectionPool
from redis.backoff import NoBackoff
from redis.exceptions import NoPermissionError, RedisError
from redis.retry import Retry
from redis.sentinel import SentinelConnectionPool

from . import _options as o
from . import _parse as p
from ._engine import server_identity
from .checks import DeploymentFacts, MasterFacts, NodeFacts, SentinelFacts, cluster_layout
from .checks import node_facts as parse_node_facts
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
    #: ``redis`` or ``valkey`` and its version, from ``INFO server``.
    engine: str = "?"
    version: str = "?"

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
    """Build a :class:`NodeHealth` from ``INFO replication`` + ``memory`` (+ ``server``)."""
    engine, version = server_identity(info)
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
        engine=engine,
        version=version,
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
                info = {**conn.info("replication"), **conn.info("memory"), **conn.info("server")}
                nodes.append(node_health(node.name, info, latency))
            return HealthReport(settings.mode, tuple(nodes))
        client.ping()  # connects (TLS, Sentinel discovery): not part of the round trip
        start = time.perf_counter()
        client.ping()
        latency = time.perf_counter() - start
        info = {**client.info("replication"), **client.info("memory"), **client.info("server")}
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
                info.update(await client.info("server", target_nodes=node))
                nodes.append(node_health(node.name, info, latency))
            return HealthReport(settings.mode, tuple(nodes))
        await client.ping()  # connects (TLS, Sentinel discovery): not part of the round trip
        start = time.perf_counter()
        await client.ping()
        latency = time.perf_counter() - start
        info = {**await client.info("replication"), **await client.info("memory")}
        info.update(await client.info("server"))
        pool = client.connection_pool
        master = None
        if isinstance(pool, AsyncSentinelConnectionPool):
            master = await pool.get_master_address()
        return HealthReport(settings.mode, (node_health(_where(settings, master), info, latency),))
    except RedisError as exc:
        raise RedisUnavailable(f"health check of {settings.describe()} failed: {exc}") from exc
    finally:
        await client.aclose()


def deployment_facts(settings: RedisSettings, *, timeout: float = 2.0) -> DeploymentFacts:
    """Ask every node ``settings`` lead to (Sentinels, masters, replicas) for the check facts.

    ``timeout`` bounds each connect and each reply; nodes that do not answer are
    recorded with the reason. Sentinel mode: the master is the address most
    Sentinels report; cluster mode: every master in ``CLUSTER NODES`` of the
    first seed node that answers.
    """
    s = settings
    if s.mode == "sentinel":
        asked = [_sentinel(s, hp, timeout) for hp in s.sentinel_hosts]
        sentinels = tuple(facts for facts, _ in asked)
        masters = [f.master for f in sentinels if f.master is not None]
        if not masters:
            problem = f"no Sentinel reported the address of master {s.sentinel_master!r}"
            return DeploymentFacts(s.mode, s.describe(), (), sentinels, problem)
        master = max(set(masters), key=masters.count)
        known = [addr for _, replicas in asked for addr in replicas]
        return DeploymentFacts(
            s.mode, s.describe(), (_master(s, master, known, timeout),), sentinels
        )
    if s.mode == "cluster":
        layout, unknown = _cluster_layout(s, timeout)
        masters_facts = tuple(
            _master(s, addr, replicas, timeout, cluster=True) for addr, replicas in layout
        )
        return DeploymentFacts(s.mode, s.describe(), masters_facts, (), unknown)
    address = p.HostPort(s.host, s.port).render()
    return DeploymentFacts(s.mode, s.describe(), (_master(s, address, [], timeout),))


def _no_retry() -> Retry:
    return Retry(NoBackoff(), 0)


def _node_client(s: RedisSettings, address: str, timeout: float) -> redis.Redis:
    host, port = p.parse_host_port("address", address, 6379)
    kwargs = {**o.node_kwargs(s), "socket_timeout": timeout, "socket_connect_timeout": timeout}
    return redis.Redis(
        host=host, port=port, ssl=s.ssl, retry=_no_retry(), decode_responses=True, **kwargs
    )


#: What a user of ``check`` must be allowed to run (an ACL user of the stores may lack INFO).
CHECK_COMMANDS = "+ping +info (cluster: +cluster|info +cluster|nodes)"


def _why(step: str, exc: BaseException) -> str:
    hint = f"; the check needs {CHECK_COMMANDS}" if isinstance(exc, NoPermissionError) else ""
    return f"{step}: {type(exc).__name__}: {exc}{hint}"


def _node(s: RedisSettings, address: str, timeout: float, *, cluster: bool = False) -> NodeFacts:
    client = _node_client(s, address, timeout)
    latency_ms = None
    step = "PING"
    try:
        client.ping()  # connects (TLS, AUTH): not part of the round trip
        start = time.perf_counter()
        client.ping()
        latency_ms = (time.perf_counter() - start) * 1000.0
        step = "INFO"
        info = {**client.info("replication"), **client.info("memory")}
        step = "CLUSTER INFO"
        state = str(client.execute_command("CLUSTER INFO")["cluster_state"]) if cluster else None
        return parse_node_facts(address, info, latency_ms=latency_ms, cluster_state=state)
    except (RedisError, OSError) as exc:
        return NodeFacts(address, error=_why(step, exc), latency_ms=latency_ms)
    finally:
        client.close()


def _master(
    s: RedisSettings, address: str, known: list[str], timeout: float, *, cluster: bool = False
) -> MasterFacts:
    node = _node(s, address, timeout, cluster=cluster)
    # Replicas the master lists, then those only others know of (e.g. a dead one Sentinel still
    # remembers); each once, in order.
    addresses = dict.fromkeys([*(r.address for r in node.listed_replicas), *known])
    addresses.pop(address, None)
    return MasterFacts(node, tuple(_node(s, a, timeout) for a in addresses))


def _sentinel(s: RedisSettings, hp: p.HostPort, timeout: float) -> tuple[SentinelFacts, list[str]]:
    kwargs = {
        **o.sentinel_kwargs(s, _no_retry()),
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
    }
    client = redis.Redis(host=hp.host, port=hp.port, decode_responses=True, **kwargs)
    name, where, step = s.sentinel_master, hp.render(), "SENTINEL MASTER"
    try:
        state = client.sentinel_master(name)
        if not isinstance(state, dict):
            return SentinelFacts(where, error=f"{step}: unexpected reply {state!r}"), []
        step = "SENTINEL REPLICAS"
        replicas = [
            p.HostPort(r["ip"], int(r["port"])).render() for r in client.sentinel_slaves(name)
        ]
        step = "SENTINEL CKQUORUM"
        try:
            ckquorum, ok = str(client.execute_command("SENTINEL", "CKQUORUM", name)), True
        except redis.ResponseError as exc:
            ckquorum, ok = str(exc), False
        facts = SentinelFacts(
            address=where,
            master=p.HostPort(state["ip"], int(state["port"])).render(),
            flags=tuple(str(state["flags"]).split(",")),
            other_sentinels=int(state["num-other-sentinels"]),
            quorum=int(state["quorum"]),
            ckquorum=ckquorum,
            ckquorum_ok=ok,
        )
    except (RedisError, OSError) as exc:
        return SentinelFacts(where, error=_why(step, exc)), []
    finally:
        client.close()
    return facts, replicas


def _cluster_layout(
    s: RedisSettings, timeout: float
) -> tuple[list[tuple[str, list[str]]], str | None]:
    errors = []
    for seed in s.cluster_nodes:
        client = _node_client(s, seed.render(), timeout)
        try:
            return cluster_layout(client.execute_command("CLUSTER NODES")), None
        except (RedisError, OSError) as exc:
            errors.append(f"{seed.render()}: {_why('CLUSTER NODES', exc)}")
        finally:
            client.close()
    return [], "no cluster seed node answered: " + "; ".join(errors)
