"""The four stores through a Sentinel failover (asyncio); twin of test_stores_failover.py."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from aragora_redis import Event, connect_async, keys
from tests.support import failover_and_wait


async def test_stores_keep_working_through_a_failover(sentinel: Any) -> None:
    stores = await connect_async(sentinel.settings)
    debate = f"failover-{uuid.uuid4().hex}"
    channel = keys.debate_channel(debate)
    live = await stores.events.subscribe(channel)
    durable = await stores.events.subscribe(channel, durable=True)
    heard: list[Event] = []
    done = asyncio.Event()

    async def listen() -> None:  # a real subscriber reads all the time
        while not done.is_set():
            if (event := await live.get(timeout=0.2)) is not None:
                heard.append(event)

    reader = asyncio.create_task(listen())
    await stores.sessions.put("auth", debate, {"before": True}, durable=True)
    await stores.state.save(debate, {"round": 1})
    first = await stores.rate_limiter.hit(f"failover:{debate}", rate=100, burst=100)
    assert first.source == "redis"
    for i in range(10):
        await stores.events.publish(channel, "n", i, durable=True)

    await asyncio.to_thread(failover_and_wait, stores.settings)

    assert await stores.sessions.get("auth", debate) == {"before": True}
    assert await stores.state.update(debate, lambda s: {**s, "round": 2}) == {"round": 2}
    decision = await stores.rate_limiter.hit(f"failover:{debate}", rate=100, burst=100)
    assert decision.source == "redis"  # the script was loaded again on the new master
    assert decision.allowed
    await asyncio.sleep(0.5)  # the subscriber moves to the new master
    for i in range(10, 20):
        await stores.events.publish(channel, "n", i, durable=True)
    delivered = [await durable.get(timeout=10) for _ in range(20)]
    assert [e.payload for e in delivered if e] == list(range(20))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and [e.payload for e in heard][-1:] != [19]:
        await asyncio.sleep(0.05)
    done.set()
    await reader
    payloads = [e.payload for e in heard if not e.is_gap]
    assert payloads[-10:] == list(range(10, 20)), (
        "the live subscriber hears events after the failover"
    )
    await live.aclose()
    await durable.aclose()
    await stores.close()
