"""A demoted primary on Valkey 8 answers ``-REDIRECT host:port``, on Redis 7 ``READONLY``;
the endpoint connections read both as "the primary moved" and follow (sync and asyncio).

Runs on both engines (the ``endpoint`` fixture is parametrized by engine): on Redis the
same steps show ``CLIENT CAPA redirect`` refused and ``READONLY`` instead.
"""

from __future__ import annotations

import uuid

import pytest
import redis
import redis.asyncio as aredis

from aragora_redis import connect_redis, connect_redis_async
from aragora_redis._moved import CAPA_REDIRECT, Moved, PrimaryMoved, primary_moved
from tests.endpoint_support import ManagedEndpoint, wait_for


def _key() -> str:
    return f"aragora:redirect:{uuid.uuid4().hex}"


def _value(endpoint: ManagedEndpoint, node: str, key: str) -> object:
    client = endpoint.node(node)
    try:
        return client.get(key)
    finally:
        client.close()


def test_a_replica_redirects_reads_and_writes_once_asked(endpoint: ManagedEndpoint) -> None:
    replica = endpoint.node(endpoint.replicas()[0])
    primary = endpoint.address(endpoint.primary)
    try:
        with pytest.raises(redis.ReadOnlyError):
            replica.set(_key(), "1")  # without CAPA: READONLY on both engines
        if endpoint.refusal == "READONLY":
            with pytest.raises(redis.ResponseError, match=r"(?i)unknown subcommand"):
                replica.execute_command(*CAPA_REDIRECT)
            return
        assert replica.execute_command(*CAPA_REDIRECT) in (b"OK", "OK")
        for command in (("SET", _key(), "1"), ("GET", _key())):
            with pytest.raises(redis.ResponseError) as caught:
                replica.execute_command(*command)
            assert primary_moved(caught.value) == Moved("REDIRECT", True, primary)
    finally:
        replica.close()


def test_a_connection_left_on_the_demoted_primary_follows_its_refusal(
    endpoint: ManagedEndpoint,
) -> None:
    client = connect_redis(endpoint.settings)
    assert isinstance(client, redis.Redis)
    key = _key()
    try:
        conn = client.connection_pool.get_connection()  # on the primary, CAPA sent
        old, new = endpoint.switch()
        conn.send_command("SET", key, "1")
        with pytest.raises(PrimaryMoved) as caught:
            conn.read_response()
        moved = caught.value.moved
        assert moved.code == endpoint.refusal
        if moved.code == "REDIRECT":
            assert moved.redirect == endpoint.address(new), "where the demoted node points"
        client.connection_pool.release(conn)
        assert client.set(key, "2")  # sent again on a new connection through the endpoint
        assert _value(endpoint, new, key) == "2"
        demoted = endpoint.address(old)
        wait_for(lambda: endpoint.forwarder.open_to(demoted) == 0, "none left on the demoted")
    finally:
        client.close()


async def test_a_connection_left_on_the_demoted_primary_follows_its_refusal_async(
    endpoint: ManagedEndpoint,
) -> None:
    client = await connect_redis_async(endpoint.settings)
    assert isinstance(client, aredis.Redis)
    key = _key()
    try:
        conn = await client.connection_pool.get_connection()
        _, new = endpoint.switch()
        await conn.send_command("SET", key, "1")
        with pytest.raises(PrimaryMoved) as caught:
            await conn.read_response()
        assert caught.value.moved.code == endpoint.refusal
        await client.connection_pool.release(conn)
        assert await client.set(key, "2")
        assert _value(endpoint, new, key) == "2"
    finally:
        await client.aclose()
