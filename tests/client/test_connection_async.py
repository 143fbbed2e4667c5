"""connect_redis_async and health_async against real redis-server topologies (asyncio).

Same test names as test_connection.py; test_twins.py checks that they stay in step.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.crc import key_slot
from redis.exceptions import NoPermissionError

from aragora_redis import RedisSettings, RedisUnavailable, connect_redis_async, health_async
from tests.support import failover_and_wait, make_other_ca, sentinel_master_address


def _key() -> str:
    return f"aragora:test:{uuid.uuid4().hex}"


async def test_standalone_from_url(standalone: Any) -> None:
    s = RedisSettings.from_env({"ARAGORA_REDIS_URL": standalone.settings.url})
    client = await connect_redis_async(s)
    key = _key()
    await client.set(key, "v")
    assert await client.get(key) == b"v"
    await client.aclose()


async def test_standalone_from_host_and_port(standalone: Any) -> None:
    env = {
        "ARAGORA_REDIS_HOST": standalone.settings.host,
        "ARAGORA_REDIS_PORT": str(standalone.settings.port),
        "ARAGORA_REDIS_PASSWORD": standalone.settings.password.get_secret_value(),
    }
    client = await connect_redis_async(RedisSettings.from_env(env))
    assert await client.ping() is True
    await client.aclose()


async def test_wrong_password_is_refused_and_not_shown(standalone: Any) -> None:
    s = standalone.settings.replace(password="wrong-pw-123")
    with pytest.raises(RedisUnavailable) as err:
        await connect_redis_async(s)
    assert isinstance(err.value.__cause__, redis.AuthenticationError)
    assert "wrong-pw-123" not in str(err.value)


async def test_tls_verifies_the_server_certificate(standalone_tls: Any) -> None:
    client = await connect_redis_async(standalone_tls.settings)
    key = _key()
    await client.set(key, "tls")
    assert await client.get(key) == b"tls"
    await client.aclose()


async def test_tls_fails_against_the_wrong_ca(standalone_tls: Any, tmp_path: Path) -> None:
    other = make_other_ca(tmp_path)
    s = standalone_tls.settings.replace(ssl_ca_certs=str(other))
    with pytest.raises(RedisUnavailable) as err:
        await connect_redis_async(s)
    assert "certificate verify failed" in str(err.value.__cause__)


async def test_acl_user_is_limited_to_its_rights(acl: Any) -> None:
    client = await connect_redis_async(acl.settings)
    key = _key()
    await client.set(key, "ok")
    assert await client.get(key) == b"ok"
    with pytest.raises(NoPermissionError):
        await client.config_get("maxmemory")
    with pytest.raises(NoPermissionError):
        await client.set("not-aragora:key", "x")
    await client.aclose()


async def test_sentinel_finds_the_master(sentinel: Any) -> None:
    client = await connect_redis_async(sentinel.settings)
    await client.set(_key(), "v")
    info = await client.info("replication")
    assert info["role"] == "master"
    assert info["connected_slaves"] == 2
    await client.aclose()


async def test_sentinel_password_is_required_by_the_sentinels(sentinel: Any) -> None:
    s = sentinel.settings.replace(sentinel_password=None)
    with pytest.raises(RedisUnavailable) as err:
        await connect_redis_async(s)
    assert "master" in str(err.value.__cause__).lower()


async def test_sentinel_over_tls_with_the_sentinel_password(sentinel_tls: Any) -> None:
    s = sentinel_tls.settings
    assert s.ssl
    assert s.sentinel_password is not None
    client = await connect_redis_async(s)
    key = _key()
    await client.set(key, "tls")
    assert await client.get(key) == b"tls"
    assert (await client.info("replication"))["role"] == "master"
    await client.aclose()
    with pytest.raises(RedisUnavailable):
        await connect_redis_async(s.replace(sentinel_password=None))


async def test_writes_follow_a_sentinel_failover(sentinel: Any) -> None:
    client = await connect_redis_async(sentinel.settings)
    key = _key()
    await client.set(key, "before")
    old = sentinel_master_address(sentinel.settings)
    new = await asyncio.to_thread(failover_and_wait, sentinel.settings)
    assert new != old
    await client.set(key, "after")
    assert await client.get(key) == b"after"
    assert (await client.info("replication"))["role"] == "master"
    await client.aclose()


async def test_cluster_spreads_keys_over_the_slots(cluster: Any) -> None:
    client = await connect_redis_async(cluster.settings)
    keys = [_key() for _ in range(50)]
    for key in keys:
        await client.set(key, key)
    assert [await client.get(k) for k in keys] == [k.encode() for k in keys]
    assert len({key_slot(k.encode()) for k in keys}) > 1
    await client.aclose()


async def test_unreachable_redis_fails_with_the_cause(free_port: int) -> None:
    s = RedisSettings(host="127.0.0.1", port=free_port, socket_connect_timeout=0.2)
    with pytest.raises(RedisUnavailable) as err:
        await connect_redis_async(s)
    assert isinstance(err.value.__cause__, redis.ConnectionError)


async def test_health_of_a_sentinel_master(sentinel: Any) -> None:
    report = await health_async(sentinel.settings)
    (node,) = report.nodes
    assert report.ok
    assert node.role == "master"
    assert node.connected_replicas == 2
    assert node.address == "{}:{}".format(*sentinel_master_address(sentinel.settings))
    assert node.latency_ms > 0
    assert node.used_memory > 0


async def test_health_reports_memory_percentage_when_maxmemory_is_set(standalone: Any) -> None:
    admin = await connect_redis_async(standalone.settings)
    await admin.config_set("maxmemory", 100 * 1024 * 1024)
    try:
        (node,) = (await health_async(standalone.settings)).nodes
    finally:
        await admin.config_set("maxmemory", 0)
        await admin.aclose()
    assert node.maxmemory == 100 * 1024 * 1024
    assert node.used_memory_pct is not None
    assert 0 < node.used_memory_pct < 100
    assert node.master_link_status is None


async def test_health_of_a_cluster_lists_every_primary(cluster: Any) -> None:
    report = await health_async(cluster.settings)
    assert len(report.nodes) == 3
    assert all(n.role == "master" and n.connected_replicas == 1 for n in report.nodes)
