"""Standalone mode behind a managed-style endpoint that moves (sync); twin of
test_endpoint_async.py. The endpoint is tests/endpoint_support.py's forwarder."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
import redis

from aragora_redis import RedisUnavailable, connect, keys
from aragora_redis._moved import OutcomeUnknown, PrimaryMoved
from tests.endpoint_support import (
    PING,
    ManagedEndpoint,
    check_written,
    drop_session,
    has_peer,
    wait_for,
)

#: Connections each client has open on the primary before the switch.
POOLED = 4


def _open(client: Any, n: int = POOLED) -> None:
    """Leave ``n`` connected connections in ``client``'s pool, as a busy service has."""
    pool = client.connection_pool
    conns = [pool.get_connection() for _ in range(n)]
    for conn in conns:
        pool.release(conn)


def test_every_store_writes_again_after_the_endpoint_moves(endpoint: ManagedEndpoint) -> None:
    stores = connect(endpoint.settings)
    debate = f"endpoint-{uuid.uuid4().hex}"
    channel = keys.debate_channel(debate)
    limit = f"endpoint:{debate}"
    try:
        stores.sessions.put("auth", debate, {"v": 0})
        stores.state.save(debate, {"round": 1})
        stores.events.publish(channel, "n", 0, durable=True)
        assert stores.rate_limiter.hit(limit, rate=100, burst=100).source == "redis"
        _open(stores.client)
        old, new = endpoint.switch()
        demoted = endpoint.address(old)
        assert endpoint.forwarder.open_to(demoted) >= POOLED, "the switch left them there"

        stores.sessions.put("auth", debate, {"v": 1})
        stores.state.save(debate, {"round": 2})
        assert stores.state.update(debate, lambda s: {**s, "round": 3}) == {"round": 3}
        stores.events.publish(channel, "n", 1, durable=True)
        decision = stores.rate_limiter.hit(limit, rate=100, burst=100)
        assert decision.source == "redis", "the limiter followed the endpoint"
        assert stores.sessions.delete("auth", debate)

        check_written(endpoint, new, debate, channel)
        wait_for(
            lambda: endpoint.forwarder.open_to(demoted) == 0,
            "no connection left on the demoted node",
        )
    finally:
        stores.close()


def test_a_node_that_keeps_refusing_fails_after_the_bounded_retries(
    endpoint: ManagedEndpoint,
) -> None:
    stores = connect(endpoint.settings)
    replica = endpoint.replicas()[0]
    try:
        endpoint.forwarder.switch(endpoint.address(replica))  # the name now leads to a replica
        assert isinstance(stores.client, redis.Redis)
        stores.client.connection_pool.disconnect()
        with pytest.raises(RedisUnavailable) as caught:
            stores.sessions.put("auth", f"refused-{uuid.uuid4().hex}", {"v": 1})
        assert isinstance(caught.value.__cause__, PrimaryMoved)
        assert endpoint.refusal in str(caught.value)
    finally:
        endpoint.forwarder.switch(endpoint.address(endpoint.primary))
        stores.close()


def test_a_lost_reply_is_sent_again_only_for_an_idempotent_write(
    endpoint: ManagedEndpoint,
) -> None:
    stores = connect(endpoint.settings)
    debate = f"lost-{uuid.uuid4().hex}"
    stores.state.save(debate, {"n": 0})
    calls: list[Any] = []
    results: dict[str, Any] = {}

    def bump(state: Any) -> Any:
        calls.append(state)
        return {"n": state["n"] + 1}

    def update() -> None:
        try:
            results["update"] = stores.state.update(debate, bump)
        except RedisUnavailable as exc:
            results["update"] = exc

    def put() -> None:
        stores.sessions.put("auth", debate, {"v": 1})
        results["put"] = "stored"

    primary = endpoint.node(endpoint.primary)
    primary.execute_command("CLIENT", "PAUSE", 10_000, "WRITE")  # writes wait, reads run
    try:
        threads = [threading.Thread(target=update), threading.Thread(target=put)]
        for t in threads:
            t.start()
        wait_for(lambda: bool(calls), "the update's read")
        threading.Event().wait(0.3)  # both writes sent and held by the pause
        assert endpoint.forwarder.cut() >= 2
    finally:
        primary.execute_command("CLIENT", "UNPAUSE")
        primary.close()
    for t in threads:
        t.join()
    try:
        assert isinstance(results["update"], RedisUnavailable)
        assert isinstance(results["update"].__cause__, OutcomeUnknown), "not sent again"
        assert len(calls) == 1
        assert "put" in results, "the idempotent SET was sent again"
        assert stores.sessions.get("auth", debate) == {"v": 1}
    finally:
        stores.close()


def _reset_by_peer(endpoint: ManagedEndpoint, conn: Any) -> None:
    """The endpoint drops ``conn``, which then writes: the peer answers with a reset."""
    conn.send_command("CLIENT", "ID")
    drop_session(endpoint, conn.read_response())
    sock = conn._sock

    def reset() -> bool:
        if not has_peer(sock):
            return True
        sock.sendall(PING)
        return False

    wait_for(reset, "the reset")


def test_a_connection_reset_in_another_thread_does_not_break_the_switch(
    endpoint: ManagedEndpoint,
) -> None:
    stores = connect(endpoint.settings)
    debate = f"reset-{uuid.uuid4().hex}"
    assert isinstance(stores.client, redis.Redis)
    pool = stores.client.connection_pool
    try:
        _open(stores.client)
        busy = pool.get_connection()  # another thread's, whose peer has just reset it
        _reset_by_peer(endpoint, busy)
        endpoint.switch()

        stores.sessions.put("auth", debate, {"v": 1})  # READONLY on a pooled connection first

        assert busy.should_reconnect(), "dropped when its thread releases it"
        pool.release(busy)
        assert stores.sessions.get("auth", debate) == {"v": 1}
    finally:
        stores.close()
