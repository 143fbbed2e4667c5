"""SessionStore against real redis-server (sync); twin of test_sessions_async.py."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from aragora_redis import InvalidValue, NotReplicated, connect_redis, keys
from aragora_redis.sessions import SessionStore
from tests.client.durable_support import KIND, one_shard_ids, replica_frozen


def _id() -> str:
    return uuid.uuid4().hex


@pytest.fixture(params=["standalone", "sentinel", "cluster"])
def deployment(request: pytest.FixtureRequest, engine: str) -> Any:
    """The stack ``request.param`` names, on ``engine`` (a stack fixture depends on it)."""
    return request.getfixturevalue(request.param)


def test_put_then_get_round_trips_json(deployment: Any) -> None:
    client = connect_redis(deployment.settings)
    store = SessionStore(client)
    sid = _id()
    store.put("auth", sid, {"user": "alice", "scopes": ["read"]})
    assert store.get("auth", sid) == {"user": "alice", "scopes": ["read"]}
    assert store.get("auth", _id()) is None
    client.close()


def test_put_uses_the_kind_ttl(standalone: Any) -> None:
    client = connect_redis(standalone.settings)
    store = SessionStore(client, ttls={"voice": 1234})
    sid = _id()
    store.put("device", sid, 1)
    store.put("voice", sid, 1)
    assert 2591990 < client.ttl(keys.session("device", sid)) <= 2592000
    assert 1230 < client.ttl(keys.session("voice", sid)) <= 1234
    client.close()


def test_get_slides_the_expiry(standalone: Any) -> None:
    client = connect_redis(standalone.settings)
    store = SessionStore(client)
    sid = _id()
    store.put("debate", sid, {"n": 1})
    client.pexpire(keys.session("debate", sid), 5000)
    assert store.get("debate", sid) == {"n": 1}
    assert client.ttl(keys.session("debate", sid)) > 3590
    client.close()


def test_sessions_expire(standalone: Any) -> None:
    client = connect_redis(standalone.settings)
    store = SessionStore(client)
    sid = _id()
    store.put("auth", sid, "x", ttl=1)
    assert 0 < client.pttl(keys.session("auth", sid)) <= 1000
    time.sleep(1.1)
    assert store.get("auth", sid) is None
    client.close()


def test_delete_reports_whether_it_existed(standalone: Any) -> None:
    client = connect_redis(standalone.settings)
    store = SessionStore(client)
    sid = _id()
    store.put("loop", sid, [1])
    assert store.delete("loop", sid) is True
    assert store.delete("loop", sid) is False
    assert store.get("loop", sid) is None
    client.close()


def test_oversize_and_non_json_values_are_refused_and_not_written(standalone: Any) -> None:
    client = connect_redis(standalone.settings)
    store = SessionStore(client, max_bytes=64)
    sid = _id()
    with pytest.raises(InvalidValue, match="over the limit of 64"):
        store.put("auth", sid, {"blob": "x" * 100})
    with pytest.raises(InvalidValue, match="not JSON-serialisable"):
        store.put("auth", sid, {"when": object()})
    assert client.exists(keys.session("auth", sid)) == 0
    client.close()


def test_durable_put_waits_for_a_replica(sentinel: Any) -> None:
    client = connect_redis(sentinel.settings)
    store = SessionStore(client)
    sid = _id()
    store.put("auth", sid, {"durable": True}, durable=True)
    assert store.get("auth", sid) == {"durable": True}
    client.close()


def test_durable_put_reports_a_write_no_replica_acknowledged(standalone: Any) -> None:
    client = connect_redis(standalone.settings)
    store = SessionStore(client, replica_timeout_ms=50)
    sid = _id()
    with pytest.raises(NotReplicated, match="no replica acknowledged"):
        store.put("auth", sid, "lonely", durable=True)
    assert store.get("auth", sid) == "lonely"
    client.close()


def test_durable_put_on_a_cluster(cluster: Any) -> None:
    client = connect_redis(cluster.settings)
    store = SessionStore(client)
    sid = _id()
    store.put("auth", sid, "replicated", durable=True)
    assert store.get("auth", sid) == "replicated"
    client.close()


def test_a_durable_put_on_a_cluster_is_never_acknowledged_while_the_replica_is_frozen(
    cluster: Any,
) -> None:
    """SET and WAIT must share one connection: WAIT counts the replicas that reached the
    last write of ITS connection, so a WAIT on another pooled connection (one that wrote
    nothing lately) returns at once with the replica counted, for a write it never got.

    Concurrent reads first leave the node's pool with idle connections; the replica of
    the shard is then frozen (SIGSTOP: it keeps its link but acknowledges nothing, and a
    replica is never failed over) and 4 threads put 5 sessions each on that shard with a
    50 ms replica timeout: the freeze lasts a few hundred ms, well under the cluster's
    node timeout (1.5 s). Each put must raise NotReplicated; the count is asserted, not
    a duration. The sync pool hands connections out last-in first-out, so a thread's
    SET and WAIT took the same one in every run before the fix (a thread switch between
    them is needed): this twin guards the fix, the asyncio one showed the bug.
    """
    threads, per_thread = 4, 5
    replica, ids = one_shard_ids(cluster, threads * per_thread)
    client = connect_redis(cluster.settings)
    store = SessionStore(client, replica_timeout_ms=50)
    store.get(KIND, ids[0])  # the slot map, before the freeze
    with ThreadPoolExecutor(threads) as pool:  # idle connections that wrote nothing
        list(pool.map(lambda sid: store.get(KIND, sid), ids))

    def put_all(mine: list[str]) -> list[str]:
        acknowledged = []
        for sid in mine:
            try:
                store.put(KIND, sid, {"durable": True}, durable=True)
            except NotReplicated:
                continue
            acknowledged.append(sid)
        return acknowledged

    try:
        with replica_frozen(cluster, replica), ThreadPoolExecutor(threads) as pool:
            chunks = [ids[i::threads] for i in range(threads)]
            acknowledged = [sid for done in pool.map(put_all, chunks) for sid in done]
        assert acknowledged == [], f"{len(acknowledged)}/{len(ids)} acknowledged unreplicated"
        assert all(store.get(KIND, sid) == {"durable": True} for sid in ids)
    finally:
        client.close()
