"""AsyncDebateStateStore against real redis-server (asyncio); twin of test_state.py."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from aragora_redis import InvalidValue, connect_redis_async, keys
from aragora_redis.state import AsyncDebateStateStore
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


async def test_save_load_delete(deployment: Any) -> None:
    client = await connect_redis_async(deployment.settings)
    store = AsyncDebateStateStore(client)
    debate = _id()
    assert await store.load(debate) is None
    await store.save(debate, {"round": 1, "agents": ["a", "b"]})
    assert await store.load(debate) == {"round": 1, "agents": ["a", "b"]}
    assert 86390 < await client.ttl(keys.debate(debate)) <= 86400
    assert debate in await store.active()
    assert await store.delete(debate) is True
    assert await store.load(debate) is None
    assert debate not in await store.active()
    assert await store.delete(debate) is False
    await client.aclose()


async def test_reads_see_the_write_before_them_200_rounds_in_a_row(cluster: Any) -> None:
    # Issue 13: right after delete() and a load() of None, active() once listed the
    # debate again: a read served by a replica that had not applied the delete yet.
    # Every read must go to the slot's primary, and does, 200 rounds in a row, with
    # the replicas listed in the slot map (as they are once the cluster has settled).
    wait_for_replicas_in_slots(cluster)
    client = await connect_redis_async(cluster.settings)
    store = AsyncDebateStateStore(client)
    before = replica_reads(cluster)
    for n in range(200):
        debate = _id()
        await store.save(debate, {"round": n})
        assert await store.load(debate) == {"round": n}, n
        assert debate in await store.active(), n
        assert await store.delete(debate) is True, n
        assert await store.load(debate) is None, n
        assert debate not in await store.active(), n
    assert replica_reads(cluster) == before
    await client.aclose()


async def test_concurrent_updates_lose_nothing(deployment: Any) -> None:
    client = await connect_redis_async(deployment.settings)
    store = AsyncDebateStateStore(client)
    debate = _id()
    await asyncio.gather(*(store.update(debate, _bump) for _ in range(50)))
    assert await store.load(debate) == {"count": 50}
    assert debate in await store.active()
    await client.aclose()


async def test_update_returns_the_new_state_and_starts_missing_ones(standalone: Any) -> None:
    client = await connect_redis_async(standalone.settings)
    store = AsyncDebateStateStore(client)
    debate = _id()
    assert await store.update(debate, _bump) == {"count": 1}

    async def bump_later(state: Any) -> Any:
        await asyncio.sleep(0)
        return _bump(state)

    assert await store.update(debate, bump_later) == {"count": 2}
    await client.aclose()


async def test_active_index_shrinks_when_states_expire(standalone: Any) -> None:
    client = await connect_redis_async(standalone.settings)
    short = AsyncDebateStateStore(client, ttl=1)
    debate = _id()
    await short.save(debate, {"round": 1})
    assert debate in await short.active()
    await asyncio.sleep(1.1)
    assert await short.load(debate) is None
    assert debate not in await short.active()
    assert await client.zscore(keys.ACTIVE_DEBATES, debate) is None
    await client.aclose()


async def test_bad_state_is_refused(standalone: Any) -> None:
    client = await connect_redis_async(standalone.settings)
    store = AsyncDebateStateStore(client, max_bytes=32)
    debate = _id()
    with pytest.raises(InvalidValue, match="over the limit"):
        await store.save(debate, {"text": "x" * 64})
    with pytest.raises(InvalidValue, match="not JSON"):
        await store.update(debate, lambda _: {1, 2})
    assert await store.load(debate) is None
    await client.aclose()
