"""A cluster client's slot-map refresh holds no caller past its deadline (both twins, a real
cluster whose client is sent to seed nodes that accept and never answer)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import redis
from redis.asyncio.cluster import ClusterNode as AsyncClusterNode
from redis.cluster import ClusterNode

from aragora_redis._refresh import STILL_RUNNING, deadline
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
