"""AsyncEventBus against real redis-server (asyncio); twin of test_events.py."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from aragora_redis import InvalidValue, connect_redis_async, keys
from aragora_redis.events import AsyncEventBus


def _channel() -> str:
    return keys.debate_channel(uuid.uuid4().hex)


@pytest.fixture(params=["standalone", "sentinel", "cluster"])
def deployment(request: pytest.FixtureRequest, engine: str) -> Any:
    """The stack ``request.param`` names, on ``engine`` (a stack fixture depends on it)."""
    return request.getfixturevalue(request.param)


async def test_published_events_reach_subscribers(deployment: Any) -> None:
    client = await connect_redis_async(deployment.settings)
    bus = AsyncEventBus(client, instance_id="test-instance")
    channel = _channel()
    sub = await bus.subscribe(channel)
    await bus.publish(channel, "vote", {"agent": "claude", "choice": 2})
    event = await sub.get(timeout=5)
    assert event is not None
    assert (event.type, event.payload) == ("vote", {"agent": "claude", "choice": 2})
    assert (event.instance_id, event.channel) == ("test-instance", channel)
    assert event.timestamp > 1.7e9
    await sub.aclose()
    await client.aclose()


async def test_patterns_hear_every_matching_channel(standalone: Any) -> None:
    client = await connect_redis_async(standalone.settings)
    bus = AsyncEventBus(client)
    sub = await bus.subscribe("aragora:broadcast:*")
    await bus.publish(keys.broadcast_channel("loops"), "loop_started", {"id": 1})
    await bus.publish(keys.broadcast_channel("global"), "notice", "hi")
    got = [await sub.get(timeout=5), await sub.get(timeout=5)]
    assert [(e.type, e.channel) for e in got if e] == [
        ("loop_started", "aragora:broadcast:loops"),
        ("notice", "aragora:broadcast:global"),
    ]
    await sub.aclose()
    await client.aclose()


async def test_subscriber_reconnects_and_reports_the_gap(standalone: Any) -> None:
    client = await connect_redis_async(standalone.settings)
    bus = AsyncEventBus(client)
    channel = _channel()
    sub = await bus.subscribe(channel)
    admin = await connect_redis_async(standalone.settings)
    assert await admin.client_kill_filter(_type="pubsub") >= 1
    gap = await sub.get(timeout=5)
    assert gap is not None
    assert gap.is_gap
    assert gap.payload["until"] >= gap.payload["since"]
    await bus.publish(channel, "after", 1)
    event = await sub.get(timeout=5)
    assert event is not None
    assert event.type == "after"
    assert len(sub.gaps) == 1
    await sub.aclose()
    await admin.aclose()
    await client.aclose()


async def test_durable_events_are_replayed_after_a_reconnect(deployment: Any) -> None:
    client = await connect_redis_async(deployment.settings)
    bus = AsyncEventBus(client)
    channel = _channel()
    sub = await bus.subscribe(channel, durable=True)
    for i in range(20):
        await bus.publish(channel, "n", i, durable=True)
    first = [await sub.get(timeout=5) for _ in range(10)]
    admin = await connect_redis_async(deployment.settings)
    await admin.client_kill_filter(_type="normal")  # the reader reconnects by itself
    await admin.aclose()
    for i in range(20, 40):
        await bus.publish(channel, "n", i, durable=True)
    rest = [await sub.get(timeout=5) for _ in range(30)]
    assert [e.payload for e in first + rest if e] == list(range(40))
    assert await sub.get(timeout=0.2) is None
    await sub.aclose()
    await client.aclose()


async def test_durable_subscription_resumes_from_last_ids(standalone: Any) -> None:
    client = await connect_redis_async(standalone.settings)
    bus = AsyncEventBus(client)
    channel = _channel()
    first = await bus.subscribe(channel, durable=True)
    for i in range(5):
        await bus.publish(channel, "n", i, durable=True)
    assert [(await first.get(timeout=5)).payload for _ in range(3)] == [0, 1, 2]  # type: ignore[union-attr]
    saved = first.last_ids
    await first.aclose()
    second = await bus.subscribe(channel, durable=True, last_ids=saved)
    assert [(await second.get(timeout=5)).payload for _ in range(2)] == [3, 4]  # type: ignore[union-attr]
    await second.aclose()
    await client.aclose()


async def test_bad_subscriptions_and_events_are_refused(standalone: Any) -> None:
    client = await connect_redis_async(standalone.settings)
    bus = AsyncEventBus(client, max_bytes=64)
    with pytest.raises(InvalidValue, match="not patterns"):
        await bus.subscribe("aragora:broadcast:*", durable=True)
    with pytest.raises(InvalidValue, match="at least one channel"):
        await bus.subscribe()
    with pytest.raises(InvalidValue, match="over the limit of 64"):
        await bus.publish(_channel(), "big", "x" * 100)
    await client.aclose()
