"""DebateStateStore against real redis-server (sync); twin of test_state_async.py."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from aragora_redis import InvalidValue, connect_redis, keys
from aragora_redis.state import DebateStateStore
from tests.support import replica_reads, wait_for_replicas_in_slots


def _id() -> str:
    return f"debate-{uuid.uuid4().hex}"


@pytest.fixture(params=["standalone", "sentinel", "cluster"])
def deployment(request: pytest.FixtureRequest, engine: str) -> Any:
    """The stack ``request.param`` names, on ``engine`` (a stack fixture depends on it)."""
    return request.getfixturevalue(request.param)


def _bump(state: Any) -> Any:
    state = dict(state or {"count": 0})
    state["count"] += 1
    return state


def test_save_load_delete(deployment: Any) -> None:
    client = connect_redis(deployment.settings)
    store = DebateStateStore(client)
    debate = _id()
    assert store.load(debate) is None
    store.save(debate, {"round": 1, "agents": ["a", "b"]})
    assert store.load(debate) == {"round": 1, "agents": ["a", "b"]}
    assert 86390 < client.ttl(keys.debate(debate)) <= 86400
    assert debate in store.active()
    assert store.delete(debate) is True
    assert store.load(debate) is None
    assert debate not in store.active()
    assert store.delete(debate) is False
    client.close()


def test_reads_see_the_write_before_them_200_rounds_in_a_row(cluster: Any) -> None:
    # Issue 13: right after delete() and a load() of None, active() once listed the
    # debate again: a read served by a replica that had not applied the delete yet.
    # Every read must go to the slot's primary, and does, 200 rounds in a row, with
    # the replicas listed in the slot map (as they are once the cluster has settled).
    wait_for_replicas_in_slots(cluster)
    client = connect_redis(cluster.settings)
    store = DebateStateStore(client)
    before = replica_reads(cluster)
    for n in range(200):
        debate = _id()
        store.save(debate, {"round": n})
        assert store.load(debate) == {"round": n}, n
        assert debate in store.active(), n
        assert store.delete(debate) is True, n
        assert store.load(debate) is None, n
        assert debate not in store.active(), n
    assert replica_reads(cluster) == before
    client.close()


def test_concurrent_updates_lose_nothing(deployment: Any) -> None:
    client = connect_redis(deployment.settings)
    store = DebateStateStore(client)
    debate = _id()
    with ThreadPoolExecutor(max_workers=50) as pool:
        list(pool.map(lambda _: store.update(debate, _bump), range(50)))
    assert store.load(debate) == {"count": 50}
    assert debate in store.active()
    client.close()


def test_update_returns_the_new_state_and_starts_missing_ones(standalone: Any) -> None:
    client = connect_redis(standalone.settings)
    store = DebateStateStore(client)
    debate = _id()
    assert store.update(debate, _bump) == {"count": 1}
    assert store.update(debate, _bump) == {"count": 2}
    client.close()


def test_active_index_shrinks_when_states_expire(standalone: Any) -> None:
    client = connect_redis(standalone.settings)
    short = DebateStateStore(client, ttl=1)
    debate = _id()
    short.save(debate, {"round": 1})
    assert debate in short.active()
    time.sleep(1.1)
    assert short.load(debate) is None
    assert debate not in short.active()
    assert client.zscore(keys.ACTIVE_DEBATES, debate) is None
    client.close()


def test_bad_state_is_refused(standalone: Any) -> None:
    client = connect_redis(standalone.settings)
    store = DebateStateStore(client, max_bytes=32)
    debate = _id()
    with pytest.raises(InvalidValue, match="over the limit"):
        store.save(debate, {"text": "x" * 64})
    with pytest.raises(InvalidValue, match="not JSON"):
        store.update(debate, lambda _: {1, 2})
    assert store.load(debate) is None
    client.close()
