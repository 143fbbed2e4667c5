"""EventBus against real redis-server (sync); twin of test_events_async.py."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from aragora_redis import InvalidValue, connect_redis, keys
from aragora_redis.events import EventBus


def _channel() -> str:
    return keys.debate_channel(uuid.uuid4().hex)


@pytest.fixture(params=["standalone", "sentinel", "cluster"])
def deployment(request: pytest.FixtureRequest, engine: str) -> Any:
    """The stack ``request.param`` names, on ``engine`` (a stack fixture depends on it)."""
    return request.getfixturevalue(request.param)


def test_published_events_reach_subscribers(deployment: Any) -> None:
    client = connect_redis(deployment.settings)
    bus = EventBus(client, instance_id="test-instance")
    channel = _channel()
    sub = bus.subscribe(channel)
    bus.publish(channel, "vote", {"agent": "claude", "choice": 2})
    event = sub.get(timeout=5)
    assert event is not None
    assert (event.type, event.payload) == ("vote", {"agent": "claude", "choice": 2})
    assert (event.instance_id, event.channel) == ("test-instance", channel)
    assert event.timestamp > 1.7e9
    sub.close()
    client.close()


def test_patterns_hear_every_matching_channel(standalone: Any) -> None:
    client = connect_redis(standalone.settings)
    bus = EventBus(client)
    sub = bus.subscribe("aragora:broadcast:*")
    bus.publish(keys.broadcast_channel("loops"), "loop_started", {"id": 1})
    bus.publish(keys.broadcast_channel("global"), "notice", "hi")
    got = [sub.get(timeout=5), sub.get(timeout=5)]
    assert [(e.type, e.channel) for e in got if e] == [
        ("loop_started", "aragora:broadcast:loops"),
        ("notice", "aragora:broadcast:global"),
    ]
    sub.close()
    client.close()


def test_subscriber_reconnects_and_reports_the_gap(standalone: Any) -> None:
    client = connect_redis(standalone.settings)
    bus = EventBus(client)
    channel = _channel()
    sub = bus.subscribe(channel)
    admin = connect_redis(standalone.settings)
    assert admin.client_kill_filter(_type="pubsub") >= 1
    gap = sub.get(timeout=5)
    assert gap is not None
    assert gap.is_gap
    assert gap.payload["until"] >= gap.payload["since"]
    bus.publish(channel, "after", 1)
    event = sub.get(timeout=5)
    assert event is not None
    assert event.type == "after"
    assert len(sub.gaps) == 1
    sub.close()
    admin.close()
    client.close()


def test_durable_events_are_replayed_after_a_reconnect(deployment: Any) -> None:
    client = connect_redis(deployment.settings)
    bus = EventBus(client)
    channel = _channel()
    sub = bus.subscribe(channel, durable=True)
    for i in range(20):
        bus.publish(channel, "n", i, durable=True)
    first = [sub.get(timeout=5) for _ in range(10)]
    admin = connect_redis(deployment.settings)
    admin.client_kill_filter(_type="normal")  # the reader reconnects by itself
    admin.close()
    for i in range(20, 40):
        bus.publish(channel, "n", i, durable=True)
    rest = [sub.get(timeout=5) for _ in range(30)]
    assert [e.payload for e in first + rest if e] == list(range(40))
    assert sub.get(timeout=0.2) is None
    sub.close()
    client.close()


def test_durable_subscription_resumes_from_last_ids(standalone: Any) -> None:
    client = connect_redis(standalone.settings)
    bus = EventBus(client)
    channel = _channel()
    first = bus.subscribe(channel, durable=True)
    for i in range(5):
        bus.publish(channel, "n", i, durable=True)
    assert [first.get(timeout=5).payload for _ in range(3)] == [0, 1, 2]  # type: ignore[union-attr]
    saved = first.last_ids
    first.close()
    second = bus.subscribe(channel, durable=True, last_ids=saved)
    assert [second.get(timeout=5).payload for _ in range(2)] == [3, 4]  # type: ignore[union-attr]
    second.close()
    client.close()


def test_bad_subscriptions_and_events_are_refused(standalone: Any) -> None:
    client = connect_redis(standalone.settings)
    bus = EventBus(client, max_bytes=64)
    with pytest.raises(InvalidValue, match="not patterns"):
        bus.subscribe("aragora:broadcast:*", durable=True)
    with pytest.raises(InvalidValue, match="at least one channel"):
        bus.subscribe()
    with pytest.raises(InvalidValue, match="over the limit of 64"):
        bus.publish(_channel(), "big", "x" * 100)
    client.close()
