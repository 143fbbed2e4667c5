"""Standalone mode behind a managed-style endpoint that moves (asyncio); twin of
test_endpoint.py. The endpoint is tests/endpoint_support.py's forwarder."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import redis.asyncio as aredis

from aragora_redis import RedisUnavailable, connect_async, keys
from aragora_redis._moved import OutcomeUnknown, PrimaryMoved
from tests.endpoint_support import PING, ManagedEndpoint, check_written, drop_session, has_peer

#: Connections each client has open on the primary before the switch.
POOLED = 4


async def _open(client: Any, n: int = POOLED) -> None:
    """Leave ``n`` connected connections in ``client``'s pool, as a busy service has."""
    pool = client.connection_pool
    conns = [await pool.get_connection() for _ in range(n)]
    for conn in conns:
        await pool.release(conn)


async def _wait_for(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def test_every_store_writes_again_after_the_endpoint_moves(
    endpoint: ManagedEndpoint,
) -> None:
    stores = await connect_async(endpoint.settings)
    debate = f"endpoint-{uuid.uuid4().hex}"
    channel = keys.debate_channel(debate)
    limit = f"endpoint:{debate}"
    try:
        await stores.sessions.put("auth", debate, {"v": 0})
        await stores.state.save(debate, {"round": 1})
        await stores.events.publish(channel, "n", 0, durable=True)
        assert (await stores.rate_limiter.hit(limit, rate=100, burst=100)).source == "redis"
        await _open(stores.client)
        old, new = endpoint.switch()
        demoted = endpoint.address(old)
        assert endpoint.forwarder.open_to(demoted) >= POOLED, "the switch left them there"

        await stores.sessions.put("auth", debate, {"v": 1})
        await stores.state.save(debate, {"round": 2})
        assert await stores.state.update(debate, lambda s: {**s, "round": 3}) == {"round": 3}
        await stores.events.publish(channel, "n", 1, durable=True)
        decision = await stores.rate_limiter.hit(limit, rate=100, burst=100)
        assert decision.source == "redis", "the limiter followed the endpoint"
        assert await stores.sessions.delete("auth", debate)

        check_written(endpoint, new, debate, channel)
        await _wait_for(
            lambda: endpoint.forwarder.open_to(demoted) == 0,
            "no connection left on the demoted node",
        )
    finally:
        await stores.close()


async def test_a_node_that_keeps_refusing_fails_after_the_bounded_retries(
    endpoint: ManagedEndpoint,
) -> None:
    stores = await connect_async(endpoint.settings)
    replica = endpoint.replicas()[0]
    try:
        endpoint.forwarder.switch(endpoint.address(replica))  # the name now leads to a replica
        assert isinstance(stores.client, aredis.Redis)
        await stores.client.connection_pool.disconnect()
        with pytest.raises(RedisUnavailable) as caught:
            await stores.sessions.put("auth", f"refused-{uuid.uuid4().hex}", {"v": 1})
        assert isinstance(caught.value.__cause__, PrimaryMoved)
        assert endpoint.refusal in str(caught.value)
    finally:
        endpoint.forwarder.switch(endpoint.address(endpoint.primary))
        await stores.close()


async def test_a_lost_reply_is_sent_again_only_for_an_idempotent_write(
    endpoint: ManagedEndpoint,
) -> None:
    stores = await connect_async(endpoint.settings)
    debate = f"lost-{uuid.uuid4().hex}"
    await stores.state.save(debate, {"n": 0})
    calls: list[Any] = []

    def bump(state: Any) -> Any:
        calls.append(state)
        return {"n": state["n"] + 1}

    primary = endpoint.node(endpoint.primary)
    primary.execute_command("CLIENT", "PAUSE", 10_000, "WRITE")  # writes wait, reads run
    try:
        update = asyncio.ensure_future(stores.state.update(debate, bump))
        put = asyncio.ensure_future(stores.sessions.put("auth", debate, {"v": 1}))
        await _wait_for(lambda: bool(calls), "the update's read")
        await asyncio.sleep(0.3)  # both writes sent and held by the pause
        assert endpoint.forwarder.cut() >= 2
    finally:
        primary.execute_command("CLIENT", "UNPAUSE")
        primary.close()
    results = await asyncio.gather(update, put, return_exceptions=True)
    try:
        assert isinstance(results[0], RedisUnavailable)
        assert isinstance(results[0].__cause__, OutcomeUnknown), "not sent again"
        assert len(calls) == 1
        assert results[1] is None, "the idempotent SET was sent again"
        assert await stores.sessions.get("auth", debate) == {"v": 1}
    finally:
        await stores.close()


async def _reset_by_peer(endpoint: ManagedEndpoint, conn: Any) -> None:
    """The endpoint drops ``conn``, which then writes: the peer answers with a reset."""
    await conn.send_command("CLIENT", "ID")
    drop_session(endpoint, await conn.read_response())
    writer = conn._writer
    sock = writer.get_extra_info("socket")
    while has_peer(sock):
        writer.write(PING)
        await asyncio.sleep(0.02)


async def test_a_connection_reset_in_another_thread_does_not_break_the_switch(
    endpoint: ManagedEndpoint,
) -> None:
    stores = await connect_async(endpoint.settings)
    debate = f"reset-{uuid.uuid4().hex}"
    assert isinstance(stores.client, aredis.Redis)
    pool = stores.client.connection_pool
    try:
        await _open(stores.client)
        busy = await pool.get_connection()  # another task's, whose peer has just reset it
        await _reset_by_peer(endpoint, busy)
        endpoint.switch()

        await stores.sessions.put("auth", debate, {"v": 1})  # READONLY on a pooled one first

        assert busy.should_reconnect(), "dropped when its task releases it"
        await pool.release(busy)
        assert await stores.sessions.get("auth", debate) == {"v": 1}
    finally:
        await stores.close()
