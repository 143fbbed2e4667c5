"""A cluster client's slot-map refresh holds no caller past its deadline (both twins, a real
cluster whose client is sent to seed nodes that accept and never answer)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from typing import Any, cast

import pytest
import redis
from redis.asyncio.cluster import ClusterNode as AsyncClusterNode
from redis.cluster import ClusterNode

from aragora_redis._refresh import STILL_RUNNING, RefreshGate, deadline
from aragora_redis.cluster_conn import AsyncBudgetCluster, BudgetCluster
from aragora_redis.connection import build_redis, build_redis_async
from aragora_redis.local import LocalStack
from aragora_redis.settings import RedisSettings

#: Each silent seed costs a refresh this long (its read timeout); there are three.
TIMEOUT_S = 0.5
#: The caller's deadline, well before the refresh can end.
WAIT_S = 0.2


@pytest.fixture
def silent() -> Iterator[list[tuple[str, int]]]:
    """Three listeners that accept connections and never reply."""
    socks = [socket.create_server(("127.0.0.1", 0)) for _ in range(3)]
    try:
        yield [("127.0.0.1", s.getsockname()[1]) for s in socks]
    finally:
        for sock in socks:
            sock.close()


def _settings(cluster: LocalStack) -> RedisSettings:
    timeouts = {"socket_timeout": TIMEOUT_S, "socket_connect_timeout": TIMEOUT_S}
    return cluster.settings.model_copy(update=timeouts)


def test_a_refresh_past_the_deadline_fails_the_caller_and_goes_on(
    cluster: LocalStack, silent: list[tuple[str, int]]
) -> None:
    client = build_redis(_settings(cluster))
    assert isinstance(client, BudgetCluster)
    try:
        client.ping()
        client.nodes_manager.startup_nodes = {
            n.name: n for n in (ClusterNode(h, p) for h, p in silent)
        }
        started = time.monotonic()
        with deadline(started + WAIT_S), pytest.raises(redis.TimeoutError, match=STILL_RUNNING):
            client.refresh_slots()
        assert time.monotonic() - started < WAIT_S + 0.2
        # Without a deadline a caller joins the same refresh and hears how it ended.
        with pytest.raises(redis.RedisClusterException, match="cannot be connected"):
            client.refresh_slots()
        assert time.monotonic() - started < 3 * TIMEOUT_S + 1.0, "a second refresh ran"
    finally:
        client.close()


async def test_async_refresh_past_the_deadline_fails_the_caller_and_goes_on(
    cluster: LocalStack, silent: list[tuple[str, int]]
) -> None:
    client = build_redis_async(_settings(cluster))
    assert isinstance(client, AsyncBudgetCluster)
    try:
        await client.initialize()
        kwargs = client.nodes_manager.connection_kwargs
        client.nodes_manager.startup_nodes = {
            n.name: n for n in (AsyncClusterNode(h, p, **kwargs) for h, p in silent)
        }
        started = time.monotonic()
        with deadline(started + WAIT_S), pytest.raises(redis.TimeoutError, match=STILL_RUNNING):
            await client.refresh_slots()
        assert time.monotonic() - started < WAIT_S + 0.2
        with pytest.raises(redis.RedisClusterException, match="cannot be connected"):
            await client.refresh_slots()
        assert time.monotonic() - started < 3 * TIMEOUT_S + 1.0, "a second refresh ran"
    finally:
        await client.aclose()


def test_a_refresh_a_command_needs_is_waited_for_when_it_is_quick(cluster: LocalStack) -> None:
    client = build_redis(_settings(cluster))
    assert isinstance(client, BudgetCluster)
    try:
        with deadline(time.monotonic() + WAIT_S):
            client.refresh_slots()  # the real nodes answer at once
        assert client.set("refresh:k", "v")
    finally:
        client.close()


async def test_async_refresh_a_command_needs_is_waited_for_when_it_is_quick(
    cluster: LocalStack,
) -> None:
    client = build_redis_async(_settings(cluster))
    assert isinstance(client, AsyncBudgetCluster)
    try:
        await client.initialize()
        with deadline(time.monotonic() + WAIT_S):
            await client.refresh_slots()
        assert await client.set("refresh:k", "v")
    finally:
        await client.aclose()


#: The name the refresh's connections carry, so the nodes can be asked for them.
NAME = "aragora-redis-refresh-test"


def _named(cluster: LocalStack) -> int:
    """Connections called :data:`NAME` open on the cluster's nodes, once the closes made
    have reached them (milliseconds), or after 5 s."""
    stop = time.monotonic() + 5
    while True:
        count = 0
        for node in cluster.data_nodes:
            admin = cluster.client(node.name)
            try:
                count += sum(1 for c in admin.client_list() if c.get("name") == NAME)
            finally:
                admin.close()
        if count == 0 or time.monotonic() > stop:
            return count
        time.sleep(0.05)


@pytest.fixture
def in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """redis-py asks the seeds in the order given (it shuffles them): the silent one first."""
    monkeypatch.setattr("redis.cluster.random.shuffle", lambda seq: None)
    monkeypatch.setattr("redis.asyncio.cluster.random.shuffle", lambda seq: None)


@pytest.mark.usefixtures("in_order")
def test_a_refresh_under_way_at_close_leaves_no_connection_open(
    cluster: LocalStack, silent: list[tuple[str, int]]
) -> None:
    client = build_redis(_settings(cluster))
    assert isinstance(client, BudgetCluster)
    client.ping()
    # A silent seed, then a node of the client's own: the refresh connects to it after the
    # close, and the connection stays with the client's node.
    real = client.get_default_node()  # type: ignore[no-untyped-call]
    assert real.redis_connection is not None
    real.redis_connection.connection_pool.connection_kwargs["client_name"] = NAME
    seeds = [ClusterNode(*silent[0]), real]
    client.nodes_manager.startup_nodes = {n.name: n for n in seeds}
    with deadline(time.monotonic() + WAIT_S), pytest.raises(redis.TimeoutError):
        client.refresh_slots()
    client.close()
    gate: RefreshGate = cast(Any, client.nodes_manager).gate
    gate.refresh(lambda: None)  # joins the refresh under way, if close did not wait it out
    assert _named(cluster) == 0, "the refresh left its connection open"


@pytest.mark.usefixtures("in_order")
async def test_async_a_refresh_under_way_at_close_leaves_no_connection_open(
    cluster: LocalStack, silent: list[tuple[str, int]]
) -> None:
    client = build_redis_async(_settings(cluster))
    assert isinstance(client, AsyncBudgetCluster)
    await client.initialize()
    real = client.get_default_node()
    kwargs = {**client.nodes_manager.connection_kwargs, "client_name": NAME}
    client.nodes_manager.connection_kwargs = kwargs
    seeds = [AsyncClusterNode(h, p, **kwargs) for h, p in (silent[0], (real.host, real.port))]
    client.nodes_manager.startup_nodes = {n.name: n for n in seeds}
    with deadline(time.monotonic() + WAIT_S), pytest.raises(redis.TimeoutError):
        await client.refresh_slots()
    await client.aclose()
    pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert not pending, "the refresh outlived the close"
    await asyncio.sleep(TIMEOUT_S + 0.5)  # past the end the refresh would have had
    assert _named(cluster) == 0, "the refresh left its connection open"
