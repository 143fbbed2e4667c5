"""AsyncSessionStore against real redis-server (asyncio); twin of test_sessions.py."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from aragora_redis import InvalidValue, NotReplicated, connect_redis_async, keys
from aragora_redis.sessions import AsyncSessionStore
from tests.client.durable_support import KIND, one_shard_ids, replica_frozen


def _id() -> str:
    return uuid.uuid4().hex


@pytest.fixture(params=["standalone", "sentinel", "cluster"])
def deployment(request: pytest.FixtureRequest, engine: str) -> Any:
    """The stack ``request.param`` names, on ``engine`` (a stack fixture depends on it)."""
    return request.getfixturevalue(request.param)


async def test_put_then_get_round_trips_json(deployment: Any) -> None:
    client = await connect_redis_async(deployment.settings)
    store = AsyncSessionStore(client)
    sid = _id()
    await store.put("auth", sid, {"user": "alice", "scopes": ["read"]})
    assert await store.get("auth", sid) == {"user": "alice", "scopes": ["read"]}
    assert await store.get("auth", _id()) is None
    await client.aclose()


async def test_put_uses_the_kind_ttl(standalone: Any) -> None:
    client = await connect_redis_async(standalone.settings)
    store = AsyncSessionStore(client, ttls={"voice": 1234})
    sid = _id()
    await store.put("device", sid, 1)
    await store.put("voice", sid, 1)
    assert 2591990 < await client.ttl(keys.session("device", sid)) <= 2592000
    assert 1230 < await client.ttl(keys.session("voice", sid)) <= 1234
    await client.aclose()


async def test_get_slides_the_expiry(standalone: Any) -> None:
    client = await connect_redis_async(standalone.settings)
    store = AsyncSessionStore(client)
    sid = _id()
    await store.put("debate", sid, {"n": 1})
    await client.pexpire(keys.session("debate", sid), 5000)
    assert await store.get("debate", sid) == {"n": 1}
    assert await client.ttl(keys.session("debate", sid)) > 3590
    await client.aclose()


async def test_sessions_expire(standalone: Any) -> None:
    client = await connect_redis_async(standalone.settings)
    store = AsyncSessionStore(client)
    sid = _id()
    await store.put("auth", sid, "x", ttl=1)
    assert 0 < await client.pttl(keys.session("auth", sid)) <= 1000
    await asyncio.sleep(1.1)
    assert await store.get("auth", sid) is None
    await client.aclose()


async def test_delete_reports_whether_it_existed(standalone: Any) -> None:
    client = await connect_redis_async(standalone.settings)
    store = AsyncSessionStore(client)
    sid = _id()
    await store.put("loop", sid, [1])
    assert await store.delete("loop", sid) is True
    assert await store.delete("loop", sid) is False
    assert await store.get("loop", sid) is None
    await client.aclose()


async def test_oversize_and_non_json_values_are_refused_and_not_written(standalone: Any) -> None:
    client = await connect_redis_async(standalone.settings)
    store = AsyncSessionStore(client, max_bytes=64)
    sid = _id()
    with pytest.raises(InvalidValue, match="over the limit of 64"):
        await store.put("auth", sid, {"blob": "x" * 100})
    with pytest.raises(InvalidValue, match="not JSON-serialisable"):
        await store.put("auth", sid, {"when": object()})
    assert await client.exists(keys.session("auth", sid)) == 0
    await client.aclose()


async def test_durable_put_waits_for_a_replica(sentinel: Any) -> None:
    client = await connect_redis_async(sentinel.settings)
    store = AsyncSessionStore(client)
    sid = _id()
    await store.put("auth", sid, {"durable": True}, durable=True)
    assert await store.get("auth", sid) == {"durable": True}
    await client.aclose()


async def test_durable_put_reports_a_write_no_replica_acknowledged(standalone: Any) -> None:
    client = await connect_redis_async(standalone.settings)
    store = AsyncSessionStore(client, replica_timeout_ms=50)
    sid = _id()
    with pytest.raises(NotReplicated, match="no replica acknowledged"):
        await store.put("auth", sid, "lonely", durable=True)
    assert await store.get("auth", sid) == "lonely"
    await client.aclose()


async def test_durable_put_on_a_cluster(cluster: Any) -> None:
    client = await connect_redis_async(cluster.settings)
    store = AsyncSessionStore(client)
    sid = _id()
    await store.put("auth", sid, "replicated", durable=True)
    assert await store.get("auth", sid) == "replicated"
    await client.aclose()


async def test_a_durable_put_on_a_cluster_is_never_acknowledged_while_the_replica_is_frozen(
    cluster: Any,
) -> None:
    """SET and WAIT must share one connection: WAIT counts the replicas that reached the
    last write of ITS connection, so a WAIT on another pooled connection (one that wrote
    nothing lately) returns at once with the replica counted, for a write it never got.

    A burst of concurrent reads first leaves the node's pool with idle connections (the
    asyncio cluster pool hands them out first-in first-out, so before the fix a put's SET
    and WAIT took different ones: 9 of 20 puts were acknowledged). The replica of the
    shard is then frozen (SIGSTOP: it keeps its link but acknowledges nothing, and a
    replica is never failed over) and 4 tasks put 5 sessions each on that shard with a
    50 ms replica timeout: the freeze lasts a few hundred ms, well under the cluster's
    node timeout (1.5 s). Each put must raise NotReplicated; the count is asserted, not
    a duration. The freeze and thaw block the loop briefly, before and after the puts.
    """
    tasks, per_task = 4, 5
    replica, ids = one_shard_ids(cluster, tasks * per_task)
    client = await connect_redis_async(cluster.settings)
    store = AsyncSessionStore(client, replica_timeout_ms=50)
    await store.get(KIND, ids[0])  # the slot map, before the freeze
    # A burst of reads leaves the node's pool with idle connections that wrote nothing.
    await asyncio.gather(*(store.get(KIND, sid) for sid in ids))

    async def put_all(mine: list[str]) -> list[str]:
        acknowledged = []
        for sid in mine:
            try:
                await store.put(KIND, sid, {"durable": True}, durable=True)
            except NotReplicated:
                continue
            acknowledged.append(sid)
        return acknowledged

    try:
        with replica_frozen(cluster, replica):
            chunks = [ids[i::tasks] for i in range(tasks)]
            done = await asyncio.gather(*(put_all(chunk) for chunk in chunks))
        acknowledged = [sid for mine in done for sid in mine]
        assert acknowledged == [], f"{len(acknowledged)}/{len(ids)} acknowledged unreplicated"
        assert all([await store.get(KIND, sid) == {"durable": True} for sid in ids])
    finally:
        await client.aclose()
