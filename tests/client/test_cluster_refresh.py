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

from aragora_redis import close_redis, close_redis_async
from aragora_redis._refresh import STILL_RUNNING, RefreshGate, deadline
from aragora_redis.cluster_conn import AsyncBudgetCluster, BudgetCluster
from aragora_redis.connection import build_redis, build_redis_async
from aragora_redis.local import LocalStack
from aragora_redis.settings import RedisSettings
from tests.endpoint_support import wait_for

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


#: The name of the connections the close tests look for on the nodes.
NAME = "aragora-redis-close-test"


def _connections(cluster: LocalStack, name: str, kill: bool) -> int:
    """The connections called ``name`` open on the cluster's nodes (killed, with ``kill``)."""
    count = 0
    for node in cluster.data_nodes:
        admin = cluster.client(node.name)
        try:
            for c in admin.client_list():
                if c.get("name") == name:
                    count += 1
                    if kill:
                        admin.client_kill_filter(_id=c["id"])
        finally:
            admin.close()
    return count


def _kill_named(cluster: LocalStack, name: str) -> None:
    """Kill the one connection called ``name``."""
    assert _connections(cluster, name, kill=True) == 1


def _all_closed(cluster: LocalStack) -> None:
    """Wait (5 s at most) until no connection called :data:`NAME` is open on the nodes: a
    close reaches them within milliseconds."""
    wait_for(lambda: _connections(cluster, NAME, kill=False) == 0, "the close to end them", 5)


@pytest.fixture
def in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """redis-py asks the seeds in the order given (it shuffles them): the silent ones first."""
    monkeypatch.setattr("redis.cluster.random.shuffle", lambda seq: None)
    monkeypatch.setattr("redis.asyncio.cluster.random.shuffle", lambda seq: None)


@pytest.mark.usefixtures("in_order")
def test_closing_for_good_waits_for_the_refresh_under_way(
    cluster: LocalStack, silent: list[tuple[str, int]]
) -> None:
    client = build_redis(_settings(cluster))
    assert isinstance(client, BudgetCluster)
    client.ping()
    # A silent seed, then a node of the client's own: the refresh reaches it after the
    # caller left, and its connection stays with the client's node.
    real = client.get_default_node()  # type: ignore[no-untyped-call]
    assert real.redis_connection is not None
    real.redis_connection.connection_pool.connection_kwargs["client_name"] = NAME
    client.nodes_manager.startup_nodes = {n.name: n for n in [ClusterNode(*silent[0]), real]}
    with deadline(time.monotonic() + WAIT_S), pytest.raises(redis.TimeoutError):
        client.refresh_slots()
    close_redis(client)
    gate: RefreshGate = cast(Any, client.nodes_manager).gate
    gate.refresh(lambda: None)  # joins a refresh still under way, if any
    _all_closed(cluster)  # the refresh's connection too


@pytest.mark.usefixtures("in_order")
async def test_async_closing_for_good_after_a_connection_error_leaves_nothing_open(
    cluster: LocalStack, silent: list[tuple[str, int]]
) -> None:
    client = build_redis_async(_settings(cluster))
    assert isinstance(client, AsyncBudgetCluster)
    await client.initialize()
    for node in client.get_nodes():  # the client's connections, named so they can be found
        await client.execute_command("CLIENT SETNAME", NAME, target_nodes=node)
    kwargs = {**client.nodes_manager.connection_kwargs, "client_name": NAME}
    client.nodes_manager.connection_kwargs = kwargs
    real = client.get_default_node()
    seeds = [AsyncClusterNode(h, p, **kwargs) for h, p in [*silent, (real.host, real.port)]]
    client.nodes_manager.startup_nodes = {n.name: n for n in seeds}
    assert _connections(cluster, NAME, kill=True) == len(client.get_nodes())
    # The next command fails on its killed connection; the refresh that follows asks three
    # silent seeds first, so the call's timeout runs out and the refresh goes on.
    with pytest.raises(redis.TimeoutError, match=STILL_RUNNING):
        await client.get("close:k")
    assert client._initialize, "no refresh due: redis-py's aclose would have closed all"
    await close_redis_async(client)
    pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert not pending, "the refresh outlived the close"
    await asyncio.sleep(3 * TIMEOUT_S + 0.5)  # past the end the refresh would have had
    _all_closed(cluster)


def test_closing_for_good_after_a_failed_call_leaves_nothing_open(cluster: LocalStack) -> None:
    client = build_redis(_settings(cluster))
    assert isinstance(client, BudgetCluster)
    node = client.get_default_node()  # type: ignore[no-untyped-call]
    client.execute_command("CLIENT SETNAME", "doomed", target_nodes=node)
    _kill_named(cluster, "doomed")
    # The sync connection reconnects on its own (its asyncio twin fails the call), and the
    # sync client's close ends every node's connections even while a refresh is due.
    assert client.execute_command("GET", "close:k", target_nodes=node) is None
    nodes = client.get_nodes()  # type: ignore[no-untyped-call]
    client.execute_command("CLIENT SETNAME", NAME, target_nodes=nodes)
    close_redis(client)
    _all_closed(cluster)


async def test_async_closing_for_good_after_a_failed_call_leaves_nothing_open(
    cluster: LocalStack,
) -> None:
    client = build_redis_async(_settings(cluster))
    assert isinstance(client, AsyncBudgetCluster)
    await client.initialize()
    node = client.get_default_node()
    await client.execute_command("CLIENT SETNAME", "doomed", target_nodes=node)
    _kill_named(cluster, "doomed")
    for other in client.get_nodes():  # the connections a close must end
        if other is not node:
            await client.execute_command("CLIENT SETNAME", NAME, target_nodes=other)
    with pytest.raises(redis.ConnectionError):  # a call to one node is not tried again
        await client.execute_command("GET", "close:k", target_nodes=node)
    assert client._initialize, "no refresh due: redis-py's aclose would have closed all"
    assert _connections(cluster, NAME, kill=False) == len(client.get_nodes()) - 1
    await close_redis_async(client)
    _all_closed(cluster)
